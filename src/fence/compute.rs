//! `fence_compute`: tells Nova a fenced compute host is down, and puts it
//! back in service when it returns. Drop-in for fence-agents' Python agent:
//! same options, same stdin protocol, same `evacuate` attribute.
//!
//! * off/reboot: `forced_down=true`, disable with a reason that records the
//!   evacuation as pending (durable: see `crate::state`), `attrd_updater -p
//!   -n evacuate -N <host> -U yes`; then check Nova shows it, so success is
//!   only reported when it is true.
//! * on (unfencing, when the node rejoins, before nova-compute starts):
//!   wait, bounded, until the host's evacuation is over; then
//!   `forced_down=false` and enable. Nova refuses `forced_down=false` until
//!   the restarted nova-compute has cleaned up its evacuated instances, and
//!   nova-compute only starts after unfencing: so a refusal is recorded as
//!   `recovering` and logged, the node is let in, and nova-compute-wait (or
//!   a later `on`, or `instance-ha recover`) finishes the job.
//! * status: up+enabled on, down+disabled off, down (enabled) failed, up
//!   (disabled) running; only `off` exits 2, as the reference.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::common::*;
use super::{Action, FenceAgent, Power, Request};
use crate::cloud_params::{self, *};
use crate::error::{Error, Result};
use crate::hostmap;
use crate::openstack::{Migration, MigrationFilter, Nova, Service, ServiceUpdate};
use crate::pacemaker::attrd;
use crate::params::{Kind, Param};
use crate::state::{Marker, Phase};

pub const EVACUATION_WAIT: Param = Param {
    long: Some("evacuation-wait"),
    metavar: Some("[seconds]"),
    kind: Kind::Seconds,
    default: Some("40"),
    longdesc: "On unfencing, how long to wait for the host's evacuation to finish before failing the unfence (Pacemaker retries it). Keep it below the device's pcmk_on_timeout. Not used when ocf:openstack:nova-compute-wait is configured in the cluster: then unfencing lets the node rejoin at once and nova-compute-wait holds nova-compute until the evacuation is over (a waiting unfence holds pacemaker-fenced and every transition with it).",
    ..Param::new("evacuation_wait", "Seconds 'on' waits for a running evacuation")
};

static TABLE: &[Param] = &[
    ACTION,
    AUTH_URL,
    ENDPOINT_TYPE,
    USERNAME,
    PASSWORD,
    PASSWORD_SCRIPT,
    PLUG,
    REGION_NAME,
    TENANT_NAME,
    INSECURE,
    PROJECT_DOMAIN,
    USER_DOMAIN,
    DOMAIN,
    INSTANCE_FILTERING,
    NO_SHARED_STORAGE,
    RECORD_ONLY,
    COMPUTE_DOMAIN,
    CLOUD,
    CLOUDS_YAML,
    CACERT,
    USER_ID,
    PROJECT_ID,
    APP_CRED_ID,
    APP_CRED_NAME,
    APP_CRED_SECRET,
    CONNECT_TIMEOUT,
    API_TIMEOUT,
    TOKEN_CACHE,
    EVACUATION_WAIT,
    QUIET,
    VERBOSE,
    VERBOSE_LEVEL,
    DEBUG_FILE,
    VERSION,
    HELP,
    PLUG_SEPARATOR,
    SEPARATOR,
    DELAY,
    DISABLE_TIMEOUT,
    LOGIN_TIMEOUT,
    POWER_TIMEOUT,
    POWER_WAIT,
    SHELL_TIMEOUT,
    STONITH_STATUS_SLEEP,
    RETRY_ON,
];

static ACTIONS: &[(Action, bool)] = &[
    (Action::On, true),
    (Action::Off, false),
    (Action::Reboot, false),
    (Action::Status, false),
    (Action::List, false),
    (Action::ListStatus, false),
    (Action::Monitor, false),
    (Action::ValidateAll, false),
];

/// Who we are in `disabled_reason` markers.
const BY: &str = "fence_compute";

pub struct FenceCompute;

/// A connection plus the target resolved to its Nova host name.
struct Target {
    nova: Nova,
    service: Service,
}

fn connect(req: &Request) -> Result<Nova> {
    Ok(Nova::new(Arc::new(cloud_params::session(&req.values)?)))
}

