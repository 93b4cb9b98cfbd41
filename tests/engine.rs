//! The evacuation engine against the Nova double: selection, concurrency,
//! completion tracking, retries, idempotent resume, microversion rules.

use std::sync::Mutex;
use std::time::Duration;

use instance_ha::engine::{self, Completion, Event, Outcome, Plan, Policy, RunConfig};
use instance_ha::openstack::{EvacuateOptions, Microversion};
use nova_double::{Config, Double, ServerSpec};

use crate::util::{clients, wait_until};

fn double() -> Double {
    Double::start(Config::new().evacuation_time(Duration::from_millis(60)))
}

fn fast() -> RunConfig {
    RunConfig {
        poll_interval: Duration::from_millis(50),
        retry_backoff: Duration::from_millis(50),
        instance_timeout: Duration::from_secs(20),
        ..RunConfig::default()
    }
}

/// Fence compute-1 the way fence_compute does (the engine never evacuates
/// a host whose nova-compute Nova still believes in).
fn fence(d: &Double, host: &str) {
    d.set_compute_alive(host, false);
    d.set_forced_down(host, true);
    d.set_disabled(
        host,
        Some("instance-ha: pending since 2026-01-01T00:00:00Z by test"),
    );
}

fn run(
    d: &Double,
    host: &str,
    policy: &Policy,
    cfg: &RunConfig,
) -> (Plan, engine::Report, Vec<String>) {
    let (nova, glance) = clients(d);
    let plan = Plan::build(&nova, Some(&glance), host, policy).unwrap();
    let events = Mutex::new(Vec::new());
    let report = engine::run::evacuate(&nova, &plan, cfg, &|e: &Event| {
        events.lock().unwrap().push(format!("{e:?}"))
    });
    (plan, report, events.into_inner().unwrap())
}

#[test]
fn a_mixed_host_with_tags_ends_where_it_should() {
    let d = double();
    d.add_image("img-tagged", &["evacuable"], &[]);
    d.add_image("img-prop", &[], &[("evacuable", "true")]);
    d.add_image("img-plain", &[], &[]);
    let mut want_moved = Vec::new();
    let mut want_stay = Vec::new();
    for i in 0..6 {
        want_moved.push(
            d.add_server(
                ServerSpec::new(&format!("gold-{i}"), "compute-1")
                    .flavor("gold.private")
                    .private_flavor()
                    .extra_spec("evacuable", "true"),
            ),
        );
    }
    for i in 0..4 {
        want_moved.push(
            d.add_server(
                ServerSpec::new(&format!("gold-off-{i}"), "compute-1")
                    .status("SHUTOFF")
                    .flavor("gold.private")
                    .private_flavor()
                    .extra_spec("evacuable", "true"),
            ),
        );
    }
    for i in 0..5 {
        want_moved.push(d.add_server(
            ServerSpec::new(&format!("img-{i}"), "compute-1").image(if i % 2 == 0 {
                "img-tagged"
            } else {
                "img-prop"
            }),
        ));
    }
    for i in 0..4 {
        want_stay.push(
            d.add_server(ServerSpec::new(&format!("plain-{i}"), "compute-1").image("img-plain")),
        );
    }
    want_stay.push(
        d.add_server(
            ServerSpec::new("broken", "compute-1")
                .status("ERROR")
                .flavor("gold.private")
                .private_flavor()
                .extra_spec("evacuable", "true"),
        ),
    );
    want_moved.push(d.add_server(
        ServerSpec::new("opted-in", "compute-1").metadata("instance-ha:evacuate", "true"),
    ));
    let elsewhere = d.add_server(ServerSpec::new("elsewhere", "compute-0"));
    fence(&d, "compute-1");

    let before: Vec<(String, String)> = d.servers().into_iter().map(|s| (s.id, s.status)).collect();
    let (plan, report, _) = run(&d, "compute-1", &Policy::default(), &fast());
    assert_eq!(plan.selected.len(), want_moved.len(), "{plan:#?}");
    assert!(report.success(), "{}", report.table());
    assert_eq!(report.evacuated(), want_moved.len());
    assert_eq!(report.skipped(), want_stay.len());
    for id in &want_moved {
        let s = d.server(id).unwrap();
        let was = &before.iter().find(|(i, _)| i == id).unwrap().1;
        assert_ne!(
            s.host.as_deref(),
            Some("compute-1"),
            "{} still on the failed host",
            s.name
        );
        assert_eq!(&s.status, was, "{} changed power state", s.name);
        assert_eq!(
            d.evacuate_requests(id),
            1,
            "{}: exactly one request",
            s.name
        );
    }
    for id in &want_stay {
        let s = d.server(id).unwrap();
        assert_eq!(
            s.host.as_deref(),
            Some("compute-1"),
            "{} should stay",
            s.name
        );
        assert_eq!(d.evacuate_requests(id), 0);
    }
    assert_eq!(
        d.server(&elsewhere).unwrap().host.as_deref(),
        Some("compute-0")
    );
    // Every skip says why.
    let broken = report
        .instances
        .iter()
        .find(|i| i.name == "broken")
        .unwrap();
    assert!(
        matches!(&broken.outcome, Outcome::Skipped { reason } if reason.contains("ERROR")),
        "{broken:?}"
    );
    let plain = report
        .instances
        .iter()
        .find(|i| i.name == "plain-0")
        .unwrap();
    assert!(
        matches!(&plain.outcome, Outcome::Skipped { reason } if reason.contains("tagged")),
        "{plain:?}"
    );
}

