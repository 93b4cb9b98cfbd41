//! Evacuating one failed host, end to end, for fence_evacuate and
//! NovaEvacuate: check it is safe, mark the evacuation in Nova, plan, run,
//! mark the result, write the journal.

use std::time::Duration;

use super::plan::Plan;
use super::report::Report;
use super::run::{self, Event, RunConfig};
use super::select::Policy;
use crate::error::{Error, Result};
use crate::journal;
use crate::openstack::{Glance, Nova, Service, ServiceUpdate};
use crate::state::{Marker, Phase};

#[derive(Debug, Clone)]
pub struct HostOptions {
    pub policy: Policy,
    pub run: RunConfig,
    /// Wait this long after the host was fenced before the first request
    /// (storage leases, NFS locks).
    pub delay: Duration,
    /// What is tagged evacuable in the cloud, when the caller keeps it
    /// fresh (NovaEvacuate's helper does, so a failed host is planned
    /// without first listing every flavor and image).
    pub catalog: Option<super::select::Tagged>,
}

/// The nova-compute service of `host`.
pub fn service(nova: &Nova, host: &str) -> Result<Service> {
    nova.compute_services(Some(host))?
        .into_iter()
        .find(|s| s.host == host)
        .ok_or_else(|| Error::NotFound(format!("no nova-compute service for host '{host}'")))
}

/// Refuse unless Nova shows the host down (forced down, or its service
/// reported down): Nova itself refuses evacuations from a host it believes
/// up, but a half-dead host must not even be tried.
pub fn check_down(s: &Service) -> Result<()> {
    if s.forced_down || s.state == "down" {
        Ok(())
    } else {
        Err(Error::Unsafe(format!(
            "{}: Nova shows nova-compute up and not forced down: not evacuating a host that may still run its instances",
            s.host
        )))
    }
}

fn mark(nova: &Nova, s: &Service, m: &Marker) {
    let upd = ServiceUpdate {
        enabled: Some(false),
        disabled_reason: Some(m.render()),
        ..Default::default()
    };
    if let Err(e) = nova.update_service(s, &upd) {
        crate::warn!(
            "{}: could not record '{}' in Nova: {e}",
            s.host,
            m.phase.name()
        );
    }
}

/// Log one line per event, as the agents do.
pub fn log_event(host: &str, e: &Event) {
    match e {
        Event::Skipped { id, name, reason } => crate::info!("{host}: skip {id} ({name}): {reason}"),
        Event::Resumed { id, name } => {
            crate::info!("{host}: {id} ({name}) already being evacuated: following it")
        }
        Event::AlreadyEvacuated { id, to } => {
            crate::info!("{host}: {id} already evacuated to {to}")
        }
        Event::Requested { id, name, attempt } => {
            crate::info!("{host}: evacuate {id} ({name}) attempt {attempt}")
        }
        Event::Started { id, name, host: h } => {
            crate::info!("{host}: {id} ({name}) arrived stopped on {h}: starting it")
        }
        Event::Arrived {
            id,
            name,
            to,
            status,
            seconds,
        } => crate::info!("{host}: {id} ({name}) {status} on {to} after {seconds:.1}s"),
        Event::Retrying {
            id,
            name,
            attempt,
            after,
            reason,
        } => {
            crate::warn!(
                "{host}: {id} ({name}): {reason}; attempt {attempt} in {:.0}s",
                after.as_secs_f64()
            )
        }
        Event::Failed { id, name, reason } => {
            crate::error!("{host}: {id} ({name}) FAILED: {reason}")
        }
    }
}

/// Evacuate `host`. `by` names the caller in Nova's markers.
pub fn evacuate(
    nova: &Nova,
    glance: Option<&Glance>,
    host: &str,
    opts: &HostOptions,
    by: &str,
    observe: &(dyn Fn(&Event) + Sync),
) -> Result<Report> {
    let svc = service(nova, host)?;
    check_down(&svc)?;
    let marker = Marker::parse(svc.disabled_reason.as_deref());
    // The fence time decides which migration records are this failure's.
    let fenced_at = marker.as_ref().filter(|m| m.since > 0).map(|m| m.since);
    if !opts.delay.is_zero() {
        let since = fenced_at.unwrap_or_else(crate::time::now);
        let due = since + opts.delay.as_secs();
        let now = crate::time::now();
        if due > now {
            crate::info!(
                "{host}: evacuate_delay: waiting {}s before evacuating",
                due - now
            );
            std::thread::sleep(Duration::from_secs(due - now));
        }
    }
    let started = Marker::new(Phase::Evacuating, by);
    // Recording `evacuating` and reading the host's servers are independent
    // requests: one round trip instead of two before the first evacuate
    // request. The record is written before any evacuate request is sent.
    let plan = std::thread::scope(|s| {
        s.spawn(|| mark(nova, &svc, &started));
        match &opts.catalog {
            Some(tagged) => nova
                .servers_on_host(host)
                .map(|list| Plan::from_servers(host, list, &opts.policy, tagged)),
            None => Plan::build(nova, glance, host, &opts.policy),
        }
    })?;
    crate::info!(
        "{host}: plan: {} to evacuate, {} skipped (policy {})",
        plan.selected.len(),
        plan.skipped.len(),
        plan.policy
    );
    let mut cfg = opts.run.clone();
    cfg.by = by.to_string();
    cfg.since = cfg.since.or(fenced_at).or(Some(started.since));
    let report = run::evacuate(nova, &plan, &cfg, observe);
    let done = if report.success() {
        Marker::new(Phase::Evacuated, by)
    } else {
        Marker::new(Phase::Incomplete, by).with_note(format!(
            "{} of {} failed",
            report.failed(),
            report.instances.len()
        ))
    };
    // Re-read: fence_compute may have changed the record meanwhile.
    match service(nova, host) {
        Ok(now) => {
            let cur = Marker::parse(now.disabled_reason.as_deref());
            // A host already being brought back (recovering) keeps that state.
            if !cur.is_some_and(|m| m.phase == Phase::Recovering) {
                mark(nova, &now, &done);
            }
        }
        Err(e) => crate::warn!("{host}: cannot re-read the service: {e}"),
    }
    journal::record(&report);
    crate::info!("{}", report.summary());
    Ok(report)
}
