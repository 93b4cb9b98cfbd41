//! The Pacemaker bridge: attrd node attributes, cluster status and fencing
//! history through Pacemaker's own command-line tools (as pcs does), so
//! nothing links against Pacemaker's C libraries and any 2.x works.

pub mod attrd;
pub mod cluster;
pub mod command;
