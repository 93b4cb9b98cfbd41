//! `instance-ha`, the operator's command, against the Nova double with a
//! fake Pacemaker (attrd_updater, crm_mon, cibadmin on PATH).

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use instance_ha::openstack::EvacuateOptions;
use instance_ha::state::{Marker, Phase};
use nova_double::{Config, Double, ServerSpec};
use serde_json::Value;

use crate::util::{clients, fake_attrd, wait_until, Output, Run, TempDir};

struct Lab {
    d: Double,
    dir: TempDir,
}

/// crm_mon nodes: (name, online, unclean, remote).
type NodeSpec<'a> = (&'a str, bool, bool, bool);

impl Lab {
    fn new(cfg: Config) -> Lab {
        let dir = TempDir::new("cli");
        fake_attrd(&dir);
        std::fs::create_dir_all(dir.path().join("rsctmp")).unwrap();
        Lab {
            d: Double::start(cfg),
            dir,
        }
    }
    /// The command with the double's credentials in OS_* (as an operator's openrc).
    fn cmd(&self, args: &[&str]) -> Run {
        Run::agent("instance-ha")
            .args(args)
            .path_first(self.dir.path())
            .env("OS_AUTH_URL", self.d.auth_url())
            .env("OS_USERNAME", self.d.username())
            .env("OS_PASSWORD", self.d.password())
            .env("OS_PROJECT_NAME", self.d.project())
            .env("OS_USER_DOMAIN_NAME", "Default")
            .env("OS_PROJECT_DOMAIN_NAME", "Default")
            .env("OS_INTERFACE", "public")
            .env("IHA_STATE_DIR", self.dir.path().join("state"))
            .env("HA_RSCTMP", self.dir.path().join("rsctmp"))
    }
    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).run()
    }
    fn crm_mon(&self, nodes: &[NodeSpec], running_ncw: &[&str]) {
        let mut x = String::from("<pacemaker-result><nodes>");
        for (n, online, unclean, remote) in nodes {
            x.push_str(&format!(
                "<node name=\"{n}\" id=\"{n}\" online=\"{online}\" standby=\"false\" maintenance=\"false\" unclean=\"{unclean}\" type=\"{}\"/>",
                if *remote { "remote" } else { "member" }
            ));
        }
        x.push_str("</nodes><resources><clone id=\"ncw-clone\">");
        for n in running_ncw {
            x.push_str(&format!("<resource id=\"ncw\" resource_agent=\"ocf:openstack:nova-compute-wait\" role=\"Started\" active=\"true\" nodes_running_on=\"1\"><node name=\"{n}\" id=\"{n}\" cached=\"true\"/></resource>"));
        }
        x.push_str("</clone></resources></pacemaker-result>");
        std::fs::write(self.dir.path().join("crm_mon.xml"), x).unwrap();
        self.dir.write(
            "crm_mon",
            &format!(
                "#!/bin/sh\ncat '{}'\n",
                self.dir.path().join("crm_mon.xml").display()
            ),
            0o755,
        );
    }
    fn cibadmin(&self, cib: &str) {
        std::fs::write(self.dir.path().join("cib.xml"), cib).unwrap();
        self.dir.write(
            "cibadmin",
            &format!(
                "#!/bin/sh\necho \"$*\" >> '{}'\ncat '{}'\n",
                self.dir.path().join("cibadmin.log").display(),
                self.dir.path().join("cib.xml").display()
            ),
            0o755,
        );
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
    fn journal(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("state/journal.jsonl")).unwrap_or_default()
    }
}

fn fence(d: &Double, host: &str, phase: Phase) {
    d.set_compute_alive(host, false);
    d.set_forced_down(host, true);
    d.set_disabled(host, Some(&Marker::new(phase, "fence_compute").render()));
}

fn json(out: &Output) -> Value {
    serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("{}: not JSON ({e}):\n{}", out.label, out.stdout))
}

