#!/bin/bash
# Benchmark (issue 3): evacuating N servers (default 50) of a failed host on
# the real Nova lab, in one run, three ways:
#   python   Debian's fence_evacuate (serial, returns when Nova accepted all)
#   ours     our fence_evacuate (completion=accepted, so both return at the
#            same point; arrival is then watched the same way for both)
#   nova     every evacuate request sent at once by a small script: the time
#            Nova itself needs (its rebuilds are the bottleneck), the reference
# For each: seconds until all requests were accepted, until every server is
# ACTIVE/SHUTOFF on another host; ratios. Targets: accepted >= 5x sooner than
# python; all ACTIVE within 1.1x of nova. Measures, asserts nothing.
#
#   N=50 bash bench/evacuate.sh          (OpenStack lab started if needed)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD; N=${N:-50}; HOST=${HOST:-compute-1}
VENV=${IHA_VENV:-/opt/oslab/venv}
SHIM=$ROOT/tests/harness/fence-shim
OUT=$ROOT/target/bench; mkdir -p "$OUT"
cargo build --release --bins -q
if ! curl -s -o /dev/null --max-time 2 http://iha-cloud:5000/v3; then
  bash tests/harness/openstack.sh up >"$OUT/openstack-up.log" 2>&1
fi
eval "$(bash tests/harness/openstack.sh env)"
H() { "$VENV/bin/python" bench/evacuate-helper.py "$@"; }
CREDS="auth_url=$OS_AUTH_URL
login=$OS_USERNAME
passwd=$OS_PASSWORD
tenant_name=$OS_PROJECT_NAME
endpoint_type=public"
# attrd is not needed here: the shim's stub stands in for it.
export PATH="$SHIM/bin:$PATH"
ours_fc() { printf 'action=%s\nport=%s\n%s\n%s\n' "$1" "$HOST" "$CREDS" "${2:-}" | "$ROOT/target/release/fence_compute"; }
now() { date +%s.%N; }

bring_back() {
  bash tests/harness/openstack.sh compute-start "$HOST" >/dev/null 2>&1 || true
  for _ in $(seq 1 60); do
    ours_fc on 2>&1 | grep -qE 'back in service|already in service' && return 0
    sleep 3
  done
  echo "could not bring $HOST back" >&2; return 1
}

declare -A ACC ALL
for mode in nova ours python; do
  echo "== $mode: booting $N servers on $HOST"
  bring_back
  bash tests/harness/openstack.sh boot "$N" "$HOST" >/dev/null
  H ids "$HOST" >"$OUT/ids"
  bash tests/harness/openstack.sh compute-kill "$HOST" >/dev/null
  ours_fc off >/dev/null 2>&1
  t0=$(now)
  case $mode in
    nova) H all-at-once "$HOST" ;;
    ours) printf 'action=off\nport=%s\n%s\ncompletion=accepted\nevacuate_policy=all\n' "$HOST" "$CREDS" | "$ROOT/target/release/fence_evacuate" 2>/dev/null ;;
    python) env PYTHONPATH="$SHIM" /usr/sbin/fence_evacuate.distrib -o off -n "$HOST" --no-shared-storage \
              -k "$OS_AUTH_URL" -l "$OS_USERNAME" -p "$OS_PASSWORD" -t "$OS_PROJECT_NAME" -e publicURL 2>/dev/null ;;
  esac
  t1=$(now)
  H wait-moved "$HOST" "$OUT/ids" 1800
  t2=$(now)
  ACC[$mode]=$(echo "$t1 - $t0" | bc); ALL[$mode]=$(echo "$t2 - $t0" | bc)
  printf '%s: accepted %.2fs, all running elsewhere %.1fs\n' "$mode" "${ACC[$mode]}" "${ALL[$mode]}"
done
bring_back
echo
printf '%-10s %14s %18s\n' "" "accepted (s)" "all elsewhere (s)"
for m in python ours nova; do printf '%-10s %14.2f %18.1f\n' "$m" "${ACC[$m]}" "${ALL[$m]}"; done
printf 'accepted: python / ours = %.1fx (target >= 5x)\n' "$(echo "${ACC[python]} / ${ACC[ours]}" | bc -l)"
printf 'all elsewhere: ours / nova = %.2f (target <= 1.1)\n' "$(echo "${ALL[ours]} / ${ALL[nova]}" | bc -l)"
