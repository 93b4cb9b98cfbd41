//! fence_compute against the Keystone/Nova double, driven exactly as
//! pacemaker-fenced drives it (stdin key=value, no argv), with a fake
//! attrd_updater on PATH.

use std::time::{Duration, Instant};

use instance_ha::openstack::{EvacuateOptions, Nova};
use nova_double::{Config, Double, ServerSpec};

use crate::util::{attrd_value, fake_attrd, Output, Run, TempDir};

struct Lab {
    double: Double,
    dir: TempDir,
}

impl Lab {
    fn new(cfg: Config) -> Lab {
        let dir = TempDir::new("fc");
        fake_attrd(&dir);
        // No cluster unless a test says so (a real cibadmin on this
        // machine must not decide what `on` does here).
        fake_cib(&dir, None);
        Lab {
            double: Double::start(cfg),
            dir,
        }
    }
    fn default() -> Lab {
        Lab::new(Config::new().evacuation_time(Duration::from_millis(50)))
    }
    fn creds(&self) -> String {
        format!(
            "auth_url={}\nlogin={}\npasswd={}\ntenant_name={}\nuser_domain=Default\nproject_domain=Default\nendpoint_type=publicURL\nregion_name={}\n",
            self.double.auth_url(),
            self.double.username(),
            self.double.password(),
            self.double.project(),
            self.double.region()
        )
    }
    /// What pacemaker-fenced writes on stdin.
    fn fence(&self, action: &str, node: &str, extra: &str) -> Output {
        Run::agent("fence_compute")
            .stdin(format!(
                "action={action}\nnodename={node}\nport={node}\n{}{extra}",
                self.creds()
            ))
            .path_first(self.dir.path())
            .run()
    }
    fn nova(&self) -> Nova {
        crate::util::clients(&self.double).0
    }
    fn attrd_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("attrd.log")).unwrap_or_default()
    }
}

#[test]
fn status_maps_the_nova_service() {
    let lab = Lab::default();
    lab.fence("status", "compute-0", "")
        .code(0)
        .stdout_has("Status: ON");
    // Dead but not yet fenced: "failed", which the reference reports as on.
    lab.double.set_compute_alive("compute-0", false);
    lab.fence("status", "compute-0", "").code(0);
    lab.double.set_forced_down("compute-0", true);
    lab.double.set_disabled("compute-0", Some("x"));
    lab.fence("status", "compute-0", "")
        .code(2)
        .stdout_has("Status: OFF");
}

#[test]
fn off_forces_down_disables_and_records_the_evacuation() {
    let lab = Lab::default();
    lab.double.set_compute_alive("compute-1", false);
    lab.fence("off", "compute-1", "").code(0);
    let s = lab.double.service("compute-1").unwrap();
    assert!(s.forced_down, "{s:?}");
    assert_eq!(s.status, "disabled");
    assert!(
        s.disabled_reason
            .as_deref()
            .unwrap()
            .starts_with("instance-ha: pending since "),
        "{s:?}"
    );
    assert_eq!(attrd_value(&lab.dir, "compute-1").as_deref(), Some("yes"));
    // Exactly the reference's command line, for mixed deployments.
    assert!(
        lab.attrd_log()
            .contains("-p -n evacuate -N compute-1 -U yes"),
        "{}",
        lab.attrd_log()
    );
    // Other hosts untouched.
    assert!(!lab.double.service("compute-0").unwrap().forced_down);
}

#[test]
fn reboot_is_off() {
    let lab = Lab::default();
    lab.fence("reboot", "compute-2", "").code(0);
    assert!(lab.double.service("compute-2").unwrap().forced_down);
}

#[test]
fn off_fails_when_nova_fails() {
    let lab = Lab::default();
    lab.double
        .inject_error("PUT", "/compute/v2.1/os-services", 500, 10);
    lab.fence("off", "compute-1", "")
        .code(1)
        .one_error_line()
        .stderr_has("HTTP 500");
    assert!(
        attrd_value(&lab.dir, "compute-1").is_none(),
        "must not record what did not happen"
    );
}

#[test]
fn off_fails_when_attrd_fails() {
    let lab = Lab::default();
    lab.dir.write(
        "attrd_updater",
        "#!/bin/sh\necho 'Could not connect to attrd' >&2\nexit 102\n",
        0o755,
    );
    lab.fence("off", "compute-1", "")
        .code(1)
        .one_error_line()
        .stderr_has("attrd");
}

