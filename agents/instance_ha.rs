//! instance-ha: the operator's command (status, plan, history, check,
//! recover, evacuate, metrics). See `instance_ha::cli`.

fn main() {
    std::process::exit(instance_ha::cli::main(&instance_ha::args()));
}
