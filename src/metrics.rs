//! Prometheus metrics in the text exposition format, for node_exporter's
//! textfile collector (`--collector.textfile.directory`): `instance-ha
//! metrics --output /var/lib/node_exporter/textfile/instance_ha.prom`
//! from a timer, or NovaEvacuate's helper with `metrics_file` set.
//!
//! Sources: the journal (counters, durations, last success), Nova's
//! nova-compute services (hosts per evacuation state, from the markers in
//! `disabled_reason`, see `crate::state`) and the NovaEvacuate helper's
//! heartbeat. Counters come from the journal, so they restart from what
//! the kept (rotated) journal files hold; Prometheus treats a decrease as
//! a counter reset.
//!
//! The file is written atomically (a temporary file in the same
//! directory, then rename), so the collector never reads half a file.

use std::fmt::Write as _;
use std::fs;
use std::io::Write as _;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::error::{Error, Result};
use crate::openstack::Service;
use crate::params::Param;
use crate::state::{Marker, Phase};

/// NovaEvacuate parameter: where the helper keeps the metrics file.
pub const METRICS_FILE: Param = Param {
    long: Some("metrics-file"),
    longdesc: "Path of a Prometheus textfile (e.g. /var/lib/prometheus/node-exporter/instance_ha.prom) the helper rewrites atomically every few seconds: evacuation counters and durations from the journal, compute hosts per evacuation state, the helper's heartbeat. Empty: none.",
    ..Param::new("metrics_file", "Prometheus textfile to keep up to date")
};

/// Histogram buckets for one host's evacuation, in seconds.
pub const DURATION_BUCKETS: &[f64] = &[
    10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0,
];

/// Label values of `instance_ha_hosts`.
pub const HOST_STATES: &[&str] = &[
    "pending",
    "evacuating",
    "evacuated",
    "incomplete",
    "recovering",
    "in_service",
    "disabled_other",
];

/// What the metrics are computed from.
#[derive(Debug, Default)]
pub struct Inputs<'a> {
    /// Journal records (`journal::read_all`); only `type: evacuation` count.
    pub records: &'a [Value],
    /// Nova's nova-compute services; `None` when Nova could not be read.
    pub services: Option<&'a [Service]>,
    /// Last heartbeat of the NovaEvacuate helper (seconds since the epoch).
    pub heartbeat: Option<f64>,
}

/// Evacuation state of one compute host, as a `state` label value.
pub fn host_state(s: &Service) -> &'static str {
    match Marker::parse(s.disabled_reason.as_deref()).map(|m| m.phase) {
        Some(Phase::Pending) => "pending",
        Some(Phase::Evacuating) => "evacuating",
        Some(Phase::Evacuated) => "evacuated",
        Some(Phase::Incomplete) => "incomplete",
        Some(Phase::Recovering) => "recovering",
        None if s.status == "enabled" && !s.forced_down => "in_service",
        None => "disabled_other",
    }
}

#[derive(Debug, Default)]
struct Totals {
    finished: u64,
    failed: u64,
    evacuated: u64,
    instances_failed: u64,
    skipped: u64,
    buckets: Vec<u64>,
    sum: f64,
    last_success: Option<f64>,
}

fn totals(records: &[Value]) -> Totals {
    let mut t = Totals {
        buckets: vec![0; DURATION_BUCKETS.len()],
        ..Totals::default()
    };
    for r in records
        .iter()
        .filter(|r| r.get("type").and_then(Value::as_str) == Some("evacuation"))
    {
        t.finished += 1;
        let secs = r
            .get("seconds")
            .and_then(Value::as_f64)
            .unwrap_or(0.0)
            .max(0.0);
        t.sum += secs;
        for (i, b) in DURATION_BUCKETS.iter().enumerate() {
            if secs <= *b {
                t.buckets[i] += 1;
            }
        }
        let mut failed = 0;
        for i in r
            .get("instances")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or(&[])
        {
            match i.get("outcome").and_then(Value::as_str).unwrap_or("") {
                "evacuated" | "already-evacuated" | "accepted" => t.evacuated += 1,
                "failed" => failed += 1,
                "skipped" => t.skipped += 1,
                _ => {}
            }
        }
        t.instances_failed += failed;
        if failed > 0 {
            t.failed += 1;
        } else {
            let end = r
                .get("started")
                .and_then(Value::as_f64)
                .map(|s| s + secs)
                .or_else(|| r.get("time").and_then(Value::as_f64));
            if let Some(e) = end {
                t.last_success = Some(t.last_success.map_or(e, |l: f64| l.max(e)));
            }
        }
    }
    t
}