fn target(req: &Request) -> Result<Target> {
    let nova = connect(req)?;
    let services = nova.compute_services(None)?;
    let hosts: Vec<String> = services.iter().map(|s| s.host.clone()).collect();
    let host = hostmap::resolve(
        req.plug()?,
        &hosts,
        cloud_params::dns_domain(&req.values).as_deref(),
    )?;
    let service = services
        .into_iter()
        .find(|s| s.host == host)
        .expect("resolved from this list");
    debug!(
        "{} is Nova host {} (service {}: {} {}, forced_down={})",
        req.plug()?,
        host,
        service.id,
        service.state,
        service.status,
        service.forced_down
    );
    Ok(Target { nova, service })
}

/// The reference's four states, from the nova-compute service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ComputeState {
    On,
    Off,
    Failed,
    Running,
}

pub fn compute_state(s: &Service) -> ComputeState {
    let up = s.state == "up" && !s.forced_down;
    let enabled = s.status == "enabled";
    match (up, enabled) {
        (true, true) => ComputeState::On,
        (false, false) => ComputeState::Off,
        (false, true) => ComputeState::Failed,
        (true, false) => ComputeState::Running,
    }
}

/// Evacuation migrations from `host` that Nova has not finished.
fn running_evacuations(nova: &Nova, host: &str) -> Result<Vec<Migration>> {
    let f = MigrationFilter {
        source_compute: Some(host.to_string()),
        migration_type: Some("evacuation".into()),
        ..Default::default()
    };
    Ok(nova
        .migrations(&f)?
        .into_iter()
        .filter(|m| {
            matches!(
                m.status.as_str(),
                "accepted" | "pre-migrating" | "migrating" | "preparing" | "queued"
            )
        })
        .collect())
}

/// Why the host's evacuation is not over yet, or `None` when it is.
pub fn evacuation_open(nova: &Nova, service: &Service) -> Result<Option<String>> {
    if let Some(m) = Marker::parse(service.disabled_reason.as_deref()) {
        if m.phase.evacuation_open() {
            return Ok(Some(format!(
                "Nova records the evacuation as {} (by {})",
                m.phase.name(),
                m.by
            )));
        }
    }
    match attrd::query(&service.host, attrd::EVACUATE) {
        Ok(Some(v)) => match attrd::parse_mark(&v) {
            attrd::Mark::Yes => return Ok(Some("attrd evacuate=yes".into())),
            attrd::Mark::InProgress { by, .. } => {
                return Ok(Some(format!(
                    "attrd shows an evacuation by {by} in progress"
                )))
            }
            _ => {}
        },
        Ok(None) => {}
        // attrd is a fast signal, not the record: Nova decides.
        Err(e) => debug!("attrd not readable ({e}); relying on Nova"),
    }
    let running = running_evacuations(nova, &service.host)?;
    if !running.is_empty() {
        return Ok(Some(format!(
            "{} evacuation migration(s) from {} still running",
            running.len(),
            service.host
        )));
    }
    Ok(None)
}

/// Bring a host back into service: `forced_down=false`, then enable.
/// Returns `Ok(false)` when Nova refuses because the restarted nova-compute
/// has not cleaned up its evacuated instances yet (the host is then marked
/// `recovering`), `Ok(true)` when the host is back. Shared with
/// nova-compute-wait and `instance-ha recover`.
pub fn bring_back(nova: &Nova, service: &Service, by: &str) -> Result<bool> {
    let host = &service.host;
    if service.forced_down {
        match nova.update_service(
            service,
            &ServiceUpdate {
                forced_down: Some(false),
                ..Default::default()
            },
        ) {
            Ok(_) => info!("{host}: forced_down=false accepted"),
            Err(e) if e.http_status() == Some(400) => {
                let marker = Marker::new(Phase::Recovering, by)
                    .with_note("waiting for nova-compute to clean up evacuated instances");
                if let Err(e2) = nova.update_service(
                    service,
                    &ServiceUpdate {
                        enabled: Some(false),
                        disabled_reason: Some(marker.render()),
                        ..Default::default()
                    },
                ) {
                    warn!("{host}: could not record the recovering state: {e2}");
                }
                warn!(
                    "{host}: still forced down: Nova refuses forced_down=false until the restarted nova-compute has cleaned up its evacuated instances ({e}); recorded as 'recovering' in the service's disabled_reason: nova-compute-wait finishes it once Nova accepts (or run: instance-ha recover {host})"
                );
                return Ok(false);
            }
            Err(e) => return Err(e),
        }
    }
    let ours = service.disabled_reason.as_deref().map_or(true, |r| {
        r.trim().is_empty() || Marker::parse(Some(r)).is_some()
    });
    if service.status != "enabled" {
        if ours {
            nova.update_service(
                service,
                &ServiceUpdate {
                    enabled: Some(true),
                    ..Default::default()
                },
            )?;
            info!("{host}: nova-compute service enabled");
        } else {
            warn!(
                "{host}: left disabled: its disabled_reason is not ours ({})",
                service.disabled_reason.as_deref().unwrap_or("")
            );
        }
    }
    Ok(true)
}

