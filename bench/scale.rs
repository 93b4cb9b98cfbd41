//! Scale benchmark: 100 compute hosts, 20 fail at once, 100 instances on
//! each failed host (2,000), evacuated the way NovaEvacuate's helper does:
//! `host_concurrency` hosts at a time, each through
//! `engine::host::evacuate` with the agent's defaults (policy auto,
//! completion arrived, `concurrency` requests in flight, poll 1 s), one
//! shared `Session` (one ureq agent), against the nova-double *process*
//! with a per-request latency. The double runs in its own process so that
//! the peak RSS (VmHWM) is the engine's alone; every run is a fresh child
//! process of this one for the same reason.
//!
//! Not a test: it asserts nothing, it prints. `bench/scale.sh` runs it.
//!
//! The ratios:
//! * whole run: all requests / wall time against host_concurrency x
//!   concurrency / latency (Little's law: the mean share of the bound in
//!   use). Completion "arrived" keeps a host's slot while Nova works
//!   (evacuation time, rounded up to the 1 s poll), when the engine has
//!   nothing to send, so this one stays well below 100% by design;
//! * per host, the phases where the engine has work to send: the evacuate
//!   requests and the reads confirming arrivals, each against
//!   concurrency / latency in that phase's window (at most 100/(7x16) =
//!   89% for 100 instances: 7 rounds of 16).
//!
//! Environment (defaults): LATENCY_MS (30), HOSTS (100), FAILED (20),
//! PER_HOST (100), SMALL_PER_HOST (25, the memory comparison run; 0 skips
//! it), EVACUATION_MS (200, accepted -> running elsewhere in the double),
//! HOST_CONCURRENCY (20: every failed host at once, as NovaEvacuate's
//! default 32 allows), CONCURRENCY (16: one host's requests), LIMIT (64:
//! requests in flight across all hosts, the shared limiter NovaEvacuate
//! builds from its `concurrency`), POLL_MS (1000),
//! DOUBLE (path of the nova-double binary).

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use instance_ha::engine::host::{self, HostOptions};
use instance_ha::engine::{Event, Outcome, Policy, RunConfig};
use instance_ha::openstack::{CloudConfig, Glance, Nova, Secret, Session};
use serde_json::{json, Value};

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Params {
    latency_ms: u64,
    hosts: u64,
    failed: u64,
    evacuation_ms: u64,
    host_concurrency: usize,
    /// Requests in flight across all hosts (the shared limiter).
    limit: usize,
    concurrency: usize,
    poll_ms: u64,
}

impl Params {
    fn from_env() -> Params {
        Params {
            latency_ms: env("LATENCY_MS", 30),
            hosts: env("HOSTS", 100),
            failed: env("FAILED", 20),
            evacuation_ms: env("EVACUATION_MS", 200),
            host_concurrency: env("HOST_CONCURRENCY", 20) as usize,
            concurrency: env("CONCURRENCY", 16) as usize,
            limit: env("LIMIT", 64) as usize,
            poll_ms: env("POLL_MS", 1000),
        }
    }
}

fn status_kb(field: &str) -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// CPU seconds (user + system) a process has used so far, from
/// /proc/PID/stat (fields 14 and 15, in clock ticks of 1/100 s on Linux).
fn cpu_s(pid: &str) -> f64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The command name (field 2) may hold spaces: count from its ')'.
    let rest = s.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<f64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0.0))
        .collect();
    (f.get(11).copied().unwrap_or(0.0) + f.get(12).copied().unwrap_or(0.0)) / 100.0
}

fn double_path() -> String {
    if let Ok(p) = std::env::var("DOUBLE") {
        return p;
    }
    // target/release/examples/scale -> target/release/nova-double
    let exe = std::env::current_exe().expect("current_exe");
    exe.parent()
        .and_then(|p| p.parent())
        .map(|p| p.join("nova-double"))
        .expect("target dir")
        .display()
        .to_string()
}

