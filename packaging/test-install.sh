#!/bin/bash
# Install test for the packages built by packaging/build.sh:
#
#   packaging/test-install.sh [path/to/instance-ha.deb [path/to/instance-ha.rpm]]
#   packaging/test-install.sh --prepare-only   # only build/refresh the cache
#
# (without arguments: the packages listed in target/packages.txt)
#
# * .deb: on a clean Debian bookworm root (debootstrap --variant=minbase),
#   with pcs, pacemaker, pacemaker-cli-utils and Debian's fence-agents
#   (whose Python fence_compute/fence_evacuate we divert) installed, it
#   runs `apt-get install ./instance-ha.deb` and checks: the files and
#   diversions, `pcs stonith describe fence_compute|fence_evacuate` and
#   `pcs resource describe ocf:openstack:NovaEvacuate|nova-compute-wait`
#   show our parameters, `stonith_admin --list-installed` lists the agents
#   (and no diverted copy), the binaries are static; then removes the
#   package and checks the Python agents are back.
# * .rpm: `rpm -qpl` lists exactly the expected paths; requires/conflicts/
#   provides are what packaging/README.md says.
#
# Needs root, network access to the Debian mirror for the first run.
# Cache: /var/cache/instance-ha-pkgtest (INSTANCE_HA_PKGTEST_CACHE): a
# minbase root, and a prepared root with the cluster packages installed,
# rebuilt when older than CACHE_MAX_AGE_DAYS (default 7) so security
# updates get in. Every run works on a fresh copy of the prepared root.
#
# It never skips a check: it ends with "PASS" and exit 0, or with
# "FAIL: <what>" and exit 1.
set -euo pipefail