fn num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

fn head(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// The exposition text.
pub fn render(inp: &Inputs) -> String {
    let t = totals(inp.records);
    let mut o = String::new();
    let open = inp
        .services
        .map(|s| s.iter().filter(|s| host_state(s) == "evacuating").count() as u64);

    head(&mut o, "instance_ha_evacuations_started_total", "counter", "Host evacuations started (finished ones from the journal plus those Nova records as running).");
    let _ = writeln!(
        o,
        "instance_ha_evacuations_started_total {}",
        t.finished + open.unwrap_or(0)
    );
    head(
        &mut o,
        "instance_ha_evacuations_finished_total",
        "counter",
        "Host evacuations finished, successful or not (journal).",
    );
    let _ = writeln!(o, "instance_ha_evacuations_finished_total {}", t.finished);
    head(
        &mut o,
        "instance_ha_evacuations_failed_total",
        "counter",
        "Host evacuations that finished with at least one failed instance (journal).",
    );
    let _ = writeln!(o, "instance_ha_evacuations_failed_total {}", t.failed);

    head(
        &mut o,
        "instance_ha_evacuation_duration_seconds",
        "histogram",
        "Time to evacuate one host, first request to last instance settled (journal).",
    );
    for (i, b) in DURATION_BUCKETS.iter().enumerate() {
        let _ = writeln!(
            o,
            "instance_ha_evacuation_duration_seconds_bucket{{le=\"{}\"}} {}",
            num(*b),
            t.buckets[i]
        );
    }
    let _ = writeln!(
        o,
        "instance_ha_evacuation_duration_seconds_bucket{{le=\"+Inf\"}} {}",
        t.finished
    );
    let _ = writeln!(
        o,
        "instance_ha_evacuation_duration_seconds_sum {}",
        num((t.sum * 1000.0).round() / 1000.0)
    );
    let _ = writeln!(
        o,
        "instance_ha_evacuation_duration_seconds_count {}",
        t.finished
    );

    head(
        &mut o,
        "instance_ha_instances_total",
        "counter",
        "Instances of evacuated hosts by outcome (journal).",
    );
    for (k, v) in [
        ("evacuated", t.evacuated),
        ("failed", t.instances_failed),
        ("skipped", t.skipped),
    ] {
        let _ = writeln!(o, "instance_ha_instances_total{{outcome=\"{k}\"}} {v}");
    }

    head(
        &mut o,
        "instance_ha_last_successful_evacuation_timestamp_seconds",
        "gauge",
        "End of the last host evacuation without failures, seconds since the epoch (0: none).",
    );
    let _ = writeln!(
        o,
        "instance_ha_last_successful_evacuation_timestamp_seconds {}",
        num(t.last_success.unwrap_or(0.0).round())
    );

    head(
        &mut o,
        "instance_ha_nova_up",
        "gauge",
        "1 when Nova's compute services could be read for this file.",
    );
    let _ = writeln!(
        o,
        "instance_ha_nova_up {}",
        u8::from(inp.services.is_some())
    );
    if let Some(services) = inp.services {
        head(&mut o, "instance_ha_hosts", "gauge", "nova-compute hosts per evacuation state (Nova's disabled_reason markers; in_service: no marker, enabled; disabled_other: disabled or forced down by someone else).");
        for st in HOST_STATES {
            let n = services.iter().filter(|s| host_state(s) == *st).count();
            let _ = writeln!(o, "instance_ha_hosts{{state=\"{st}\"}} {n}");
        }
    }

    head(&mut o, "instance_ha_helper_heartbeat_timestamp_seconds", "gauge", "Last heartbeat of the NovaEvacuate helper, seconds since the epoch (0: no helper on this node).");
    let _ = writeln!(
        o,
        "instance_ha_helper_heartbeat_timestamp_seconds {}",
        num((inp.heartbeat.unwrap_or(0.0) * 1000.0).round() / 1000.0)
    );
    o
}

/// Write `text` to `path` atomically: a temporary file in the same
/// directory (world-readable, as the collector runs as another user),
/// flushed, then renamed over the target.
pub fn write_atomic(path: &Path, text: &str) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| Error::usage(format!("{}: not a file name", path.display())))?;
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        name.to_string_lossy(),
        std::process::id()
    ));
    let res = (|| -> std::io::Result<()> {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&tmp, fs::Permissions::from_mode(0o644))?;
        fs::rename(&tmp, path)
    })();
    if let Err(e) = res {
        let _ = fs::remove_file(&tmp);
        return Err(Error::io(format!("cannot write {}", path.display()), e));
    }
    Ok(())
}