#[test]
fn nothing_tagged_means_everything_and_policy_none_means_nothing() {
    let d = double();
    let a = d.add_server(ServerSpec::new("a", "compute-1"));
    let b = d.add_server(ServerSpec::new("b", "compute-1").status("SHUTOFF"));
    fence(&d, "compute-1");
    let none = Policy {
        filtering: engine::Filtering::None,
        ..Policy::default()
    };
    let (plan, _, _) = run(&d, "compute-1", &none, &fast());
    assert!(plan.selected.is_empty());
    let (_, report, _) = run(&d, "compute-1", &Policy::default(), &fast());
    assert!(report.success(), "{}", report.table());
    assert_ne!(d.server(&a).unwrap().host.as_deref(), Some("compute-1"));
    assert_eq!(d.server(&b).unwrap().status, "SHUTOFF");
}

#[test]
fn a_failed_evacuation_is_retried_with_backoff() {
    let d = double();
    let id = d.add_server(ServerSpec::new("flaky", "compute-1"));
    d.fail_next_evacuations(&id, 1);
    fence(&d, "compute-1");
    let (_, report, events) = run(&d, "compute-1", &Policy::default(), &fast());
    assert!(report.success(), "{}", report.table());
    let r = &report.instances[0];
    assert_eq!(r.attempts, 2);
    assert_eq!(d.evacuate_requests(&id), 2);
    assert!(
        events.iter().any(|e| e.starts_with("Retrying")),
        "{events:?}"
    );
    assert_eq!(d.server(&id).unwrap().status, "ACTIVE");
}

#[test]
fn retries_are_bounded_and_the_failure_is_reported() {
    let d = double();
    let id = d.add_server(ServerSpec::new("doomed", "compute-1"));
    let ok = d.add_server(ServerSpec::new("fine", "compute-1"));
    d.fail_next_evacuations(&id, 10);
    fence(&d, "compute-1");
    let (_, report, _) = run(
        &d,
        "compute-1",
        &Policy::default(),
        &RunConfig {
            max_attempts: 3,
            ..fast()
        },
    );
    assert!(!report.success());
    assert_eq!(report.failed(), 1);
    assert_eq!(d.evacuate_requests(&id), 3, "bounded");
    assert_ne!(
        d.server(&ok).unwrap().host.as_deref(),
        Some("compute-1"),
        "one failure does not stop the rest"
    );
}

