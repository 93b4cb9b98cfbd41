//! `ocf:openstack:nova-compute-wait`: runs on every compute node, ordered
//! before nova-compute.
//!
//! * start blocks until this host's evacuation is over according to Nova
//!   (the durable record in the service's disabled_reason and the host's
//!   evacuation migrations; attrd is read too, but Pacemaker wipes a
//!   remote node's attributes when it reconnects, so it cannot be the only
//!   source), then waits the optional `evacuation_delay`;
//! * monitor (cheap: one service read with a cached token) brings the host
//!   back into service once the started nova-compute has cleaned up its
//!   evacuated instances, which is the moment Nova starts accepting
//!   `forced_down=false`; until then every attempt logs why the host is
//!   still down. A Nova outage never fails the monitor: that would restart
//!   nova-compute for nothing.
//! * stop only forgets the started state.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{ActionSpec, Context, OcfAgent, Outcome, ERR_GENERIC};
use crate::cloud_params::{self, *};
use crate::error::Result;
use crate::fence::common::NO_SHARED_STORAGE;
use crate::fence::compute::{bring_back, compute_state, evacuation_open, ComputeState};
use crate::hostmap;
use crate::openstack::Nova;
use crate::params::{Kind, Param};

pub const EVACUATION_DELAY: Param = Param {
    long: Some("evacuation-delay"),
    kind: Kind::Seconds,
    default: Some("0"),
    longdesc: "Extra seconds to wait after the evacuation is over before letting nova-compute start. The reference agent sleeps 120 s because it cannot see the evacuation; this one asks Nova, so no delay is needed.",
    ..Param::new("evacuation_delay", "Extra delay before nova-compute may start")
};
pub const VERBOSE: Param = Param {
    long: Some("verbose"),
    kind: Kind::Bool,
    default: Some("false"),
    ..Param::new("verbose", "Debug logging")
};

static TABLE: &[Param] = &[
    AUTH_URL,
    USERNAME,
    PASSWORD,
    PASSWORD_SCRIPT,
    TENANT_NAME,
    USER_DOMAIN,
    PROJECT_DOMAIN,
    DOMAIN,
    ENDPOINT_TYPE,
    REGION_NAME,
    INSECURE,
    NO_SHARED_STORAGE,
    EVACUATION_DELAY,
    VERBOSE,
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
];

static ACTIONS: &[ActionSpec] = &[
    ActionSpec {
        name: "start",
        timeout: "600s",
        interval: None,
        depth: None,
    },
    ActionSpec {
        name: "stop",
        timeout: "20s",
        interval: None,
        depth: None,
    },
    ActionSpec {
        name: "monitor",
        timeout: "20s",
        interval: Some("10s"),
        depth: Some(0),
    },
    ActionSpec {
        name: "validate-all",
        timeout: "20s",
        interval: None,
        depth: None,
    },
    ActionSpec {
        name: "meta-data",
        timeout: "5s",
        interval: None,
        depth: None,
    },
];

const BY: &str = "nova-compute-wait";

pub struct NovaComputeWait;

fn started_file(ctx: &Context) -> PathBuf {
    let safe: String = ctx
        .instance
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    ctx.rsc_tmp
        .join(format!("nova-compute-wait-{safe}.started"))
}

fn nova(ctx: &Context) -> Result<Nova> {
    Ok(Nova::new(Arc::new(cloud_params::session(&ctx.values)?)))
}

/// This node's Nova host name.
fn my_host(nova: &Nova, ctx: &Context) -> Result<crate::openstack::Service> {
    let node = ctx.local_node();
    let services = nova.compute_services(None)?;
    let hosts: Vec<String> = services.iter().map(|s| s.host.clone()).collect();
    let host = hostmap::resolve(
        &node,
        &hosts,
        cloud_params::dns_domain(&ctx.values).as_deref(),
    )?;
    Ok(services
        .into_iter()
        .find(|s| s.host == host)
        .expect("resolved from this list"))
}

