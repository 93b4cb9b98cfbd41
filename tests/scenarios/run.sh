#!/bin/bash
# tests/scenarios/run.sh - the multi-node scenarios (the suite's `multi` stage).
#
# Brings up the lab: controllers ctl1 ctl2 (corosync + pacemaker) and the
# pacemaker_remote computes compute-0 compute-1, each in its own network +
# mount namespace; OpenStack with the nova-computes of compute-0/1 inside
# those nodes and compute-2/3 on the host (evacuation targets); configures it
# with tests/scenarios/configure.sh (= the operator guide's commands). Then:
#
#   one-compute-dies          power-off compute-1 (remoted + nova-compute killed)
#   two-computes-die          power-off compute-0 and compute-1 at once
#   controller-dies           power-off the controller running NovaEvacuate right
#                             after the first evacuate request
#   compute-back-mid-evac     compute-1 powered on while its evacuation runs
#   network-cut               compute-1's cable pulled (processes alive)
#
# Each prints PASS/FAIL lines with what was checked on real state (Nova
# services and servers, Pacemaker's crm_mon and fencing history, nova-api's
# access log, Nova's migration records). Everything started here is torn down
# on exit, by PID, whatever happened. Last line: "N passed, N failed";
# exit 1 on any failure.
#
# Env: SCENARIOS="one-compute-dies ..." (default all), KEEP_LAB=1 (leave the lab
# up at the end, for debugging), IHA_LAB_LOCK_HELD=1 (the caller holds
# /run/iha-lab.lock; otherwise this script takes it, waiting up to an hour).
# Logs and per-scenario JSON: target/scenarios/.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
H=$ROOT/tests/harness
. "$H/lib.sh"
IHA_LOG_TAG=scenarios
export CTL_NODES="ctl1 ctl2" COMPUTE_NODES="compute-0 compute-1"
OUT=$ROOT/target/scenarios
mkdir -p "$OUT"
PY=$IHA_VENV/bin/python
WATCH=("$PY" "$HERE/iha-watch.py")
ACCESS=$IHA_STATE/os/log/nova-api-access.log
ALL="one-compute-dies two-computes-die controller-dies compute-back-mid-evac network-cut"
SCENARIOS=${SCENARIOS:-$ALL}
PASSED=0 FAILED=0
T_START=$(date +%s)
SUMMARY=()

if [ "${IHA_LAB_LOCK_HELD:-0}" != 1 ]; then
  exec 8>/run/iha-lab.lock
  log "waiting for the lab lock /run/iha-lab.lock"
  flock -w 3600 8 || die "lab lock busy for an hour"
fi

ctl_alive() {   # first controller that is powered on
  local c
  for c in $CTL_NODES; do
    [ -f "$IHA_PCMK_RUN/nodes/$c/powered-off" ] || { echo "$c"; return 0; }
  done
  return 1
}
on_ctl() {   # CMD...: run on the first controller where it succeeds (one may be down or rejoining)
  local c out
  for c in $CTL_NODES; do
    [ -f "$IHA_PCMK_RUN/nodes/$c/powered-off" ] && continue
    if out=$(timeout 30 "$H/pcmk.sh" exec "$c" "$@" 2>/dev/null); then printf '%s\n' "$out"; return 0; fi
  done
  return 1
}

teardown() {
  set +e
  [ "${KEEP_LAB:-0}" = 1 ] && { log "KEEP_LAB=1: lab left up"; return; }
  log "teardown"
  # no fencing/recovery while the cloud goes away (Pacemaker would restart nova-compute)
  if [ -d "$IHA_PCMK_RUN/nodes" ]; then
    on_ctl crm_attribute -t crm_config -n maintenance-mode -v true >/dev/null 2>&1
  fi
  "$H/openstack.sh" down >"$OUT/teardown.log" 2>&1
  "$H/pcmk.sh" multi-down >>"$OUT/teardown.log" 2>&1
  rm -f "$IHA_STATE/clouds.yaml"
}
trap teardown EXIT
trap 'exit 130' INT TERM

