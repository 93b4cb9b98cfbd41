//! Access to the running labs: commands, OpenStack credentials, waits.

#![allow(dead_code)]

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use instance_ha::openstack::{CloudConfig, Glance, Nova, Service, Session};

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Run a command; panic with its output unless it exits 0. Returns stdout.
pub fn sh(cmd: &str) -> String {
    let out = Command::new("bash")
        .arg("-c")
        .arg(cmd)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "`{cmd}` failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Run a command, return (exit code, stdout, stderr, seconds).
pub fn run(cmd: &str) -> (i32, String, String, f64) {
    let t = Instant::now();
    let out = Command::new("bash")
        .arg("-c")
        .arg(cmd)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        t.elapsed().as_secs_f64(),
    )
}

pub fn harness(script: &str, args: &str) -> String {
    sh(&format!(
        "{}/tests/harness/{script} {args}",
        repo().display()
    ))
}

/// The admin credentials of the OpenStack lab (`openstack.sh env`).
pub fn os_env() -> HashMap<String, String> {
    let text = harness("openstack.sh", "env");
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("export "))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| {
            (
                k.to_string(),
                v.trim_matches(|c| c == '\'' || c == '"').to_string(),
            )
        })
        .collect()
}

pub fn cloud() -> CloudConfig {
    let env = os_env();
    CloudConfig::load(|k| env.get(k).cloned()).expect("lab credentials")
}

pub fn clients() -> (Nova, Glance) {
    let s = Arc::new(Session::new(cloud()).unwrap());
    (Nova::new(s.clone()), Glance::new(s))
}

pub fn service(nova: &Nova, host: &str) -> Service {
    nova.compute_services(Some(host))
        .unwrap()
        .into_iter()
        .find(|s| s.host == host)
        .unwrap_or_else(|| panic!("no service for {host}"))
}

/// The fence-agent stdin lines for the lab's credentials (what a pcs
/// device would hold).
pub fn fence_creds() -> String {
    let e = os_env();
    format!(
        "auth_url={}\nlogin={}\npasswd={}\ntenant_name={}\nuser_domain=Default\nproject_domain=Default\nregion_name={}\nendpoint_type=public\n",
        e["OS_AUTH_URL"], e["OS_USERNAME"], e["OS_PASSWORD"], e["OS_PROJECT_NAME"], e.get("OS_REGION_NAME").map(String::as_str).unwrap_or("RegionOne")
    )
}

/// The same as `pcs` `key=value` arguments.
pub fn pcs_creds() -> String {
    fence_creds()
        .lines()
        .map(|l| format!("'{l}'"))
        .collect::<Vec<_>>()
        .join(" ")
}

pub fn wait_for(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let t = Instant::now();
    while !f() {
        assert!(
            t.elapsed() < Duration::from_secs(secs),
            "timed out after {secs}s waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// attrd's value of `evacuate` for `node` (None when unset).
pub fn attr(node: &str) -> Option<String> {
    let (code, out, _, _) = run(&format!("attrd_updater -p -n evacuate -Q -N {node}"));
    if code != 0 {
        return None;
    }
    out.split("value=\"")
        .nth(1)
        .and_then(|v| v.split('"').next())
        .map(str::to_string)
        .filter(|v| !v.is_empty())
}

/// Wait until Nova sees `host`'s nova-compute up (fresh heartbeat).
pub fn wait_compute_up(nova: &Nova, host: &str) {
    wait_for(&format!("{host} nova-compute up"), 120, || {
        service(nova, host).state == "up"
    });
}

pub fn pacemaker_log() -> String {
    std::fs::read_to_string("/var/log/pacemaker/pacemaker.log").unwrap_or_default()
}

/// Boot `n` ACTIVE servers on `host`. A host just put back in service can
/// refuse for a moment (placement's COMPUTE_STATUS_DISABLED trait is cleared
/// asynchronously after the service is enabled): the harness deletes the
/// servers that went ERROR and boots them again (iha-os.py boot --tries).
pub fn boot(n: usize, host: &str) {
    sh(&format!(
        "{}/tests/harness/openstack.sh boot {n} {host}",
        repo().display()
    ));
}

/// Put every compute host back in service (a failed test may leave one
/// fenced): attrd `no`, nova-compute running, then fence_compute `on`
/// until Nova accepts; then delete every server, so that each test starts
/// from an empty cloud (servers left by earlier tests made hosts that
/// "hold nothing" hold evacuated instances, and slowed the fake
/// nova-computes' claims to minutes).
pub fn reset_computes() {
    reset_services();
    delete_all_servers();
}

pub fn delete_all_servers() {
    use instance_ha::openstack::Request;
    let (nova, _) = clients();
    let hosts: Vec<String> = nova
        .compute_services(None)
        .unwrap()
        .into_iter()
        .map(|s| s.host)
        .collect();
    let on_hosts = |nova: &Nova| -> Vec<String> {
        hosts
            .iter()
            .flat_map(|h| nova.servers_on_host(h).unwrap())
            .map(|s| s.id)
            .collect()
    };
    for id in on_hosts(&nova) {
        // 404: already going away.
        let _ = nova
            .session()
            .request(Request::delete("compute", &format!("/servers/{id}")));
    }
    wait_for("every server deleted", 180, || on_hosts(&nova).is_empty());
}

fn reset_services() {
    let (nova, _) = clients();
    for s in nova.compute_services(None).unwrap() {
        if !s.forced_down && s.status == "enabled" {
            continue;
        }
        let host = s.host.clone();
        let _ = run(&format!("attrd_updater -p -n evacuate -N {host} -U no"));
        let _ = run(&format!(
            "{}/tests/harness/openstack.sh compute-start {host}",
            repo().display()
        ));
        let stdin = format!("action=on\nport={host}\n{}", fence_creds());
        wait_for(&format!("{host} back in service"), 240, || {
            let _ = Command::new("bash")
                .arg("-c")
                .arg("printf '%s' \"$IN\" | /usr/sbin/fence_compute")
                .env("IN", &stdin)
                .output();
            let s = service(&nova, &host);
            !s.forced_down && s.status == "enabled"
        });
    }
}
