//! The evacuation engine against real Nova, driven by NovaEvacuate under
//! real Pacemaker and by fence_evacuate: issue 3's acceptance scenarios
//! that need no remote nodes (those run in tests/scenarios).

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use instance_ha::openstack::MigrationFilter;

use crate::fence_compute::{ensure_devices, fence_compute_on};
use crate::lab::*;

fn ensure_nova_evacuate() {
    let _ = run("pcs resource enable nova-evacuate 2>/dev/null");
    let (code, _, _, _) =
        run("crm_resource --resource nova-evacuate --locate 2>/dev/null | grep -q 'is running'");
    if code == 0 {
        return;
    }
    let e = os_env();
    sh(&format!(
        "pcs resource create nova-evacuate ocf:openstack:NovaEvacuate auth_url='{}' username='{}' password='{}' tenant_name='{}' \
         user_domain=Default project_domain=Default region_name=RegionOne endpoint_type=public op monitor interval=10s --force",
        e["OS_AUTH_URL"], e["OS_USERNAME"], e["OS_PASSWORD"], e["OS_PROJECT_NAME"]
    ));
    wait_for("nova-evacuate running", 60, || {
        run("crm_resource --resource nova-evacuate --locate 2>/dev/null | grep -q 'is running'").0
            == 0
    });
}

fn venv_python() -> String {
    std::env::var("IHA_VENV").unwrap_or_else(|_| "/opt/oslab/venv".into()) + "/bin/python"
}

/// `2026/11/21_21:45:01.123` -> seconds of the day (same day is enough here).
fn hadate_secs(s: &str) -> Option<f64> {
    let t = s.split('_').nth(1)?;
    let mut p = t.split(':');
    let h: f64 = p.next()?.parse().ok()?;
    let m: f64 = p.next()?.parse().ok()?;
    let sec: f64 = p.next()?.parse().ok()?;
    Some(h * 3600.0 + m * 60.0 + sec)
}

/// Time stamp of our log line containing `needle` (first after `from`).
fn stamp_of(log: &str, needle: &str) -> Option<f64> {
    let line = log.lines().find(|l| l.contains(needle))?;
    let i = line.find(needle)?;
    let head = &line[..i];
    let ts = head
        .split_whitespace()
        .rev()
        .find(|w| w.len() >= 19 && w.as_bytes()[4] == b'/' && w.contains('_'))?;
    hadate_secs(ts)
}

/// Bring a fenced, evacuated host back the way the node's return does it.
fn bring_back(host: &str) {
    let (nova, _) = clients();
    harness("openstack.sh", &format!("compute-start {host}"));
    wait_for(&format!("{host} back in service"), 240, || {
        let (code, _) = fence_compute_on(host);
        let s = service(&nova, host);
        code == 0 && !s.forced_down && s.status == "enabled"
    });
    wait_compute_up(&nova, host);
}

