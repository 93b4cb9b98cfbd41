//! NovaEvacuate and nova-compute-wait as pacemaker-execd drives them
//! (OCF_RESKEY_* environment, HA_RSCTMP), against the Nova double, with a
//! fake attrd_updater (and crm_mon/stonith_admin for the fencing check).

use std::time::Duration;

use nova_double::{Config, Double, ServerSpec};

use crate::util::{attrd_value, fake_attrd, wait_until, xmllint, Output, Run, TempDir};

const DTD: &str = "/usr/share/resource-agents/ra-api-1.dtd";

struct Lab {
    d: Double,
    dir: TempDir,
}

impl Lab {
    fn new(cfg: Config) -> Lab {
        let dir = TempDir::new("ocf");
        fake_attrd(&dir);
        std::fs::create_dir_all(dir.path().join("rsctmp")).unwrap();
        Lab {
            d: Double::start(cfg),
            dir,
        }
    }
    fn ocf(&self, agent: &str, action: &str, extra: &[(&str, &str)]) -> Output {
        let mut r = Run::agent(agent)
            .args([action])
            .path_first(self.dir.path())
            .env("OCF_ROOT", "/usr/lib/ocf")
            .env("OCF_RESOURCE_INSTANCE", "test-rsc")
            .env("HA_RSCTMP", self.dir.path().join("rsctmp"))
            .env("IHA_STATE_DIR", self.dir.path().join("state"))
            .env("HA_LOGFILE", self.dir.path().join("agent.log"))
            .env("OCF_RESKEY_CRM_meta_timeout", "20000")
            .env("OCF_RESKEY_CRM_meta_on_node", "ctl1")
            .env("OCF_RESKEY_auth_url", self.d.auth_url())
            .env("OCF_RESKEY_username", self.d.username())
            .env("OCF_RESKEY_password", self.d.password())
            .env("OCF_RESKEY_tenant_name", self.d.project())
            .env("OCF_RESKEY_endpoint_type", "public")
            .env("OCF_RESKEY_retry_backoff", "0.1");
        if action == "monitor" {
            r = r.env("OCF_RESKEY_CRM_meta_interval", "10000");
        }
        for (k, v) in extra {
            r = r.env(&format!("OCF_RESKEY_{k}"), v);
        }
        r.run()
    }
    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("agent.log")).unwrap_or_default()
    }
    fn set_attr(&self, node: &str, v: &str) {
        std::fs::write(
            self.dir
                .path()
                .join("attrd")
                .join(format!("evacuate@{node}")),
            v,
        )
        .unwrap();
    }
    /// crm_mon and stonith_admin that report `fenced` nodes as fenced now.
    fn fake_cluster(&self, fenced: &[&str]) {
        let nodes: String = self
            .d
            .hosts()
            .iter()
            .map(|h| format!("<node name=\"{h}\" online=\"false\" type=\"remote\"/>"))
            .collect();
        self.dir.write(
            "crm_mon",
            &format!(
                "#!/bin/sh\necho '<pacemaker-result><nodes>{nodes}</nodes></pacemaker-result>'\n"
            ),
            0o755,
        );
        // Like Pacemaker 2.1.5: per target only (no '*'), and without
        // --verbose a single event, the old one.
        let mut hist = String::new();
        for f in fenced {
            hist.push_str(&format!("[ \"$2\" = \"{f}\" ] && echo \"<fence_event action=\\\"reboot\\\" target=\\\"{f}\\\" status=\\\"success\\\" completed=\\\"2020-01-01 00:00:00Z\\\"/>\"\n"));
            hist.push_str(&format!("[ \"$2\" = \"{f}\" ] && [ \"$3\" = \"--verbose\" ] && echo \"<fence_event action=\\\"reboot\\\" target=\\\"{f}\\\" status=\\\"success\\\" completed=\\\"$(date -u +'%Y-%m-%d %H:%M:%SZ')\\\"/>\"\n"));
        }
        self.dir.write("stonith_admin", &format!("#!/bin/sh\necho '<pacemaker-result><fence_history>'\n{hist}echo '</fence_history></pacemaker-result>'\n"), 0o755);
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        // Never leave a helper behind.
        let _ = self.ocf("NovaEvacuate", "stop", &[]);
    }
}

