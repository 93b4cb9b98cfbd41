//! Engine parameters shared by fence_evacuate and NovaEvacuate, and their
//! conversion into `HostOptions`.

use std::time::Duration;

use super::host::HostOptions;
use super::run::{Completion, RunConfig};
use super::select::{ErrorInstances, Filtering, Policy};
use crate::error::Result;
use crate::params::{Kind, Param, Values};

pub const EVACUATE_POLICY: Param = Param {
    long: Some("evacuate-policy"),
    metavar: Some("[policy]"),
    longdesc: "Which instances to evacuate: auto (the reference: instances whose flavor or image is tagged evacuable, or all when nothing in the cloud is tagged), all, tagged, none. Default: auto, or none when instance_filtering is false. Server metadata instance-ha:evacuate=true|false overrides it per instance.",
    ..Param::new("evacuate_policy", "Instance selection: auto, all, tagged or none")
};
pub const ERROR_INSTANCES: Param = Param {
    long: Some("error-instances"),
    metavar: Some("[skip|evacuate]"),
    default: Some("skip"),
    longdesc: "Instances in ERROR on the failed host: skip (default, logged) or evacuate (rebuilt elsewhere, they come back ACTIVE).",
    ..Param::new("error_instances", "What to do with instances in ERROR")
};
pub const COMPLETION: Param = Param {
    long: Some("completion"),
    metavar: Some("[arrived|accepted]"),
    default: Some("arrived"),
    longdesc: "When an evacuation counts as done: arrived (every instance runs on another host in the state it had; default) or accepted (Nova accepted every request, the reference's behaviour).",
    ..Param::new("completion", "Success criterion: arrived or accepted")
};
pub const CONCURRENCY: Param = Param {
    long: Some("concurrency"),
    metavar: Some("[n]"),
    kind: Kind::Int,
    default: Some("16"),
    longdesc: "Requests to Nova in flight at once (for NovaEvacuate: across all the hosts it evacuates). Nova queues evacuations and each destination works through its own one claim at a time, so the bound only has to keep the API busy without opening more connections than nova-api serves.",
    ..Param::new("concurrency", "Concurrent evacuate requests")
};
pub const MAX_ATTEMPTS: Param = Param {
    long: Some("max-attempts"),
    metavar: Some("[n]"),
    kind: Kind::Int,
    default: Some("3"),
    ..Param::new(
        "max_attempts",
        "Evacuation attempts per instance (with exponential backoff)",
    )
};
pub const RETRY_BACKOFF: Param = Param {
    long: Some("retry-backoff"),
    metavar: Some("[seconds]"),
    kind: Kind::Seconds,
    default: Some("10"),
    ..Param::new(
        "retry_backoff",
        "Wait before the first retry; doubled for each further one",
    )
};
pub const INSTANCE_TIMEOUT: Param = Param {
    long: Some("instance-timeout"),
    metavar: Some("[seconds]"),
    kind: Kind::Seconds,
    default: Some("900"),
    ..Param::new(
        "instance_timeout",
        "Seconds from an evacuate request to the instance running elsewhere",
    )
};
pub const TARGET_HOST: Param = Param {
    long: Some("target-host"),
    metavar: Some("[host]"),
    longdesc: "Evacuate to this (reserved) host instead of letting the scheduler choose; needs Nova microversion 2.29.",
    ..Param::new("target_host", "Target host for evacuated instances")
};
pub const EVACUATE_DELAY: Param = Param {
    long: Some("evacuate-delay"),
    metavar: Some("[seconds]"),
    kind: Kind::Seconds,
    default: Some("0"),
    longdesc: "Seconds to wait after the host was fenced before evacuating, e.g. for storage (NFS) leases to expire.",
    ..Param::new("evacuate_delay", "Delay before evacuating a fenced host")
};

fn has(v: &Values, n: &str) -> bool {
    v.table().iter().any(|p| p.name == n)
}

pub fn policy(v: &Values) -> Result<Policy> {
    let filtering = match v.get("evacuate_policy") {
        Some(p) => Filtering::parse(p)?,
        None if has(v, "instance_filtering")
            && v.is_set("instance_filtering")
            && !v.flag("instance_filtering")? =>
        {
            Filtering::None
        }
        None => Filtering::Auto,
    };
    let error_instances = ErrorInstances::parse(v.get("error_instances").unwrap_or("skip"))?;
    Ok(Policy {
        filtering,
        error_instances,
    })
}

pub fn host_options(v: &Values) -> Result<HostOptions> {
    let d = RunConfig::default();
    let int = |n: &str, dflt: i64| -> Result<i64> {
        Ok(if has(v, n) {
            v.int(n)?.unwrap_or(dflt)
        } else {
            dflt
        })
    };
    let dur = |n: &str, dflt: Duration| -> Result<Duration> {
        Ok(if has(v, n) {
            v.duration(n)?.unwrap_or(dflt)
        } else {
            dflt
        })
    };
    let concurrency = int("concurrency", 16)?;
    let max_attempts = int("max_attempts", 3)?;
    if !(1..=1024).contains(&concurrency) {
        return Err(crate::Error::usage(format!(
            "concurrency must be between 1 and 1024, not {concurrency}"
        )));
    }
    if !(1..=100).contains(&max_attempts) {
        return Err(crate::Error::usage(format!(
            "max_attempts must be between 1 and 100, not {max_attempts}"
        )));
    }
    let run = RunConfig {
        concurrency: concurrency as usize,
        max_attempts: max_attempts as u32,
        retry_backoff: dur("retry_backoff", Duration::from_secs(10))?,
        instance_timeout: dur("instance_timeout", d.instance_timeout)?,
        completion: Completion::parse(v.get("completion").unwrap_or("arrived"))?,
        on_shared_storage: has(v, "no_shared_storage") && !v.flag("no_shared_storage")?,
        target_host: if has(v, "target_host") {
            v.string("target_host")
        } else {
            None
        },
        ..d
    };
    Ok(HostOptions {
        policy: policy(v)?,
        run,
        delay: dur("evacuate_delay", Duration::ZERO)?,
        catalog: None,
    })
}