#[test]
fn a_second_run_never_requests_again() {
    // A killed run (or another controller) left requests in flight.
    let d = Double::start(Config::new().evacuation_time(Duration::from_millis(600)));
    let ids: Vec<String> = (0..8)
        .map(|i| d.add_server(ServerSpec::new(&format!("vm{i}"), "compute-1")))
        .collect();
    fence(&d, "compute-1");
    let (nova, _) = clients(&d);
    for id in &ids[..4] {
        nova.evacuate(id, &EvacuateOptions::default()).unwrap();
    }
    let (_, report, events) = run(
        &d,
        "compute-1",
        &Policy::default(),
        &RunConfig {
            since: Some(instance_ha::time::now() - 60),
            ..fast()
        },
    );
    assert!(report.success(), "{}", report.table());
    for id in &ids {
        assert_eq!(
            d.evacuate_requests(id),
            1,
            "exactly one request per instance: {id}\n{events:#?}\n{:#?}",
            d.migrations()
        );
        assert_ne!(d.server(id).unwrap().host.as_deref(), Some("compute-1"));
    }
    assert!(
        events.iter().filter(|e| e.starts_with("Resumed")).count() >= 4,
        "{events:?}"
    );
    // And a third run after everything landed: nothing to send, all reported.
    let (plan, report, _) = run(
        &d,
        "compute-1",
        &Policy::default(),
        &RunConfig {
            since: Some(instance_ha::time::now() - 60),
            ..fast()
        },
    );
    assert!(plan.selected.is_empty());
    assert_eq!(
        report.count(|o| matches!(o, Outcome::AlreadyEvacuated { .. })),
        8,
        "{}",
        report.table()
    );
    for id in &ids {
        assert_eq!(d.evacuate_requests(id), 1);
    }
}

#[test]
fn completion_accepted_does_not_wait() {
    let d = Double::start(Config::new().evacuation_time(Duration::from_secs(30)));
    let id = d.add_server(ServerSpec::new("vm", "compute-1"));
    fence(&d, "compute-1");
    let (_, report, _) = run(
        &d,
        "compute-1",
        &Policy::default(),
        &RunConfig {
            completion: Completion::Accepted,
            ..fast()
        },
    );
    assert!(matches!(report.instances[0].outcome, Outcome::Accepted));
    assert_eq!(d.evacuate_requests(&id), 1);
}

#[test]
fn from_2_95_active_servers_are_started_after_they_arrive() {
    let d = double();
    let a = d.add_server(ServerSpec::new("up", "compute-1"));
    let b = d.add_server(ServerSpec::new("down", "compute-1").status("SHUTOFF"));
    fence(&d, "compute-1");
    let cfg = RunConfig {
        microversion: Some("2.95".parse::<Microversion>().unwrap()),
        ..fast()
    };
    let (_, report, events) = run(&d, "compute-1", &Policy::default(), &cfg);
    assert!(report.success(), "{}", report.table());
    assert_eq!(d.server(&a).unwrap().status, "ACTIVE");
    assert_eq!(d.server(&b).unwrap().status, "SHUTOFF");
    assert!(
        events.iter().any(|e| e.starts_with("Started")),
        "{events:?}"
    );
    assert_eq!(report.microversion.as_deref(), Some("2.95"));
}

#[test]
fn old_nova_gets_the_shared_storage_flag() {
    let d = Double::start(
        Config::new()
            .max_microversion("2.13")
            .evacuation_time(Duration::from_millis(50)),
    );
    let id = d.add_server(ServerSpec::new("vm", "compute-1"));
    fence(&d, "compute-1");
    let (_, report, _) = run(
        &d,
        "compute-1",
        &Policy::default(),
        &RunConfig {
            on_shared_storage: false,
            ..fast()
        },
    );
    assert!(report.success(), "{}", report.table());
    assert_eq!(d.evacuate_requests(&id), 1);
}