fn host<'a>(status: &'a Value, h: &str) -> &'a Value {
    status["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["host"] == h)
        .unwrap_or_else(|| panic!("{h} missing in {status}"))
}

/// `promtool check metrics` (Debian package `prometheus`).
fn promtool(text: &str) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("promtool not runnable ({e}): apt-get install prometheus"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let msg = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && msg.trim().is_empty(),
        "promtool rejects the metrics:\n{msg}\n---\n{text}"
    );
}

fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(' ')))
        .unwrap_or_else(|| panic!("{name} missing:\n{text}"))
        .trim()
        .parse()
        .unwrap()
}

const NODES: &[NodeSpec] = &[
    ("ctl1", true, false, false),
    ("compute-0", true, false, true),
    ("compute-1", false, true, true),
    ("compute-2", true, false, true),
];

#[test]
fn status_history_and_metrics_through_an_evacuation() {
    let lab = Lab::new(Config::new().evacuation_time(Duration::from_secs(4)));
    lab.crm_mon(NODES, &["compute-0", "compute-2"]);
    let ids: Vec<String> = (0..3)
        .map(|i| {
            lab.d
                .add_server(ServerSpec::new(&format!("vm{i}"), "compute-1"))
        })
        .collect();
    lab.d.add_server(ServerSpec::new("other", "compute-0"));

    // Before: everything in service; metrics valid and empty.
    let before = lab.run(&["metrics"]);
    before.code(0);
    promtool(&before.stdout);
    assert_eq!(
        metric(&before.stdout, "instance_ha_evacuations_finished_total"),
        0.0
    );
    assert_eq!(
        metric(&before.stdout, "instance_ha_hosts{state=\"in_service\"}"),
        3.0
    );
    assert_eq!(metric(&before.stdout, "instance_ha_nova_up"), 1.0);

    // compute-1 fails; fence_compute recorded it; one evacuation is in flight.
    fence(&lab.d, "compute-1", Phase::Evacuating);
    lab.set_attr("compute-1", "ctl1@1763758047");
    let (nova, _) = clients(&lab.d);
    nova.evacuate(&ids[0], &EvacuateOptions::default()).unwrap();

    let mid = lab.run(&["status"]);
    mid.code(0)
        .stdout_has("unclean remote")
        .stdout_has("down disabled forced_down")
        .stdout_has("evacuating since")
        .stdout_has("by fence_compute")
        .stdout_has("[attrd evacuate=ctl1@1763758047]")
        .stdout_has("compute-1: 3 instance(s) still on the host; evacuation migrations: 1 accepted")
        .stdout_has("REBUILD/rebuilding");
    println!("--- status mid-evacuation ---\n{}", mid.stdout);
    let m = lab.run(&["status", "--json"]);
    m.code(0);
    let v = json(&m);
    let c1 = host(&v, "compute-1");
    assert_eq!(c1["evacuation"]["phase"], "evacuating");
    assert_eq!(c1["evacuation"]["open"], true);
    assert_eq!(c1["node"]["state"], "unclean");
    assert_eq!(c1["nova"]["forced_down"], true);
    assert_eq!(c1["progress"]["remaining"], 3);
    assert_eq!(c1["progress"]["migrations"]["accepted"], 1);
    let c0 = host(&v, "compute-0");
    assert_eq!(c0["evacuation"]["open"], false);
    assert!(c0["progress"].is_null());
    assert_eq!(c0["node"]["state"], "online");
    let mm = lab.run(&["metrics"]);
    promtool(&mm.stdout);
    assert_eq!(
        metric(&mm.stdout, "instance_ha_hosts{state=\"evacuating\"}"),
        1.0
    );
    assert_eq!(
        metric(&mm.stdout, "instance_ha_evacuations_started_total"),
        1.0
    );

    // The operator finishes it by hand: the engine follows the one in flight.
    let ev = lab.run(&["evacuate", "compute-1", "--yes"]);
    ev.code(0)
        .stdout_has("follow")
        .stdout_has("arrived")
        .stdout_has("compute-1: 3 evacuated, 0 failed, 0 skipped");
    println!("--- evacuate ---\n{}", ev.stdout);
    for id in &ids {
        assert_eq!(lab.d.evacuate_requests(id), 1, "one request per instance");
        assert_ne!(lab.d.server(id).unwrap().host.as_deref(), Some("compute-1"));
    }
    assert_eq!(
        std::fs::read_to_string(lab.dir.path().join("attrd/evacuate@compute-1")).unwrap(),
        "no"
    );

    let after = lab.run(&["status"]);
    after
        .code(0)
        .stdout_has("evacuated since")
        .stdout_has("by instance-ha@")
        .stdout_has("[attrd evacuate=no]");
    assert!(
        !after.stdout.contains("still on the host"),
        "{}",
        after.stdout
    );
    println!("--- status after ---\n{}", after.stdout);
    let v = json(&lab.run(&["status", "--json"]));
    assert_eq!(host(&v, "compute-1")["evacuation"]["phase"], "evacuated");
    assert_eq!(host(&v, "compute-1")["evacuation"]["open"], false);

    // History from the journal the engine wrote.
    assert!(
        lab.journal().contains("\"type\":\"evacuation\""),
        "{}",
        lab.journal()
    );
    let h = lab.run(&["history"]);
    h.code(0)
        .stdout_has("compute-1 by instance-ha@")
        .stdout_has("3 evacuated, 0 failed, 0 skipped")
        .stdout_has("vm0")
        .stdout_has("evacuated");
    println!("--- history ---\n{}", h.stdout);
    let hj = json(&lab.run(&["history", "--json", "--host", "compute-1", "--last", "1"]));
    assert_eq!(hj.as_array().unwrap().len(), 1);
    assert_eq!(hj[0]["instances"].as_array().unwrap().len(), 3);
    assert_eq!(
        json(&lab.run(&["history", "--json", "--host", "compute-0"]))
            .as_array()
            .unwrap()
            .len(),
        0
    );

    // Metrics changed.
    let done = lab.run(&["metrics"]);
    promtool(&done.stdout);
    println!("--- metrics after ---\n{}", done.stdout);
    assert_eq!(
        metric(&done.stdout, "instance_ha_evacuations_finished_total"),
        1.0
    );
    assert_eq!(
        metric(&done.stdout, "instance_ha_evacuations_failed_total"),
        0.0
    );
    assert_eq!(
        metric(
            &done.stdout,
            "instance_ha_instances_total{outcome=\"evacuated\"}"
        ),
        3.0
    );
    assert_eq!(
        metric(
            &done.stdout,
            "instance_ha_evacuation_duration_seconds_count"
        ),
        1.0
    );
    assert_eq!(
        metric(&done.stdout, "instance_ha_hosts{state=\"evacuated\"}"),
        1.0
    );
    assert!(
        metric(
            &done.stdout,
            "instance_ha_last_successful_evacuation_timestamp_seconds"
        ) > 1.7e9
    );
}

