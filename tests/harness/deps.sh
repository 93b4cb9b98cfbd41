#!/bin/bash
# deps.sh - install everything the test suite needs on a bare Debian 12 (root).
# Idempotent; when everything is present it only checks (a few seconds).
#
#   1. apt packages (apt-get update only if something is missing; retries
#      while another apt/dpkg holds the lock; services are NOT started:
#      a temporary policy-rc.d denies it, the harness starts its own daemons)
#   2. the OpenStack venv at $IHA_VENV (default /opt/oslab/venv), pinned by
#      os/upper-constraints-2026.1.txt; skipped when the pinned services import
#   3. pacemaker-remoted extracted from the pacemaker-remote .deb (that package
#      conflicts with pacemaker) into $IHA_STATE/pacemaker-remote/root
#   4. dpkg-divert --rename of Debian's Python fence_compute / fence_evacuate to
#      /usr/sbin/fence_compute.distrib / fence_evacuate.distrib, so that our Rust
#      agents can be installed at /usr/sbin/ while the Python ones stay
#      runnable for benchmarks:
#        PYTHONPATH=tests/harness/fence-shim /usr/sbin/fence_compute.distrib ...
#      (fence-shim/sitecustomize.py restores inspect.getargspec, removed in
#      Python 3.11; Debian's fence-agents 4.12.1 crashes without it)
#   5. the lab fence agent /usr/sbin/fence_iha_lab (pcmk.sh install-agents)
#
# Usage: tests/harness/deps.sh            (all of the above)
#        SKIP_VENV=1 tests/harness/deps.sh   (no OpenStack venv)
# Env:   IHA_VENV (venv dir), PYTHON (interpreter for a new venv),
#        IHA_EXTRA_APT ("pkg1 pkg2": more apt packages, e.g. shellcheck)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_root
T0=$(date +%s.%N)

APT_PKGS=(pacemaker pacemaker-cli-utils corosync pcs crmsh fence-agents resource-agents
  libxml2-utils rabbitmq-server mariadb-server mariadb-client sqlite3
  python3-novaclient python3-keystoneclient musl-tools iproute2 hyperfine time procps
  psmisc curl python3-venv util-linux file bc
  prometheus ${IHA_EXTRA_APT:-})   # prometheus: promtool checks our metrics file
NOVA_VER=33.0.2 KEYSTONE_VER=29.1.0 PLACEMENT_VER=15.0.0 GLANCE_VER=32.0.0
UC=$IHA_HARNESS/os/upper-constraints-2026.1.txt

export DEBIAN_FRONTEND=noninteractive
APT_UPDATED=0
apt_retry() {   # apt-get ARGS...: retry while the dpkg/apt lock is held
  local i
  for i in $(seq 1 30); do
    apt-get -o DPkg::Lock::Timeout=60 "$@" && return 0
    log "apt-get $1 failed (lock held by another apt/dpkg?), retry $i/30 in 10 s"
    sleep 10
  done
  return 1
}
apt_update_once() { [ "$APT_UPDATED" = 1 ] || { apt_retry update -q; APT_UPDATED=1; }; }

# ---- 1. apt packages ----------------------------------------------------------
missing=()
for p in "${APT_PKGS[@]}"; do
  dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null | grep -qx installed || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "apt: installing ${missing[*]}"
  apt_update_once
  # No init system here: keep postinst scripts from starting rabbitmq, mariadb,
  # corosync, pacemaker (our scripts run private instances). Only if the
  # machine has no policy-rc.d of its own; removed again afterwards.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\n# temporary, tests/harness/deps.sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  apt_retry install -y -q --no-install-recommends "${missing[@]}" || die "apt-get install failed"
  grep -q 'tests/harness/deps.sh' /usr/sbin/policy-rc.d 2>/dev/null && rm -f /usr/sbin/policy-rc.d
else
  log "apt: all ${#APT_PKGS[@]} packages present"
fi

# ---- 2. OpenStack venv ----------------------------------------------------------
venv_ok() {
  [ -x "$IHA_VENV/bin/python" ] && [ -x "$IHA_VENV/bin/nova-compute" ] && "$IHA_VENV/bin/python" - <<EOF 2>/dev/null
import importlib.metadata as m
want = {"nova": "$NOVA_VER", "keystone": "$KEYSTONE_VER", "openstack-placement": "$PLACEMENT_VER",
        "glance": "$GLANCE_VER"}
assert all(m.version(k) == v for k, v in want.items())
for k in ("gunicorn", "python-openstackclient", "PyMySQL", "python-novaclient"):
    m.version(k)
EOF
}
if [ "${SKIP_VENV:-0}" = 1 ]; then
  log "venv: skipped (SKIP_VENV=1)"