impl FenceAgent for FenceCompute {
    fn name(&self) -> &'static str {
        "fence_compute"
    }
    fn shortdesc(&self) -> &'static str {
        "Fence agent for the automatic resurrection of OpenStack compute instances"
    }
    fn longdesc(&self) -> &'static str {
        "Used to tell Nova that compute nodes are down and to reschedule flagged instances. Put it in the same fencing level as the node's power fence device: off forces the nova-compute service down and disables it (recording a pending evacuation in Nova and in the attrd attribute 'evacuate'), on (unfencing) waits for the evacuation to finish and brings the service back."
    }
    fn table(&self) -> &'static [Param] {
        TABLE
    }
    fn actions(&self) -> &'static [(Action, bool)] {
        ACTIONS
    }

    fn validate(&self, req: &Request) -> Result<()> {
        cloud_params::cloud_config(&req.values, |k| std::env::var(k).ok()).map(|_| ())
    }

    fn status(&self, req: &Request) -> Result<Power> {
        let t = target(req)?;
        let st = compute_state(&t.service);
        info!(
            "status of {}: {:?} (state {}, status {}, forced_down {})",
            t.service.host, st, t.service.state, t.service.status, t.service.forced_down
        );
        Ok(if st == ComputeState::Off {
            Power::Off
        } else {
            Power::On
        })
    }

    fn off(&self, req: &Request) -> Result<()> {
        if matches!(
            req.get("record_only"),
            Some("2") | Some("Disabled") | Some("disabled")
        ) {
            info!(
                "record_only={}: nothing to do",
                req.get("record_only").unwrap_or("")
            );
            return Ok(());
        }
        let t = target(req)?;
        let host = t.service.host.clone();
        let nova = &t.nova;
        if !t.service.forced_down {
            nova.update_service(
                &t.service,
                &ServiceUpdate {
                    forced_down: Some(true),
                    ..Default::default()
                },
            )?;
            info!("{host}: nova-compute forced down");
        }
        // Keep an evacuation that is already under way in its phase; any
        // other state (new failure, or a host that died again) is pending.
        let current = Marker::parse(t.service.disabled_reason.as_deref());
        let keep = current
            .as_ref()
            .is_some_and(|m| matches!(m.phase, Phase::Pending | Phase::Evacuating));
        if !keep || t.service.status != "disabled" {
            let reason = match current.filter(|_| keep) {
                Some(m) => m.render(),
                None => Marker::new(Phase::Pending, BY).render(),
            };
            nova.update_service(
                &t.service,
                &ServiceUpdate {
                    enabled: Some(false),
                    disabled_reason: Some(reason),
                    ..Default::default()
                },
            )?;
            info!("{host}: nova-compute disabled, evacuation pending");
        }
        attrd::set(&host, attrd::EVACUATE, "yes")?;
        info!("{host}: attrd evacuate=yes");
        // Report success only for what Nova really shows.
        let after = nova
            .compute_services(Some(&host))?
            .into_iter()
            .find(|s| s.host == host)
            .ok_or_else(|| Error::NotFound(format!("{host}: service vanished")))?;
        if !after.forced_down || after.status != "disabled" {
            return Err(Error::BadResponse {
                service: "compute".into(),
                message: format!(
                    "{host}: Nova accepted the update but shows forced_down={} status={}",
                    after.forced_down, after.status
                ),
            });
        }
        info!("{host}: fenced in Nova (forced down, disabled, evacuation pending)");
        Ok(())
    }

    fn on(&self, req: &Request) -> Result<()> {
        let t = target(req)?;
        let host = t.service.host.clone();
        let wait = req
            .values
            .duration("evacuation_wait")?
            .unwrap_or(Duration::from_secs(40));
        let deadline = Instant::now() + wait;
        let mut service = t.service.clone();
        let mut open = evacuation_open(&t.nova, &service)?;
        if hold_configured() {
            // Waiting here would hold pacemaker-fenced and with it the
            // whole transition: in the lab a controller's failover (the
            // one running NovaEvacuate, so the very evacuation this
            // waited for) was delayed 61 s. The hold on nova-compute is
            // nova-compute-wait's job, from Nova's record, which stays.
            // Nor is the host brought back from here when nothing is open:
            // its nova-compute is not running yet (it starts after
            // nova-compute-wait), and enabling a compute whose last report
            // is younger than service_down_time makes nova-api call it
            // over RPC and wait for it (seen: this PUT timed out after
            // 30 s in the demo). nova-compute-wait brings the host back
            // once nova-compute reports again.
            match &open {
                Some(why) => info!("{host}: evacuation still open ({why}); letting the node rejoin: nova-compute-wait holds nova-compute until it is over, then brings the host back"),
                None if compute_state(&service) == ComputeState::On => info!("{host}: already in service"),
                None => info!("{host}: letting the node rejoin: nova-compute-wait brings the host back once nova-compute runs and reports again"),
            }
            return Ok(());
        }
        while let Some(why) = open {
            if Instant::now() >= deadline {
                return Err(Error::Timeout(format!(
                    "{host}: evacuation not finished after {}s ({why}); not unfencing, so nova-compute cannot start while its instances move; Pacemaker retries the unfencing",
                    wait.as_secs()
                )));
            }
            info!("{host}: waiting for the evacuation to finish: {why}");
            std::thread::sleep(Duration::from_secs(2).min(
                deadline.saturating_duration_since(Instant::now()) + Duration::from_millis(10),
            ));
            service = t
                .nova
                .compute_services(Some(&host))?
                .into_iter()
                .find(|s| s.host == host)
                .ok_or_else(|| Error::NotFound(format!("{host}: service vanished")))?;
            open = evacuation_open(&t.nova, &service)?;
        }
        if compute_state(&service) == ComputeState::On {
            info!("{host}: already in service");
            return Ok(());
        }
        if bring_back(&t.nova, &service, BY)? {
            info!("{host}: back in service");
        }
        Ok(())
    }

    fn monitor(&self, req: &Request) -> Result<()> {
        let nova = connect(req)?;
        let n = nova.compute_services(None)?.len();
        debug!("monitor: Nova answers, {n} nova-compute services");
        Ok(())
    }

    fn list(&self, req: &Request) -> Result<Vec<(String, String, Option<Power>)>> {
        plug_list(&connect(req)?, req)
    }
}

