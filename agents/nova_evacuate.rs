//! NovaEvacuate (ocf:openstack:NovaEvacuate): evacuates fenced compute hosts.
fn main() {
    std::process::exit(instance_ha::ocf::nova_evacuate::main(&instance_ha::args()));
}
