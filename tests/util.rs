//! A fluent runner for the agent binaries (in the style of just's `Test`):
//! `Run::agent("fence_compute").args(["-o", "status"]).stdin("...").run()`
//! then assertions on the exit code and output.

#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub fn bin(name: &str) -> PathBuf {
    match name {
        "fence_compute" => PathBuf::from(env!("CARGO_BIN_EXE_fence_compute")),
        "fence_evacuate" => PathBuf::from(env!("CARGO_BIN_EXE_fence_evacuate")),
        "NovaEvacuate" => PathBuf::from(env!("CARGO_BIN_EXE_NovaEvacuate")),
        "nova-compute-wait" => PathBuf::from(env!("CARGO_BIN_EXE_nova-compute-wait")),
        "instance-ha" => PathBuf::from(env!("CARGO_BIN_EXE_instance-ha")),
        other => panic!("unknown binary {other}"),
    }
}

pub struct Run {
    cmd: Command,
    stdin: Option<String>,
    label: String,
}

#[derive(Debug)]
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub label: String,
}

impl Run {
    pub fn agent(name: &str) -> Run {
        let mut cmd = Command::new(bin(name));
        // A clean environment like pacemaker's: no OS_* from the developer's shell.
        cmd.env_clear();
        cmd.env("PATH", std::env::var("PATH").unwrap_or_default());
        cmd.env("HA_LOGFACILITY", "none");
        Run {
            cmd,
            stdin: None,
            label: name.to_string(),
        }
    }
    pub fn args<I, S>(mut self, args: I) -> Run
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        for a in args {
            self.label.push(' ');
            self.label.push_str(&a.as_ref().to_string_lossy());
            self.cmd.arg(a);
        }
        self
    }
    pub fn stdin(mut self, s: impl Into<String>) -> Run {
        self.stdin = Some(s.into());
        self
    }
    pub fn env(mut self, k: &str, v: impl AsRef<std::ffi::OsStr>) -> Run {
        self.cmd.env(k, v);
        self
    }
    /// Put `dir` first on PATH (fake attrd_updater and friends).
    pub fn path_first(mut self, dir: &Path) -> Run {
        let path = format!(
            "{}:{}",
            dir.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        self.cmd.env("PATH", path);
        self
    }
    pub fn run(mut self) -> Output {
        self.cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = self
            .cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", self.label));
        {
            let mut si = child.stdin.take().unwrap();
            if let Some(s) = &self.stdin {
                let _ = si.write_all(s.as_bytes());
            }
        }
        let out = child.wait_with_output().unwrap();
        Output {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            label: self.label,
        }
    }
}

impl Output {
    pub fn code(&self, want: i32) -> &Output {
        assert_eq!(
            self.code, want,
            "{}: exit {} (want {want})\nstdout:\n{}\nstderr:\n{}",
            self.label, self.code, self.stdout, self.stderr
        );
        self
    }
    pub fn stdout_has(&self, s: &str) -> &Output {
        assert!(
            self.stdout.contains(s),
            "{}: stdout lacks {s:?}\nstdout:\n{}\nstderr:\n{}",
            self.label,
            self.stdout,
            self.stderr
        );
        self
    }
    pub fn stderr_has(&self, s: &str) -> &Output {
        assert!(
            self.stderr.contains(s),
            "{}: stderr lacks {s:?}\nstdout:\n{}\nstderr:\n{}",
            self.label,
            self.stdout,
            self.stderr
        );
        self
    }
    pub fn stderr_lacks(&self, s: &str) -> &Output {
        assert!(
            !self.stderr.contains(s),
            "{}: stderr contains {s:?}\nstderr:\n{}",
            self.label,
            self.stderr
        );
        self
    }
    pub fn output_lacks(&self, s: &str) -> &Output {
        assert!(
            !self.stdout.contains(s) && !self.stderr.contains(s),
            "{}: output contains {s:?}\nstdout:\n{}\nstderr:\n{}",
            self.label,
            self.stdout,
            self.stderr
        );
        self
    }
    /// Exactly one `ERROR:` or `ocf-exit-reason:` line: one clear message.
    pub fn one_error_line(&self) -> &Output {
        let n = self
            .stderr
            .lines()
            .filter(|l| {
                l.starts_with("ERROR:")
                    || l.contains(" ERROR: ")
                    || l.starts_with("ocf-exit-reason:")
            })
            .count();
        assert!(
            n >= 1,
            "{}: no error line\nstderr:\n{}",
            self.label,
            self.stderr
        );
        assert!(
            !self.stderr.contains("panicked"),
            "{}: panic\n{}",
            self.label,
            self.stderr
        );
        self
    }
}

