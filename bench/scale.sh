#!/bin/sh
# Scale benchmark: 100 compute hosts, 20 fail at once, 2,000 instances,
# evacuated as NovaEvacuate does (every failed host at once, requests
# bounded by one shared limiter, completion arrived) against the nova-double process with per-request
# latency. Release build; prints a table. Not part of the test suite.
#
#   bench/scale.sh                    # defaults
#   LATENCY_MS=50 bench/scale.sh      # see bench/scale.rs for every knob
set -eu
cd "$(dirname "$0")/.."
cargo build --release --quiet -p nova-double --bin nova-double
cargo build --release --quiet --example scale
exec target/release/examples/scale "$@"
