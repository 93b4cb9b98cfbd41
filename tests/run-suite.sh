#!/bin/bash
# The whole test suite, as CI runs it (`.ci/run` calls this):
#
#   bash tests/run-suite.sh            # everything
#   SUITE_STAGES="fast" bash tests/run-suite.sh      # only unit + double tests
#   SUITE_STAGES="fast single" ...                   # + single-node Pacemaker/Nova
#
# Stages:
#   deps    install what the suite needs (apt, the OpenStack venv, ...)
#   fast    cargo test: unit tests, the Keystone/Nova double, the agents' protocols
#   single  real Pacemaker (one node, stonith on) + real Nova: fence_compute,
#           fence_evacuate and the engine against the real services
#   multi   real cluster with pacemaker_remote compute nodes (issue scenarios)
#   package static musl build, .deb and .rpm, installed into a clean Debian
#           root (debootstrap): pcs describes our agents from the package
#
# Labs are torn down on exit, whatever happened. Each stage's cargo output is
# kept under target/suite/; the last line sums every test run.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
STAGES=${SUITE_STAGES:-deps fast single multi package}
LOGDIR=$ROOT/target/suite
mkdir -p "$LOGDIR"
: >"$LOGDIR/results"
T0=$(date +%s)

step() { printf '\n=== [%s +%ss] %s\n' "$(date +%T)" "$(($(date +%s) - T0))" "$*"; }
want() { [[ " $STAGES " == *" $1 "* ]]; }

teardown() {
  set +e
  step "teardown"
  # WIPE: every stage starts from empty databases, whatever ran before
  WIPE=1 bash tests/harness/openstack.sh down >/dev/null 2>&1
  bash tests/harness/pcmk.sh multi-down >/dev/null 2>&1
  bash tests/harness/pcmk.sh single-down >/dev/null 2>&1
}

# cargo test with its output kept; the "test result" lines feed the total.
ctest() {
  local name=$1; shift
  local log="$LOGDIR/$name.log" rc=0
  cargo test "$@" 2>&1 | tee "$log" | grep -E '^(test |test result|failures:|---- |thread .* panicked)' || true
  rc=${PIPESTATUS[0]}
  grep -E '^test result' "$log" >>"$LOGDIR/results" || true
  return "$rc"
}

summary() {
  local passed failed
  passed=$(awk '{for (i=1;i<=NF;i++) if ($(i+1) ~ /^passed;?$/) s+=$i} END {print s+0}' "$LOGDIR/results")
  failed=$(awk '{for (i=1;i<=NF;i++) if ($(i+1) ~ /^failed;?$/) s+=$i} END {print s+0}' "$LOGDIR/results")
  echo
  echo "suite: $(($(date +%s) - T0))s, stages: $STAGES"
  echo "$passed passed, $failed failed"
}

install_agents() {
  # Where Pacemaker looks; Debian's Python agents were diverted to
  # *.distrib by deps.sh.
  install -m 0755 target/release/fence_compute /usr/sbin/fence_compute
  install -m 0755 target/release/fence_evacuate /usr/sbin/fence_evacuate
  install -d /usr/lib/ocf/resource.d/openstack
  install -m 0755 target/release/NovaEvacuate /usr/lib/ocf/resource.d/openstack/NovaEvacuate
  install -m 0755 target/release/nova-compute-wait /usr/lib/ocf/resource.d/openstack/nova-compute-wait
  install -m 0755 target/release/instance-ha /usr/bin/instance-ha
}

rc=0
if want deps; then
  step "deps: installing what the suite needs"
  bash tests/harness/deps.sh
fi

if want fast; then
  step "fast: cargo test (unit, double, protocols)"
  ctest fast --workspace || rc=1
fi

if want single || want multi; then
  trap teardown EXIT
  step "build: release binaries"
  cargo build --release --bins
  install_agents
fi

if want single; then
  step "single: single-node Pacemaker + OpenStack"
  teardown
  STONITH=true bash tests/harness/pcmk.sh single-up
  bash tests/harness/openstack.sh up
  step "single: real tests"
  ctest single --release --test real -- --ignored --test-threads=1 || rc=1
  WIPE=1 bash tests/harness/openstack.sh down
  bash tests/harness/pcmk.sh single-down
fi

if want multi; then
  step "multi: cluster with remote compute nodes (see tests/scenarios)"
  teardown
  # run.sh prints PASS/FAIL per check and ends with "N passed, N failed"
  # (one per scenario); that line joins the total.
  bash tests/scenarios/run.sh 2>&1 | tee "$LOGDIR/multi.log" || rc=1
  m=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$LOGDIR/multi.log" | tail -1 || true)
  if [[ $m =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
    echo "test result: multi. ${BASH_REMATCH[1]} passed; ${BASH_REMATCH[2]} failed" >>"$LOGDIR/results"
  else
    echo "test result: FAILED. 0 passed; 1 failed (multi: no summary line)" >>"$LOGDIR/results"
    rc=1
  fi
fi

if want package; then
  step "package: build .deb/.rpm and install into a clean Debian root"
  if bash packaging/build.sh && bash packaging/test-install.sh; then
    echo "test result: ok. 1 passed; 0 failed (package)" >>"$LOGDIR/results"
  else
    echo "test result: FAILED. 0 passed; 1 failed (package)" >>"$LOGDIR/results"
    rc=1
  fi
fi

summary
exit "$rc"