fn fence(d: &Double, host: &str) {
    d.set_compute_alive(host, false);
    d.set_forced_down(host, true);
    d.set_disabled(
        host,
        Some(
            &instance_ha::state::Marker::new(instance_ha::state::Phase::Pending, "fence_compute")
                .render(),
        ),
    );
}

#[test]
fn metadata_validates_against_the_ocf_dtd() {
    for agent in ["NovaEvacuate", "nova-compute-wait"] {
        let out = Run::agent(agent).args(["meta-data"]).run();
        out.code(0);
        if let Err(e) = xmllint(&out.stdout, &["--dtdvalid", DTD]) {
            panic!("{agent} meta-data does not validate against {DTD}:\n{e}");
        }
    }
}

#[test]
fn meta_data_works_when_the_log_file_cannot_be_opened() {
    Run::agent("NovaEvacuate")
        .args(["meta-data"])
        .env("HA_LOGFILE", "/nonexistent/dir/x.log")
        .run()
        .code(0);
}

#[test]
fn unknown_action_and_bad_values() {
    let lab = Lab::new(Config::new());
    lab.ocf("NovaEvacuate", "promote", &[])
        .code(3)
        .stderr_has("ocf-exit-reason:");
    lab.ocf("NovaEvacuate", "validate-all", &[("concurrency", "lots")])
        .code(6)
        .stderr_has("ocf-exit-reason:")
        .stderr_has("concurrency");
    let out = Run::agent("NovaEvacuate").args(["validate-all"]).run();
    out.code(6)
        .stderr_has("ocf-exit-reason:")
        .stderr_has("auth_url");
}

#[test]
fn nova_evacuate_lifecycle_and_fast_reaction() {
    let lab = Lab::new(Config::new().evacuation_time(Duration::from_millis(100)));
    let ids: Vec<String> = (0..6)
        .map(|i| {
            lab.d
                .add_server(ServerSpec::new(&format!("vm{i}"), "compute-1"))
        })
        .collect();
    let no_fencing_check = [("require_fencing", "false")];
    // Probe before start: not running, no reason line.
    let probe = Run::agent("NovaEvacuate")
        .args(["monitor"])
        .env("HA_RSCTMP", lab.dir.path().join("rsctmp"))
        .env("OCF_RESOURCE_INSTANCE", "test-rsc")
        .env("OCF_RESKEY_auth_url", lab.d.auth_url())
        .env("OCF_RESKEY_username", "a")
        .env("OCF_RESKEY_password", "b")
        .env("OCF_RESKEY_tenant_name", "c")
        .run();
    probe.code(7);
    lab.ocf("NovaEvacuate", "start", &no_fencing_check).code(0);
    lab.ocf("NovaEvacuate", "monitor", &no_fencing_check)
        .code(0);
    lab.ocf("NovaEvacuate", "start", &no_fencing_check).code(0); // idempotent

    // fence_compute records the host.
    fence(&lab.d, "compute-1");
    lab.set_attr("compute-1", "yes");
    wait_until("every server moved", 20, || {
        ids.iter()
            .all(|id| lab.d.server(id).unwrap().host.as_deref() != Some("compute-1"))
    });
    wait_until("attrd evacuate=no", 10, || {
        attrd_value(&lab.dir, "compute-1").as_deref() == Some("no")
    });
    let svc = lab.d.service("compute-1").unwrap();
    assert!(
        svc.disabled_reason
            .as_deref()
            .unwrap()
            .starts_with("instance-ha: evacuated"),
        "{svc:?}"
    );
    for id in &ids {
        assert_eq!(lab.d.evacuate_requests(id), 1);
    }
    assert!(
        lab.log()
            .contains("compute-1: evacuating (attrd evacuate=yes"),
        "{}",
        lab.log()
    );

    lab.ocf("NovaEvacuate", "stop", &[]).code(0);
    lab.ocf("NovaEvacuate", "monitor", &[]).code(7);
    lab.ocf("NovaEvacuate", "stop", &[]).code(0); // idempotent
}

