//! fence_compute: STONITH agent telling Nova a compute host is down.
use instance_ha::fence::{self, compute::FenceCompute};

fn main() {
    std::process::exit(fence::run(&FenceCompute, &instance_ha::args()));
}
