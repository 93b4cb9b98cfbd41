//! instance-ha: OpenStack instance high availability on Pacemaker.
//!
//! The data path reads straight: agent input (`params`, `fence`, `ocf`)
//! -> parameters -> plan (`engine`) -> Nova calls (`openstack`) -> result
//! and exit code. Cluster state comes from Pacemaker's CLI tools
//! (`pacemaker`), durable evacuation state from Nova itself (`state`).

pub mod error;
#[macro_use]
pub mod log;
pub mod fence;
pub mod ocf;
pub mod params;
pub mod xml;

pub use error::{Error, Result};