#[test]
fn status_watch_redraws_and_survives_no_cluster() {
    let lab = Lab::new(Config::new());
    // No crm_mon/attrd: the table still shows Nova, with warnings.
    std::fs::remove_file(lab.dir.path().join("attrd_updater")).unwrap();
    let out = lab
        .cmd(&["status", "--watch", "1", "--iterations", "2"])
        .env("PATH", lab.dir.path())
        .run();
    out.code(0);
    assert_eq!(
        out.stdout.matches("instance-ha status, every 1s").count(),
        2,
        "{}",
        out.stdout
    );
    out.stdout_has("compute-2")
        .stdout_has("warning: cluster state unknown");
    lab.run(&["status", "--watch", "0"])
        .code(2)
        .one_error_line();
}

#[test]
fn plan_orders_and_explains() {
    let lab = Lab::new(Config::new());
    lab.d.add_server(ServerSpec::new("web", "compute-1"));
    lab.d
        .add_server(ServerSpec::new("db", "compute-1").metadata("instance-ha:priority", "5"));
    lab.d
        .add_server(ServerSpec::new("batch", "compute-1").status("SHUTOFF"));
    lab.d
        .add_server(ServerSpec::new("broken", "compute-1").status("ERROR"));
    lab.d.add_server(
        ServerSpec::new("scratch", "compute-1").metadata("instance-ha:evacuate", "false"),
    );
    let out = lab.run(&["plan", "compute-1"]);
    out.code(0)
        .stdout_has("compute-1: policy auto: 3 to evacuate, 2 skipped")
        .stdout_has("opted out")
        .stdout_has("in ERROR state")
        .stdout_has("is up and in service");
    println!("--- plan ---\n{}", out.stdout);
    let v = json(&lab.run(&["plan", "compute-1", "--json"]));
    let names: Vec<&str> = v["selected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["db", "web", "batch"],
        "priority, then ACTIVE before SHUTOFF"
    );
    assert_eq!(v["selected"][2]["expect"], "SHUTOFF");
    let v = json(&lab.run(&[
        "plan",
        "compute-1",
        "--json",
        "--error-instances",
        "evacuate",
        "--policy",
        "all",
    ]));
    assert_eq!(v["selected"].as_array().unwrap().len(), 4);
    let v = json(&lab.run(&["plan", "compute-1", "--json", "--policy", "none"]));
    assert_eq!(v["selected"].as_array().unwrap().len(), 0);
    lab.run(&["plan", "compute-9"])
        .code(1)
        .one_error_line()
        .stderr_has("compute-9");
    lab.run(&["plan", "compute-1", "--policy", "some"])
        .code(2)
        .one_error_line();
    lab.run(&["plan"]).code(2).one_error_line();
    {
        use std::os::unix::ffi::OsStrExt;
        let bad = std::ffi::OsStr::from_bytes(b"--\xffx");
        lab.cmd(&["plan", "compute-1"])
            .args([bad])
            .run()
            .code(2)
            .one_error_line();
    }
    assert!(
        lab.d.requests().iter().all(|r| !r.path.contains("/action")),
        "a plan never acts"
    );
}

