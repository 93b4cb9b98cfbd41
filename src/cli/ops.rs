//! `plan`, `recover`, `evacuate` and `metrics`.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::time::Duration;

use super::{print_json, table, Ctx};
use crate::engine::host::{self, HostOptions};
use crate::engine::params::host_options;
use crate::engine::run::Event;
use crate::engine::{ErrorInstances, Filtering, Plan};
use crate::error::{Error, Result};
use crate::fence::compute::{bring_back, compute_state, evacuation_open, ComputeState};
use crate::pacemaker::attrd;

/// The engine settings: NovaEvacuate's (with `--from-cib`) or the
/// defaults, then the command line's.
fn options(ctx: &Ctx, policy: Option<&str>, error_instances: Option<&str>) -> Result<HostOptions> {
    let mut o = host_options(&ctx.values)?;
    if let Some(p) = policy {
        o.policy.filtering = Filtering::parse(p)?;
    }
    if let Some(e) = error_instances {
        o.policy.error_instances = ErrorInstances::parse(e)?;
    }
    // An operator evacuating by hand has waited already.
    o.delay = Duration::ZERO;
    Ok(o)
}

pub fn render_plan(p: &Plan) -> String {
    let mut s = format!(
        "{}: policy {}: {} to evacuate, {} skipped\n",
        p.host,
        p.policy,
        p.selected.len(),
        p.skipped.len()
    );
    if !p.selected.is_empty() {
        let mut rows = vec![vec![
            "#".to_string(),
            "INSTANCE".into(),
            "NAME".into(),
            "STATUS".into(),
            "PRIORITY".into(),
            "ARRIVES".into(),
            "WHY".into(),
        ]];
        for (n, i) in p.selected.iter().enumerate() {
            let why = if i.action == "in-flight" {
                format!("{} (following it)", i.reason)
            } else {
                i.reason.clone()
            };
            rows.push(vec![
                (n + 1).to_string(),
                i.id.clone(),
                i.name.clone(),
                i.status.clone(),
                i.priority.to_string(),
                i.expect.map(|e| e.status().to_string()).unwrap_or_default(),
                why,
            ]);
        }
        s.push_str(&table(&rows));
    }
    if !p.skipped.is_empty() {
        s.push_str("skipped:\n");
        let mut rows = vec![vec![
            "  INSTANCE".to_string(),
            "NAME".into(),
            "STATUS".into(),
            "REASON".into(),
        ]];
        for i in &p.skipped {
            rows.push(vec![
                format!("  {}", i.id),
                i.name.clone(),
                i.status.clone(),
                i.reason.clone(),
            ]);
        }
        s.push_str(&table(&rows));
    }
    s
}

pub fn plan(
    ctx: &Ctx,
    name: &str,
    json: bool,
    policy: Option<&str>,
    error_instances: Option<&str>,
) -> Result<i32> {
    let opts = options(ctx, policy, error_instances)?;
    let (nova, glance) = ctx.connect()?;
    let svc = ctx.service(&nova, name)?;
    let p = Plan::build(&nova, Some(&glance), &svc.host, &opts.policy)?;
    if json {
        print_json(&p)?;
    } else {
        print!("{}", render_plan(&p));
        if compute_state(&svc) == ComputeState::On {
            println!(
                "note: {} is up and in service; this is what would happen if it failed now",
                svc.host
            );
        }
    }
    Ok(0)
}

pub fn recover(ctx: &Ctx, name: &str, force: bool) -> Result<i32> {
    let (nova, _) = ctx.connect()?;
    let svc = ctx.service(&nova, name)?;
    if compute_state(&svc) == ComputeState::On {
        println!("{}: already in service (up, enabled)", svc.host);
        return Ok(0);
    }
    if let Some(why) = evacuation_open(&nova, &svc)? {
        if !force {
            return Err(Error::Unsafe(format!(
                "{}: its evacuation is not over ({why}); bringing it back now could start nova-compute while its instances move. Wait, check 'instance-ha status', or use --force",
                svc.host
            )));
        }
        eprintln!(
            "WARNING: {}: evacuation still open ({why}); recovering anyway (--force)",
            svc.host
        );
    }
    if bring_back(&nova, &svc, "instance-ha")? {
        let after = ctx.service(&nova, &svc.host)?;
        println!(
            "{}: back in service (state {}, {}, forced_down={})",
            after.host, after.state, after.status, after.forced_down
        );
        Ok(0)
    } else {
        eprintln!(
            "ERROR: {}: Nova refuses forced_down=false until the restarted nova-compute has cleaned up its evacuated instances; recorded as 'recovering' (nova-compute-wait finishes it, or run this again later)",
            svc.host
        );
        Ok(1)
    }
}