#[test]
fn a_target_host_is_honoured() {
    let d = double();
    let ids: Vec<String> = (0..5)
        .map(|i| d.add_server(ServerSpec::new(&format!("vm{i}"), "compute-1")))
        .collect();
    fence(&d, "compute-1");
    let (_, report, _) = run(
        &d,
        "compute-1",
        &Policy::default(),
        &RunConfig {
            target_host: Some("compute-2".into()),
            ..fast()
        },
    );
    assert!(report.success(), "{}", report.table());
    for id in &ids {
        assert_eq!(d.server(id).unwrap().host.as_deref(), Some("compute-2"));
    }
}

#[test]
fn higher_priority_goes_first() {
    let d = double();
    let low = d.add_server(ServerSpec::new("a-low", "compute-1"));
    let high =
        d.add_server(ServerSpec::new("z-high", "compute-1").metadata("instance-ha:priority", "10"));
    let mid = d.add_server(
        ServerSpec::new("m-mid", "compute-1")
            .flavor("prio")
            .extra_spec("instance-ha:priority", "5"),
    );
    fence(&d, "compute-1");
    let (_, report, _) = run(
        &d,
        "compute-1",
        &Policy::default(),
        &RunConfig {
            concurrency: 1,
            ..fast()
        },
    );
    assert!(report.success());
    let order: Vec<String> = d
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/action"))
        .filter_map(|r| r.path.split('/').rev().nth(1).map(str::to_string))
        .collect();
    assert_eq!(order, vec![high, mid, low]);
}

#[test]
fn a_host_nova_still_believes_in_is_not_evacuated() {
    let d = double();
    let id = d.add_server(ServerSpec::new("vm", "compute-1"));
    // nova-compute is alive and not forced down: Nova refuses.
    let (_, report, _) = run(
        &d,
        "compute-1",
        &Policy::default(),
        &RunConfig {
            max_attempts: 2,
            ..fast()
        },
    );
    assert_eq!(report.failed(), 1, "{}", report.table());
    let r = &report.instances[0];
    assert!(
        matches!(&r.outcome, Outcome::Failed { reason } if reason.contains("still in use")),
        "{r:?}"
    );
    assert_eq!(d.server(&id).unwrap().host.as_deref(), Some("compute-1"));
}

#[test]
fn many_instances_with_latency_finish() {
    let d = Double::start(
        Config::new()
            .latency(Duration::from_millis(20))
            .evacuation_time(Duration::from_millis(100)),
    );
    let ids: Vec<String> = (0..60)
        .map(|i| d.add_server(ServerSpec::new(&format!("vm{i:02}"), "compute-1")))
        .collect();
    fence(&d, "compute-1");
    let (_, report, _) = run(&d, "compute-1", &Policy::default(), &fast());
    assert!(report.success(), "{}", report.table());
    assert_eq!(report.evacuated(), 60);
    wait_until("all moved", 5, || {
        ids.iter()
            .all(|id| d.server(id).unwrap().host.as_deref() != Some("compute-1"))
    });
}