/// One run, in this (child) process; prints one JSON line.
fn one(per_host: u64) {
    let p = Params::from_env();
    let state_dir = std::env::temp_dir().join(format!("iha-bench-{}", std::process::id()));
    std::env::set_var("IHA_STATE_DIR", &state_dir);
    // Enough double workers that the double is never the bound.
    let workers = p.host_concurrency * (p.concurrency + 1) + 16;
    let mut child = Command::new(double_path())
        .args([
            "--hosts",
            &p.hosts.to_string(),
            "--failed",
            &p.failed.to_string(),
        ])
        .args([
            "--servers-per-failed-host",
            &per_host.to_string(),
            "--servers-per-host",
            "0",
        ])
        .args([
            "--latency-ms",
            &p.latency_ms.to_string(),
            "--evacuation-ms",
            &p.evacuation_ms.to_string(),
        ])
        .args(["--workers", &workers.to_string(), "--control-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", double_path()));
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut auth_url = String::new();
    out.read_line(&mut auth_url).unwrap();
    let mut ctl = child.stdin.take().unwrap();
    let mut ask = |cmd: &str| -> Value {
        writeln!(ctl, "{cmd}").unwrap();
        ctl.flush().unwrap();
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        serde_json::from_str(line.trim()).unwrap_or(Value::Null)
    };

    let cfg = CloudConfig {
        auth_url: Some(auth_url.trim().to_string()),
        username: Some("admin".into()),
        password: Some(Secret::new("secret".to_string())),
        project_name: Some("admin".into()),
        region_name: Some("RegionOne".into()),
        ..CloudConfig::default()
    };
    let session = Arc::new(Session::new(cfg).unwrap());
    session.authenticate().unwrap();
    let nova = Nova::new(session.clone());
    let glance = Glance::new(session.clone());
    // NovaEvacuate's defaults (engine::params::host_options with nothing set).
    let opts = HostOptions {
        policy: Policy::default(),
        run: RunConfig {
            concurrency: p.concurrency,
            retry_backoff: Duration::from_secs(10),
            poll_interval: Duration::from_millis(p.poll_ms),
            limiter: Some(instance_ha::engine::Limiter::new(p.limit)),
            ..RunConfig::default()
        },
        delay: Duration::ZERO,
        catalog: None,
    };
    // NovaEvacuate keeps the evacuable catalog (tagged flavors and images)
    // fresh in idle time and hands it to every host's evacuation; so does
    // this run (CATALOG=0: each host reads it itself, as fence_evacuate does).
    let opts = HostOptions {
        catalog: (env("CATALOG", 1) == 1).then(|| {
            instance_ha::engine::plan::tagged_catalog(&nova, Some(&glance), &opts.policy).unwrap()
        }),
        ..opts
    };
    let hosts: Vec<String> = (0..p.failed).map(|i| format!("compute-{i}")).collect();
    // Which failed host each instance is on (to split the double's log by host).
    let mut owner: std::collections::HashMap<String, usize> = Default::default();
    for (k, h) in hosts.iter().enumerate() {
        for srv in nova.servers_on_host(h).unwrap() {
            owner.insert(srv.id, k);
        }
    }
    ask("clear");

    // RSS sampler.
    let samples: Arc<Mutex<Vec<(f64, u64)>>> = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicUsize::new(0));
    let t0 = Instant::now();
    let sampler = {
        let (samples, stop) = (samples.clone(), stop.clone());
        std::thread::spawn(move || {
            while stop.load(Ordering::Relaxed) == 0 {
                samples
                    .lock()
                    .unwrap()
                    .push((t0.elapsed().as_secs_f64(), status_kb("VmRSS:")));
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    };
    let rss_before = status_kb("VmRSS:");
    let requests_before = session.stats().requests;
    let double_pid = child.id().to_string();
    let cpu_before = (cpu_s("self"), cpu_s(&double_pid));

    let next = AtomicUsize::new(0);
    let evacuated = AtomicU64::new(0);
    let failed = AtomicU64::new(0);
    let host_times: Mutex<Vec<(String, f64, f64)>> = Mutex::new(Vec::new());
    let t_run = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..p.host_concurrency {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(h) = hosts.get(i) else { break };
                let start = t_run.elapsed().as_secs_f64();
                let observe = |_e: &Event| {};
                match host::evacuate(&nova, Some(&glance), h, &opts, "bench", &observe) {
                    Ok(r) => {
                        evacuated.fetch_add(
                            r.count(|o| matches!(o, Outcome::Evacuated { .. })) as u64,
                            Ordering::Relaxed,
                        );
                        failed.fetch_add(r.failed() as u64, Ordering::Relaxed);
                    }
                    Err(e) => {
                        eprintln!("{h}: {e}");
                        failed.fetch_add(per_host, Ordering::Relaxed);
                    }
                }
                host_times
                    .lock()
                    .unwrap()
                    .push((h.clone(), start, t_run.elapsed().as_secs_f64()));
            });
        }
    });
    let wall = t_run.elapsed().as_secs_f64();
    let cpu = (
        cpu_s("self") - cpu_before.0,
        cpu_s(&double_pid) - cpu_before.1,
    );
    stop.store(1, Ordering::Relaxed);
    sampler.join().unwrap();
    let client_requests = session.stats().requests - requests_before;

    let server = ask("stats");
    let timings = ask("timings");
    drop(ask);
    drop(ctl);
    // Per failed host: [posts, first POST start, last POST end, gets, first GET start, last GET end]
    let mut phases = vec![[0f64, f64::MAX, 0f64, 0f64, f64::MAX, 0f64]; hosts.len()];
    // Requests in flight at the double, per 100 ms of the run, by kind
    // (evacuate POSTs, reads of one server, everything else): where the
    // bound is used and where it idles.
    let all: Vec<(String, String, f64, f64)> = timings
        .as_array()
        .map(|a| a.as_slice())
        .unwrap_or(&[])
        .iter()
        .map(|t| {
            (
                t[0].as_str().unwrap_or("").to_string(),
                t[1].as_str().unwrap_or("").to_string(),
                t[2].as_f64().unwrap_or(0.0),
                t[3].as_f64().unwrap_or(0.0),
            )
        })
        .collect();
    let t_lo = all.iter().map(|t| t.2).fold(f64::MAX, f64::min);
    let t_hi = all.iter().map(|t| t.3).fold(0.0, f64::max);
    let buckets = (((t_hi - t_lo) / 0.1).ceil() as usize).max(1);
    let mut profile = vec![[0f64; 3]; buckets];
    for (m, path, st, en) in &all {
        let kind = if m == "POST" && path.ends_with("/action") {
            0
        } else if m == "GET" && path.contains("/servers/") && !path.ends_with("/detail") {
            1
        } else {
            2
        };
        for (b, slot) in profile.iter_mut().enumerate() {
            let (b0, b1) = (t_lo + b as f64 * 0.1, t_lo + (b + 1) as f64 * 0.1);
            let overlap = en.min(b1) - st.max(b0);
            if overlap > 0.0 {
                slot[kind] += overlap / 0.1;
            }
        }
    }
    for t in timings.as_array().map(|a| a.as_slice()).unwrap_or(&[]) {
        let (m, path, st, en) = (
            t[0].as_str().unwrap_or(""),
            t[1].as_str().unwrap_or(""),
            t[2].as_f64().unwrap_or(0.0),
            t[3].as_f64().unwrap_or(0.0),
        );
        let mut parts = path.trim_end_matches('/').rsplit('/');
        let (last, prev) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        let (id, base) = if m == "POST" && last == "action" {
            (prev, 0)
        } else if m == "GET" && prev == "servers" && last != "detail" {
            (last, 3)
        } else {
            continue;
        };
        let Some(&k) = owner.get(id) else { continue };
        let ph = &mut phases[k];
        ph[base] += 1.0;
        ph[base + 1] = ph[base + 1].min(st);
        ph[base + 2] = ph[base + 2].max(en);
    }
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&state_dir);

    let samples = samples.lock().unwrap().clone();
    let mut ht = host_times.into_inner().unwrap();
    ht.sort_by(|a, b| a.1.total_cmp(&b.1));
    println!(
        "{}",
        json!({
            "per_host": per_host,
            "instances": per_host * p.failed,
            "wall_s": wall,
            "evacuated": evacuated.load(Ordering::Relaxed),
            "failed": failed.load(Ordering::Relaxed),
            "client_requests": client_requests,
            "vm_hwm_kb": status_kb("VmHWM:"),
            "rss_before_kb": rss_before,
            "rss_samples": samples,
            "server": server,
            "hosts": ht,
            "phases": phases,
            "profile": profile,
            "cpu_engine_s": cpu.0,
            "cpu_double_s": cpu.1,
        })
    );
}

