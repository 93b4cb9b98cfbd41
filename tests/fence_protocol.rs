//! The fence-agent protocol as pacemaker-fenced and operators drive it:
//! metadata, options, stdin, exit codes, bad input. No network needed.

use crate::util::{xmllint, Run};

const FENCE_RNG: &str = "/usr/share/cluster/relaxng/metadata.rng";

fn param_names(xml: &str) -> Vec<String> {
    xml.split("<parameter name=\"")
        .skip(1)
        .map(|s| s.split('"').next().unwrap().to_string())
        .collect()
}

#[test]
fn metadata_validates_against_fence_agents_schema() {
    for agent in ["fence_compute", "fence_evacuate"] {
        let out = Run::agent(agent).args(["-o", "metadata"]).run();
        out.code(0);
        if let Err(e) = xmllint(&out.stdout, &["--relaxng", FENCE_RNG]) {
            panic!("{agent} metadata does not validate against {FENCE_RNG} (run tests/harness/deps.sh if it is missing):\n{e}\n{}", out.stdout);
        }
    }
}

#[test]
fn metadata_from_stdin_as_pacemaker_asks() {
    let out = Run::agent("fence_compute").stdin("action=metadata\n").run();
    out.code(0)
        .stdout_has("<resource-agent name=\"fence_compute\"");
}

#[test]
fn every_debian_parameter_is_accepted() {
    let debian = include_str!("data/fence_compute.debian-4.12.1.xml");
    let ours = Run::agent("fence_compute")
        .args(["-o", "metadata"])
        .run()
        .stdout;
    let ours = param_names(&ours);
    let missing: Vec<String> = param_names(debian)
        .into_iter()
        .filter(|p| !ours.contains(p))
        .collect();
    assert!(
        missing.is_empty(),
        "parameters of Debian's fence_compute missing from ours: {missing:?}"
    );
}

#[test]
fn every_debian_fence_evacuate_parameter_is_accepted() {
    let debian = include_str!("data/fence_evacuate.debian-4.12.1.xml");
    let ours = param_names(
        &Run::agent("fence_evacuate")
            .args(["-o", "metadata"])
            .run()
            .stdout,
    );
    let missing: Vec<String> = param_names(debian)
        .into_iter()
        .filter(|p| !ours.contains(p))
        .collect();
    assert!(
        missing.is_empty(),
        "parameters of Debian's fence_evacuate missing from ours: {missing:?}"
    );
}

#[test]
fn fence_evacuate_refuses_on() {
    let out = Run::agent("fence_evacuate").stdin("action=on\nport=c0\nauth_url=http://127.0.0.1:9/v3\nlogin=a\npasswd=b\ntenant_name=c\n").run();
    out.code(1).one_error_line().stderr_has("not supported");
}

#[test]
fn on_is_automatic_for_unfencing() {
    let out = Run::agent("fence_compute").args(["-o", "metadata"]).run();
    out.stdout_has("<action name=\"on\" automatic=\"1\"/>");
}

#[test]
fn validate_all_without_credentials_fails_clearly() {
    let out = Run::agent("fence_compute")
        .stdin("action=validate-all\nport=compute-0\n")
        .run();
    out.code(1).one_error_line().stderr_has("auth_url");
}

#[test]
fn unknown_action_is_rejected() {
    let out = Run::agent("fence_compute")
        .args(["-o", "explode", "-n", "c0"])
        .run();
    out.code(1)
        .one_error_line()
        .stderr_has("unrecognised action 'explode'");
}

#[test]
fn unknown_option_on_the_command_line_is_rejected() {
    let out = Run::agent("fence_compute")
        .args(["--frobnicate", "-o", "status"])
        .run();
    out.code(1).one_error_line().stderr_has("--frobnicate");
}

#[test]
fn unknown_stdin_key_is_a_warning_as_in_fencing_py() {
    // A newer Pacemaker may send keys we do not know: warn, carry on.
    let out = Run::agent("fence_compute")
        .stdin("action=metadata\nsomething_new=1\n")
        .run();
    out.code(0).stderr_has("something_new");
}

#[test]
fn malformed_stdin_values_are_errors() {
    let out = Run::agent("fence_compute")
        .stdin("action=status\nport=c0\ninsecure=perhaps\n")
        .run();
    out.code(1).one_error_line().stderr_has("insecure");
    let out = Run::agent("fence_compute")
        .stdin("action=off\nport=c0\ndelay=soon\nauth_url=http://127.0.0.1:9\n")
        .run();
    out.code(1).one_error_line().stderr_has("delay");
}

#[test]
fn binary_garbage_on_stdin_does_not_panic() {
    let out = Run::agent("fence_compute")
        .stdin("\u{0}\u{1}\u{fffd}==\n=\naction\n\n")
        .run();
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    assert_eq!(out.code, 1, "{}", out.stderr);
}

#[test]
fn status_needs_a_target() {
    let out = Run::agent("fence_compute")
        .args([
            "-o",
            "status",
            "-k",
            "http://127.0.0.1:9/v3",
            "-l",
            "admin",
            "-p",
            "pw",
            "-t",
            "admin",
        ])
        .run();
    out.code(1).one_error_line().stderr_has("needs a target");
}

#[test]
fn unreachable_keystone_fails_without_leaking_the_password() {
    let out = Run::agent("fence_compute")
        .stdin("action=status\nport=compute-0\nauth_url=http://127.0.0.1:9/v3\nlogin=admin\npasswd=Sup3rS3cret\ntenant_name=admin\nconnect_timeout=2\n")
        .run();
    out.code(1)
        .one_error_line()
        .stderr_has("127.0.0.1:9")
        .output_lacks("Sup3rS3cret");
}

#[test]
fn help_and_version() {
    Run::agent("fence_compute")
        .args(["-h"])
        .run()
        .code(0)
        .stdout_has("--auth-url=[url]");
    Run::agent("fence_compute")
        .args(["-V"])
        .run()
        .code(0)
        .stdout_has("fence_compute ");
}