#[test]
fn regression_a_timed_out_request_that_nova_accepted_is_not_sent_again() {
    // The answer to the first POST is lost (client read timeout) but Nova
    // acts on it: the retry must find it in flight, not evacuate twice.
    use instance_ha::openstack::{CloudConfig, Nova, Secret, Session};
    let d = Double::start(Config::new().evacuation_time(Duration::from_millis(200)));
    let id = d.add_server(ServerSpec::new("slow", "compute-1"));
    fence(&d, "compute-1");
    d.inject_delay(
        "POST",
        &format!("/compute/v2.1/servers/{id}/action"),
        Duration::from_millis(1500),
        1,
    );
    let cfg = CloudConfig {
        auth_url: Some(d.auth_url()),
        username: Some(d.username()),
        password: Some(Secret::new(d.password())),
        project_name: Some(d.project()),
        read_timeout: Some(Duration::from_millis(500)),
        ..CloudConfig::default()
    };
    let nova = Nova::new(std::sync::Arc::new(Session::new(cfg).unwrap()));
    let plan = Plan::build(&nova, None, "compute-1", &Policy::default()).unwrap();
    let events = Mutex::new(Vec::new());
    let cfg = RunConfig {
        retry_backoff: Duration::from_secs(3),
        ..fast()
    };
    let report = engine::run::evacuate(&nova, &plan, &cfg, &|e: &Event| {
        events.lock().unwrap().push(format!("{e:?}"))
    });
    let events = events.into_inner().unwrap();
    assert!(report.success(), "{}\n{events:#?}", report.table());
    assert_eq!(d.evacuate_requests(&id), 1, "{events:#?}");
    assert!(
        events.iter().any(|e| e.starts_with("Resumed")),
        "{events:#?}"
    );
}

/// Found by bench/scale.rs: the servers whose migration ended were read
/// one after the other on the following thread (100 instances x latency per
/// poll). They are read in parallel, within the concurrency bound. No
/// timing is asserted: only that those reads overlap and stay bounded.
#[test]
fn arrivals_are_confirmed_in_parallel_within_the_bound() {
    let d = Double::start(
        Config::new()
            .latency(Duration::from_millis(40))
            .evacuation_time(Duration::from_millis(50)),
    );
    let ids: Vec<String> = (0..12)
        .map(|i| d.add_server(ServerSpec::new(&format!("vm{i}"), "compute-1")))
        .collect();
    fence(&d, "compute-1");
    d.clear_requests();
    let cfg = RunConfig {
        concurrency: 4,
        poll_interval: Duration::from_millis(300),
        ..fast()
    };
    let (_, report, _) = run(&d, "compute-1", &Policy::default(), &cfg);
    assert!(report.success(), "{}", report.table());
    for id in &ids {
        assert_eq!(d.evacuate_requests(id), 1);
    }
    // Peak number of one-server reads (GET .../servers/{id}) in flight at once.
    let mut edges: Vec<(Duration, i32)> = Vec::new();
    for t in d.request_timings() {
        let p = t.path.trim_end_matches('/');
        if t.method == "GET" && p.contains("/servers/") && !p.ends_with("/detail") {
            edges.push((t.start, 1));
            edges.push((t.end, -1));
        }
    }
    edges.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
    let (mut cur, mut peak) = (0, 0);
    for (_, e) in edges {
        cur += e;
        peak = peak.max(cur);
    }
    assert!(
        (2..=4).contains(&peak),
        "one-server reads in flight at once: {peak} (want 2..=4)"
    );
}

#[test]
fn regression_old_nova_reads_flavor_extra_specs_from_the_real_route() {
    // Below 2.47 servers carry no extra specs and below 2.61 the flavor list
    // carries none: the per-flavor route is the only source. It is
    // `os-extra_specs`; the wrong spelling reads as "nothing tagged" and
    // evacuates everything.
    let d = Double::start(
        Config::new()
            .max_microversion("2.46")
            .evacuation_time(Duration::from_millis(50)),
    );
    let tagged = d.add_server(
        ServerSpec::new("tagged", "compute-1")
            .flavor("gold")
            .private_flavor()
            .extra_spec("evacuable", "true"),
    );
    let plain = d.add_server(ServerSpec::new("plain", "compute-1"));
    fence(&d, "compute-1");
    let (plan, report, _) = run(&d, "compute-1", &Policy::default(), &fast());
    assert_eq!(plan.selected.len(), 1, "{plan:#?}");
    assert!(report.success(), "{}", report.table());
    assert_ne!(
        d.server(&tagged).unwrap().host.as_deref(),
        Some("compute-1")
    );
    assert_eq!(d.server(&plain).unwrap().host.as_deref(), Some("compute-1"));
}