fn run_child(per_host: u64) -> Value {
    let exe = std::env::current_exe().unwrap();
    let out = Command::new(exe)
        .args(["--one", &per_host.to_string()])
        .stderr(Stdio::inherit())
        .output()
        .expect("run child");
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.lines().last().unwrap_or(""))
        .unwrap_or_else(|e| panic!("child output ({e}): {text}"))
}

fn f(v: &Value, k: &str) -> f64 {
    v[k].as_f64().unwrap_or(0.0)
}

fn rss_profile(v: &Value) -> (u64, u64, u64) {
    // Median and max of VmRSS over the middle 80% of the run, and the last sample.
    let s: Vec<u64> = v["rss_samples"]
        .as_array()
        .map(|a| a.iter().filter_map(|x| x[1].as_u64()).collect())
        .unwrap_or_default();
    if s.is_empty() {
        return (0, 0, 0);
    }
    let lo = s.len() / 10;
    let hi = (s.len() - s.len() / 10).max(lo + 1);
    let mut mid: Vec<u64> = s[lo..hi].to_vec();
    mid.sort();
    (mid[mid.len() / 2], *mid.last().unwrap(), *s.last().unwrap())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--one") {
        one(args[2].parse().unwrap());
        return;
    }
    let p = Params::from_env();
    let per_host = env("PER_HOST", 100);
    let small = env("SMALL_PER_HOST", 25);
    let lat = p.latency_ms as f64 / 1000.0;
    println!(
        "scale: {} compute hosts, {} fail, {} instances each; double latency {} ms, evacuation {} ms; NovaEvacuate defaults: host_concurrency {}, concurrency {}, poll {} ms, completion arrived, policy auto",
        p.hosts, p.failed, per_host, p.latency_ms, p.evacuation_ms, p.host_concurrency, p.concurrency, p.poll_ms
    );
    let mut runs = vec![run_child(per_host)];
    if small > 0 && small != per_host {
        runs.push(run_child(small));
    }
    let big = &runs[0];

    // The bound: NovaEvacuate's shared limiter, `concurrency` requests in
    // flight across all hosts, each taking one latency.
    let bound = p.limit as f64;
    let limit = bound / lat;
    let server = &big["server"];
    let actions = server["actions"].as_f64().unwrap_or(0.0);
    let wall = f(big, "wall_s");
    let reqs = server["requests"]
        .as_f64()
        .unwrap_or(f(big, "client_requests"));
    let rps = reqs / wall;
    let evac_rps = actions / wall;
    let busy = f(server, "busy_s");
    println!();
    println!("{:<44} {:>14}", "metric", "value");
    println!("{:<44} {:>14}", "-".repeat(44), "-".repeat(14));
    let row = |k: &str, v: String| println!("{:<44} {:>14}", k, v);
    row(
        "instances evacuated (arrived) / failed",
        format!("{} / {}", big["evacuated"], big["failed"]),
    );
    row("wall time (s)", format!("{wall:.2}"));
    row(
        "peak RSS of the engine process (VmHWM, MiB)",
        format!("{:.1}", f(big, "vm_hwm_kb") / 1024.0),
    );
    row("requests served (double log)", format!("{reqs:.0}"));
    row(
        "requests sent (client count)",
        format!("{}", big["client_requests"]),
    );
    row(
        "TCP connections opened (double)",
        format!("{}", server["connections"]),
    );
    row("requests/s (all)", format!("{rps:.0}"));
    row("evacuate requests/s (whole run)", format!("{evac_rps:.0}"));
    row(
        "mean requests in flight (server busy/wall)",
        format!("{:.1}", busy / wall),
    );
    row(
        "peak requests in flight (server)",
        format!("{}", server["peak_in_flight"]),
    );
    row("in-flight bound (shared limiter)", format!("{bound:.0}"));
    row("limit = bound / latency (req/s)", format!("{limit:.0}"));
    row(
        "RATIO requests/s / limit",
        format!("{:.1}%", 100.0 * rps / limit),
    );
    // What one request really took at the double (its configured latency
    // plus its own work under this machine's load): the limit that the
    // bound allows with the latency the run actually saw.
    let served = busy / reqs;
    row(
        "mean request time at the double (ms)",
        format!("{:.1}", 1000.0 * served),
    );
    row(
        "RATIO requests/s / (bound / mean request time)",
        format!("{:.1}%", 100.0 * rps * served / bound),
    );
    let ideal = {
        // Lower bound on wall time with this bound and latency for the
        // evacuate requests alone.
        actions / limit
    };
    row(
        "evacuate requests alone at the limit (s)",
        format!("{ideal:.2}"),
    );
    // Both processes share this machine's cores: when their CPU time
    // nears cores x wall, request times at the double grow past the
    // configured latency (threads wait for a core).
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    row(
        "CPU s during the run: engine / double",
        format!(
            "{:.2} / {:.2}",
            f(big, "cpu_engine_s"),
            f(big, "cpu_double_s")
        ),
    );
    row(
        "CPU used of cores x wall (cores)",
        format!(
            "{:.0}% ({cores})",
            100.0 * (f(big, "cpu_engine_s") + f(big, "cpu_double_s")) / (cores as f64 * wall)
        ),
    );
    println!();
    println!("request mix: {}", server["kinds"]);
    println!();
    println!("memory (VmRSS sampled every 100 ms in the engine process):");
    println!(
        "{:<12} {:>10} {:>12} {:>12} {:>12} {:>12} {:>10}",
        "instances", "wall s", "RSS start", "RSS median", "RSS max", "RSS end", "VmHWM"
    );
    for r in &runs {
        let (med, max, end) = rss_profile(r);
        println!(
            "{:<12} {:>10.2} {:>10} K {:>10} K {:>10} K {:>10} K {:>8} K",
            r["instances"].to_string(),
            f(r, "wall_s"),
            r["rss_before_kb"].to_string(),
            med,
            max,
            end,
            r["vm_hwm_kb"].to_string()
        );
    }
    println!();
    println!("VmRSS over the run (MiB, at 0%, 10%, .. 100% of the wall time):");
    for r in &runs {
        let s: Vec<(f64, f64)> = r["rss_samples"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|x| {
                        (
                            x[0].as_f64().unwrap_or(0.0),
                            x[1].as_f64().unwrap_or(0.0) / 1024.0,
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        let (t_first, t_last) = (
            s.first().map_or(0.0, |x| x.0),
            s.last().map_or(0.0, |x| x.0),
        );
        let marks: Vec<String> = (0..=10)
            .map(|k| {
                let t = t_first + (t_last - t_first) * k as f64 / 10.0;
                let v = s.iter().find(|x| x.0 >= t).map_or(0.0, |x| x.1);
                format!("{v:.0}")
            })
            .collect();
        println!(
            "  {:>5} instances: {}",
            r["instances"].to_string(),
            marks.join(" ")
        );
    }
    println!();
    println!("requests in flight at the double per 100 ms (evacuate POST / GET one server / other; bound {bound:.0}):");
    for (b, v) in big["profile"]
        .as_array()
        .map(|a| a.as_slice())
        .unwrap_or(&[])
        .iter()
        .enumerate()
    {
        let k = |i: usize| v[i].as_f64().unwrap_or(0.0);
        println!(
            "  {:>5.1}s {:>5.1} {:>5.1} {:>5.1}  {}",
            b as f64 / 10.0,
            k(0),
            k(1),
            k(2),
            "#".repeat(((k(0) + k(1) + k(2)) / 2.0).round() as usize)
        );
    }
    println!();
    let firsts: Vec<f64> = big["phases"]
        .as_array()
        .map(|a| a.iter().filter_map(|ph| ph[1].as_f64()).collect())
        .unwrap_or_default();
    let t_first_post = firsts.iter().cloned().fold(f64::MAX, f64::min);
    let t_last_first = firsts.iter().cloned().fold(0.0, f64::max);
    println!("first evacuate request of the last host to start: {:.2} s after the first one (host_concurrency waves)", t_last_first - t_first_post);
    println!(
        "hosts (start..end s): {}",
        big["hosts"]
            .as_array()
            .map(|a| a
                .iter()
                .map(|h| format!(
                    "{}:{:.1}..{:.1}",
                    h[0].as_str().unwrap_or("?").trim_start_matches("compute-"),
                    h[1].as_f64().unwrap_or(0.0),
                    h[2].as_f64().unwrap_or(0.0)
                ))
                .collect::<Vec<_>>()
                .join(" "))
            .unwrap_or_default()
    );
}
