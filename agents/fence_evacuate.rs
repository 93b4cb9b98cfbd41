//! fence_evacuate: STONITH agent that evacuates a fenced compute host.
use instance_ha::fence::{self, evacuate::FenceEvacuate};

fn main() {
    std::process::exit(fence::run(&FenceEvacuate, &instance_ha::args()));
}