# ---- result bookkeeping ------------------------------------------------------
CUR= CUR_OK=1 CUR_T0=0
begin() { CUR=$1 CUR_OK=1 CUR_T0=$(date +%s); echo; echo "=== scenario $CUR"; }
check() {   # DESCRIPTION CMD...: one PASS/FAIL line
  local what=$1; shift
  if "$@" >>"$OUT/$CUR.log" 2>&1; then echo "  PASS $CUR: $what"
  else echo "  FAIL $CUR: $what"; CUR_OK=0; fi
}
end() {
  local secs=$(($(date +%s) - CUR_T0))
  if [ $CUR_OK = 1 ]; then PASSED=$((PASSED + 1)); echo "PASS $CUR (${secs}s)"
  else FAILED=$((FAILED + 1)); echo "FAIL $CUR (${secs}s, log: $OUT/$CUR.log)"; fi
  SUMMARY+=("$(printf '%-24s %s %4ss' "$CUR" "$([ $CUR_OK = 1 ] && echo PASS || echo FAIL)" "$secs")")
}

# ---- helpers on real state -------------------------------------------------------
boot() {   # N HOST -> ids of N ACTIVE servers on stdout. A host just put back in
  # service can refuse for a moment (placement's COMPUTE_STATUS_DISABLED trait
  # is cleared asynchronously): servers that went ERROR are deleted and booted
  # again (seen: a whole scenario ran on 6 ERROR servers with no host).
  local want=$1 try out active=() errors
  for try in 1 2 3 4; do
    out=$("$H/openstack.sh" boot "$((want - ${#active[@]}))" "$2" 2>>"$OUT/$CUR.log" | tee -a "$OUT/$CUR.log")
    mapfile -t -O "${#active[@]}" active < <(awk 'NF == 3 && $2 == "ACTIVE" {print $1}' <<<"$out")
    errors=$(awk 'NF == 3 && $2 == "ERROR" {print $1}' <<<"$out")
    # shellcheck disable=SC2086
    [ -n "$errors" ] && "$IHA_VENV/bin/openstack" server delete --wait $errors >>"$OUT/$CUR.log" 2>&1
    [ "${#active[@]}" -ge "$want" ] && break
    echo "boot: ${#active[@]} of $want ACTIVE on $2 (try $try); again in 15 s" >>"$OUT/$CUR.log"
    sleep 15
  done
  [ "${#active[@]}" -gt 0 ] && printf '%s\n' "${active[@]}"
}
json() { "$PY" -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "$@"; }
every_server_once() {   # WATCH-JSON SNAPSHOT SINCE: one POST action and one evacuation record per server
  local posts migr
  posts=$(json "$1" 'sorted(set(d["posts"].values()))')
  migr=$("${WATCH[@]}" migrations "$2" --since "$3")
  echo "evacuate POSTs per server (distinct counts): $posts; migration records: $migr"
  [ "$posts" = "[1]" ] || return 1
  "$PY" -c "import json,sys; d=json.loads(sys.argv[1]); sys.exit(0 if d and all(len(v)==1 and v[0] in ('done','completed') for v in d.values()) else 1)" "$migr"
}
phase_before() {   # WATCH-JSON A B: phase A happened, and before (or at) phase B
  json "$1" "1 if '$2' in d['phases'] and '$3' in d['phases'] and d['phases']['$2'] <= d['phases']['$3'] else 0" | grep -qx 1
}
has_phase() { json "$1" "1 if '$2' in d['phases'] else 0" | grep -qx 1; }
no_violation() { json "$1" "d['violations']" | tee /dev/stderr | grep -qx '\[\]'; }
fenced_since() {   # HOST EPOCH: both devices of the level ran since EPOCH: the power device
  # (off/reboot, /tmp/iha-lab-fence.log) and fence_compute ("HOST: fenced in Nova",
  # controllers' pacemaker.log). (stonith_admin --history was seen to lose remote
  # nodes' entries after they rejoined: not used here.)
  # A controller has only its power device: POWER_ONLY=1.
  POWER_ONLY=${POWER_ONLY:-0} "$PY" - "$1" "$2" "$IHA_PCMK_STATE"/ctl*/var/log/pacemaker/pacemaker.log <<'PYEOF'
import datetime, os, re, sys
host, t = sys.argv[1], float(sys.argv[2])
power = nova = 0
for l in open("/tmp/iha-lab-fence.log", errors="replace"):
    m = re.match(r"(\S+ \S+) .*action=(off|reboot) target=(\S+)", l)
    if m and m.group(3) == host and datetime.datetime.fromisoformat(m.group(1)[:26]).replace(tzinfo=datetime.timezone.utc).timestamp() >= t - 2:
        power += 1
for f in sys.argv[3:]:
    for l in open(f, errors="replace"):
        m = re.search(r"(\d{4}/\d\d/\d\d_\d\d:\d\d:\d\d)\S* INFO: " + re.escape(host) + r": fenced in Nova", l)
        if m and datetime.datetime.strptime(m.group(1), "%Y/%m/%d_%H:%M:%S").timestamp() >= t - 2:
            nova += 1
print(f"{host}: power device off/reboot {power}x, fence_compute 'fenced in Nova' {nova}x since {t}")
sys.exit(0 if power and (nova or os.environ["POWER_ONLY"] == "1") else 1)
PYEOF
}
moved_to() {   # CONTROLLER WATCH-OUTPUT: NovaEvacuate started there and adopted the evacuation
  grep -Eq "nova-evacuate: Start(ing|ed) on $1\b" "$2" &&
    grep -Eq "instance-ha: evacuat[a-z]+ since [0-9TZ:-]+ by $1\b" "$2"
}
power_fenced_since() { POWER_ONLY=1 fenced_since "$@"; }
wait_fenced() {   # HOST EPOCH TIMEOUT
  local i
  for ((i = 0; i < $3; i++)); do fenced_since "$1" "$2" >/dev/null 2>&1 && return 0; sleep 1; done
  return 1
}
cluster_settled() {   # every node online, nova-evacuate + every nova-compute started, no evacuation open
  local xml n
  xml=$(on_ctl crm_mon -1 --output-as=xml 2>/dev/null) || return 1
  for n in $CTL_NODES $COMPUTE_NODES; do grep -q "<node name=\"$n\" [^>]*online=\"true\"" <<<"$xml" || return 1; done
  grep -q '<resource id="nova-evacuate" [^>]*role="Started"' <<<"$xml" || return 1
  for n in $COMPUTE_NODES; do
    grep -A1 '<resource id="nova-compute" [^>]*role="Started"' <<<"$xml" | grep -q "name=\"$n\"" || return 1
  done
  "${WATCH[@]}" settle compute-0 compute-1 compute-2 compute-3 --timeout 1 >/dev/null 2>&1
}
settle() {   # before a scenario: the lab back to normal (bounded)
  local i
  for ((i = 0; i < 240; i++)); do cluster_settled && return 0; sleep 1; done
  on_ctl crm_mon -1 -r >>"$OUT/$CUR.log" 2>&1
  return 1
}
first_request() {   # OFFSET TIMEOUT: wait until nova-api logs an evacuate (POST .../action)
  local i
  for ((i = 0; i < $2 * 5; i++)); do
    tail -c +$(($1 + 1)) "$ACCESS" | grep -q '"POST /v2.1/servers/[0-9a-f-]*/action' && return 0
    sleep 0.2
  done
  return 1
}
watch_bg() {   # NAME T0 OFFSET SNAPSHOT HOSTS TIMEOUT: start the watcher in the background
  "${WATCH[@]}" watch --snapshot "$4" --hosts "$5" --until back --timeout "$6" --t0 "$2" \
    --access-log "$ACCESS" --offset "$3" --ctl "$CTL_NODES" --json "$OUT/$1.json" >"$OUT/$1.watch" 2>&1 &
  WATCH_PID=$!
}
# reaction latency: fence_compute's "HOST: attrd evacuate=yes" -> NovaEvacuate's first
# "HOST: evacuate ... attempt 1", from the controllers' pacemaker.log
latency() {   # HOST EPOCH
  local f logs=()
  for f in "$IHA_PCMK_STATE"/ctl*/var/log/pacemaker/pacemaker.log; do logs+=("$f"); done
  "$PY" "$HERE/latency.py" "$1" "$2" "${logs[@]}"
}

