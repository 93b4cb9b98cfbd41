//! fence_evacuate against the Nova double, driven as pacemaker-fenced or
//! the reference NovaEvacuate drive it.

use std::time::Duration;

use nova_double::{Config, Double, ServerSpec};

use crate::util::{Output, Run};

fn stdin(d: &Double, action: &str, node: &str, extra: &str) -> String {
    format!(
        "action={action}\nport={node}\nauth_url={}\nlogin={}\npasswd={}\ntenant_name={}\nendpoint_type=public\nretry_backoff=0.1\n{extra}",
        d.auth_url(),
        d.username(),
        d.password(),
        d.project()
    )
}

fn agent(d: &Double, action: &str, node: &str, extra: &str) -> Output {
    Run::agent("fence_evacuate")
        .stdin(stdin(d, action, node, extra))
        .env(
            "IHA_STATE_DIR",
            std::env::temp_dir().join("iha-test-journal"),
        )
        .run()
}

fn fenced(d: &Double, host: &str) {
    d.set_compute_alive(host, false);
    d.set_forced_down(host, true);
    d.set_disabled(
        host,
        Some("instance-ha: pending since 2026-01-01T00:00:00Z by fence_compute"),
    );
}

#[test]
fn off_requires_the_host_to_be_fenced_in_nova() {
    let d = Double::start(Config::new());
    let id = d.add_server(ServerSpec::new("vm", "compute-1"));
    agent(&d, "off", "compute-1", "")
        .code(1)
        .one_error_line()
        .stderr_has("cannot resurrect");
    assert_eq!(d.evacuate_requests(&id), 0);
}

#[test]
fn off_evacuates_everything_and_waits_for_arrival() {
    let d = Double::start(Config::new().evacuation_time(Duration::from_millis(100)));
    let ids: Vec<String> = (0..10)
        .map(|i| {
            d.add_server(
                ServerSpec::new(&format!("vm{i}"), "compute-1").status(if i % 3 == 0 {
                    "SHUTOFF"
                } else {
                    "ACTIVE"
                }),
            )
        })
        .collect();
    fenced(&d, "compute-1");
    agent(&d, "off", "compute-1", "").code(0);
    for (i, id) in ids.iter().enumerate() {
        let s = d.server(id).unwrap();
        assert_ne!(s.host.as_deref(), Some("compute-1"));
        assert_eq!(s.status, if i % 3 == 0 { "SHUTOFF" } else { "ACTIVE" });
    }
    let svc = d.service("compute-1").unwrap();
    assert!(
        svc.disabled_reason
            .as_deref()
            .unwrap()
            .starts_with("instance-ha: evacuated"),
        "{svc:?}"
    );
}

#[test]
fn off_fails_when_an_instance_does_not_come_back() {
    let d = Double::start(Config::new().evacuation_time(Duration::from_millis(50)));
    let bad = d.add_server(ServerSpec::new("bad", "compute-1"));
    d.add_server(ServerSpec::new("good", "compute-1"));
    d.fail_next_evacuations(&bad, 10);
    fenced(&d, "compute-1");
    let out = agent(&d, "off", "compute-1", "max_attempts=2\n");
    out.code(1).one_error_line().stderr_has("1 failed");
    assert_eq!(d.evacuate_requests(&bad), 2);
    let svc = d.service("compute-1").unwrap();
    assert!(
        svc.disabled_reason
            .as_deref()
            .unwrap()
            .starts_with("instance-ha: incomplete"),
        "{svc:?}"
    );
}

#[test]
fn instance_filtering_false_evacuates_nothing_as_the_reference() {
    let d = Double::start(Config::new());
    let id = d.add_server(ServerSpec::new("vm", "compute-1"));
    fenced(&d, "compute-1");
    agent(&d, "off", "compute-1", "instance_filtering=False\n")
        .code(0)
        .stderr_lacks("FAILED");
    assert_eq!(d.evacuate_requests(&id), 0);
}

#[test]
fn completion_accepted_is_the_reference_notion() {
    let d = Double::start(Config::new().evacuation_time(Duration::from_secs(60)));
    let id = d.add_server(ServerSpec::new("vm", "compute-1"));
    fenced(&d, "compute-1");
    let t = std::time::Instant::now();
    agent(&d, "off", "compute-1", "completion=accepted\n").code(0);
    assert!(t.elapsed() < Duration::from_secs(30));
    assert_eq!(d.evacuate_requests(&id), 1);
}

#[test]
fn status_is_off_for_a_fenced_host() {
    let d = Double::start(Config::new());
    fenced(&d, "compute-1");
    agent(&d, "status", "compute-1", "").code(2);
    agent(&d, "status", "compute-0", "").code(0);
}

#[test]
fn bad_engine_parameters_are_rejected_up_front() {
    let d = Double::start(Config::new());
    agent(&d, "off", "compute-1", "concurrency=0\n")
        .code(1)
        .one_error_line()
        .stderr_has("concurrency");
    agent(&d, "off", "compute-1", "evacuate_policy=some\n")
        .code(1)
        .one_error_line()
        .stderr_has("evacuate_policy");
}