#[test]
fn evacuate_refuses_unsafe_or_unconfirmed() {
    let lab = Lab::new(Config::new());
    let id = lab.d.add_server(ServerSpec::new("vm", "compute-0"));
    // Nova shows compute-0 up: refused before anything is sent.
    lab.run(&["evacuate", "compute-0", "--yes"])
        .code(1)
        .one_error_line()
        .stderr_has("refusing");
    // Down, but no confirmation and no terminal: the plan, no action.
    fence(&lab.d, "compute-0", Phase::Pending);
    let out = lab.run(&["evacuate", "compute-0"]);
    out.code(2).stdout_has("1 to evacuate").stderr_has("--yes");
    assert_eq!(lab.d.evacuate_requests(&id), 0);
    // Bad credentials: one line, no secret.
    let out = lab
        .cmd(&["status"])
        .env("OS_PASSWORD", "wrong-pw-1234")
        .run();
    out.code(1).one_error_line().output_lacks("wrong-pw-1234");
}

#[test]
fn recover_waits_for_the_evacuation_then_nova() {
    let lab = Lab::new(Config::new().evacuation_time(Duration::from_millis(100)));
    let id = lab.d.add_server(ServerSpec::new("vm", "compute-1"));
    fence(&lab.d, "compute-1", Phase::Pending);
    lab.run(&["recover", "compute-1"])
        .code(1)
        .one_error_line()
        .stderr_has("not over")
        .stderr_has("pending");
    assert!(lab.d.service("compute-1").unwrap().forced_down);

    lab.run(&["evacuate", "compute-1", "--yes"]).code(0);
    wait_until("moved", 10, || {
        lab.d.server(&id).unwrap().host.as_deref() != Some("compute-1")
    });
    // Evacuated, but nova-compute has not cleaned up yet: Nova refuses.
    lab.d.set_compute_alive("compute-1", true);
    let out = lab.run(&["recover", "compute-1"]);
    out.code(1).stderr_has("recovering");
    assert!(lab
        .d
        .service("compute-1")
        .unwrap()
        .disabled_reason
        .unwrap()
        .starts_with("instance-ha: recovering"));
    // After the restart Nova accepts: back in service.
    lab.d.restart_compute("compute-1");
    lab.run(&["recover", "compute-1"])
        .code(0)
        .stdout_has("back in service");
    let s = lab.d.service("compute-1").unwrap();
    assert!(!s.forced_down && s.status == "enabled", "{s:?}");
    lab.run(&["recover", "compute-1"])
        .code(0)
        .stdout_has("already in service");
}