#[test]
fn a_dead_helper_is_a_failed_resource() {
    let lab = Lab::new(Config::new());
    lab.ocf("NovaEvacuate", "start", &[("require_fencing", "false")])
        .code(0);
    let pidfile = lab.dir.path().join("rsctmp/NovaEvacuate-test-rsc.pid");
    let pid: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    wait_until("helper dead", 5, || {
        !std::path::Path::new(&format!("/proc/{pid}/cmdline")).exists()
            || std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| c.is_empty())
                .unwrap_or(true)
    });
    lab.ocf("NovaEvacuate", "monitor", &[])
        .code(1)
        .stderr_has("ocf-exit-reason:helper process died");
    // A probe (the node came back with HA_RSCTMP kept) finds it not running
    // here; an error made Pacemaker recover it a minute later.
    lab.ocf("NovaEvacuate", "monitor", &[("CRM_meta_interval", "0")])
        .code(7);
    lab.ocf("NovaEvacuate", "stop", &[]).code(0);
}

#[test]
fn the_durable_record_alone_is_enough() {
    // attrd was wiped (remote node reconnected, or this resource moved):
    // Nova's record still drives the evacuation.
    let lab = Lab::new(Config::new().evacuation_time(Duration::from_millis(50)));
    let id = lab.d.add_server(ServerSpec::new("vm", "compute-2"));
    fence(&lab.d, "compute-2");
    lab.ocf(
        "NovaEvacuate",
        "start",
        &[("require_fencing", "false"), ("nova_poll_interval", "0.5")],
    )
    .code(0);
    wait_until("moved", 20, || {
        lab.d.server(&id).unwrap().host.as_deref() != Some("compute-2")
    });
    assert_eq!(lab.d.evacuate_requests(&id), 1);
}

#[test]
fn mass_failure_stops_loudly() {
    let lab = Lab::new(
        Config::new()
            .host_count(4)
            .evacuation_time(Duration::from_millis(50)),
    );
    let a = lab.d.add_server(ServerSpec::new("a", "compute-1"));
    let b = lab.d.add_server(ServerSpec::new("b", "compute-2"));
    let c = lab.d.add_server(ServerSpec::new("c", "compute-3"));
    for h in ["compute-1", "compute-2", "compute-3"] {
        fence(&lab.d, h);
        lab.set_attr(h, "yes");
    }
    lab.ocf(
        "NovaEvacuate",
        "start",
        &[("require_fencing", "false"), ("max_failed_share", "50")],
    )
    .code(0);
    wait_until("guard logged", 10, || {
        lab.log()
            .contains("MASS FAILURE GUARD: 3 of 4 compute hosts")
    });
    std::thread::sleep(Duration::from_millis(500));
    for id in [&a, &b, &c] {
        assert_eq!(
            lab.d.evacuate_requests(id),
            0,
            "nothing evacuated under the guard"
        );
    }
    // The monitor shows it too (one warning per monitor).
    lab.ocf("NovaEvacuate", "monitor", &[]).code(0);
}

#[test]
fn no_evacuation_before_the_cluster_fenced_the_host() {
    let lab = Lab::new(Config::new().evacuation_time(Duration::from_millis(50)));
    let id = lab.d.add_server(ServerSpec::new("vm", "compute-1"));
    lab.fake_cluster(&[]);
    fence(&lab.d, "compute-1");
    lab.set_attr("compute-1", "yes");
    lab.ocf("NovaEvacuate", "start", &[]).code(0);
    wait_until("waiting logged", 10, || {
        lab.log().contains("no completed fencing")
    });
    assert_eq!(lab.d.evacuate_requests(&id), 0);
    // Pacemaker's history now shows the fencing: it goes.
    lab.fake_cluster(&["compute-1"]);
    wait_until("moved", 20, || {
        lab.d.server(&id).unwrap().host.as_deref() != Some("compute-1")
    });
}

#[test]
fn a_host_nova_shows_up_is_never_evacuated() {
    let lab = Lab::new(Config::new());
    let id = lab.d.add_server(ServerSpec::new("vm", "compute-1"));
    lab.set_attr("compute-1", "yes");
    lab.ocf("NovaEvacuate", "start", &[("require_fencing", "false")])
        .code(0);
    wait_until("refusal logged", 10, || {
        lab.log().contains("Nova shows nova-compute up")
    });
    assert_eq!(lab.d.evacuate_requests(&id), 0);
}

fn wait_agent(lab: &Lab, action: &str, node: &str, timeout_ms: &str) -> Output {
    lab.ocf(
        "nova-compute-wait",
        action,
        &[("CRM_meta_on_node", node), ("CRM_meta_timeout", timeout_ms)],
    )
}