impl OcfAgent for NovaComputeWait {
    fn name(&self) -> &'static str {
        "nova-compute-wait"
    }
    fn shortdesc(&self) -> &'static str {
        "Holds nova-compute until this host's evacuation is over, then puts the host back in service"
    }
    fn longdesc(&self) -> &'static str {
        "Clone it on the compute nodes and order it before nova-compute. Start returns once Nova shows that this host's evacuation is over (the record fence_compute and NovaEvacuate keep in the nova-compute service, and no evacuation migration from this host still running), so nova-compute never starts while its instances are being rebuilt elsewhere. Once nova-compute has started and cleaned up the evacuated instances, the monitor brings the host back (forced_down false, enabled)."
    }
    fn table(&self) -> &'static [Param] {
        TABLE
    }
    fn actions(&self) -> &'static [ActionSpec] {
        ACTIONS
    }
    fn validate(&self, ctx: &Context) -> Result<()> {
        cloud_params::cloud_config(&ctx.values, |k| std::env::var(k).ok()).map(|_| ())
    }

    fn start(&self, ctx: &Context) -> Outcome {
        let budget = ctx
            .timeout
            .unwrap_or(Duration::from_secs(600))
            .saturating_sub(Duration::from_secs(5));
        let deadline = Instant::now() + budget;
        let nova = match nova(ctx) {
            Ok(n) => n,
            Err(e) => return e.into(),
        };
        let mut last_said: Option<(Instant, String)> = None;
        let host = loop {
            let step =
                my_host(&nova, ctx).and_then(|svc| evacuation_open(&nova, &svc).map(|o| (svc, o)));
            let why = match step {
                Ok((svc, None)) => break svc.host,
                Ok((svc, Some(why))) => format!("{}: holding nova-compute: {why}", svc.host),
                // A new compute's nova-compute has never registered: it
                // cannot be mid-evacuation, and waiting would deadlock
                // (the service appears when nova-compute first starts).
                Err(crate::Error::NotFound(m)) => {
                    crate::info!("{m}: nothing to wait for");
                    break ctx.local_node();
                }
                Err(e)
                    if matches!(
                        e,
                        crate::Error::Ambiguous(_)
                            | crate::Error::Config(_)
                            | crate::Error::Auth { .. }
                    ) =>
                {
                    return e.into()
                }
                Err(e) => format!("cannot ask Nova yet ({e}); retrying"),
            };
            if last_said
                .as_ref()
                .is_none_or(|(t, w)| t.elapsed() >= Duration::from_secs(30) || *w != why)
            {
                crate::info!("{why}");
                last_said = Some((Instant::now(), why.clone()));
            }
            if Instant::now() + Duration::from_secs(2) >= deadline {
                return Outcome::fail(
                    ERR_GENERIC,
                    format!("still waiting after {}s: {why}", budget.as_secs()),
                );
            }
            std::thread::sleep(Duration::from_secs(2));
        };
        crate::info!("{host}: evacuation over: nova-compute may start");
        if let Ok(Some(d)) = ctx.values.duration("evacuation_delay") {
            if !d.is_zero() {
                crate::info!("{host}: evacuation_delay: waiting {}s", d.as_secs());
                std::thread::sleep(d.min(deadline.saturating_duration_since(Instant::now())));
            }
        }
        let f = started_file(ctx);
        if let Some(dir) = f.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        if let Err(e) = std::fs::write(&f, format!("{host}\n")) {
            return Outcome::fail(ERR_GENERIC, format!("cannot write {}: {e}", f.display()));
        }
        Outcome::ok()
    }

    fn stop(&self, ctx: &Context) -> Outcome {
        let _ = std::fs::remove_file(started_file(ctx));
        Outcome::ok()
    }

    fn monitor(&self, ctx: &Context) -> Outcome {
        if !started_file(ctx).exists() {
            return Outcome::not_running();
        }
        let result = (|| -> Result<Option<Outcome>> {
            let nova = nova(ctx)?;
            let svc = my_host(&nova, ctx)?;
            // A probe after the node's return: a state file that survived
            // (HA_RSCTMP not on a tmpfs) must not say "started" while this
            // host's evacuation is open, or Pacemaker starts nova-compute
            // at once, mid-evacuation (seen in the lab). Nova decides.
            let mut open = None;
            if ctx.probe {
                if let Some(why) = evacuation_open(&nova, &svc)? {
                    crate::warn!(
                        "{}: probe: not started here ({why}); removing the stale state file",
                        svc.host
                    );
                    let _ = std::fs::remove_file(started_file(ctx));
                    return Ok(Some(Outcome::not_running()));
                }
                open = Some(None);
            }
            if compute_state(&svc) == ComputeState::On {
                return Ok(None);
            }
            let ours = crate::state::Marker::parse(svc.disabled_reason.as_deref()).is_some();
            if !svc.forced_down && !ours {
                // Disabled by someone else, or simply down: not ours to fix.
                return Ok(None);
            }
            let open = match open {
                Some(known) => known,
                None => evacuation_open(&nova, &svc)?,
            };
            if let Some(why) = open {
                crate::warn!("{}: still out of service: {why}", svc.host);
                return Ok(None);
            }
            // Only once nova-compute runs again, i.e. has reported since
            // this agent started (it starts after us): enabling a compute
            // whose last report is younger than service_down_time makes
            // nova-api call it over RPC and wait (up to
            // rpc_response_timeout) when it is not running yet, and this
            // monitor would time out.
            let started = std::fs::metadata(started_file(ctx))
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map(|d| d.as_secs());
            if let Some(started) = started {
                let reported = svc
                    .updated_at
                    .as_deref()
                    .and_then(crate::time::parse_datetime);
                if reported.map_or(true, |r| r < started) {
                    crate::info!(
                        "{}: waiting for nova-compute to report to Nova before bringing the host back (last report {}, nova-compute-wait started {})",
                        svc.host,
                        svc.updated_at.as_deref().unwrap_or("never"),
                        crate::time::format_rfc3339(started)
                    );
                    return Ok(None);
                }
            }
            if bring_back(&nova, &svc, BY)? {
                crate::info!("{}: back in service (forced_down false, enabled)", svc.host);
            }
            Ok(None)
        })();
        match result {
            Ok(Some(outcome)) => return outcome,
            Ok(None) => {}
            Err(e) => crate::warn!("monitor: {e} (not failing: nova-compute keeps running)"),
        }
        Outcome::ok()
    }
}