#[test]
fn recover_force_overrides_an_open_evacuation() {
    let lab = Lab::new(Config::new());
    fence(&lab.d, "compute-2", Phase::Incomplete);
    lab.d.set_compute_alive("compute-2", true);
    let out = lab.run(&["recover", "compute-2", "--force"]);
    out.code(0)
        .stdout_has("back in service")
        .stderr_has("--force");
    assert_eq!(lab.d.service("compute-2").unwrap().status, "enabled");
}

fn good_cib(lab: &Lab, nodes: &[&str]) -> String {
    let mut devs = String::new();
    let mut levels = String::new();
    for (i, n) in nodes.iter().enumerate() {
        devs.push_str(&format!("<primitive id=\"ipmi-{n}\" class=\"stonith\" type=\"fence_ipmilan\"><instance_attributes id=\"ia{i}\"><nvpair id=\"ip{i}\" name=\"ip\" value=\"10.0.0.{i}\"/></instance_attributes></primitive>"));
        levels.push_str(&format!("<fencing-level id=\"fl-{n}\" index=\"1\" target=\"{n}\" devices=\"ipmi-{n},fence-nova\"/>"));
    }
    format!(
        r#"<cib epoch="1"><configuration><crm_config><cluster_property_set id="cib-bootstrap-options"><nvpair id="se" name="stonith-enabled" value="true"/></cluster_property_set></crm_config>
<nodes><node id="1" uname="ctl1"/></nodes>
<resources>{devs}
<primitive id="fence-nova" class="stonith" type="fence_compute"><instance_attributes id="fn-ia"><nvpair id="fn1" name="auth_url" value="{url}"/></instance_attributes>
 <meta_attributes id="fn-meta"><nvpair id="fn-m1" name="provides" value="unfencing"/></meta_attributes></primitive>
<primitive id="nova-evacuate" class="ocf" provider="openstack" type="NovaEvacuate"><instance_attributes id="ne-ia">
 <nvpair id="ne1" name="auth_url" value="{url}"/><nvpair id="ne2" name="username" value="{user}"/><nvpair id="ne3" name="password" value="{pw}"/>
 <nvpair id="ne4" name="tenant_name" value="{project}"/><nvpair id="ne5" name="endpoint_type" value="public"/></instance_attributes></primitive>
<clone id="ncw-clone"><primitive id="ncw" class="ocf" provider="openstack" type="nova-compute-wait"/></clone>
</resources><constraints/>
<fencing-topology>{levels}</fencing-topology></configuration><status/></cib>"#,
        url = lab.d.auth_url(),
        user = lab.d.username(),
        pw = lab.d.password(),
        project = lab.d.project()
    )
}