/// xmllint validation against a RelaxNG schema or the OCF DTD.
pub fn xmllint(xml: &str, schema_args: &[&str]) -> Result<(), String> {
    let mut child = Command::new("xmllint")
        .arg("--noout")
        .args(schema_args)
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("xmllint not runnable ({e}): run tests/harness/deps.sh"))?;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(xml.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// A scratch directory removed at drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "iha-test-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
    pub fn write(&self, name: &str, content: &str, mode: u32) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let p = self.0.join(name);
        std::fs::write(&p, content).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A fake `attrd_updater` that keeps values in files under `dir/attrd/`,
/// logs each call to `dir/attrd.log`, and answers like the real tool.
pub fn fake_attrd(dir: &TempDir) {
    let store = dir.path().join("attrd");
    std::fs::create_dir_all(&store).unwrap();
    let script = format!(
        r#"#!/bin/sh
store="{store}"
echo "$*" >> "{log}"
name=""; node=""; value=""; op=""; all=""
while [ $# -gt 0 ]; do
  case "$1" in
    -n) name="$2"; shift ;;
    -N) node="$2"; shift ;;
    -U) value="$2"; op=update; shift ;;
    -Q) op=query ;;
    -D) op=delete ;;
    -A) all=1 ;;
    -p) ;;
  esac
  shift
done
case "$op" in
  update) printf '%s' "$value" > "$store/$name@$node" ;;
  delete) rm -f "$store/$name@$node" ;;
  query)
    # Like the real tool: inside an agent the node defaults from the
    # environment, even with -A.
    if [ -z "$node" ] && [ -n "$OCF_RESKEY_CRM_meta_on_node" ]; then all=""; node="$OCF_RESKEY_CRM_meta_on_node"; fi
    if [ -n "$all" ]; then
      for f in "$store/$name@"*; do [ -e "$f" ] || continue; n="${{f##*@}}"; printf 'name="%s" host="%s" value="%s"\n' "$name" "$n" "$(cat "$f")"; done
    elif [ -e "$store/$name@$node" ]; then
      printf 'name="%s" host="%s" value="%s"\n' "$name" "$node" "$(cat "$store/$name@$node")"
    else
      echo "Could not query value of $name: attribute does not exist" >&2; exit 105
    fi ;;
esac
"#,
        store = store.display(),
        log = dir.path().join("attrd.log").display()
    );
    dir.write("attrd_updater", &script, 0o755);
}

pub fn attrd_value(dir: &TempDir, node: &str) -> Option<String> {
    std::fs::read_to_string(dir.path().join("attrd").join(format!("evacuate@{node}"))).ok()
}

/// Our own client, pointed at a double.
pub fn clients(
    d: &nova_double::Double,
) -> (instance_ha::openstack::Nova, instance_ha::openstack::Glance) {
    use instance_ha::openstack::{CloudConfig, Glance, Nova, Secret, Session};
    let cfg = CloudConfig {
        auth_url: Some(d.auth_url()),
        username: Some(d.username()),
        password: Some(Secret::new(d.password())),
        project_name: Some(d.project()),
        region_name: Some(d.region().to_string()),
        ..CloudConfig::default()
    };
    let s = std::sync::Arc::new(Session::new(cfg).unwrap());
    (Nova::new(s.clone()), Glance::new(s))
}

/// Wait (bounded) until `f` holds; panics with `what` otherwise.
pub fn wait_until(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let t = std::time::Instant::now();
    while !f() {
        assert!(
            t.elapsed() < std::time::Duration::from_secs(secs),
            "timed out after {secs}s waiting for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}
