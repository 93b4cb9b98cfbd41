#!/bin/bash
# demo/run.sh - instance HA, live, on one machine (Debian 12, root).
#
#   bash demo/run.sh
#
# 1. installs what it needs (tests/harness/deps.sh), builds the agents and
#    installs them where Pacemaker looks for them;
# 2. brings up a Pacemaker cluster: two controllers (corosync + pacemaker) and
#    two compute nodes (pacemaker_remote), each in its own network and mount
#    namespace; and a real OpenStack (Keystone, Placement, Glance, Nova with the
#    fake virt driver): the nova-computes of compute-0/1 run inside those
#    nodes, compute-2/3 on the host as spare capacity;
# 3. configures instance HA with the operator guide's pcs commands
#    (docs/operator-guide.md, run by tests/scenarios/configure.sh);
# 4. boots servers on compute-1, kills compute-1 (every process of the node:
#    pacemaker-remoted and nova-compute) and shows, live, what happens:
#    detection, fencing, force-down, the evacuation of each instance, the node
#    coming back, nova-compute held, released, the host back in service;
# 5. prints how long each phase took and tears everything down (only what it
#    started, by PID).
#
# Env: DEMO_SERVERS (6), DEMO_KEEP=1 (leave the lab up at the end),
# IHA_LAB_LOCK_HELD=1 (the caller holds /run/iha-lab.lock).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
H=$ROOT/tests/harness
S=$ROOT/tests/scenarios
N=${DEMO_SERVERS:-6}
VICTIM=compute-1
OUT=$ROOT/target/demo
mkdir -p "$OUT"
T_START=$(date +%s)
STEP=0
STEPS=8

step() { STEP=$((STEP + 1)); printf '\n\033[1m[%d/%d] %s\033[0m\n' "$STEP" "$STEPS" "$*"; }
[ -t 1 ] || step() { STEP=$((STEP + 1)); printf '\n[%d/%d] %s\n' "$STEP" "$STEPS" "$*"; }
note() { printf '      %s\n' "$*"; }
quiet() {   # DESCRIPTION CMD...: run, keep the output in a log, say how long it took
  local what=$1 t rc; shift
  t=$(date +%s)
  "$@" >>"$OUT/demo.log" 2>&1; rc=$?
  if [ $rc = 0 ]; then note "$what ($(($(date +%s) - t)) s)"
  else note "FAILED: $what (exit $rc); last lines of $OUT/demo.log:"; tail -15 "$OUT/demo.log" | sed 's/^/        /'; exit 1; fi
}
[ "$(id -u)" = 0 ] || { echo "demo/run.sh must run as root" >&2; exit 1; }
: >"$OUT/demo.log"

cat <<'EOF'
instance-ha demo: a compute node dies, its instances are rebuilt elsewhere,
and the node comes back into service without anybody touching it.
(Full command output goes to target/demo/demo.log.)
EOF

step "Installing dependencies: Pacemaker, corosync, pcs, MariaDB, RabbitMQ, OpenStack (first run: several minutes)"
quiet "tests/harness/deps.sh: everything present" bash "$H/deps.sh"

step "Building the agents (cargo build --release) and installing them"
if ! command -v cargo >/dev/null; then note "cargo not found: install Rust (https://rustup.rs) first"; exit 1; fi
quiet "release build" cargo build --release --bins --manifest-path "$ROOT/Cargo.toml"
install_agents() {
  install -m 0755 "$ROOT/target/release/fence_compute" /usr/sbin/fence_compute
  install -m 0755 "$ROOT/target/release/fence_evacuate" /usr/sbin/fence_evacuate
  install -d /usr/lib/ocf/resource.d/openstack
  install -m 0755 "$ROOT/target/release/NovaEvacuate" /usr/lib/ocf/resource.d/openstack/NovaEvacuate
  install -m 0755 "$ROOT/target/release/nova-compute-wait" /usr/lib/ocf/resource.d/openstack/nova-compute-wait
  install -m 0755 "$ROOT/target/release/instance-ha" /usr/bin/instance-ha
}
quiet "installed fence_compute, fence_evacuate (/usr/sbin), NovaEvacuate, nova-compute-wait (/usr/lib/ocf/resource.d/openstack), instance-ha" install_agents

if [ "${IHA_LAB_LOCK_HELD:-0}" != 1 ]; then
  exec 8>/run/iha-lab.lock
  flock -n 8 || { note "another lab user holds /run/iha-lab.lock: waiting (up to an hour)"; flock -w 3600 8 || exit 1; }