fn event_line(e: &Event) -> String {
    match e {
        Event::Skipped { id, name, reason } => format!("skip      {id} ({name}): {reason}"),
        Event::Resumed { id, name } => format!("follow    {id} ({name}): already being evacuated"),
        Event::AlreadyEvacuated { id, to } => format!("done      {id}: already on {to}"),
        Event::Requested { id, name, attempt } => {
            format!("request   {id} ({name}) attempt {attempt}")
        }
        Event::Started { id, name, host } => format!("start     {id} ({name}) on {host}"),
        Event::Arrived {
            id,
            name,
            to,
            status,
            seconds,
        } => format!("arrived   {id} ({name}) {status} on {to} after {seconds:.1}s"),
        Event::Retrying {
            id,
            name,
            attempt,
            after,
            reason,
        } => format!(
            "retry     {id} ({name}): {reason}; attempt {attempt} in {:.0}s",
            after.as_secs_f64()
        ),
        Event::Failed { id, name, reason } => format!("FAILED    {id} ({name}): {reason}"),
    }
}

fn who() -> String {
    let h = nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "localhost".into());
    // Markers are split on whitespace: one word.
    format!(
        "instance-ha@{}",
        h.split_whitespace().next().unwrap_or("localhost")
    )
}

pub fn evacuate(
    ctx: &Ctx,
    name: &str,
    yes: bool,
    policy: Option<&str>,
    error_instances: Option<&str>,
    target: Option<&str>,
) -> Result<i32> {
    let mut opts = options(ctx, policy, error_instances)?;
    if let Some(t) = target {
        opts.run.target_host = Some(t.to_string());
    }
    let (nova, glance) = ctx.connect()?;
    let svc = ctx.service(&nova, name)?;
    // The engine checks again; refusing before asking is friendlier.
    host::check_down(&svc)?;
    let host = svc.host.clone();
    if !yes {
        let p = Plan::build(&nova, Some(&glance), &host, &opts.policy)?;
        print!("{}", render_plan(&p));
        if !std::io::stdin().is_terminal() {
            return Err(Error::usage(format!(
                "not evacuating {host} without confirmation: add --yes"
            )));
        }
        print!(
            "Evacuate {} instance(s) from {host}? [y/N] ",
            p.selected.len()
        );
        let _ = std::io::stdout().flush();
        let mut answer = String::new();
        let _ = std::io::stdin().lock().read_line(&mut answer);
        if !matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
            println!("not evacuating {host}");
            return Ok(1);
        }
    }
    let by = who();
    let observe = |e: &Event| {
        host::log_event(&host, e);
        println!("{host}: {}", event_line(e));
    };
    let report = host::evacuate(&nova, Some(&glance), &host, &opts, &by, &observe)?;
    println!();
    print!("{}", report.table());
    // What NovaEvacuate does when it finishes: attrd says done (or to do).
    if let Ok(Some(_)) = attrd::query(&host, attrd::EVACUATE) {
        let v = if report.success() { "no" } else { "yes" };
        if let Err(e) = attrd::set(&host, attrd::EVACUATE, v) {
            crate::warn!("{host}: cannot set evacuate={v}: {e}");
        }
    }
    Ok(if report.success() { 0 } else { 1 })
}

pub fn metrics(ctx: &Ctx, output: Option<&Path>) -> Result<i32> {
    // Nova is optional here: without it the journal metrics still count.
    let services = match ctx
        .connect()
        .and_then(|(nova, _)| nova.compute_services(None))
    {
        Ok(s) => Some(s),
        Err(e) => {
            crate::warn!("metrics without Nova host states: {e}");
            None
        }
    };
    let records = crate::journal::read_all();
    let text = crate::metrics::render(&crate::metrics::Inputs {
        records: &records,
        services: services.as_deref(),
        heartbeat: crate::metrics::helper_heartbeat(),
    });
    match output {
        Some(p) => crate::metrics::write_atomic(p, &text)?,
        None => print!("{text}"),
    }
    Ok(0)
}
