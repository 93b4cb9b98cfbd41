//! nova-compute-wait (ocf:openstack:nova-compute-wait): holds nova-compute
//! until this host's evacuation is over, then puts the host back in service.
use instance_ha::ocf::{self, nova_compute_wait::NovaComputeWait};

fn main() {
    std::process::exit(ocf::run(&NovaComputeWait, &instance_ha::args()));
}
