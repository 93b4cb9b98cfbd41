//! instance-ha: OpenStack instance high availability on Pacemaker.
//!
//! The data path reads straight: agent input (`params`, `fence`, `ocf`)
//! -> parameters -> plan (`engine`) -> Nova calls (`openstack`) -> result
//! and exit code. Cluster state comes from Pacemaker's CLI tools
//! (`pacemaker`), durable evacuation state from Nova itself (`state`).

pub mod cloud_params;
pub mod docs;
pub mod engine;
pub mod error;
#[macro_use]
pub mod log;
pub mod cli;
pub mod fence;
pub mod hostmap;
pub mod journal;
pub mod metrics;
pub mod ocf;
pub mod openstack;
pub mod pacemaker;
pub mod params;
pub mod state;
pub mod time;
pub mod xml;

pub use error::{Error, Result};

/// The command-line arguments after the program name. Arguments that are
/// not valid UTF-8 are converted lossily (std::env::args would panic), so
/// bad input becomes a clear "unrecognised option" error instead.
pub fn args() -> Vec<String> {
    std::env::args_os()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect()
}