fn assert_in_service(d: &Double, host: &str) {
    let s = d.service(host).unwrap();
    assert!(
        !s.forced_down && s.status == "enabled" && s.state == "up",
        "{s:?}"
    );
}

#[test]
fn nova_compute_wait_holds_until_the_evacuation_is_over_then_brings_the_host_back() {
    let lab = Lab::new(Config::new().evacuation_time(Duration::from_millis(50)));
    let id = lab.d.add_server(ServerSpec::new("vm", "compute-1"));
    fence(&lab.d, "compute-1");
    // attrd was wiped on reconnect: only Nova knows.
    let out = wait_agent(&lab, "start", "compute-1", "9000");
    out.code(1)
        .stderr_has("ocf-exit-reason:")
        .stderr_has("holding nova-compute");
    wait_agent(&lab, "monitor", "compute-1", "20000").code(7);

    // NovaEvacuate does its job.
    lab.ocf(
        "NovaEvacuate",
        "start",
        &[("require_fencing", "false"), ("nova_poll_interval", "0.5")],
    )
    .code(0);
    wait_until("evacuated", 20, || {
        lab.d
            .service("compute-1")
            .unwrap()
            .disabled_reason
            .unwrap_or_default()
            .starts_with("instance-ha: evacuated")
    });
    assert_ne!(
        lab.d.server(&id).unwrap().host.as_deref(),
        Some("compute-1")
    );
    wait_agent(&lab, "start", "compute-1", "20000").code(0);

    // nova-compute has started but not cleaned up yet: Nova refuses.
    lab.d.set_compute_alive("compute-1", true);
    wait_agent(&lab, "monitor", "compute-1", "20000")
        .code(0)
        .stderr_lacks("ocf-exit-reason");
    assert!(lab.d.service("compute-1").unwrap().forced_down);
    assert!(lab.log().contains("still forced down"), "{}", lab.log());
    // It cleans up: the next monitor brings the host back.
    lab.d.restart_compute("compute-1");
    wait_agent(&lab, "monitor", "compute-1", "20000").code(0);
    assert_in_service(&lab.d, "compute-1");
    wait_agent(&lab, "stop", "compute-1", "20000").code(0);
    wait_agent(&lab, "stop", "compute-1", "20000").code(0);
}

/// Found in the demo (through fence_compute `on`, the same call): enabling
/// a compute whose nova-compute is not running yet, less than
/// service_down_time after its last report, makes nova-api call it over RPC
/// and wait; from the monitor that is a monitor timeout. The monitor waits
/// until nova-compute has reported since nova-compute-wait started.
#[test]
fn regression_the_host_comes_back_only_once_nova_compute_reports() {
    let lab = Lab::new(Config::new());
    fence(&lab.d, "compute-1");
    // Nothing to evacuate: NovaEvacuate closed the record at once.
    lab.d.set_disabled(
        "compute-1",
        Some(
            &instance_ha::state::Marker::new(instance_ha::state::Phase::Evacuated, "test").render(),
        ),
    );
    // The compute's last report is older than this agent's start.
    std::thread::sleep(Duration::from_millis(1100));
    wait_agent(&lab, "start", "compute-1", "20000").code(0);
    lab.d.clear_requests();
    wait_agent(&lab, "monitor", "compute-1", "20000").code(0);
    assert!(
        lab.log().contains("waiting for nova-compute to report"),
        "{}",
        lab.log()
    );
    assert!(
        !lab.d.requests().iter().any(|r| r.method == "PUT"),
        "the host was touched before nova-compute reported"
    );
    assert!(lab.d.service("compute-1").unwrap().forced_down);
    // nova-compute starts and reports: the next monitor brings it back.
    lab.d.restart_compute("compute-1");
    wait_agent(&lab, "monitor", "compute-1", "20000").code(0);
    assert_in_service(&lab.d, "compute-1");
    wait_agent(&lab, "stop", "compute-1", "20000").code(0);
}

/// Found in the multi-node lab: the node was powered off and back with its
/// HA_RSCTMP kept; the probe found the old "started" state and said running,
/// so Pacemaker started nova-compute mid-evacuation. Nova decides.
#[test]
fn regression_a_probe_after_the_nodes_return_does_not_trust_old_state() {
    let lab = Lab::new(Config::new());
    wait_agent(&lab, "start", "compute-1", "20000").code(0);
    fence(&lab.d, "compute-1");
    lab.ocf(
        "nova-compute-wait",
        "monitor",
        &[
            ("CRM_meta_on_node", "compute-1"),
            ("CRM_meta_timeout", "20000"),
            ("CRM_meta_interval", "0"),
        ],
    )
    .code(7);
    // and the start that follows holds
    wait_agent(&lab, "start", "compute-1", "5000")
        .code(1)
        .stderr_has("holding nova-compute");
}

