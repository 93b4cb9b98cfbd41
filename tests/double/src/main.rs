//! nova-double as a process, for shell scripts and benchmarks.
//!
//! Prints one line, the Keystone auth URL, then serves until killed (or,
//! with --control-stdin, until stdin closes; then each line on stdin is a
//! command answered with one JSON line: "stats" (a summary of the requests
//! served so far), "timings" (every request with its start and end, in
//! seconds), "clear" (forget them)).

use nova_double::{Config, Double, ServerSpec};
use std::io::{BufRead, Write};
use std::time::Duration;

const USAGE: &str = "usage: nova-double [--port N] [--bind ADDR] [--hosts N] [--servers-per-host N]
  [--shutoff-every N] [--evacuable-flavor] [--latency-ms N] [--evacuation-ms N] [--serial]
  [--password S] [--max-microversion X.Y] [--workers N] [--service-down-ms N] [--token-ttl-s N]
  [--app-cred ID:NAME:SECRET] [--failed N] [--servers-per-failed-host N] [--control-stdin]
  --failed N: compute-0..N-1 are dead, forced down and marked pending (fenced)";

fn main() {
    let mut cfg = Config::new();
    let mut per_host = 0usize;
    let mut shutoff_every = 0usize;
    let mut evacuable = false;
    let mut hosts = 3usize;
    let mut failed = 0usize;
    let mut per_failed: Option<usize> = None;
    let mut control = false;
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    let val = |i: &mut usize| -> String {
        *i += 1;
        args.get(*i).cloned().unwrap_or_else(|| {
            eprintln!("{USAGE}");
            std::process::exit(2)
        })
    };
    let num = |s: String| -> u64 {
        s.parse().unwrap_or_else(|_| {
            eprintln!("not a number: {s}\n{USAGE}");
            std::process::exit(2)
        })
    };
    while i < args.len() {
        match args[i].as_str() {
            "--port" => cfg = cfg.port(num(val(&mut i)) as u16),
            "--bind" => cfg = cfg.bind(&val(&mut i)),
            "--hosts" => hosts = num(val(&mut i)) as usize,
            "--servers-per-host" => per_host = num(val(&mut i)) as usize,
            "--shutoff-every" => shutoff_every = num(val(&mut i)) as usize,
            "--evacuable-flavor" => evacuable = true,
            "--failed" => failed = num(val(&mut i)) as usize,
            "--servers-per-failed-host" => per_failed = Some(num(val(&mut i)) as usize),
            "--control-stdin" => control = true,
            "--latency-ms" => cfg = cfg.latency(Duration::from_millis(num(val(&mut i)))),
            "--evacuation-ms" => cfg = cfg.evacuation_time(Duration::from_millis(num(val(&mut i)))),
            "--serial" => cfg = cfg.serial_per_destination(true),
            "--password" => cfg = cfg.password(&val(&mut i)),
            "--max-microversion" => cfg = cfg.max_microversion(&val(&mut i)),
            "--workers" => cfg = cfg.workers(num(val(&mut i)) as usize),
            "--service-down-ms" => {
                cfg = cfg.service_down_time(Duration::from_millis(num(val(&mut i))))
            }
            "--token-ttl-s" => cfg = cfg.token_ttl(Duration::from_secs(num(val(&mut i)))),
            "--app-cred" => {
                let v = val(&mut i);
                let p: Vec<&str> = v.splitn(3, ':').collect();
                if p.len() != 3 {
                    eprintln!("--app-cred ID:NAME:SECRET");
                    std::process::exit(2)
                }
                cfg = cfg.application_credential(p[0], p[1], p[2]);
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                return;
            }
            other => {
                eprintln!("unknown argument {other}\n{USAGE}");
                std::process::exit(2)
            }
        }
        i += 1;
    }
    cfg = cfg.host_count(hosts);
    let double = Double::start(cfg);
    let mut n = 0usize;
    for (k, h) in double.hosts().into_iter().enumerate() {
        let count = if k < failed {
            per_failed.unwrap_or(per_host)
        } else {
            per_host
        };
        for j in 0..count {
            let mut spec = ServerSpec::new(&format!("vm-{h}-{j}"), &h);
            if evacuable {
                spec = spec.flavor("m1.evacuable").extra_spec("evacuable", "true");
            }
            if shutoff_every > 0 && n % shutoff_every == shutoff_every - 1 {
                spec = spec.status("SHUTOFF");
            }
            double.add_server(spec);
            n += 1;
        }
    }
    for h in double.hosts().iter().take(failed) {
        double.mark_fenced(h);
    }
    println!("{}", double.auth_url());
    let _ = std::io::stdout().flush();
    if control {
        for line in std::io::stdin().lock().lines() {
            match line.as_deref().map(str::trim) {
                Ok("stats") => {
                    println!("{}", stats(&double));
                    let _ = std::io::stdout().flush();
                }
                // Forget the requests served so far.
                Ok("clear") => {
                    double.clear_requests();
                    println!("{{}}");
                    let _ = std::io::stdout().flush();
                }
                // Every request served: [[method, path, start_s, end_s], ...]
                Ok("timings") => {
                    let t: Vec<String> = double
                        .request_timings()
                        .iter()
                        .map(|r| {
                            format!(
                                "[{:?},{:?},{:.6},{:.6}]",
                                r.method,
                                r.path,
                                r.start.as_secs_f64(),
                                r.end.as_secs_f64()
                            )
                        })
                        .collect();
                    println!("[{}]", t.join(","));
                    let _ = std::io::stdout().flush();
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
        return;
    }
    // SIGTERM's default action ends the process; nothing to clean up.
    loop {
        std::thread::park();
    }
}

/// Requests served so far: counts per kind, the window they span, the mean
/// and peak number in flight (server side, latency included).
fn stats(d: &Double) -> String {
    let t = d.request_timings();
    let kind = |m: &str, p: &str| -> String {
        let p = p.trim_end_matches('/');
        if m == "POST" && p.ends_with("/action") {
            "POST server action".into()
        } else if m == "GET" && p.contains("/servers/") && !p.ends_with("/detail") {
            "GET one server".into()
        } else if m == "PUT" && p.contains("/os-services/") {
            "PUT os-services".into()
        } else if p.starts_with("/identity") {
            format!("{m} keystone")
        } else {
            let last = p.rsplit('/').next().unwrap_or("");
            format!("{m} {last}")
        }
    };
    let mut kinds: std::collections::BTreeMap<String, u64> = Default::default();
    let (mut first, mut last, mut busy) = (f64::MAX, 0f64, 0f64);
    let (mut ev_first, mut ev_last, mut ev_n) = (f64::MAX, 0f64, 0u64);
    let mut edges: Vec<(f64, i32)> = Vec::with_capacity(t.len() * 2);
    for r in &t {
        let (s, e) = (r.start.as_secs_f64(), r.end.as_secs_f64());
        *kinds.entry(kind(&r.method, &r.path)).or_default() += 1;
        first = first.min(s);
        last = last.max(e);
        busy += e - s;
        if r.method == "POST" && r.path.ends_with("/action") {
            ev_n += 1;
            ev_first = ev_first.min(s);
            ev_last = ev_last.max(e);
        }
        edges.push((s, 1));
        edges.push((e, -1));
    }
    edges.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let (mut cur, mut peak) = (0i32, 0i32);
    for (_, d) in edges {
        cur += d;
        peak = peak.max(cur);
    }
    let window = if t.is_empty() { 0.0 } else { last - first };
    let kinds: Vec<String> = kinds.iter().map(|(k, v)| format!("{:?}:{v}", k)).collect();
    format!(
        "{{\"connections\":{},\"requests\":{},\"window_s\":{window:.6},\"busy_s\":{busy:.6},\"peak_in_flight\":{peak},\"actions\":{ev_n},\"actions_window_s\":{:.6},\"kinds\":{{{}}}}}",
        d.connections_accepted(),
        t.len(),
        if ev_n == 0 { 0.0 } else { ev_last - ev_first },
        kinds.join(",")
    )
}