#[test]
fn check_accepts_a_good_configuration() {
    // Nova uses FQDNs, the cluster short names.
    let lab = Lab::new(Config::new().hosts(["compute-0.example.com", "compute-1.example.com"]));
    let nodes: &[NodeSpec] = &[
        ("ctl1", true, false, false),
        ("compute-0", true, false, true),
        ("compute-1", true, false, true),
    ];
    lab.crm_mon(nodes, &["compute-0", "compute-1"]);
    lab.cibadmin(&good_cib(&lab, &["compute-0", "compute-1"]));
    let out = lab.run(&["check"]);
    println!("--- check (good) ---\n{}", out.stdout);
    out.code(0)
        .stdout_has("0 error(s), 0 warning(s)")
        .stdout_has("2 compute hosts map one to one to cluster nodes: compute-0, compute-1")
        .stdout_has("compute-0: level 1 = ipmi-compute-0 + fence-nova")
        .stdout_has("fence_compute device fence-nova has provides=unfencing")
        .stdout_has("NovaEvacuate configured")
        .stdout_has("nova-compute-wait cloned (ncw-clone)")
        .stdout_has("Nova microversions 2.1 to 2.103")
        .stdout_has("2.95+");
    // --from-cib: the NovaEvacuate resource's credentials, nothing in the environment.
    let out = Run::agent("instance-ha")
        .args(["--from-cib", "check", "--json"])
        .path_first(lab.dir.path())
        .run();
    out.code(0).output_lacks(&lab.d.password());
    let v = json(&out);
    assert_eq!(v["errors"], 0);
    assert!(
        v["findings"][0]["message"]
            .as_str()
            .unwrap()
            .contains("ocf:openstack:NovaEvacuate nova-evacuate (CIB)"),
        "{v}"
    );
    // status works from the CIB too.
    Run::agent("instance-ha")
        .args(["--from-cib", "status"])
        .path_first(lab.dir.path())
        .run()
        .code(0)
        .stdout_has("compute-1.example.com");
}

#[test]
fn check_reports_a_bad_configuration() {
    let lab = Lab::new(Config::new().max_microversion("2.10"));
    // compute-2 is no cluster node; compute-1's level has no fence_compute;
    // fence_compute lacks provides=unfencing; no NovaEvacuate; the waiter
    // does not run on compute-1.
    lab.crm_mon(
        &[
            ("ctl1", true, false, false),
            ("compute-0", true, false, true),
            ("compute-1", true, false, true),
        ],
        &["compute-0"],
    );
    let cib = good_cib(&lab, &["compute-0", "compute-1"])
        .replace(
            "devices=\"ipmi-compute-1,fence-nova\"",
            "devices=\"ipmi-compute-1\"",
        )
        .replace(
            "<nvpair id=\"fn-m1\" name=\"provides\" value=\"unfencing\"/>",
            "",
        )
        .replace("type=\"NovaEvacuate\"", "type=\"Dummy\"");
    lab.cibadmin(&cib);
    let out = lab.run(&["check"]);
    println!("--- check (bad) ---\n{}", out.stdout);
    out.code(1)
        .stdout_has("below 2.11")
        .stdout_has("Nova host compute-2 is no cluster node")
        .stdout_has("compute-1: level 1 (ipmi-compute-1) has no fence_compute")
        .stdout_has("pcs stonith update fence-nova meta provides=unfencing")
        .stdout_has("no NovaEvacuate resource")
        .stdout_has("compute-1 is online but nova-compute-wait does not run there");
    let v = json(&lab.run(&["check", "--json"]));
    assert!(v["errors"].as_u64().unwrap() >= 4, "{v}");
    for f in v["findings"].as_array().unwrap() {
        if f["severity"] == "error" || f["severity"] == "warn" {
            assert!(
                f["fix"].as_str().is_some_and(|s| !s.is_empty()),
                "every problem says what to do: {f}"
            );
        }
    }
    // A node without any level, and a pattern level that covers it.
    let lab2 = Lab::new(Config::new().hosts(["compute-0"]));
    lab2.crm_mon(&[("compute-0", true, false, true)], &["compute-0"]);
    let cib =
        good_cib(&lab2, &["compute-0"]).replace("target=\"compute-0\"", "target=\"compute-9\"");
    lab2.cibadmin(&cib);
    lab2.run(&["check"])
        .code(1)
        .stdout_has("compute-0: no fencing level");
    lab2.cibadmin(&cib.replace(
        "target=\"compute-9\"",
        "target-pattern=\"^compute-[0-9]+$\"",
    ));
    lab2.run(&["check"]).code(0);
    // No cluster tools at all: errors, not a crash.
    let out = lab2.cmd(&["check"]).env("PATH", "/nonexistent").run();
    out.code(1)
        .stdout_has("cannot read the cluster state")
        .stdout_has("cannot read the CIB");
}