/// The last heartbeat of any NovaEvacuate helper on this node (its state
/// files in `HA_RSCTMP`, default /run/resource-agents).
pub fn helper_heartbeat() -> Option<f64> {
    let dir = std::env::var_os("HA_RSCTMP")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| "/run/resource-agents".into());
    fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok())
        .filter(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            n.starts_with("NovaEvacuate-") && n.ends_with(".state")
        })
        .filter_map(|e| {
            serde_json::from_str::<crate::ocf::daemon::Heartbeat>(
                &fs::read_to_string(e.path()).ok()?,
            )
            .ok()
        })
        .map(|h| h.time)
        .fold(None, |a: Option<f64>, t| Some(a.map_or(t, |a| a.max(t))))
}

/// Called by the NovaEvacuate helper at every heartbeat: rewrites `path`
/// at most every 5 s from the helper's cached Nova services (no extra
/// Nova call). Failures are logged once a minute and never stop it.
pub fn helper_tick(path: &str, services: &[Service], heartbeat: f64) {
    static LAST: Mutex<Option<(Instant, Option<Instant>)>> = Mutex::new(None);
    let Ok(mut last) = LAST.lock() else { return };
    if last.is_some_and(|(t, _)| t.elapsed() < Duration::from_secs(5)) {
        return;
    }
    let said = last.and_then(|(_, s)| s);
    let records = crate::journal::read_all();
    let text = render(&Inputs {
        records: &records,
        services: (!services.is_empty()).then_some(services),
        heartbeat: Some(heartbeat),
    });
    let mut said_now = said;
    if let Err(e) = write_atomic(Path::new(path), &text) {
        if said.map_or(true, |s| s.elapsed() >= Duration::from_secs(60)) {
            crate::warn!("metrics_file: {e}");
            said_now = Some(Instant::now());
        }
    }
    *last = Some((Instant::now(), said_now));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn svc(host: &str, status: &str, reason: Option<&str>) -> Service {
        serde_json::from_value(serde_json::json!({
            "id": host, "binary": "nova-compute", "host": host, "zone": "nova", "status": status,
            "state": "up", "forced_down": false, "disabled_reason": reason,
        }))
        .unwrap()
    }

    #[test]
    fn totals_and_states() {
        let recs = vec![
            serde_json::json!({"type": "evacuation", "host": "c1", "started": 100, "seconds": 42.5, "instances": [
                {"outcome": "evacuated"}, {"outcome": "skipped"}]}),
            serde_json::json!({"type": "evacuation", "host": "c2", "started": 200, "seconds": 700.0, "instances": [
                {"outcome": "evacuated"}, {"outcome": "failed"}]}),
            serde_json::json!({"type": "other"}),
        ];
        let services = vec![
            svc("c1", "enabled", None),
            svc(
                "c2",
                "disabled",
                Some("instance-ha: evacuating since 2026-11-21T20:47:29Z by ctl1"),
            ),
            svc("c3", "disabled", Some("disk swap")),
        ];
        let text = render(&Inputs {
            records: &recs,
            services: Some(&services),
            heartbeat: Some(5.0),
        });
        for want in [
            "instance_ha_evacuations_finished_total 2\n",
            "instance_ha_evacuations_started_total 3\n",
            "instance_ha_evacuations_failed_total 1\n",
            "instance_ha_evacuation_duration_seconds_bucket{le=\"60\"} 1\n",
            "instance_ha_evacuation_duration_seconds_bucket{le=\"1200\"} 2\n",
            "instance_ha_evacuation_duration_seconds_sum 742.5\n",
            "instance_ha_instances_total{outcome=\"evacuated\"} 2\n",
            "instance_ha_last_successful_evacuation_timestamp_seconds 143\n",
            "instance_ha_hosts{state=\"in_service\"} 1\n",
            "instance_ha_hosts{state=\"evacuating\"} 1\n",
            "instance_ha_hosts{state=\"disabled_other\"} 1\n",
            "instance_ha_helper_heartbeat_timestamp_seconds 5\n",
        ] {
            assert!(text.contains(want), "missing {want:?} in\n{text}");
        }
        let none = render(&Inputs::default());
        assert!(none.contains("instance_ha_nova_up 0\n") && !none.contains("instance_ha_hosts{"));
    }
}