SUITE=bookworm
MIRROR=${MIRROR:-http://deb.debian.org/debian}
CACHE=${INSTANCE_HA_PKGTEST_CACHE:-/var/cache/instance-ha-pkgtest}
CACHE_MAX_AGE_DAYS=${CACHE_MAX_AGE_DAYS:-7}
# What the prepared root has: the brief's pcs + pacemaker-cli-utils, plus
# pacemaker (pcs describes stonith agents with pacemaker-fenced's metadata)
# and fence-agents (the Python agents we must coexist with).
CLUSTER_PACKAGES="pcs pacemaker pacemaker-cli-utils fence-agents"

cd "$(dirname "$0")/.."
START=$(date +%s)
ROOTFS=""

fail() { echo "FAIL: $*" >&2; exit 1; }
step() { echo "==> [$(( $(date +%s) - START ))s] $*" >&2; }

cleanup() {
    # The chroot's /proc is mounted only inside a private mount namespace
    # (see in_root), so nothing of the host is mounted below $ROOTFS.
    if [ -n "$ROOTFS" ] && [ -d "$ROOTFS" ]; then
        rm -rf --one-file-system "$ROOTFS"
    fi
}
trap cleanup EXIT

[ "$(id -u)" = 0 ] || fail "must run as root (debootstrap, chroot)"

PREPARE_ONLY=""
if [ "${1:-}" = --prepare-only ]; then
    PREPARE_ONLY=1
    shift
fi
DEB=${1:-}
RPM=${2:-}
if [ -n "$PREPARE_ONLY" ]; then
    :
elif [ -z "$DEB" ] && [ -f target/packages.txt ]; then
    DEB=$(sed -n 1p target/packages.txt)
    RPM=$(sed -n 2p target/packages.txt)
fi
if [ -z "$PREPARE_ONLY" ]; then
    [ -n "$DEB" ] || fail "no .deb given and no target/packages.txt: run packaging/build.sh first"
    [ -n "$RPM" ] || fail "no .rpm given and none in target/packages.txt: run packaging/build.sh first"
    [ -f "$DEB" ] || fail "$DEB does not exist (run packaging/build.sh)"
    [ -f "$RPM" ] || fail "$RPM does not exist (run packaging/build.sh)"
    DEB=$(realpath "$DEB")
    RPM=$(realpath "$RPM")
fi

# The paths both packages must install (docs and man pages included).
EXPECTED_PATHS="/usr/bin/instance-ha
/usr/lib/ocf/resource.d/openstack/NovaEvacuate
/usr/lib/ocf/resource.d/openstack/nova-compute-wait
/usr/sbin/fence_compute
/usr/sbin/fence_evacuate
/usr/share/doc/instance-ha/operator-guide.md
/usr/share/doc/instance-ha/packaging.md
/usr/share/doc/instance-ha/parameters.md
/usr/share/man/man8/fence_compute.8
/usr/share/man/man8/fence_evacuate.8
/usr/share/man/man8/instance-ha.8
/usr/share/man/man8/ocf_openstack_NovaEvacuate.8
/usr/share/man/man8/ocf_openstack_nova-compute-wait.8"
BINARIES="/usr/sbin/fence_compute /usr/sbin/fence_evacuate /usr/lib/ocf/resource.d/openstack/NovaEvacuate /usr/lib/ocf/resource.d/openstack/nova-compute-wait /usr/bin/instance-ha"

# --- host tools -------------------------------------------------------------
missing=""
command -v debootstrap >/dev/null || missing="$missing debootstrap"
command -v rpm >/dev/null || missing="$missing rpm"
command -v file >/dev/null || missing="$missing file"
command -v unshare >/dev/null || missing="$missing util-linux"
command -v cpio >/dev/null || missing="$missing cpio"
if [ -n "$missing" ]; then
    step "apt-get install$missing"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q $missing >/dev/null || fail "could not install$missing"
fi

# Run a command inside a root, with /proc mounted in a private mount
# namespace (it disappears with the command; nothing leaks to the host).
in_root() {
    local root=$1; shift
    unshare --mount --fork -- /bin/sh -c '
        root=$1; shift
        mount -t proc proc "$root/proc" || exit 99
        # A private devpts, so dpkg can log its terminal output.
        [ -d "$root/dev/pts" ] && mount -t devpts -o newinstance,ptmxmode=0666 devpts "$root/dev/pts" 2>/dev/null
        exec chroot "$root" /usr/bin/env -i \
            PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
            DEBIAN_FRONTEND=noninteractive "$@"' sh "$root" "$@"
}

age_ok() { # dir: complete and younger than the limit
    [ -f "$1/.complete" ] && [ -n "$(find "$1/.complete" -mtime -"$CACHE_MAX_AGE_DAYS")" ]
}

mkdir -p "$CACHE"
BASE=$CACHE/$SUITE-minbase
# Bump the suffix when the preparation below changes.
PREPARED=$CACHE/$SUITE-cluster-v2
rm -rf --one-file-system "$CACHE/$SUITE-cluster"

# --- cached roots -------------------------------------------------------------
if ! age_ok "$BASE"; then
    step "debootstrap --variant=minbase $SUITE (cold cache)"
    rm -rf --one-file-system "$BASE" "$PREPARED"
    debootstrap --variant=minbase "$SUITE" "$BASE" "$MIRROR" > "$CACHE/debootstrap.log" 2>&1 \
        || fail "debootstrap failed; see $CACHE/debootstrap.log"
    touch "$BASE/.complete"
fi
if ! age_ok "$PREPARED" || [ "$PREPARED/.complete" -ot "$BASE/.complete" ]; then
    step "preparing root: apt-get install $CLUSTER_PACKAGES"
    rm -rf --one-file-system "$PREPARED"
    cp -a "$BASE" "$PREPARED.tmp"
    rm -f "$PREPARED.tmp/.complete"
    # No daemons may start inside the root.
    printf '#!/bin/sh\nexit 101\n' > "$PREPARED.tmp/usr/sbin/policy-rc.d"
    chmod 755 "$PREPARED.tmp/usr/sbin/policy-rc.d"
    cp /etc/resolv.conf "$PREPARED.tmp/etc/resolv.conf" 2>/dev/null || true
    {
        in_root "$PREPARED.tmp" apt-get update -q &&
        in_root "$PREPARED.tmp" apt-get install -y -q $CLUSTER_PACKAGES &&
        in_root "$PREPARED.tmp" apt-get clean &&
        # Kept to reinstall fence-agents while we are installed (offline).
        in_root "$PREPARED.tmp" sh -c 'cd /root && apt-get download -q fence-agents'
    } > "$CACHE/prepare.log" 2>&1 || { rm -rf --one-file-system "$PREPARED.tmp"; fail "installing $CLUSTER_PACKAGES failed; see $CACHE/prepare.log"; }
    mv "$PREPARED.tmp" "$PREPARED"
    touch "$PREPARED/.complete"
fi

if [ -n "$PREPARE_ONLY" ]; then
    step "cache ready: $PREPARED"
    exit 0
fi

# --- the .deb -------------------------------------------------------------------
ROOTFS=$(mktemp -d "$CACHE/run.XXXXXX")
step "fresh root from the cache: $ROOTFS"
cp -a "$PREPARED/." "$ROOTFS/"

PY_COMPUTE_SUM=$(sha256sum < "$ROOTFS/usr/sbin/fence_compute")
head -c 64 "$ROOTFS/usr/sbin/fence_compute" | grep -q python || fail "the prepared root's /usr/sbin/fence_compute is not fence-agents' Python agent"

cp "$DEB" "$ROOTFS/tmp/instance-ha.deb"
step "apt-get install ./instance-ha.deb (beside fence-agents)"
in_root "$ROOTFS" apt-get install -y -q /tmp/instance-ha.deb > "$CACHE/install.log" 2>&1 \
    || { cat "$CACHE/install.log" >&2; fail "apt-get install ./instance-ha.deb failed"; }

step "checking installed files"
installed=$(in_root "$ROOTFS" dpkg-query -L instance-ha | sort)
for p in $EXPECTED_PATHS; do
    case $p in */man8/*) p=$p.gz ;; esac
    grep -qx "$p" <<<"$installed" || fail "dpkg -L instance-ha does not list $p"
    [ -f "$ROOTFS$p" ] || fail "$p is not installed"
done
for b in $BINARIES; do
    [ -x "$ROOTFS$b" ] || fail "$b is not executable"
    desc=$(file -b "$ROOTFS$b")
    echo "$desc" | grep -Eq "static(-pie)? linked" || fail "file(1) does not report $b as static: $desc"
done
zcat "$ROOTFS/usr/share/man/man8/fence_compute.8.gz" | grep -q "Generated by .cargo run --example gen-docs" \
    || fail "/usr/share/man/man8/fence_compute.8.gz is not our generated page"

step "checking diversions of fence-agents' files"
diversions=$(in_root "$ROOTFS" dpkg-divert --list)
for p in /usr/sbin/fence_compute /usr/sbin/fence_evacuate /usr/share/man/man8/fence_compute.8.gz /usr/share/man/man8/fence_evacuate.8.gz; do
    grep -q "diversion of $p to /usr/lib/instance-ha/diverted/.* by instance-ha" <<<"$diversions" || fail "no diversion of $p by instance-ha"
done
[ "$(sha256sum < "$ROOTFS/usr/lib/instance-ha/diverted/fence_compute")" = "$PY_COMPUTE_SUM" ] \
    || fail "the diverted fence_compute is not fence-agents' original"
[ -x "$ROOTFS/usr/sbin/fence_ipmilan" ] || fail "fence-agents' other agents (fence_ipmilan) are gone"
in_root "$ROOTFS" dpkg -s fence-agents 2>/dev/null | grep -q "^Status: install ok installed" || fail "fence-agents is no longer installed"

step "pcs stonith describe / pcs resource describe"
describe() { # expected-words... -- command...
    local words=() out
    while [ "$1" != "--" ]; do words+=("$1"); shift; done
    shift
    out=$(in_root "$ROOTFS" "$@" 2>&1) || { echo "$out" >&2; fail "'$*' failed"; }
    for w in "${words[@]}"; do
        grep -qw -- "$w" <<<"$out" || { echo "$out" >&2; fail "'$*' does not list $w"; }
    done
    echo "    $* : ok (${words[*]})" >&2
}
describe evacuation_wait auth_url password record_only -- pcs stonith describe fence_compute
describe completion concurrency evacuate_policy -- pcs stonith describe fence_evacuate
describe host_concurrency evacuate_delay max_failed_share require_fencing -- pcs resource describe ocf:openstack:NovaEvacuate
describe evacuation_delay token_cache -- pcs resource describe ocf:openstack:nova-compute-wait
# stdout alone (stderr apart, shown on failure), and grep reads a file: a
# CI run once failed this check with no output to tell why; under pipefail
# 'echo "$big" | grep -q' can also fail on SIGPIPE when grep stops early.
in_root "$ROOTFS" stonith_admin --list-installed > "$CACHE/list-installed.out" 2> "$CACHE/list-installed.err" \
    || { cat "$CACHE/list-installed.err" >&2; fail "stonith_admin --list-installed failed"; }
for a in fence_compute fence_evacuate; do
    if ! grep -qx " *$a" "$CACHE/list-installed.out"; then
        { echo "stonith_admin --list-installed: $(wc -l < "$CACHE/list-installed.out") lines on stdout, stderr:";
          cat "$CACHE/list-installed.err"; grep -n "compute\|evacuate" "$CACHE/list-installed.out";
          ls -l "$ROOTFS/usr/sbin/$a"; } >&2
        fail "stonith_admin --list-installed does not list $a"
    fi
done
if grep -E "fence_(compute|evacuate)." "$CACHE/list-installed.out"; then
    fail "stonith_admin lists a diverted copy as an agent"
fi
version=$(in_root "$ROOTFS" /usr/sbin/fence_compute -V) || fail "fence_compute -V failed"
echo "    fence_compute -V: $version" >&2

step "reinstalling fence-agents, then instance-ha, with the diversions in place"
in_root "$ROOTFS" sh -c 'apt-get install -y -q --reinstall /root/fence-agents_*.deb' > "$CACHE/reinstall.log" 2>&1 \
    || { cat "$CACHE/reinstall.log" >&2; fail "reinstalling fence-agents beside instance-ha failed"; }
file -b "$ROOTFS/usr/sbin/fence_compute" | grep -q ELF || fail "reinstalling fence-agents overwrote our /usr/sbin/fence_compute"
[ "$(sha256sum < "$ROOTFS/usr/lib/instance-ha/diverted/fence_compute")" = "$PY_COMPUTE_SUM" ] \
    || fail "reinstalling fence-agents did not put its fence_compute in the diverted place"
in_root "$ROOTFS" apt-get install -y -q --reinstall /tmp/instance-ha.deb >> "$CACHE/reinstall.log" 2>&1 \
    || { cat "$CACHE/reinstall.log" >&2; fail "reinstalling (upgrading) instance-ha failed"; }
[ "$(in_root "$ROOTFS" dpkg-divert --list | grep -c "by instance-ha")" = 6 ] || fail "not exactly 6 diversions after reinstalling instance-ha"
file -b "$ROOTFS/usr/sbin/fence_compute" | grep -q ELF || fail "after reinstalling instance-ha /usr/sbin/fence_compute is not ours"

step "apt-get remove instance-ha: the Python agents come back"
in_root "$ROOTFS" apt-get remove -y -q instance-ha > "$CACHE/remove.log" 2>&1 || { cat "$CACHE/remove.log" >&2; fail "apt-get remove instance-ha failed"; }
[ "$(sha256sum < "$ROOTFS/usr/sbin/fence_compute")" = "$PY_COMPUTE_SUM" ] || fail "after removal /usr/sbin/fence_compute is not fence-agents' again"
[ -f "$ROOTFS/usr/share/man/man8/fence_compute.8.gz" ] || fail "after removal fence-agents' man page is missing"
if in_root "$ROOTFS" dpkg-divert --list | grep -q "by instance-ha"; then
    fail "diversions left after removal"
fi
[ ! -e "$ROOTFS/usr/lib/instance-ha" ] || fail "/usr/lib/instance-ha left after removal"

step "without fence-agents: install, check, purge"
in_root "$ROOTFS" apt-get purge -y -q fence-agents > "$CACHE/plain.log" 2>&1 || { cat "$CACHE/plain.log" >&2; fail "apt-get purge fence-agents failed"; }
in_root "$ROOTFS" apt-get install -y -q /tmp/instance-ha.deb >> "$CACHE/plain.log" 2>&1 \
    || { cat "$CACHE/plain.log" >&2; fail "apt-get install ./instance-ha.deb without fence-agents failed"; }
file -b "$ROOTFS/usr/sbin/fence_compute" | grep -q ELF || fail "without fence-agents, /usr/sbin/fence_compute is not ours"
describe evacuation_wait -- pcs stonith describe fence_compute
in_root "$ROOTFS" apt-get purge -y -q instance-ha >> "$CACHE/plain.log" 2>&1 || { cat "$CACHE/plain.log" >&2; fail "apt-get purge instance-ha failed"; }
for p in $BINARIES /usr/lib/instance-ha; do
    [ ! -e "$ROOTFS$p" ] || fail "$p left after purging instance-ha"
done
if in_root "$ROOTFS" dpkg-divert --list | grep -q "by instance-ha"; then
    fail "diversions left after purging instance-ha"
fi

# --- the .rpm -----------------------------------------------------------------------
step "rpm -qpl $(basename "$RPM")"
rpm_paths=$(rpm -qpl "$RPM" 2>/dev/null | sort)
if [ "$rpm_paths" != "$(echo "$EXPECTED_PATHS" | sort)" ]; then
    diff <(echo "$EXPECTED_PATHS" | sort) <(echo "$rpm_paths") >&2 || true
    fail "rpm -qpl does not list exactly the expected paths (diff above: < expected, > rpm)"
fi
requires=$(rpm -qp --requires "$RPM" 2>/dev/null)
grep -q "^pacemaker-cli" <<<"$requires" || fail "the rpm does not require pacemaker-cli: $requires"
if [ "$(echo "$requires" | grep -v '^rpmlib(')" != pacemaker-cli ]; then
    fail "the rpm requires more than pacemaker-cli: $requires"
fi
if echo "$requires" | grep -Eq "libc\.so|GLIBC"; then
    fail "the rpm requires glibc symbols (binaries not static?): $requires"
fi
rpm -qp --conflicts "$RPM" 2>/dev/null | grep -q "^fence-agents-compute" || fail "the rpm does not conflict with fence-agents-compute"
rpm -qp --conflicts "$RPM" 2>/dev/null | grep -q "^openstack-resource-agents" || fail "the rpm does not conflict with openstack-resource-agents"
rpm -qp --provides "$RPM" 2>/dev/null | grep -q "^fence-agents-compute" || fail "the rpm does not provide fence-agents-compute"
case "$(rpm -qp --qf '%{PAYLOADCOMPRESSOR}' "$RPM" 2>/dev/null)" in
    zstd|xz) ;;
    *) fail "the rpm payload is neither zstd nor xz" ;;
esac
modes=$(rpm -qp --qf '[%{FILEMODES:perms} %{FILENAMES}\n]' "$RPM" 2>/dev/null)
for b in $BINARIES; do
    grep -qx -- "-rwxr-xr-x $b" <<<"$modes" || fail "$b is not mode 755 in the rpm"
done
RPMX=$(mktemp -d)
# rpm2cpio 4.18.0 (bookworm) exits 1 even when it wrote the whole archive,
# so its status is not used: cpio's is, and every expected file must be there.
rpm2cpio "$RPM" > "$RPMX/payload.cpio" || true
(cd "$RPMX" && cpio -idm --quiet < payload.cpio) || fail "could not unpack the rpm's payload"
for p in $EXPECTED_PATHS; do
    [ -f "$RPMX$p" ] || { rm -rf "$RPMX"; fail "$p missing from the rpm's payload"; }
done
for b in $BINARIES; do
    desc=$(file -b "$RPMX$b")
    echo "$desc" | grep -Eq "static(-pie)? linked" || { rm -rf "$RPMX"; fail "file(1) does not report $b in the rpm as static: $desc"; }
done
rm -rf "$RPMX"

step "PASS ($(( $(date +%s) - START ))s)"
echo PASS