#[test]
fn on_waits_for_a_pending_evacuation_and_fails_when_it_does_not_end() {
    let lab = Lab::default();
    lab.double.set_compute_alive("compute-1", false);
    lab.fence("off", "compute-1", "").code(0);
    let t = Instant::now();
    let out = lab.fence("on", "compute-1", "evacuation_wait=2\n");
    out.code(1)
        .one_error_line()
        .stderr_has("evacuation not finished");
    assert!(t.elapsed() < Duration::from_secs(10), "bounded wait");
    assert!(
        lab.double.service("compute-1").unwrap().forced_down,
        "still fenced"
    );
}

/// A cluster whose CIB configures our nova-compute-wait clone.
const CIB_WITH_NOVA_COMPUTE_WAIT: &str = r#"<cib><configuration><crm_config/><nodes/><resources><clone id="ncw-clone"><primitive id="ncw" class="ocf" provider="openstack" type="nova-compute-wait"/></clone></resources><constraints/></configuration><status/></cib>"#;

/// A cibadmin on PATH: `Some(xml)` prints it, `None` fails as without a
/// cluster.
fn fake_cib(dir: &TempDir, cib: Option<&str>) {
    let path = dir.path().join("cibadmin");
    let body = match cib {
        Some(xml) => format!("cat <<'EOF'\n{xml}\nEOF\n"),
        None => "echo 'Could not connect to the CIB: Transport endpoint is not connected' >&2; exit 102\n".into(),
    };
    std::fs::write(&path, format!("#!/bin/sh\n{body}")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Found in the controller-dies scenario: unfencing a compute whose
/// evacuation was open waited 40 s inside pacemaker-fenced, which held the
/// transition that was to fence the dead controller and move NovaEvacuate
/// (61 s lost). With nova-compute-wait configured, `on` lets the node in at
/// once and leaves the host forced down with Nova's record.
#[test]
fn regression_on_does_not_wait_when_nova_compute_wait_holds_the_host() {
    let lab = Lab::default();
    fake_cib(&lab.dir, Some(CIB_WITH_NOVA_COMPUTE_WAIT));
    lab.double.set_compute_alive("compute-1", false);
    lab.fence("off", "compute-1", "").code(0);
    let out = lab.fence("on", "compute-1", "evacuation_wait=30\n");
    out.code(0)
        .stderr_has("nova-compute-wait holds nova-compute");
    let s = lab.double.service("compute-1").unwrap();
    assert!(s.forced_down, "still forced down: {s:?}");
    assert!(
        s.disabled_reason
            .unwrap_or_default()
            .starts_with("instance-ha: pending"),
        "Nova's record stays for nova-compute-wait"
    );
}

/// The compute dies and is fenced; then its evacuation finishes.
fn fence_then_finish_evacuation(lab: &Lab, host: &str) {
    lab.double.set_compute_alive(host, false);
    lab.fence("off", host, "").code(0);
    finish_evacuation(lab, host);
}

/// What NovaEvacuate does at the end: attrd `no`, Nova's record `evacuated`.
fn finish_evacuation(lab: &Lab, host: &str) {
    std::fs::write(lab.dir.path().join(format!("attrd/evacuate@{host}")), "no").unwrap();
    let nova = lab.nova();
    let svc = nova.compute_services(Some(host)).unwrap().remove(0);
    let marker = instance_ha::state::Marker::new(instance_ha::state::Phase::Evacuated, "test");
    nova.update_service(
        &svc,
        &instance_ha::openstack::ServiceUpdate {
            enabled: Some(false),
            disabled_reason: Some(marker.render()),
            ..Default::default()
        },
    )
    .unwrap();
}

/// Found in the demo: a host with nothing to evacuate came back within
/// service_down_time of its death; `on` cleared forced_down and enabled it
/// while its nova-compute was not running yet (it starts after
/// nova-compute-wait), so nova-api called the dead compute over RPC and the
/// PUT timed out after 30 s. With nova-compute-wait configured, `on` leaves
/// the host to it.
#[test]
fn regression_on_leaves_an_evacuated_host_to_nova_compute_wait() {
    let lab = Lab::default();
    fake_cib(&lab.dir, Some(CIB_WITH_NOVA_COMPUTE_WAIT));
    fence_then_finish_evacuation(&lab, "compute-1");
    lab.double.clear_requests();
    lab.fence("on", "compute-1", "")
        .code(0)
        .stderr_has("nova-compute-wait brings the host back once nova-compute runs");
    let puts: Vec<_> = lab
        .double
        .requests()
        .into_iter()
        .filter(|r| r.method == "PUT")
        .collect();
    assert!(puts.is_empty(), "on changed the service: {puts:?}");
    assert!(lab.double.service("compute-1").unwrap().forced_down);
}

#[test]
fn on_brings_back_a_host_with_nothing_to_clean_up() {
    let lab = Lab::default();
    fence_then_finish_evacuation(&lab, "compute-1");
    lab.double.set_compute_alive("compute-1", true);
    lab.fence("on", "compute-1", "").code(0);
    let s = lab.double.service("compute-1").unwrap();
    assert!(
        !s.forced_down && s.status == "enabled" && s.state == "up",
        "{s:?}"
    );
}

#[test]
fn on_with_done_migrations_returns_promptly_and_records_recovering() {
    let lab = Lab::default();
    let id = lab.double.add_server(ServerSpec::new("vm1", "compute-1"));
    lab.double.set_compute_alive("compute-1", false);
    lab.fence("off", "compute-1", "").code(0);
    let nova = lab.nova();
    nova.evacuate(&id, &EvacuateOptions::default()).unwrap();
    let t = Instant::now();
    while lab.double.server(&id).unwrap().host.as_deref() == Some("compute-1") {
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "double did not evacuate"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    while lab.double.pending_evacuations() > 0 {
        std::thread::sleep(Duration::from_millis(20));
    }
    finish_evacuation(&lab, "compute-1");

    // The node rejoins; nova-compute has not started yet.
    let t = Instant::now();
    let out = lab.fence("on", "compute-1", "");
    out.code(0)
        .stderr_has("still forced down")
        .stderr_has("recovering");
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "on must not block on nova-compute"
    );
    let s = lab.double.service("compute-1").unwrap();
    assert!(s.forced_down, "Nova refused: still forced down");
    assert!(
        s.disabled_reason
            .as_deref()
            .unwrap()
            .starts_with("instance-ha: recovering"),
        "{s:?}"
    );

    // nova-compute starts and cleans up; a later `on` finishes the job.
    lab.double.restart_compute("compute-1");
    lab.fence("on", "compute-1", "").code(0);
    let s = lab.double.service("compute-1").unwrap();
    assert!(!s.forced_down && s.status == "enabled", "{s:?}");
    assert_eq!(s.disabled_reason, None);
}

#[test]
fn on_leaves_an_operators_own_disable_alone() {
    let lab = Lab::default();
    lab.double
        .set_disabled("compute-0", Some("hardware maintenance, ticket 42"));
    lab.fence("on", "compute-0", "")
        .code(0)
        .stderr_has("not ours");
    assert_eq!(lab.double.service("compute-0").unwrap().status, "disabled");
}

#[test]
fn fqdn_and_short_names_map_both_ways() {
    let lab = Lab::new(Config::new().hosts(["compute-0.example.com", "compute-1.example.com"]));
    lab.fence("off", "compute-0", "").code(0);
    assert!(
        lab.double
            .service("compute-0.example.com")
            .unwrap()
            .forced_down
    );
    // The attribute is keyed by the Nova host name, as the reference does.
    assert_eq!(
        attrd_value(&lab.dir, "compute-0.example.com").as_deref(),
        Some("yes")
    );
    let lab = Lab::new(Config::new().hosts(["compute-0", "compute-1"]));
    lab.fence("status", "compute-1.lab.local", "").code(0);
}

#[test]
fn ambiguous_names_are_an_error_and_domain_decides() {
    let lab = Lab::new(Config::new().hosts(["compute-0.a.example", "compute-0.b.example"]));
    lab.fence("off", "compute-0", "")
        .code(1)
        .one_error_line()
        .stderr_has("compute-0.a.example")
        .stderr_has("compute-0.b.example");
    assert!(
        !lab.double
            .service("compute-0.a.example")
            .unwrap()
            .forced_down
    );
    lab.fence("off", "compute-0", "domain=b.example\n").code(0);
    assert!(
        lab.double
            .service("compute-0.b.example")
            .unwrap()
            .forced_down
    );
    assert!(
        !lab.double
            .service("compute-0.a.example")
            .unwrap()
            .forced_down
    );
    // The deprecated compute_domain works too (the reference drops it).
    lab.fence("off", "compute-0", "compute-domain=a.example\n")
        .code(0);
    assert!(
        lab.double
            .service("compute-0.a.example")
            .unwrap()
            .forced_down
    );
}

#[test]
fn unknown_host_is_a_clear_failure() {
    let lab = Lab::default();
    lab.fence("off", "compute-9", "")
        .code(1)
        .one_error_line()
        .stderr_has("no nova-compute service for host 'compute-9'");
}

#[test]
fn list_and_list_status() {
    let lab = Lab::new(Config::new().hosts(["compute-0.example.com", "compute-1"]));
    let out = lab.fence("list", "", "");
    out.code(0)
        .stdout_has("compute-0.example.com,\n")
        .stdout_has("compute-0,\n")
        .stdout_has("compute-1,\n");
    lab.double.set_forced_down("compute-1", true);
    lab.double.set_disabled("compute-1", Some("x"));
    lab.fence("list-status", "", "")
        .code(0)
        .stdout_has("compute-1,,off\n")
        .stdout_has("compute-0,,on\n");
}

#[test]
fn monitor_checks_keystone_and_nova() {
    let lab = Lab::default();
    lab.fence("monitor", "", "").code(0);
    lab.double
        .inject_error("GET", "/compute/v2.1/os-services", 503, 10);
    lab.fence("monitor", "", "")
        .code(1)
        .one_error_line()
        .stderr_has("503");
}

#[test]
fn wrong_password_fails_without_echoing_it() {
    let lab = Lab::default();
    let out = Run::agent("fence_compute")
        .stdin(format!(
            "action=status\nport=compute-0\nauth_url={}\nlogin=admin\npasswd=Wr0ngPassw0rd\ntenant_name=admin\nendpoint_type=public\n",
            lab.double.auth_url()
        ))
        .path_first(lab.dir.path())
        .run();
    out.code(1)
        .one_error_line()
        .stderr_has("authentication failed")
        .output_lacks("Wr0ngPassw0rd");
}

#[test]
fn command_line_options_work_like_the_reference() {
    let lab = Lab::default();
    let d = &lab.double;
    Run::agent("fence_compute")
        .args([
            "-o",
            "off",
            "-n",
            "compute-2",
            "-k",
            &d.auth_url(),
            "-l",
            &d.username(),
            "-t",
            &d.project(),
            "-e",
            "publicURL",
            "--region-name",
            d.region(),
        ])
        .args(["--password-script", &format!("echo {}", d.password())])
        .path_first(lab.dir.path())
        .run()
        .code(0);
    assert!(d.service("compute-2").unwrap().forced_down);
}

#[test]
fn legacy_nova_without_service_uuids() {
    // Before 2.53 the legacy force-down/disable endpoints are used.
    let lab = Lab::new(Config::new().max_microversion("2.52"));
    lab.fence("off", "compute-1", "").code(0);
    let s = lab.double.service("compute-1").unwrap();
    assert!(s.forced_down && s.status == "disabled", "{s:?}");
    assert!(
        lab.double
            .requests()
            .iter()
            .any(|r| r.path.ends_with("/os-services/force-down")),
        "legacy endpoint used"
    );
}

#[test]
fn record_only_disabled_does_nothing() {
    let lab = Lab::default();
    lab.fence("off", "compute-1", "record_only=Disabled\n")
        .code(0);
    assert!(!lab.double.service("compute-1").unwrap().forced_down);
}

#[test]
fn expired_token_is_renewed() {
    let lab = Lab::default();
    lab.double.revoke_tokens();
    lab.fence("status", "compute-0", "").code(0);
}

#[test]
fn regression_a_cached_token_does_not_hide_a_wrong_password() {
    let lab = Lab::default();
    let cache = crate::util::TempDir::new("tokens");
    let run = |pw: &str| {
        Run::agent("fence_compute")
            .stdin(format!(
                "action=monitor\nauth_url={}\nlogin={}\npasswd={pw}\ntenant_name={}\nendpoint_type=public\n",
                lab.double.auth_url(),
                lab.double.username(),
                lab.double.project()
            ))
            .env("IHA_TOKEN_CACHE_DIR", cache.path().join("t"))
            .path_first(lab.dir.path())
            .run()
    };
    run(&lab.double.password()).code(0);
    assert!(
        std::fs::read_dir(cache.path().join("t")).unwrap().count() >= 1,
        "token cached"
    );
    run("not-the-password")
        .code(1)
        .stderr_has("authentication failed");
}
