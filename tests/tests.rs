//! Integration tests, one module per feature (ripgrep's layout). They run
//! the real binaries; OpenStack is the in-repo double (nova-double), so
//! they are fast and need no services. The same behaviours are shown
//! against real Pacemaker and real Nova by `tests/real.rs`.

mod util;

mod bad_input;
mod cli;
mod docs;
mod engine;
mod fence_compute;
mod fence_evacuate;
mod fence_protocol;
mod ocf_agents;
