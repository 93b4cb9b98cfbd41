//! nova-double as a process, for shell scripts and benchmarks.
//!
//! Prints one line, the Keystone auth URL, then serves until killed.

use nova_double::{Config, Double, ServerSpec};
use std::io::Write;
use std::time::Duration;

const USAGE: &str = "usage: nova-double [--port N] [--bind ADDR] [--hosts N] [--servers-per-host N]
  [--shutoff-every N] [--evacuable-flavor] [--latency-ms N] [--evacuation-ms N] [--serial]
  [--password S] [--max-microversion X.Y] [--workers N] [--service-down-ms N] [--token-ttl-s N]
  [--app-cred ID:NAME:SECRET]";

fn main() {
    let mut cfg = Config::new();
    let mut per_host = 0usize;
    let mut shutoff_every = 0usize;
    let mut evacuable = false;
    let mut hosts = 3usize;
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
            "--latency-ms" => cfg = cfg.latency(Duration::from_millis(num(val(&mut i)))),
            "--evacuation-ms" => cfg = cfg.evacuation_time(Duration::from_millis(num(val(&mut i)))),
            "--serial" => cfg = cfg.serial_per_destination(true),
            "--password" => cfg = cfg.password(&val(&mut i)),
            "--max-microversion" => cfg = cfg.max_microversion(&val(&mut i)),
            "--workers" => cfg = cfg.workers(num(val(&mut i)) as usize),
            "--service-down-ms" => cfg = cfg.service_down_time(Duration::from_millis(num(val(&mut i)))),
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
    for h in double.hosts() {
        for j in 0..per_host {
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
    println!("{}", double.auth_url());
    let _ = std::io::stdout().flush();
    // SIGTERM's default action ends the process; nothing to clean up.
    loop {
        std::thread::park();
    }
}
