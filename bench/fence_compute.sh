#!/bin/bash
# Benchmark: our fence_compute against Debian's Python fence_compute, in one
# run, on the real OpenStack lab (Keystone + Nova on this machine).
#
#   bash bench/fence_compute.sh            # starts the OpenStack lab if needed
#   RUNS=30 bash bench/fence_compute.sh
#
# Prints wall time (hyperfine, mean and min) and peak RSS (GNU time, max of
# several runs) of `-o metadata` and `-o monitor` for both agents, and the
# ratios. Also: nova-compute-wait's monitor with and without the Keystone
# token cache (is a root-only cache worth it for agents run every 10 s?).
# Targets (issue 2): metadata < 5 ms and >= 30x faster; monitor >= 5x
# faster; peak RSS < 10 MB. Nothing here asserts: it measures and prints.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
RUNS=${RUNS:-20}
OURS=${OURS:-$ROOT/target/release/fence_compute}
PY=/usr/sbin/fence_compute.distrib
SHIM=$ROOT/tests/harness/fence-shim
OUT=$ROOT/target/bench
mkdir -p "$OUT"

[ -x "$PY" ] || { echo "Debian's agent not found at $PY: run tests/harness/deps.sh" >&2; exit 1; }
command -v hyperfine >/dev/null || { echo "hyperfine missing: run tests/harness/deps.sh" >&2; exit 1; }
cargo build --release --bins -q
if ! curl -s -o /dev/null --max-time 2 http://iha-cloud:5000/v3; then
  echo "starting the OpenStack lab (tests/harness/openstack.sh up)..."
  bash tests/harness/openstack.sh up >"$OUT/openstack-up.log" 2>&1
  STARTED_LAB=1
fi
eval "$(bash tests/harness/openstack.sh env)"
ARGS=(-k "$OS_AUTH_URL" -l "$OS_USERNAME" -p "$OS_PASSWORD" -t "$OS_PROJECT_NAME" -e publicURL --region-name "${OS_REGION_NAME:-RegionOne}")

py() { env PYTHONPATH="$SHIM" "$PY" "$@"; }
export -f py 2>/dev/null || true

# hyperfine JSON -> "mean_ms min_ms"
hf() {
  local name=$1; shift
  hyperfine -N --warmup 2 --runs "$RUNS" --export-json "$OUT/$name.json" "$@" >/dev/null 2>&1 || {
    echo "hyperfine failed for $name" >&2; return 1; }
  python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"][0]; print("%.2f %.2f" % (r["mean"]*1000, r["min"]*1000))' "$OUT/$name.json"
}
# peak RSS in KB over 5 runs
rss() {
  local max=0 v
  for _ in 1 2 3 4 5; do
    /usr/bin/time -f '%M' -o "$OUT/rss.tmp" "$@" >/dev/null 2>&1 || true
    v=$(tail -1 "$OUT/rss.tmp")
    [ "${v:-0}" -gt "$max" ] && max=$v
  done
  echo "$max"
}

echo "measuring ($RUNS runs each)..."
read -r om omin < <(hf ours-metadata "$OURS -o metadata")
read -r pm pmin < <(hf py-metadata "env PYTHONPATH=$SHIM $PY -o metadata")
read -r on onmin < <(hf ours-monitor "$OURS -o monitor ${ARGS[*]}")
read -r pn pnmin < <(hf py-monitor "env PYTHONPATH=$SHIM $PY -o monitor ${ARGS[*]}")
read -r onc onncmin < <(hf ours-monitor-nocache "$OURS -o monitor --token-cache=false ${ARGS[*]}")
ro_m=$(rss "$OURS" -o metadata); rp_m=$(rss env PYTHONPATH="$SHIM" "$PY" -o metadata)
ro_n=$(rss "$OURS" -o monitor "${ARGS[@]}"); rp_n=$(rss env PYTHONPATH="$SHIM" "$PY" -o monitor "${ARGS[@]}")

# nova-compute-wait monitor, token cache on/off (it runs every 10 s).
NCW=$ROOT/target/release/nova-compute-wait
TMP=$(mktemp -d); trap 'rm -rf "$TMP"; [ -n "${STARTED_LAB:-}" ] && bash tests/harness/openstack.sh down >/dev/null 2>&1 || true' EXIT
touch "$TMP/nova-compute-wait-bench.started"
ncw() {
  env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HA_LOGFACILITY=none HA_RSCTMP="$TMP" OCF_RESOURCE_INSTANCE=bench \
    OCF_RESKEY_CRM_meta_interval=10000 OCF_RESKEY_CRM_meta_on_node=compute-0 \
    OCF_RESKEY_auth_url="$OS_AUTH_URL" OCF_RESKEY_username="$OS_USERNAME" OCF_RESKEY_password="$OS_PASSWORD" \
    OCF_RESKEY_tenant_name="$OS_PROJECT_NAME" OCF_RESKEY_endpoint_type=public OCF_RESKEY_token_cache="$1" "$NCW" monitor
}
export -f ncw; export TMP NCW OS_AUTH_URL OS_USERNAME OS_PASSWORD OS_PROJECT_NAME
read -r cm cmin < <(hf ncw-cache "bash -c 'ncw true'")
read -r nm nmin < <(hf ncw-nocache "bash -c 'ncw false'")

ratio() { python3 -c "import sys; print('%.1fx' % (float(sys.argv[1]) / float(sys.argv[2])))" "$1" "$2"; }
mb() { python3 -c "import sys; print('%.1f MB' % (int(sys.argv[1]) / 1024))" "$1"; }
echo
printf '%-34s %14s %14s %10s\n' "" "ours" "Python (Debian)" "ratio"
printf '%-34s %11s ms %11s ms %10s\n' "metadata: mean wall time" "$om" "$pm" "$(ratio "$pm" "$om")"
printf '%-34s %11s ms %11s ms %10s\n' "metadata: min wall time" "$omin" "$pmin" "$(ratio "$pmin" "$omin")"
printf '%-34s %11s ms %11s ms %10s\n' "monitor: mean wall time" "$on" "$pn" "$(ratio "$pn" "$on")"
printf '%-34s %11s ms %11s ms %10s\n' "monitor: min wall time" "$onmin" "$pnmin" "$(ratio "$pnmin" "$onmin")"
printf '%-34s %11s ms %11s ms %10s\n' "monitor, no token cache: mean" "$onc" "$pn" "$(ratio "$pn" "$onc")"
printf '%-34s %14s %14s %10s\n' "metadata: peak RSS" "$(mb "$ro_m")" "$(mb "$rp_m")" "$(ratio "$rp_m" "$ro_m")"
printf '%-34s %14s %14s %10s\n' "monitor: peak RSS" "$(mb "$ro_n")" "$(mb "$rp_n")" "$(ratio "$rp_n" "$ro_n")"
echo
printf 'nova-compute-wait monitor (bash -c wrapper included): token cache %s ms, no cache %s ms (%s)\n' "$cm" "$nm" "$(ratio "$nm" "$cm")"
echo "targets: metadata < 5 ms and >= 30x; monitor >= 5x; peak RSS < 10 MB"
