#!/bin/bash
# Companion of bench/evacuate.sh: the same accepted-time comparison (our
# fence_evacuate, completion=accepted, vs Debian's Python fence_evacuate with
# the lab shim) against the in-repo Keystone/Nova double, where every
# request takes LATENCY_MS (default 100 ms: one evacuate API call on the
# real lab's Nova, see ../shared/reference) and the API is never saturated.
# On this 2-core machine real Nova's API is: it accepts 6-8 evacuations a
# second whether they come one at a time or 50 at once (both cores 97-100%
# busy), which caps any client's accepted time there. Here the client's own
# concurrency shows. Each agent gets a fresh double with N servers on a
# fenced compute-0. Prints both wall times, the evacuate-request window
# from the double's log, and their ratios; asserts nothing.
#
#   bench/evacuate-double.sh            N=50 LATENCY_MS=100
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD; N=${N:-50}; LATENCY_MS=${LATENCY_MS:-100}
SHIM=$ROOT/tests/harness/fence-shim
PY=/usr/sbin/fence_evacuate.distrib
[ -x "$PY" ] || PY=/usr/sbin/fence_evacuate
cargo build --release -q --bins -p nova-double -p instance-ha
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
now() { date +%s.%N; }

# run NAME: start a double, run the agent (function agent_NAME URL), print
# "wall actions_window" and keep the double's stats line.
run() {
  local name=$1 ctl="$TMP/$1.ctl" out="$TMP/$1.out" t0 t1
  mkfifo "$ctl"
  target/release/nova-double --hosts 3 --failed 1 --servers-per-failed-host "$N" --servers-per-host 0 \
    --latency-ms "$LATENCY_MS" --evacuation-ms 2000 --workers 200 --control-stdin <"$ctl" >"$out" 2>"$TMP/$1.err" &
  exec 7>"$ctl"
  for _ in $(seq 1 50); do [ -s "$out" ] && break; sleep 0.1; done
  local url; url=$(head -1 "$out")
  t0=$(now)
  "agent_$name" "$url" >"$TMP/$name.agent" 2>&1 || { echo "$name failed:" >&2; cat "$TMP/$name.agent" >&2; }
  t1=$(now)
  echo stats >&7; sleep 0.5; exec 7>&-; wait || true
  local stats; stats=$(sed -n 2p "$out")
  echo "$(echo "$t1 - $t0" | bc) $(echo "$stats" | python3 -c 'import json,sys; s=json.load(sys.stdin); print(s["actions_window_s"], s["actions"], s["requests"], s["peak_in_flight"])')"
}
agent_python() {
  env PYTHONPATH="$SHIM" "$PY" -o off -n compute-0 --no-shared-storage -k "$1" -l admin -p secret -t admin -e publicURL
}
agent_ours() {
  printf 'action=off\nport=compute-0\nauth_url=%s\nlogin=admin\npasswd=secret\ntenant_name=admin\nuser_domain=Default\nproject_domain=Default\nendpoint_type=public\ncompletion=accepted\nevacuate_policy=all\ntoken_cache=false\n' "$1" |
    PATH="$SHIM/bin:$PATH" IHA_STATE_DIR="$TMP/state" "$ROOT/target/release/fence_evacuate"
}
read -r pw pa pn pr pp <<<"$(run python)"
read -r ow oa on or op <<<"$(run ours)"
echo "evacuate bench on the double: $N servers, ${LATENCY_MS} ms per request, $(date -u +%FT%TZ)"
printf '%-8s %10s %22s %10s %10s %16s\n' "" "wall (s)" "evacuate window (s)" "evacuates" "requests" "peak in flight"
printf '%-8s %10.2f %22.2f %10s %10s %16s\n' python "$pw" "$pa" "$pn" "$pr" "$pp"
printf '%-8s %10.2f %22.2f %10s %10s %16s\n' ours "$ow" "$oa" "$on" "$or" "$op"
printf 'accepted (agent start -> agent returned): python / ours = %.1fx (target >= 5x)\n' "$(echo "$pw / $ow" | bc -l)"
printf 'evacuate requests alone: python / ours = %.1fx\n' "$(echo "$pa / $oa" | bc -l)"