#[test]
#[ignore]
fn nova_evacuate_under_pacemaker_evacuates_a_mixed_host() {
    reset_computes();
    ensure_devices();
    ensure_nova_evacuate();
    let (nova, _) = clients();
    let host = "compute-0";
    let env = os_env();
    let out = Command::new(venv_python())
        .arg(repo().join("tests/real/mixed-host.py"))
        .arg(host)
        .envs(&env)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "mixed-host.py: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let expect: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert!(expect.len() >= 20, "at least 20 servers: {}", expect.len());
    let movers = expect.iter().filter(|s| s["move"] == true).count();
    let log_from = pacemaker_log().len();

    harness("openstack.sh", &format!("compute-kill {host}"));
    let t = Instant::now();
    sh(&format!("stonith_admin --fence {host} --timeout 90"));
    wait_for("evacuation recorded as evacuated", 900, || {
        service(&nova, host)
            .disabled_reason
            .unwrap_or_default()
            .starts_with("instance-ha: evacuated")
    });
    eprintln!(
        "{host}: fenced and {movers} instances evacuated in {:.1}s",
        t.elapsed().as_secs_f64()
    );

    for s in &expect {
        let id = s["id"].as_str().unwrap();
        let now = nova.get_server(id).unwrap();
        assert_eq!(
            now.status,
            s["status"].as_str().unwrap(),
            "{} changed state",
            s["name"]
        );
        if s["move"] == true {
            assert_ne!(
                now.host.as_deref(),
                Some(host),
                "{} should have moved",
                s["name"]
            );
        } else {
            assert_eq!(
                now.host.as_deref(),
                Some(host),
                "{} should have stayed",
                s["name"]
            );
        }
    }
    // The per-instance report (journal) says the same.
    let journal = std::fs::read_to_string("/var/lib/instance-ha/journal.jsonl").unwrap();
    let report: serde_json::Value = journal
        .lines()
        .rev()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|r| r["host"] == host)
        .unwrap();
    let outcome: HashMap<String, String> = report["instances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["id"].as_str().unwrap().to_string(),
                i["outcome"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for s in &expect {
        let want = if s["move"] == true {
            "evacuated"
        } else {
            "skipped"
        };
        assert_eq!(
            outcome.get(s["id"].as_str().unwrap()).map(String::as_str),
            Some(want),
            "report for {}",
            s["name"]
        );
    }
    // Reaction: fence_compute records the host -> NovaEvacuate's first request.
    let log = pacemaker_log();
    let log = &log[log_from.min(log.len())..];
    let recorded = stamp_of(log, &format!("{host}: attrd evacuate=yes"));
    let first = stamp_of(log, &format!("{host}: evacuate "));
    match (recorded, first) {
        (Some(a), Some(b)) => eprintln!("REACTION {host}: {:.3}s from fence_compute recording to the first evacuate request", b - a),
        _ => panic!("log lines missing (recorded {recorded:?}, first request {first:?}); the log should show both"),
    }
    bring_back(host);
}

#[test]
#[ignore]
fn a_killed_evacuation_resumes_without_a_second_request() {
    reset_computes();
    let (nova, _) = clients();
    let host = "compute-1";
    ensure_devices();
    boot(10, host);
    let ids: Vec<String> = nova
        .servers_on_host(host)
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert!(ids.len() >= 10);
    harness("openstack.sh", &format!("compute-kill {host}"));
    sh(&format!("stonith_admin --fence {host} --timeout 90"));
    let access = "/var/lib/iha-lab/os/log/nova-api-access.log";
    let from = std::fs::read_to_string(access).unwrap_or_default().len();
    let started = instance_ha::time::now();

    // First run: requests trickle (concurrency 2); killed once Nova has
    // logged 3 of them, so some are done, some possibly in flight, some unsent.
    let stdin = format!(
        "action=off\nport={host}\nevacuate_policy=all\n{}concurrency=2\n",
        fence_creds()
    );
    let mut child = Command::new("/usr/sbin/fence_evacuate")
        .stdin(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let posts = || -> usize {
        let log = std::fs::read_to_string(access).unwrap_or_default();
        log[from.min(log.len())..]
            .lines()
            .filter(|l| l.contains("POST /v2.1/servers/") && l.contains("/action"))
            .count()
    };
    let t = Instant::now();
    while posts() < 3 && t.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    let _ = child.wait();
    let sent = posts();
    eprintln!("killed the first fence_evacuate after Nova logged {sent} requests");
    assert!(
        sent >= 3 && sent < ids.len(),
        "killed mid-run ({sent} of {} sent)",
        ids.len()
    );

    // Second run to the end.
    let out = Command::new("bash")
        .arg("-c")
        .arg("printf '%s' \"$IN\" | /usr/sbin/fence_evacuate")
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
        "second run failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("already being evacuated") || err.contains("already evacuated"),
        "the second run found the first one's work:\n{err}"
    );

    let log = std::fs::read_to_string(access).unwrap();
    let log = &log[from.min(log.len())..];
    for id in &ids {
        let posts = log
            .lines()
            .filter(|l| l.contains(&format!("POST /v2.1/servers/{id}/action")))
            .count();
        assert_eq!(posts, 1, "server {id}: {posts} evacuate requests");
        let migs: Vec<_> = nova
            .migrations(&MigrationFilter {
                instance_uuid: Some(id.clone()),
                ..MigrationFilter::evacuations_from(host)
            })
            .unwrap()
            .into_iter()
            .filter(|m| {
                m.created_at
                    .as_deref()
                    .and_then(instance_ha::time::parse_datetime)
                    .is_some_and(|c| c + 5 >= started)
            })
            .collect();
        assert_eq!(
            migs.len(),
            1,
            "server {id}: one evacuation migration record, got {migs:?}"
        );
        let s = nova.get_server(id).unwrap();
        assert_ne!(s.host.as_deref(), Some(host));
        assert_eq!(s.status, "ACTIVE");
    }
    sh(&format!("attrd_updater -p -n evacuate -N {host} -U no"));
    std::thread::sleep(Duration::from_millis(200));
    bring_back(host);
}