fi
. "$H/lib.sh"
teardown() {
  set +e
  [ "${DEMO_KEEP:-0}" = 1 ] && { echo "DEMO_KEEP=1: lab left up (tests/harness/openstack.sh down; tests/harness/pcmk.sh multi-down)"; return; }
  echo; echo "Tearing down (only what the demo started, by PID)..."
  # the log tail is a subshell running tail | python: stop all three
  [ -n "${LOGTAIL:-}" ] && { pkill -P "$LOGTAIL" 2>/dev/null; kill "$LOGTAIL" 2>/dev/null; }
  if [ -d "$IHA_PCMK_RUN/nodes" ]; then
    for c in ctl1 ctl2; do
      [ -f "$IHA_PCMK_RUN/nodes/$c/powered-off" ] && continue
      timeout 20 "$H/pcmk.sh" exec "$c" crm_attribute -t crm_config -n maintenance-mode -v true >/dev/null 2>&1 && break
    done
  fi
  "$H/openstack.sh" down >>"$OUT/demo.log" 2>&1
  "$H/pcmk.sh" multi-down >>"$OUT/demo.log" 2>&1
  rm -f "$IHA_STATE/clouds.yaml"
  echo "Done: cluster and cloud stopped."
}
trap teardown EXIT
trap 'exit 130' INT TERM

step "Bringing up the cluster: controllers ctl1 ctl2, pacemaker_remote computes compute-0 compute-1"
quiet "cluster up: every node in its own network + mount namespace, bridge 192.168.248.0/24" \
  env CTL_NODES="ctl1 ctl2" COMPUTE_NODES="compute-0 compute-1" "$H/pcmk.sh" multi-up

step "Bringing up OpenStack: Keystone, Placement, Glance, Nova (fake virt driver)"
quiet "cloud up: nova-compute of compute-0/1 inside their nodes, compute-2/3 on the host" \
  env IHA_COMPUTE_IN_NODES=1 N_COMPUTE=4 "$H/openstack.sh" up
eval "$("$H/openstack.sh" env)"
PY=$IHA_VENV/bin/python

step "Configuring instance HA with the operator guide's pcs commands (docs/operator-guide.md, section 3)"
awk '/<!-- configure.sh:begin -->/{on=1; next} /<!-- configure.sh:end -->/{on=0} on' "$ROOT/docs/operator-guide.md" |
  grep -E '^\s*pcs ' | sed 's/^ */        /' | head -12
note "... (the whole block: tests/scenarios/configure.sh)"
quiet "configured: NovaEvacuate started, nova-compute started by Pacemaker on both computes" \
  env CTL_NODES="ctl1 ctl2" COMPUTE_NODES="compute-0 compute-1" "$S/configure.sh"
echo
"$H/pcmk.sh" exec ctl1 crm_mon -1 | sed -n '/Node List/,$p' | sed 's/^/      /'

step "Booting $N servers on $VICTIM"
# only servers ACTIVE on the victim count (openstack.sh boot retries ERROR ones)
"$H/openstack.sh" boot "$N" "$VICTIM" 2>>"$OUT/demo.log" | tee -a "$OUT/demo.log" |
  awk -v h="$VICTIM" 'NF == 3 && $2 == "ACTIVE" && $3 == h {print $1}' >"$OUT/ids" || true
