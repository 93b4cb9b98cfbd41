//! `fence_evacuate`: evacuates a fenced compute host. Drop-in for
//! fence-agents' Python agent (same options; `off` requires Nova to show
//! the host off; `on` is refused), on the engine: concurrent requests,
//! completion tracking, retries, and success only when the evacuation
//! succeeded (`completion=arrived`, default) or every request was accepted
//! (`completion=accepted`, the reference's notion).

use std::sync::Arc;

use super::common::*;
use super::compute::{compute_state, ComputeState};
use super::{Action, FenceAgent, Power, Request};
use crate::cloud_params::{self, *};
use crate::engine::params::*;
use crate::engine::{host, run::Event};
use crate::error::{Error, Result};
use crate::hostmap;
use crate::openstack::{Glance, Nova};
use crate::params::Param;

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
    EVACUATE_POLICY,
    ERROR_INSTANCES,
    COMPLETION,
    CONCURRENCY,
    MAX_ATTEMPTS,
    RETRY_BACKOFF,
    INSTANCE_TIMEOUT,
    TARGET_HOST,
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
    (Action::Off, false),
    (Action::Reboot, false),
    (Action::Status, false),
    (Action::List, false),
    (Action::ListStatus, false),
    (Action::Monitor, false),
    (Action::ValidateAll, false),
];

pub struct FenceEvacuate;

fn connect(req: &Request) -> Result<(Nova, Glance)> {
    let session = Arc::new(cloud_params::session(&req.values)?);
    Ok((Nova::new(session.clone()), Glance::new(session)))
}

fn resolve(nova: &Nova, req: &Request) -> Result<crate::openstack::Service> {
    let services = nova.compute_services(None)?;
    let hosts: Vec<String> = services.iter().map(|s| s.host.clone()).collect();
    let host = hostmap::resolve(
        req.plug()?,
        &hosts,
        cloud_params::dns_domain(&req.values).as_deref(),
    )?;
    Ok(services
        .into_iter()
        .find(|s| s.host == host)
        .expect("resolved from this list"))
}

impl FenceAgent for FenceEvacuate {
    fn name(&self) -> &'static str {
        "fence_evacuate"
    }
    fn shortdesc(&self) -> &'static str {
        "Fence agent for the automatic resurrection of OpenStack compute instances"
    }
    fn longdesc(&self) -> &'static str {
        "Used to reschedule flagged instances: off evacuates every selected instance of a host that Nova shows down and disabled (fenced), concurrently, follows each one until it runs on another host in the state it had, retries failures, and succeeds only when the evacuation did."
    }
    fn table(&self) -> &'static [Param] {
        TABLE
    }
    fn actions(&self) -> &'static [(Action, bool)] {
        ACTIONS
    }
    fn validate(&self, req: &Request) -> Result<()> {
        if req.action == Action::On {
            return Err(Error::usage("action on is not supported by fence_evacuate (un-evacuating a server does not make sense)"));
        }
        cloud_params::cloud_config(&req.values, |k| std::env::var(k).ok())?;
        host_options(&req.values)?;
        Ok(())
    }
    fn status(&self, req: &Request) -> Result<Power> {
        let (nova, _) = connect(req)?;
        let s = resolve(&nova, req)?;
        Ok(if compute_state(&s) == ComputeState::Off {
            Power::Off
        } else {
            Power::On
        })
    }
    fn off(&self, req: &Request) -> Result<()> {
        let (nova, glance) = connect(req)?;
        let svc = resolve(&nova, req)?;
        let st = compute_state(&svc);
        if st != ComputeState::Off {
            return Err(Error::Unsafe(format!(
                "cannot resurrect instances from {} in state '{:?}': Nova must show it down and disabled (fenced) first",
                svc.host,
                st
            )));
        }
        let opts = host_options(&req.values)?;
        let h = svc.host.clone();
        let report = host::evacuate(
            &nova,
            Some(&glance),
            &svc.host,
            &opts,
            "fence_evacuate",
            &|e: &Event| host::log_event(&h, e),
        )?;
        if report.success() {
            Ok(())
        } else {
            Err(Error::Command {
                command: "evacuation".into(),
                message: report.summary(),
            })
        }
    }
    fn on(&self, _req: &Request) -> Result<()> {
        Err(Error::usage("action on is not supported by fence_evacuate"))
    }
    fn monitor(&self, req: &Request) -> Result<()> {
        let (nova, _) = connect(req)?;
        nova.compute_services(None).map(|_| ())
    }
    fn list(&self, req: &Request) -> Result<Vec<(String, String, Option<Power>)>> {
        super::compute::plug_list(&connect(req)?.0, req)
    }
}
