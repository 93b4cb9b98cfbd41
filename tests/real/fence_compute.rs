//! fence_compute under real Pacemaker (single-node lab, stonith enabled)
//! against real Nova: the acceptance scenarios of the core issue.
//!
//! Devices are created with `pcs stonith create` exactly as operators do;
//! compute hosts are fenced through a topology level holding a power
//! device (fence_dummy) and fence_compute, as Red Hat deploys it.

use std::time::Instant;

use crate::lab::*;

const FENCE_RNG: &str = "/usr/share/cluster/relaxng/metadata.rng";

/// fence_compute's own effects are checked with NovaEvacuate out of the way
/// (it would move the record past `pending` within a second).
fn without_nova_evacuate() {
    if run("crm_resource --resource nova-evacuate --locate >/dev/null 2>&1").0 == 0 {
        let _ = run("pcs resource disable nova-evacuate --wait=60");
    }
}

pub fn ensure_devices() {
    sh("pcs property set stonith-enabled=true");
    // fence-nova provides unfencing: without this default every node,
    // controllers included, would have to be unfenced before any resource
    // starts there (Red Hat's recipe; only compute-unfence-trigger requires
    // unfencing).
    sh("pcs resource defaults update requires=fencing >/dev/null 2>&1 || pcs resource defaults requires=fencing");
    // Every node needs a device that can unfence it once fence-nova
    // provides unfencing: controllers have their power fencing (here a
    // dummy), or nothing starts on them.
    if run("stonith_admin -L | grep -q power-node1").0 != 0 {
        sh("mkdir -p /run/iha-test && pcs stonith create power-node1 fence_dummy type=file status_file=/run/iha-test/power-node1 pcmk_host_list=node1 --force");
    }
    let creds = pcs_creds();
    let (code, _, _, _) = run("stonith_admin -L | grep -q fence-nova");
    if code != 0 {
        let _ = run("pcs stonith delete fence-nova --force");
        // The line Red Hat's instance-HA guides use, with our credentials.
        sh(&format!(
            "pcs stonith create fence-nova fence_compute {creds} record_only=1 \
             pcmk_host_list='compute-0 compute-1 compute-2' pcmk_off_action=off meta provides=unfencing --force"
        ));
    }
    for host in ["compute-0", "compute-1", "compute-2"] {
        let dev = format!("power-{host}");
        let (code, _, _, _) = run(&format!("stonith_admin -L | grep -q {dev}"));
        if code != 0 {
            sh(&format!(
                "mkdir -p /run/iha-test && pcs stonith create {dev} fence_dummy type=file status_file=/run/iha-test/{dev} pcmk_host_list={host} --force"
            ));
            sh(&format!(
                "pcs stonith level add 1 {host} {dev} fence-nova --force"
            ));
        }
    }
    wait_for("fence devices registered", 60, || {
        let (_, out, _, _) = run("stonith_admin -L");
        out.contains("fence-nova") && out.contains("power-compute-2")
    });
}

/// What NovaEvacuate does at the end of an evacuation, with our own agent.
fn evacuate_with_fence_evacuate(host: &str) {
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!("printf '%s' \"$IN\" | /usr/sbin/fence_evacuate"))
        .env(
            "IN",
            format!(
                "action=off\nport={host}\nevacuate_policy=all\n{}",
                fence_creds()
            ),
        )
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "fence_evacuate -o off {host} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    sh(&format!("attrd_updater -p -n evacuate -N {host} -U no"));
}