#[test]
fn nova_compute_wait_starts_at_once_on_a_healthy_host() {
    let lab = Lab::new(Config::new());
    wait_agent(&lab, "start", "compute-0", "20000").code(0);
    wait_agent(&lab, "monitor", "compute-0", "20000").code(0);
}

#[test]
fn nova_compute_wait_does_not_block_a_node_nova_has_never_seen() {
    // A new compute: its nova-compute registers the service on first start.
    let lab = Lab::new(Config::new());
    wait_agent(&lab, "start", "compute-new", "20000").code(0);
    assert!(
        lab.log()
            .contains("no nova-compute service for host 'compute-new'"),
        "{}",
        lab.log()
    );
}

#[test]
fn nova_compute_wait_ambiguous_name_is_a_configuration_error() {
    let lab = Lab::new(Config::new().hosts(["compute-0.a.example", "compute-0.b.example"]));
    wait_agent(&lab, "start", "compute-0", "20000")
        .code(6)
        .stderr_has("ocf-exit-reason:")
        .stderr_has("compute-0.b.example");
}

#[test]
fn regression_a_finished_host_is_not_evacuated_again_from_a_stale_snapshot() {
    let lab = Lab::new(Config::new().evacuation_time(Duration::from_millis(50)));
    let id = lab.d.add_server(ServerSpec::new("vm", "compute-1"));
    fence(&lab.d, "compute-1");
    lab.set_attr("compute-1", "yes");
    lab.ocf(
        "NovaEvacuate",
        "start",
        &[("require_fencing", "false"), ("nova_poll_interval", "3")],
    )
    .code(0);
    wait_until("moved", 20, || {
        lab.d.server(&id).unwrap().host.as_deref() != Some("compute-1")
    });
    wait_until("attrd no", 10, || {
        attrd_value(&lab.dir, "compute-1").as_deref() == Some("no")
    });
    std::thread::sleep(Duration::from_secs(4));
    let runs = lab.log().matches("compute-1: evacuating (").count();
    assert_eq!(
        runs,
        1,
        "one evacuation run, not a second one from a stale snapshot:\n{}",
        lab.log()
    );
    assert_eq!(attrd_value(&lab.dir, "compute-1").as_deref(), Some("no"));
}

#[test]
fn nova_evacuate_plans_from_its_kept_catalog() {
    // The helper lists flavors and images in idle time; a failed host is
    // planned without listing them again (reaction time), and the
    // selection still follows the tags.
    let lab = Lab::new(Config::new().evacuation_time(Duration::from_millis(50)));
    let tagged = lab.d.add_server(
        ServerSpec::new("tagged", "compute-1")
            .flavor("gold")
            .private_flavor()
            .extra_spec("evacuable", "true"),
    );
    let plain = lab.d.add_server(ServerSpec::new("plain", "compute-1"));
    lab.ocf("NovaEvacuate", "start", &[("require_fencing", "false")])
        .code(0);
    std::thread::sleep(Duration::from_millis(800));
    fence(&lab.d, "compute-1");
    lab.set_attr("compute-1", "yes");
    wait_until("tagged moved", 20, || {
        lab.d.server(&tagged).unwrap().host.as_deref() != Some("compute-1")
    });
    assert_eq!(
        lab.d.server(&plain).unwrap().host.as_deref(),
        Some("compute-1"),
        "untagged stays"
    );
    let reqs = lab.d.requests();
    let marked = reqs
        .iter()
        .position(|r| r.method == "PUT" && r.path.contains("/os-services"))
        .expect("marker written");
    let first = reqs
        .iter()
        .position(|r| r.method == "POST" && r.path.ends_with("/action"))
        .expect("an evacuate request");
    let listed: Vec<_> = reqs[marked..first]
        .iter()
        .filter(|r| r.path.contains("/flavors") || r.path.contains("/images"))
        .collect();
    assert!(
        listed.is_empty(),
        "catalog listed on the reaction path: {listed:?}"
    );
}
