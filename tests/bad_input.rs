//! Every kind of bad input, tried for real, and the table in
//! docs/bad-input.md that shows it: the exit code and the one line an
//! operator sees. The test fails when the table is stale;
//! `IHA_REGENERATE=1 cargo test --test tests bad_input` rewrites it.

use std::time::Duration;

use nova_double::{Config, Double};

use crate::util::{fake_attrd, Output, Run, TempDir};

const DOC: &str = "docs/bad-input.md";

struct Case {
    what: &'static str,
    out: Output,
}

fn creds(d: &Double, pw: &str) -> String {
    format!("auth_url={}\nlogin={}\npasswd={pw}\ntenant_name={}\nendpoint_type=public\napi_timeout=2\nconnect_timeout=2\ntoken_cache=false\n", d.auth_url(), d.username(), d.project())
}

/// The line that matters: the last ERROR or ocf-exit-reason line, with the
/// time stamp and random parts (ports, ids) masked so the table is stable.
fn message(o: &Output) -> String {
    let line = o
        .stderr
        .lines()
        .filter(|l| {
            l.contains("ERROR: ")
                || l.starts_with("ERROR:")
                || l.starts_with("ocf-exit-reason:")
                || l.contains(" WARNING: ")
        })
        .last()
        .unwrap_or("")
        .to_string();
    let line = match line.find("ERROR: ").or_else(|| line.find("WARNING: ")) {
        Some(i) if !line.starts_with("ocf-exit-reason:") => line[i..].to_string(),
        _ => line,
    };
    let mut out = String::new();
    let mut rest = line.as_str();
    // 127.0.0.1:PORT -> 127.0.0.1:PORT ; uuids -> <uuid>
    while let Some(i) = rest.find("127.0.0.1:") {
        out.push_str(&rest[..i + 10]);
        rest = &rest[i + 10..];
        let digits = rest.chars().take_while(|c| c.is_ascii_digit()).count();
        if digits > 0 && &rest[..digits] != "9" {
            out.push_str("PORT");
        } else {
            out.push_str(&rest[..digits]);
        }
        rest = &rest[digits..];
    }
    out.push_str(rest);
    mask_uuids(&out).replace('|', "\\|")
}

fn mask_uuids(s: &str) -> String {
    let b = s.as_bytes();
    let shape = [8, 4, 4, 4, 12];
    let mut out = String::new();
    let mut i = 0;
    'outer: while i < s.len() {
        let mut j = i;
        for (k, n) in shape.iter().enumerate() {
            if j + n > b.len() || !b[j..j + n].iter().all(u8::is_ascii_hexdigit) {
                out.push(s[i..].chars().next().unwrap());
                i += s[i..].chars().next().unwrap().len_utf8();
                continue 'outer;
            }
            j += n;
            if k < 4 {
                if b.get(j) != Some(&b'-') {
                    out.push(s[i..].chars().next().unwrap());
                    i += s[i..].chars().next().unwrap().len_utf8();
                    continue 'outer;
                }
                j += 1;
            }
        }
        out.push_str("<uuid>");
        i = j;
    }
    out
}

