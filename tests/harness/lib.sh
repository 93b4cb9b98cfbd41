# shellcheck shell=bash disable=SC2034
# Shared settings and helpers of the harness scripts (deps.sh, openstack.sh,
# pcmk.sh, smoke.sh, fence_iha_lab). Source it, don't run it.
#
# Adapted from the lab scripts verified on Debian 12 without systemd
# (pacemaker 2.1.5, corosync 3.1.7, Nova 33 / OpenStack 2026.1).

IHA_HARNESS=${IHA_HARNESS:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}
IHA_VENV=${IHA_VENV:-/opt/oslab/venv}      # OpenStack venv (deps.sh builds it)
IHA_STATE=${IHA_STATE:-/var/lib/iha-lab}   # all lab state (DBs, logs, node dirs)
IHA_RUN=${IHA_RUN:-/run/iha-lab}           # pid files and other runtime records
IHA_SUBNET=${IHA_SUBNET:-192.168.248}      # multi-node lab /24 (host veth = .254)
IHA_CLOUD=iha-cloud                        # name of the OpenStack endpoints

# pacemaker-remoted, extracted from the pacemaker-remote .deb by deps.sh
# (the package conflicts with pacemaker, so it is never installed).
IHA_REMOTED_DIR=${IHA_REMOTED_DIR:-$IHA_STATE/pacemaker-remote}
IHA_REMOTED=$IHA_REMOTED_DIR/root/usr/sbin/pacemaker-remoted

# Clean environment for every daemon we start. IMPORTANT: pacemaker-execd and
# pacemaker-fenced inherit pacemakerd's environment and hand it to every
# agent; root's PATH may start with pyenv shims whose python3 lacks novaclient.
IHA_DAEMON_ENV=(
  env -i
  PATH=/usr/sbin:/usr/bin:/sbin:/bin
  LANG=C.UTF-8
  HOME=/root
  PCMK_logfacility=none              # no syslog daemon here
  PCMK_debug="${PCMK_DEBUG:-no}"
)

log() { printf '[%(%T)T %s] %s\n' -1 "${IHA_LOG_TAG:-$(basename "$0")}" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
need_root() { [ "$(id -u)" = 0 ] || die "must run as root"; }
elapsed() { awk -v t0="$1" -v t1="$(date +%s.%N)" 'BEGIN{printf "%.1f", t1 - t0}'; }

# pid_is PID COMM: alive, not a zombie, /proc/PID/comm == COMM (PID-reuse guard).
# A zombie counts as dead: PID 1 here reaps orphans 1-2 s late.
pid_is() {
  local pid=$1 comm=$2
  [ -n "$pid" ] && [ -r "/proc/$pid/comm" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$comm" ] &&
    [ "$(awk '/^State:/{print $2}' "/proc/$pid/status" 2>/dev/null)" != Z ]
}
# pid_match PID WORD: alive, not a zombie, WORD occurs in its command line
# (for python programs, whose comm is just "python3.11").
pid_match() {
  local pid=$1 word=$2
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] &&
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$word" &&
    [ "$(awk '/^State:/{print $2}' "/proc/$pid/status" 2>/dev/null)" != Z ]
}
pid_dead_wait() {   # PID SECONDS: wait until gone or zombie
  local pid=$1 i
  for ((i = 0; i < $2 * 10; i++)); do
    [ -d "/proc/$pid" ] || return 0
    [ "$(awk '/^State:/{print $2}' "/proc/$pid/status" 2>/dev/null)" = Z ] && return 0
    sleep 0.1
  done
  return 1
}
# Direct children of PID $1 (by PPid).
children_of() {
  awk -v p="$1" '/^PPid:/ && $2 == p { split(FILENAME, a, "/"); print a[3] } /^PPid:/ { nextfile }' \
    /proc/[0-9]*/status 2>/dev/null
  return 0
}

# ---- multi-node lab layout (shared by pcmk.sh, openstack.sh, fence_iha_lab) --
IHA_PCMK_RUN=$IHA_RUN/pcmk            # nodes/<n>/{holder,corosync,pacemakerd,pacemaker-remoted}.pid
IHA_PCMK_STATE=$IHA_STATE/pcmk        # <n>/ per-node dirs bind-mounted in the node
IHA_SW=iha-sw                         # netns holding the lab bridge
IHA_HOST_VETH=iha-lab0                # host side of the host<->bridge veth (.254)

node_exists() { [ -f "$IHA_PCMK_RUN/nodes/$1/holder.pid" ]; }
node_holder() {   # NODE -> holder pid (dies if the node is not running)
  local h; h=$(cat "$IHA_PCMK_RUN/nodes/$1/holder.pid" 2>/dev/null) || die "no such lab node: $1"
  pid_is "$h" sleep || die "holder of lab node $1 (pid $h) is not running"
  echo "$h"
}
node_is_remote() { [ -f "$IHA_PCMK_RUN/nodes/$1/is-remote" ]; }
# node_spawn NODE LOGFILE PIDFILE CMD...: start a daemon inside NODE's netns +
# mount ns + UTS ns with the clean daemon env. nsenter does not fork (no PID ns)
# and setsid does not fork either (a background job of a script is not a
# process-group leader), so $! is the daemon's own PID.
node_spawn() {
  local n=$1 logf=$2 pidf=$3 h; shift 3
  h=$(node_holder "$n")
  # 9>&-: do not hand pcmk.sh's power lock fd down to the daemon
  setsid nsenter -t "$h" -m -n -u --wd=/ -- "${IHA_DAEMON_ENV[@]}" "$@" </dev/null >>"$logf" 2>&1 9>&- &
  echo $! >"$pidf"
}
# node_run NODE CMD...: run a command inside NODE (foreground, clean env + TERM)
node_run() {
  local n=$1 h; shift
  h=$(node_holder "$n")
  nsenter -t "$h" -m -n -u --wd=/ -- \
    env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 HOME=/root TERM=dumb "$@"
}
# node_pids NODE: every process in the node's network namespace except its holder
node_pids() {
  local h ns p
  h=$(cat "$IHA_PCMK_RUN/nodes/$1/holder.pid" 2>/dev/null) || return 0
  ns=$(readlink "/proc/$h/ns/net" 2>/dev/null) || return 0
  for p in /proc/[0-9]*; do
    p=${p#/proc/}
    [ "$p" = "$h" ] && continue
    [ "$(readlink "/proc/$p/ns/net" 2>/dev/null)" = "$ns" ] && echo "$p"
  done
  return 0
}