# ---- the scenarios ---------------------------------------------------------------------
# A compute dies and comes back; the common body of several scenarios.
#   failure HOSTS N_PER_HOST ACTION [EXTRA]
# ACTION: power-off | link-down ; EXTRA: mid-evac-power-on | kill-controller
failure() {
  local hosts=$1 n=$2 action=$3 extra=${4:-} h ids=() t0 off snap ne_before ne_after rc
  check "lab settled before the scenario" settle
  for h in $hosts; do mapfile -t -O "${#ids[@]}" ids < <(boot "$n" "$h"); done
  check "booted $((n * $(wc -w <<<"$hosts"))) servers on $hosts" test "${#ids[@]}" -eq $((n * $(wc -w <<<"$hosts")))
  # one of them SHUTOFF: it must arrive SHUTOFF, the others ACTIVE
  [ "${#ids[@]}" -gt 0 ] && check "one server stopped (SHUTOFF before the failure)" "${WATCH[@]}" stop "${ids[0]}"
  snap=$OUT/$CUR.snapshot.json
  # shellcheck disable=SC2086
  "${WATCH[@]}" snapshot $hosts >"$snap"
  off=$(stat -c %s "$ACCESS")
  ne_before=$(on_ctl crm_resource --locate -r nova-evacuate -Q 2>/dev/null | head -1)
  t0=$(date +%s.%N)
  for h in $hosts; do
    case $action in
      power-off) "$H/pcmk.sh" power-off "$h" >>"$OUT/$CUR.log" 2>&1 & ;;
      link-down) "$H/pcmk.sh" link "$h" down >>"$OUT/$CUR.log" 2>&1 & ;;
    esac
  done
  wait
  echo "  $(date +%T) $action $hosts (NovaEvacuate on $ne_before)"
  watch_bg "$CUR" "$t0" "$off" "$snap" "$hosts" 420
  case $extra in
    kill-controller)
      if check "evacuation started (first evacuate request in nova-api's log)" first_request "$off" 120; then
        pending=$("${WATCH[@]}" migrations "$snap" --since "${t0%.*}" | "$PY" -c "import json,sys; print(sum(1 for v in json.load(sys.stdin).values() if not v or v[0] not in ('done','completed')))")
        echo "  $(date +%T) power-off $ne_before (NovaEvacuate's controller) with $pending evacuation(s) not finished"
        check "the controller dies mid-evacuation ($pending of ${#ids[@]} evacuations not finished)" test "$pending" -gt 0
        "$H/pcmk.sh" power-off "$ne_before" >>"$OUT/$CUR.log" 2>&1
      fi ;;
    mid-evac-power-on)
      if check "evacuation started (first evacuate request in nova-api's log)" first_request "$off" 120; then
        for h in $hosts; do
          if [ "$("$H/pcmk.sh" power-status "$h" 2>/dev/null)" = off ]; then
            echo "  $(date +%T) power-on $h mid-evacuation"; "$H/pcmk.sh" power-on "$h" >>"$OUT/$CUR.log" 2>&1
          else
            echo "  $(date +%T) $h already powered on again by the cluster's reboot (mid-evacuation)"
          fi
        done
      fi ;;
  esac
  if [ "$action" = link-down ]; then
    for h in $hosts; do
      check "$h fenced by the cluster (cable pulled, processes alive)" wait_fenced "$h" "${t0%.*}" 180
      echo "  $(date +%T) cable of $h plugged back in"; "$H/pcmk.sh" link "$h" up >>"$OUT/$CUR.log" 2>&1
    done
  fi
  # stonith-action=off leaves a fenced node off: power it on once evacuated
  ( for ((i = 0; i < 400; i++)); do
      has_phase "$OUT/$CUR.json" evacuated 2>/dev/null && break
      grep -q '== all .* servers run on other hosts' "$OUT/$CUR.watch" 2>/dev/null && break
      kill -0 "$WATCH_PID" 2>/dev/null || break
      sleep 1
    done
    for h in $hosts; do
      [ "$("$H/pcmk.sh" power-status "$h" 2>/dev/null)" = off ] && "$H/pcmk.sh" power-on "$h" >>"$OUT/$CUR.log" 2>&1
    done ) &
  local helper=$!
  wait "$WATCH_PID"; rc=$?
  wait "$helper" 2>/dev/null
  sed 's/^/    /' "$OUT/$CUR.watch"
  local j=$OUT/$CUR.json
  check "watch reached the end: every server evacuated, every host back in service (bounded: 420 s)" test "$rc" = 0
  check "no violation (no server in ERROR, no nova-compute running mid-evacuation, no second request)" no_violation "$j"
  for h in $hosts; do check "$h: Pacemaker's history shows it fenced (power + fence_compute level)" fenced_since "$h" "${t0%.*}"; done
  for h in $hosts; do check "$h: its first evacuate request came after its fencing (agents' time stamps)" "${WATCH[@]}" fenced-first "$h" --since "$t0"; done
  check "Nova showed the host(s) forced down" has_phase "$j" forced_down
  check "every server evacuated exactly once (1 POST action in nova-api's log, 1 evacuation record, done)" every_server_once "$j" "$snap" "${t0%.*}"
  check "nova-compute started only after the evacuation was over" phase_before "$j" evacuated nova_compute_started
  check "host(s) back: up, enabled, forced_down false, nova-compute Started in Pacemaker" has_phase "$j" back
  case $extra in
    kill-controller)
      ne_after=$(on_ctl crm_resource --locate -r nova-evacuate -Q 2>/dev/null | head -1)
      # moved = started on the other controller (the watch samples once a
      # second: "Starting" may be all it sees) and that one adopted the
      # evacuation (Nova's record "... by <it>")
      local other; other=$(for c in $CTL_NODES; do [ "$c" != "$ne_before" ] && echo "$c"; done | head -1)
      check "NovaEvacuate moved to another controller ($ne_before -> $other) and took the evacuation over (Nova's record by $other)" \
        moved_to "$other" "$OUT/$CUR.watch"
      check "$ne_before fenced by the cluster (its power device)" power_fenced_since "$ne_before" "${t0%.*}" ;;
    mid-evac-power-on)
      check "the node was back in the cluster before the evacuation was over (came back mid-evacuation)" phase_before "$j" node_back evacuated ;;
  esac
  for h in $hosts; do
    echo "  reaction latency $h: $(latency "$h" "${t0%.*}" 2>&1)" | tee -a "$OUT/latency.txt"
  done
  "${WATCH[@]}" delete "$snap" >/dev/null 2>&1
}