fn cases() -> Vec<Case> {
    let d = Double::start(Config::new());
    let dir = TempDir::new("bad");
    fake_attrd(&dir);
    let fc = |stdin: String| {
        Run::agent("fence_compute")
            .stdin(stdin)
            .path_first(dir.path())
            .run()
    };
    let mut v = Vec::new();
    let mut add = |what: &'static str, out: Output| v.push(Case { what, out });

    add(
        "stdin: a value that is not a boolean (`insecure=perhaps`)",
        fc("action=status\nport=compute-0\ninsecure=perhaps\n".into()),
    );
    add(
        "stdin: a value that is not a duration (`delay=soon`)",
        fc(format!(
            "action=off\nport=compute-0\ndelay=soon\n{}",
            creds(&d, "x")
        )),
    );
    add(
        "stdin: garbage bytes and lines without `=`",
        fc("\u{1}\u{2}garbage\n=\naction\n".into()),
    );
    add(
        "unknown action (`-o explode`)",
        Run::agent("fence_compute")
            .args(["-o", "explode", "-n", "compute-0"])
            .run(),
    );
    add(
        "unknown command-line option (`--frobnicate`)",
        Run::agent("fence_compute").args(["--frobnicate"]).run(),
    );
    add(
        "option without its value (`-k`)",
        Run::agent("fence_compute")
            .args(["-o", "status", "-k"])
            .run(),
    );
    add(
        "no target for status (`-o status` without `-n`)",
        fc(format!("action=status\n{}", creds(&d, "x"))),
    );
    add(
        "missing credentials",
        fc("action=status\nport=compute-0\n".into()),
    );
    add("unreachable Keystone (nothing listens)", fc("action=status\nport=compute-0\nauth_url=http://127.0.0.1:9/v3\nlogin=admin\npasswd=secret\ntenant_name=admin\nconnect_timeout=2\ntoken_cache=false\n".into()));
    add(
        "wrong password",
        fc(format!(
            "action=status\nport=compute-0\n{}",
            creds(&d, "Wr0ng-pa55")
        )),
    );
    add(
        "unknown host",
        fc(format!(
            "action=off\nport=compute-9\n{}",
            creds(&d, &d.password())
        )),
    );
    let d4 = Double::start(Config::new());
    d4.inject_error("PUT", "/compute/v2.1/os-services", 409, 5);
    add(
        "Nova answers 4xx (409 on the service update)",
        fc(format!(
            "action=off\nport=compute-1\n{}",
            creds(&d4, &d4.password())
        )),
    );
    let d5 = Double::start(Config::new());
    d5.inject_error("GET", "/compute/v2.1/os-services", 503, 5);
    add(
        "Nova answers 5xx (503)",
        fc(format!(
            "action=status\nport=compute-1\n{}",
            creds(&d5, &d5.password())
        )),
    );
    let dt = Double::start(Config::new());
    dt.inject_delay(
        "GET",
        "/compute/v2.1/os-services",
        Duration::from_secs(4),
        5,
    );
    add(
        "Nova does not answer in time (api_timeout=2)",
        fc(format!(
            "action=status\nport=compute-1\n{}",
            creds(&dt, &dt.password())
        )),
    );
    let dd = Double::start(Config::new().hosts(["compute-0.a.example", "compute-0.b.example"]));
    add(
        "ambiguous host name (short name, two FQDNs)",
        fc(format!(
            "action=off\nport=compute-0\n{}",
            creds(&dd, &dd.password())
        )),
    );
    add(
        "OCF: unknown action",
        Run::agent("NovaEvacuate").args(["promote"]).run(),
    );
    add(
        "OCF: missing credentials (validate-all)",
        Run::agent("NovaEvacuate").args(["validate-all"]).run(),
    );
    add(
        "OCF: a bad value (`concurrency=lots`)",
        Run::agent("NovaEvacuate")
            .args(["validate-all"])
            .env("OCF_RESKEY_auth_url", d.auth_url())
            .env("OCF_RESKEY_username", "a")
            .env("OCF_RESKEY_password", "b")
            .env("OCF_RESKEY_tenant_name", "c")
            .env("OCF_RESKEY_concurrency", "lots")
            .run(),
    );
    add(
        "CLI: unknown subcommand",
        Run::agent("instance-ha").args(["explode"]).run(),
    );
    v
}

fn render(cases: &[Case]) -> String {
    let mut s = String::from(
        "# Bad input: what the agents answer\n\nGenerated by `tests/bad_input.rs`, which tries every case below for real\n(against the in-repo Keystone/Nova double, with faults injected) and fails\nwhen this table no longer matches. Regenerate with\n`IHA_REGENERATE=1 cargo test --test tests bad_input`.\n\nFence agents exit 1 on any failure (2 is reserved for `status` = off), OCF\nagents use the OCF codes (2 args, 3 unimplemented, 6 not configured, 1\ngeneric), the CLI exits 2 on a usage error. No case prints a password or a\ntoken, and none panics (both are asserted).\n\n| case | exit | message |\n|---|---|---|\n",
    );
    for c in cases {
        s.push_str(&format!(
            "| {} | {} | `{}` |\n",
            c.what,
            c.out.code,
            message(&c.out)
        ));
    }
    s
}

#[test]
fn bad_input_table_is_true_and_up_to_date() {
    let cases = cases();
    for c in &cases {
        assert_ne!(c.out.code, 0, "{}: must fail", c.what);
        assert!(
            !c.out.stderr.contains("panicked"),
            "{}: panic\n{}",
            c.what,
            c.out.stderr
        );
        for secret in ["Wr0ng-pa55", "secret\n"] {
            assert!(
                !c.out.stderr.contains(secret) && !c.out.stdout.contains(secret),
                "{}: secret in output",
                c.what
            );
        }
        assert!(
            !message(&c.out).is_empty(),
            "{}: no clear message\n{}",
            c.what,
            c.out.stderr
        );
    }
    let table = render(&cases);
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(DOC);
    if std::env::var_os("IHA_REGENERATE").is_some() {
        std::fs::write(&path, &table).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert_eq!(
        committed, table,
        "{DOC} is stale: run IHA_REGENERATE=1 cargo test --test tests bad_input"
    );
}