pub fn fence_compute_on(host: &str) -> (i32, String) {
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg("printf '%s' \"$IN\" | /usr/sbin/fence_compute")
        .env("IN", format!("action=on\nport={host}\n{}", fence_creds()))
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
#[ignore]
fn metadata_validates_and_covers_the_debian_agent_live() {
    let ours = sh("/usr/sbin/fence_compute -o metadata");
    sh(&format!(
        "/usr/sbin/fence_compute -o metadata | xmllint --noout --relaxng {FENCE_RNG} -"
    ));
    let shim = repo().join("tests/harness/fence-shim");
    let debian = sh(&format!(
        "PYTHONPATH={} /usr/sbin/fence_compute.distrib -o metadata",
        shim.display()
    ));
    let names = |x: &str| -> Vec<String> {
        x.split("<parameter name=\"")
            .skip(1)
            .map(|s| s.split('"').next().unwrap().to_string())
            .collect()
    };
    let ours = names(&ours);
    let missing: Vec<String> = names(&debian)
        .into_iter()
        .filter(|p| !ours.contains(p))
        .collect();
    assert!(missing.is_empty(), "missing Debian parameters: {missing:?}");
    // And pcs knows it from the installed file.
    let d = sh("pcs stonith describe fence_compute");
    assert!(d.contains("evacuation_wait"), "{d}");
}

#[test]
#[ignore]
fn fencing_a_dead_compute_then_unfencing_it_with_nothing_left_to_clean() {
    without_nova_evacuate();
    reset_computes();
    ensure_devices();
    let (nova, _) = clients();
    let host = "compute-2";
    harness("openstack.sh", &format!("compute-kill {host}"));
    let t = Instant::now();
    sh(&format!("stonith_admin --fence {host} --timeout 90"));
    eprintln!(
        "stonith_admin --fence {host}: {:.1}s",
        t.elapsed().as_secs_f64()
    );
    let s = service(&nova, host);
    assert!(s.forced_down, "{s:?}");
    assert_eq!(s.status, "disabled", "{s:?}");
    assert!(
        s.disabled_reason
            .as_deref()
            .unwrap_or("")
            .starts_with("instance-ha: pending"),
        "{s:?}"
    );
    assert_eq!(attr(host).as_deref(), Some("yes"));
    assert!(
        sh(&format!("stonith_admin --history {host}")).contains("successful"),
        "history shows the fencing"
    );

    // Nothing ran on it: the evacuation ends at once; the node comes back.
    evacuate_with_fence_evacuate(host);
    harness("openstack.sh", &format!("compute-start {host}"));
    let t = Instant::now();
    sh(&format!("stonith_admin --unfence {host} --timeout 90"));
    eprintln!(
        "stonith_admin --unfence {host}: {:.1}s",
        t.elapsed().as_secs_f64()
    );
    let s = service(&nova, host);
    assert!(!s.forced_down, "{s:?}");
    assert_eq!(s.status, "enabled", "{s:?}");
    wait_compute_up(&nova, host);
}

#[test]
#[ignore]
fn unfencing_right_after_an_evacuation_returns_promptly_and_records_recovering() {
    without_nova_evacuate();
    reset_computes();
    ensure_devices();
    let (nova, _) = clients();
    let host = "compute-1";
    boot(3, host);
    harness("openstack.sh", &format!("compute-kill {host}"));
    sh(&format!("stonith_admin --fence {host} --timeout 90"));
    assert!(service(&nova, host).forced_down);
    evacuate_with_fence_evacuate(host);
    assert!(nova.servers_on_host(host).unwrap().is_empty(), "evacuated");

    // The node rejoins and is unfenced before its nova-compute starts.
    let log_before = pacemaker_log().len();
    let t = Instant::now();
    sh(&format!("stonith_admin --unfence {host} --timeout 90"));
    let secs = t.elapsed().as_secs_f64();
    eprintln!("stonith_admin --unfence {host} (nova-compute still down): {secs:.1}s");
    assert!(
        secs < 30.0,
        "unfencing must not wait for nova-compute ({secs:.1}s)"
    );
    let s = service(&nova, host);
    assert!(
        s.forced_down,
        "Nova refuses forced_down=false until nova-compute cleaned up: {s:?}"
    );
    assert!(
        s.disabled_reason
            .as_deref()
            .unwrap_or("")
            .starts_with("instance-ha: recovering"),
        "recorded for the next step: {s:?}"
    );
    let log = pacemaker_log();
    let new = &log[log_before.min(log.len())..];
    assert!(
        new.contains("still forced down"),
        "the log says why:\n{}",
        &new[new.len().saturating_sub(4000)..]
    );
    // Real Nova's refusal, for comparison with the double's wording.
    if let Some(line) = new.lines().find(|l| l.contains("still forced down")) {
        eprintln!("logged: {line}");
        assert!(line.contains("migration records"), "{line}");
    }

    // nova-compute starts and cleans up: the next `on` finishes the job.
    harness("openstack.sh", &format!("compute-start {host}"));
    let t = Instant::now();
    wait_for("host back in service", 180, || {
        let (code, _) = fence_compute_on(host);
        let s = service(&nova, host);
        code == 0 && !s.forced_down && s.status == "enabled"
    });
    eprintln!(
        "back in service {:.1}s after nova-compute started",
        t.elapsed().as_secs_f64()
    );
    wait_compute_up(&nova, host);
}