/// Is our nova-compute-wait configured in the cluster (CIB)? Then it holds
/// nova-compute on a returning host, and unfencing need not wait. Unknown
/// (no cibadmin, no cluster) counts as no: `on` waits as the reference does.
fn hold_configured() -> bool {
    match crate::cli::cib::Cib::query() {
        Ok(cib) => cib
            .by_type("nova-compute-wait")
            .iter()
            .any(|p| p.class == "ocf" && p.provider == "openstack"),
        Err(e) => {
            debug!("cannot read the CIB ({e}); assuming no nova-compute-wait");
            false
        }
    }
}

/// `list`/`list-status` for both fence agents: every nova-compute host
/// under its Nova name and its short name (as the reference), with its
/// power state for list-status.
pub fn plug_list(nova: &Nova, req: &Request) -> Result<Vec<(String, String, Option<Power>)>> {
    let services = nova.compute_services(None)?;
    let hosts: Vec<String> = services.iter().map(|s| s.host.clone()).collect();
    let status_of = |plug: &str| {
        services
            .iter()
            .find(|s| s.host == plug || hostmap::short(&s.host) == plug)
            .map(|s| {
                if compute_state(s) == ComputeState::Off {
                    Power::Off
                } else {
                    Power::On
                }
            })
    };
    Ok(hostmap::plugs(&hosts)
        .into_iter()
        .map(|p| {
            let st = if req.action == Action::ListStatus {
                status_of(&p)
            } else {
                None
            };
            (p, String::new(), st)
        })
        .collect())
}