elif venv_ok; then
  log "venv: $IHA_VENV ok (nova $NOVA_VER)"
else
  PY=${PYTHON:-}
  if [ -z "$PY" ]; then   # pyenv's 3.11 if present (this dev box), else Debian's
    for cand in /root/.pyenv/versions/3.11*/bin/python3.11 /usr/bin/python3.11 /usr/bin/python3; do
      [ -x "$cand" ] && { PY=$cand; break; }
    done
  fi
  log "venv: building $IHA_VENV with $PY ($("$PY" --version 2>&1)), takes ~1.5 min"
  mkdir -p "$(dirname "$IHA_VENV")"
  [ -x "$IHA_VENV/bin/python" ] || "$PY" -m venv "$IHA_VENV"
  "$IHA_VENV/bin/pip" install -q --upgrade pip wheel
  # Services are never in upper-constraints: pinned here; every library by -c.
  "$IHA_VENV/bin/pip" install -q -c "$UC" "nova==$NOVA_VER" "keystone==$KEYSTONE_VER" \
    "openstack-placement==$PLACEMENT_VER" "glance==$GLANCE_VER" \
    gunicorn python-openstackclient python-novaclient PyMySQL
  venv_ok || die "venv still incomplete after pip install"
  log "venv: ready"
fi
if [ "${SKIP_VENV:-0}" != 1 ]; then
  # nova loads virt drivers only from the nova.virt package
  vdir=$("$IHA_VENV/bin/python" -c 'import nova.virt, os; print(os.path.dirname(nova.virt.__file__))')
  cmp -s "$IHA_HARNESS/os/iha_fake_driver.py" "$vdir/iha_fake_driver.py" ||
    install -m 644 "$IHA_HARNESS/os/iha_fake_driver.py" "$vdir/iha_fake_driver.py"
fi

# ---- 3. pacemaker-remoted -----------------------------------------------------------
if [ -x "$IHA_REMOTED" ] && "$IHA_REMOTED" --version >/dev/null 2>&1; then
  log "pacemaker-remoted: present ($IHA_REMOTED)"
else
  want=$(dpkg-query -W -f='${Version}' pacemaker)
  install -d "$IHA_REMOTED_DIR"
  deb=$(ls "$IHA_REMOTED_DIR"/pacemaker-remote_*.deb 2>/dev/null | tail -1 || true)
  if [ -z "$deb" ]; then
    # same version as the installed pacemaker (its libraries are used)
    (cd "$IHA_REMOTED_DIR" && apt-get download -q "pacemaker-remote=$want" >/dev/null 2>&1) || {
      apt_update_once
      (cd "$IHA_REMOTED_DIR" && apt-get download -q "pacemaker-remote=$want")
    } || die "apt-get download pacemaker-remote=$want failed"
    deb=$(ls "$IHA_REMOTED_DIR"/pacemaker-remote_*.deb | tail -1)
  fi
  rm -rf "$IHA_REMOTED_DIR/root"
  dpkg -x "$deb" "$IHA_REMOTED_DIR/root"
  "$IHA_REMOTED" --version >/dev/null || die "extracted pacemaker-remoted does not run"
  log "pacemaker-remoted: extracted from $(basename "$deb")"
fi

# ---- 4. divert Debian's Python fence_compute / fence_evacuate ----------------------
for a in fence_compute fence_evacuate; do
  if dpkg-divert --list "/usr/sbin/$a" | grep -q "/usr/sbin/$a.distrib"; then
    continue
  fi
  # If a non-packaged file (e.g. our Rust agent) already sits at /usr/sbin/$a,
  # --rename would refuse; move it aside and put it back after the diversion.
  tmp=
  if [ -e "/usr/sbin/$a" ] && ! head -c 64 "/usr/sbin/$a" | grep -qa python; then
    tmp=/usr/sbin/.$a.iha-keep; mv -f "/usr/sbin/$a" "$tmp"
  fi
  dpkg-divert --local --rename --divert "/usr/sbin/$a.distrib" --add "/usr/sbin/$a" >/dev/null
  [ -n "$tmp" ] && mv -f "$tmp" "/usr/sbin/$a"
  log "diverted /usr/sbin/$a -> /usr/sbin/$a.distrib"
done
for a in fence_compute fence_evacuate; do
  [ -x "/usr/sbin/$a.distrib" ] || die "/usr/sbin/$a.distrib missing (fence-agents not installed?)"
done
log "fence agents: Debian's Python ones at /usr/sbin/fence_{compute,evacuate}.distrib" \
    "(run with PYTHONPATH=$IHA_HARNESS/fence-shim)"

# ---- 5. lab fence agent ----------------------------------------------------------------
"$IHA_HARNESS/pcmk.sh" install-agents

log "deps ok in $(elapsed "$T0") s"
