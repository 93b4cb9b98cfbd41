//! A helper process supervised by an OCF agent (the pattern of
//! resource-agents' daemon agents): `start` launches it in its own session
//! and waits for its first heartbeat, `monitor` checks the PID and the
//! heartbeat, `stop` sends SIGTERM, then SIGKILL, and is idempotent.
//!
//! The PID file and the heartbeat live in `HA_RSCTMP` (wiped at boot, so a
//! stale PID never survives a reboot); a PID is only trusted when
//! /proc/PID/cmdline is still our helper, which guards against PID reuse.

use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The argument that turns an agent binary into its helper.
pub const DAEMON_ARG: &str = "__daemon";

pub struct Daemon {
    pub pidfile: PathBuf,
    pub statefile: PathBuf,
}

/// What the helper reports about itself, rewritten every loop.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Heartbeat {
    pub pid: u32,
    /// Seconds since the epoch (f64 for sub-second freshness).
    pub time: f64,
    /// Last time Keystone and Nova answered.
    pub nova_ok: Option<f64>,
    pub nova_error: Option<String>,
    /// Hosts being evacuated now, and the last outcome per host.
    pub evacuating: Vec<String>,
    pub last: Vec<(String, String)>,
    /// Loud problems (mass failure guard, fencing not confirmed, ...).
    pub alerts: Vec<String>,
}

impl Daemon {
    pub fn new(rsc_tmp: &Path, agent: &str, instance: &str) -> Daemon {
        let safe: String = instance
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        Daemon {
            pidfile: rsc_tmp.join(format!("{agent}-{safe}.pid")),
            statefile: rsc_tmp.join(format!("{agent}-{safe}.state")),
        }
    }

    /// The helper's PID if it runs (PID file present, process alive and
    /// still our helper).
    pub fn pid(&self) -> Option<i32> {
        let pid: i32 = fs::read_to_string(&self.pidfile)
            .ok()?
            .trim()
            .parse()
            .ok()?;
        let cmdline = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        let is_ours = cmdline
            .split(|b| *b == 0)
            .any(|a| a == DAEMON_ARG.as_bytes());
        let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let zombie = status
            .lines()
            .any(|l| l.starts_with("State:") && l.contains('Z'));
        (is_ours && !zombie).then_some(pid)
    }

    /// Was it started and not cleanly stopped (PID file left behind)?
    pub fn pidfile_exists(&self) -> bool {
        self.pidfile.exists()
    }

    pub fn heartbeat(&self) -> Option<Heartbeat> {
        serde_json::from_str(&fs::read_to_string(&self.statefile).ok()?).ok()
    }

    /// Launch `exe DAEMON_ARG` in its own session with the current
    /// environment (parameters travel as OCF_RESKEY_*, never on the
    /// command line), then wait until it reports a heartbeat newer than
    /// the launch, or `ready` runs out.
    pub fn start(&self, ready: Duration) -> Result<i32> {
        if let Some(pid) = self.pid() {
            return Ok(pid);
        }
        if let Some(dir) = self.pidfile.parent() {
            fs::create_dir_all(dir)
                .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
        }
        let _ = fs::remove_file(&self.statefile);
        let exe = fs::read_link("/proc/self/exe")
            .map_err(|e| Error::io("finding our own executable", e))?;
        let launched = crate::time::now_f64();
        let mut cmd = Command::new(&exe);
        cmd.arg(DAEMON_ARG)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // SAFETY: setsid is async-signal-safe; nothing else runs in the child.
        unsafe {
            cmd.pre_exec(|| {
                nix::unistd::setsid().map_err(std::io::Error::from)?;
                Ok(())
            });
        }
        let child = cmd
            .spawn()
            .map_err(|e| Error::io(format!("starting {}", exe.display()), e))?;
        let pid = child.id() as i32;
        // Reap it if it dies while we wait, so it does not linger as a zombie.
        std::thread::spawn(move || {
            let mut child = child;
            let _ = child.wait();
        });
        fs::write(&self.pidfile, format!("{pid}\n"))
            .map_err(|e| Error::io(format!("writing {}", self.pidfile.display()), e))?;
        let deadline = Instant::now() + ready;
        loop {
            if let Some(hb) = self.heartbeat() {
                if hb.pid == pid as u32 && hb.time >= launched {
                    return Ok(pid);
                }
            }
            let alive = fs::read_to_string(format!("/proc/{pid}/status"))
                .map(|s| {
                    !s.lines()
                        .any(|l| l.starts_with("State:") && l.contains('Z'))
                })
                .unwrap_or(false);
            if !alive {
                let _ = fs::remove_file(&self.pidfile);
                return Err(Error::Command {
                    command: "helper".into(),
                    message: "exited during start-up (see the log)".into(),
                });
            }
            if Instant::now() >= deadline {
                return Err(Error::Timeout(format!(
                    "helper (pid {pid}) gave no heartbeat within {}s",
                    ready.as_secs()
                )));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGTERM, wait up to `grace`, then SIGKILL. Succeeds when nothing
    /// runs, whatever the state before (stop must be idempotent).
    pub fn stop(&self, grace: Duration) -> Result<()> {
        if let Some(pid) = self.pid() {
            let p = Pid::from_raw(pid);
            let _ = kill(p, Signal::SIGTERM);
            let deadline = Instant::now() + grace;
            while self.pid().is_some() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            if self.pid().is_some() {
                crate::warn!(
                    "helper {pid} ignored SIGTERM for {}s: SIGKILL",
                    grace.as_secs()
                );
                let _ = kill(p, Signal::SIGKILL);
                let t = Instant::now();
                while self.pid().is_some() && t.elapsed() < Duration::from_secs(5) {
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
            if self.pid().is_some() {
                return Err(Error::Command {
                    command: "stop".into(),
                    message: format!("helper {pid} survived SIGKILL"),
                });
            }
        }
        let _ = fs::remove_file(&self.pidfile);
        let _ = fs::remove_file(&self.statefile);
        Ok(())
    }

    /// Written by the helper: atomically (temp file + rename), so the
    /// monitor never reads half a heartbeat.
    pub fn write_heartbeat(&self, hb: &Heartbeat) {
        let tmp = self.statefile.with_extension("state.tmp");
        if let Ok(text) = serde_json::to_string(hb) {
            if fs::write(&tmp, text).is_ok() {
                let _ = fs::rename(&tmp, &self.statefile);
            }
        }
    }
}