#[test]
fn metrics_file_is_written_atomically_and_without_nova() {
    let lab = Lab::new(Config::new());
    let out_dir = lab.dir.path().join("textfile");
    std::fs::create_dir_all(&out_dir).unwrap();
    let target = out_dir.join("instance_ha.prom");
    // No credentials: journal metrics only, still valid.
    let out = Run::agent("instance-ha")
        .args(["metrics", "--output"])
        .args([&target])
        .env("IHA_STATE_DIR", lab.dir.path().join("state"))
        .run();
    out.code(0);
    let text = std::fs::read_to_string(&target).unwrap();
    promtool(&text);
    assert_eq!(metric(&text, "instance_ha_nova_up"), 0.0);
    assert!(!text.contains("instance_ha_hosts{"));
    lab.cmd(&["metrics", "-o"]).args([&target]).run().code(0);
    let text = std::fs::read_to_string(&target).unwrap();
    assert_eq!(metric(&text, "instance_ha_nova_up"), 1.0);
    let names: Vec<String> = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["instance_ha.prom"], "no temporary file left behind");
    lab.run(&["metrics", "--output", "/nonexistent/dir/x.prom"])
        .code(1)
        .one_error_line();
}

#[test]
fn nova_evacuate_helper_keeps_the_metrics_file() {
    let lab = Lab::new(Config::new());
    let target = lab.dir.path().join("iha.prom");
    let ocf = |action: &str| {
        Run::agent("NovaEvacuate")
            .args([action])
            .path_first(lab.dir.path())
            .env("OCF_RESOURCE_INSTANCE", "cli-rsc")
            .env("HA_RSCTMP", lab.dir.path().join("rsctmp"))
            .env("IHA_STATE_DIR", lab.dir.path().join("state"))
            .env("OCF_RESKEY_CRM_meta_timeout", "20000")
            .env("OCF_RESKEY_auth_url", lab.d.auth_url())
            .env("OCF_RESKEY_username", lab.d.username())
            .env("OCF_RESKEY_password", lab.d.password())
            .env("OCF_RESKEY_tenant_name", lab.d.project())
            .env("OCF_RESKEY_endpoint_type", "public")
            .env("OCF_RESKEY_require_fencing", "false")
            .env("OCF_RESKEY_metrics_file", &target)
            .run()
    };
    ocf("start").code(0);
    wait_until("metrics file", 10, || target.exists());
    let text = std::fs::read_to_string(&target).unwrap();
    // The CLI reads the running helper's heartbeat from HA_RSCTMP as well.
    let cli = lab.run(&["metrics"]);
    ocf("stop").code(0);
    promtool(&text);
    assert!(
        metric(&text, "instance_ha_helper_heartbeat_timestamp_seconds") > 1.7e9,
        "{text}"
    );
    assert_eq!(
        metric(&text, "instance_ha_hosts{state=\"in_service\"}"),
        3.0
    );
    assert!(
        metric(
            &cli.stdout,
            "instance_ha_helper_heartbeat_timestamp_seconds"
        ) > 1.7e9,
        "{}",
        cli.stdout
    );
    // Stopped: no helper, no heartbeat.
    let out = lab.run(&["metrics"]);
    assert_eq!(
        metric(
            &out.stdout,
            "instance_ha_helper_heartbeat_timestamp_seconds"
        ),
        0.0,
        "{}",
        out.stdout
    );
}