scenario() {
  begin "$1"
  case $1 in
    one-compute-dies) failure compute-1 4 power-off ;;
    two-computes-die) failure "compute-0 compute-1" 3 power-off ;;
    controller-dies) failure compute-0 6 power-off kill-controller ;;
    compute-back-mid-evac) failure compute-1 12 power-off mid-evac-power-on ;;
    network-cut) failure compute-1 4 link-down ;;
    *) echo "unknown scenario $1"; CUR_OK=0 ;;
  esac
  end
}

# ---- the lab ----------------------------------------------------------------------
echo "=== lab: 2 controllers + 2 pacemaker_remote computes, OpenStack (4 computes), configure.sh"
t=$(date +%s)
: >"$OUT/latency.txt"
CUR=lab
if ! { "$H/pcmk.sh" multi-up && IHA_COMPUTE_IN_NODES=1 N_COMPUTE=4 "$H/openstack.sh" up &&
       "$HERE/configure.sh"; } >"$OUT/lab.log" 2>&1; then
  tail -30 "$OUT/lab.log"
  echo "FAIL lab: could not bring the lab up (log: $OUT/lab.log)"
  echo "0 passed, 1 failed"
  exit 1
fi
eval "$("$H/openstack.sh" env)"
echo "lab up in $(($(date +%s) - t))s"
for s in $SCENARIOS; do scenario "$s"; done

echo
echo "=== summary (multi stage: $(($(date +%s) - T_START))s including the lab)"
printf '  %s\n' "${SUMMARY[@]}"
sed 's/^/  /' "$OUT/latency.txt"
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
