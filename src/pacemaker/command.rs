//! Running Pacemaker's tools with a time bound, capturing their output.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// Output of a finished command.
#[derive(Debug, Clone)]
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Run `program args...`, killing it after `timeout`. A missing program is
/// an `Error::Command` that says so (the package is not installed).
pub fn run(program: &str, args: &[&str], timeout: Duration) -> Result<Output> {
    let cmdline = || format!("{program} {}", args.join(" "));
    let mut cmd = Command::new(program);
    // An agent's environment names its own node (OCF_RESKEY_CRM_meta_on_node),
    // and Pacemaker's tools take it as the default target: attrd_updater
    // -Q -A then answers for that node only. Our calls name their targets.
    for k in [
        "OCF_RESKEY_CRM_meta_on_node",
        "OCF_RESKEY_CRM_meta_on_node_uuid",
        "CRM_meta_on_node",
        "CRM_meta_on_node_uuid",
    ] {
        cmd.env_remove(k);
    }
    let mut child = cmd
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Error::Command {
            command: cmdline(),
            message: if e.kind() == std::io::ErrorKind::NotFound {
                format!("{program} not found in PATH (is Pacemaker's CLI installed?)")
            } else {
                e.to_string()
            },
        })?;
    // Read both pipes on threads so a chatty tool cannot fill one and block.
    let mut out = child.stdout.take().expect("piped");
    let mut err = child.stderr.take().expect("piped");
    let t_out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let t_err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(st)) => break st,
            Ok(None) if start.elapsed() >= timeout => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(Error::Timeout(format!(
                    "{} did not finish within {}s",
                    cmdline(),
                    timeout.as_secs()
                )));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => {
                return Err(Error::Command {
                    command: cmdline(),
                    message: e.to_string(),
                })
            }
        }
    };
    Ok(Output {
        code: status.code().unwrap_or(-1),
        stdout: t_out.join().unwrap_or_default(),
        stderr: t_err.join().unwrap_or_default(),
    })
}
