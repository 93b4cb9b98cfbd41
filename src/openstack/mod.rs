//! OpenStack client: Keystone v3 authentication, Nova (compute) and Glance
//! (image), synchronous, over one shared `ureq::Agent`.
//!
//! Why not an SDK: the agents run every few seconds under Pacemaker and must
//! start in milliseconds with a few MB of RSS; the Rust SDKs pull in tokio
//! and 200-350 crates, and the Python clients are the defect source this
//! project replaces (see the landscape reference). We need a dozen calls, so
//! they are written here, typed, with the microversion choice made per call.
//!
//! Layout:
//! * [`config`]: where credentials come from (`OS_*`, clouds.yaml).
//! * [`session`]: token, catalog, one HTTP entry point with re-auth and
//!   error mapping; optional on-disk token cache.
//! * [`nova`]: typed compute calls and microversion negotiation.
//! * [`glance`]: image tags and properties (the `evacuable` tag).
//!
//! Secrets (passwords, application credential secrets, tokens) live in
//! [`Secret`] and never reach a `Debug`, `Display` or error message.

pub mod config;
pub mod glance;
pub mod microversion;
pub mod nova;
pub mod session;
mod time;

pub use config::{AuthType, CloudConfig, Interface, Secret};
pub use glance::{Glance, Image};
pub use microversion::{Microversion, VersionRange};
pub use nova::{
    EvacuateOptions, Evacuation, Flavor, FlavorInfo, Hypervisor, Migration, MigrationFilter, Nova,
    Server, Service, ServiceUpdate,
};
pub use session::{Method, Request, Response, Session, SessionStats};
