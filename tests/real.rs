//! Tests on the real parts: Pacemaker from Debian and Keystone/Placement/
//! Glance/Nova from PyPI (fake virt driver), started by tests/harness and
//! driven by tests/run-suite.sh. Every test is #[ignore]d so that a plain
//! `cargo test` does not need the labs; the suite runs them with
//! `--ignored` after bringing the labs up, and they fail (never skip) when
//! a lab is missing.

#[path = "real/lab.rs"]
mod lab;

#[path = "real/fence_compute.rs"]
mod fence_compute;

#[path = "real/evacuation.rs"]
mod evacuation;