mapfile -t IDS <"$OUT/ids"
[ "${#IDS[@]}" = "$N" ] || { note "boot failed: ${#IDS[@]} of $N servers ACTIVE on $VICTIM (see $OUT/demo.log)"; exit 1; }
"$PY" "$S/iha-watch.py" stop "${IDS[0]}" >>"$OUT/demo.log" 2>&1 && note "stopped one of them: it must come back SHUTOFF, the others ACTIVE"
"$PY" "$S/iha-watch.py" snapshot "$VICTIM" >"$OUT/snapshot.json"
"$PY" -c "
import json
for s in json.load(open('$OUT/snapshot.json')): print(f\"      {s['name']:<22} {s['status']:<8} on {s['host']}\")"

step "Killing $VICTIM: every process of the node (pacemaker-remoted, nova-compute) dies at once"
note "What you see below: each line is a change observed once a second in Nova, in Pacemaker"
note "(crm_mon, fencing history), in nova-api's access log, or in the node's processes."
note "Lines starting with '|' are the agents' own log lines (pacemaker.log on the controllers)."
ACCESS=$IHA_STATE/os/log/nova-api-access.log
OFF=$(stat -c %s "$ACCESS")
# the agents' log lines, live, from the controllers' pacemaker.log
( tail -q -n0 -F "$IHA_PCMK_STATE"/{ctl1,ctl2,compute-0,compute-1}/var/log/pacemaker/pacemaker.log 2>/dev/null |
    "$PY" -u -c '
import re, sys
seen = set()
for line in sys.stdin:
    a = re.search(r"(NovaEvacuate|fence_compute|nova-compute-wait)", line)
    m = re.search(r"(INFO|WARNING|ERROR): (.*?)\s*\]?\s*$", line)
    if not a or not m or not re.search(r"evacuat|fenced|forced|service|holding|attrd|arrived|ACTIVE|SHUTOFF|helper|waiting", m.group(2)):
        continue
    text = f"      | {a.group(1)}: {m.group(2)}"
    if text not in seen:   # the same line can reach two logs (stderr + file)
        seen.add(text); print(text, flush=True)
' ) &
LOGTAIL=$!
T0=$(date +%s.%N)
echo "      $(date +%T) power-off $VICTIM"
"$H/pcmk.sh" power-off "$VICTIM" >>"$OUT/demo.log" 2>&1
"$PY" "$S/iha-watch.py" watch --snapshot "$OUT/snapshot.json" --hosts "$VICTIM" --until back --timeout 600 \
  --t0 "$T0" --access-log "$ACCESS" --offset "$OFF" --ctl "ctl1 ctl2" --json "$OUT/watch.json" &
WPID=$!
# if the cluster's fencing leaves the node off (stonith-action=off), switch it on once evacuated
( while kill -0 $WPID 2>/dev/null; do
    if [ -s "$OUT/watch.json" ]; then break; fi
    if [ "$("$H/pcmk.sh" power-status "$VICTIM" 2>/dev/null)" = off ] &&
       "$PY" "$S/iha-watch.py" migrations "$OUT/snapshot.json" --since "${T0%.*}" 2>/dev/null |
         "$PY" -c "import json,sys; d=json.load(sys.stdin); sys.exit(0 if d and all(v and v[0] in ('done','completed') for v in d.values()) else 1)"; then
      echo "      $(date +%T) power-on $VICTIM"; "$H/pcmk.sh" power-on "$VICTIM" >>"$OUT/demo.log" 2>&1; break
    fi
    sleep 2
  done ) &
wait $WPID; RC=$?
sleep 1; pkill -P "$LOGTAIL" 2>/dev/null; kill "$LOGTAIL" 2>/dev/null; LOGTAIL=

step "What happened, and how long each phase took"
"$PY" - "$OUT/watch.json" "$OUT/snapshot.json" <<'EOF'
import json, sys
w = json.load(open(sys.argv[1])); snap = json.load(open(sys.argv[2]))
p = w["phases"]
rows = [("detected", "cluster lost the node", "detected"),
        ("fenced", "fenced (power off + fence_compute)", "fenced"),
        ("forced_down", "forced down in Nova (fence_compute)", "forced_down"),
        ("first_request", "first evacuate request", "first_request"),
        ("evacuated", f"all {len(snap)} instances running elsewhere", "evacuated"),
        ("node_back", "node back in the cluster", "node_back"),
        ("nova_compute_started", "nova-compute released and started", "nova_compute_started"),
        ("back", "host back in service (up, enabled)", "back")]
# in the order they happened ("took": since the previous phase); the node can
# rejoin (fenced by reboot) long before its instances have all moved
print(f"      {'phase (seconds after the kill)':<42} {'at':>8} {'took':>8}")
prev = 0.0
for key, label, _ in sorted(rows, key=lambda r: p.get(r[0], float("inf"))):
    if key in p:
        print(f"      {label:<42} {p[key]:>7.1f}s {p[key] - prev:>7.1f}s")
        prev = p[key]
    else:
        print(f"      {label:<42} {'not seen':>8}")
print()
print("      per instance (arrival after the kill; evacuate requests sent):")
for s in snap:
    print(f"        {s['name']:<22} {s['status']:<8} {w['arrived'].get(s['name'], '-'):>6}s  {w['posts'].get(s['name'], 0)} request(s)")
for v in w["violations"]:
    print(f"      VIOLATION: {v}")
EOF
echo
if [ $RC = 0 ]; then
  echo "Result: every instance was rebuilt on another host in its original state, once;"
  echo "nova-compute on $VICTIM started only after that, and $VICTIM is back in service."
else
  echo "Result: NOT everything went as expected (see above and $OUT/demo.log)."
fi
echo "Total demo time: $(($(date +%s) - T_START)) s"
exit $RC
