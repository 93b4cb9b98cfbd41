//! The evacuation engine behind fence_evacuate, NovaEvacuate and
//! `instance-ha plan`: plan (which instances, in which order, why) ->
//! evacuate with a bound on concurrent requests -> follow every instance
//! until it runs elsewhere in the state it had -> per-instance report.
//!
//! Idempotent: what was already requested is read back from Nova (the
//! server's task_state and host, the host's evacuation migration records),
//! never from memory, so a killed run or a second controller never sends a
//! second evacuate request for an instance whose evacuation is in flight
//! or done.

pub mod host;
pub mod params;
pub mod plan;
pub mod report;
pub mod run;
pub mod select;

pub use plan::{Plan, PlannedInstance};
pub use report::{InstanceReport, Outcome, Report};
pub use run::{Completion, Event, Limiter, RunConfig};
pub use select::{Decision, ErrorInstances, Expect, Filtering, Policy};
