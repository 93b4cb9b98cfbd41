#!/bin/bash
# openstack.sh - a real OpenStack control plane for the tests, without systemd
# (adapted from the verified shared lab): MariaDB + RabbitMQ, Keystone,
# Placement, Glance (file store), a fake Neutron stub, Nova api/conductor/
# scheduler and N_COMPUTE fake nova-compute hosts compute-0..N-1.
# OpenStack 2026.1 (nova 33.0.2) from the venv built by deps.sh.
#
# Usage:
#   openstack.sh up                 start (first run initialises the DBs: ~70 s; later ~45 s)
#   openstack.sh down               stop what `up` started (by pid files); safe when nothing runs.
#                                   WIPE=1: also delete DBs, keys, logs (next up re-initialises)
#   openstack.sh status             our processes + Nova services/servers
#   openstack.sh env                `export OS_...=` lines (admin) for eval
#   openstack.sh boot N [HOST]      flavor iha.tiny + image iha-fake if missing, boot N
#                                   servers (networks none, optionally pinned to HOST), wait ACTIVE
#   openstack.sh compute-kill HOST  kill -9 HOST's nova-compute (by PID)
#   openstack.sh compute-start HOST start HOST's nova-compute again (in its lab node, see below)
#
# Env: N_COMPUTE (3), IHA_VENV (/opt/oslab/venv), IHA_COMPUTE_IN_NODES (0),
#      IHA_NOVA_REPORT_INTERVAL (10 s), IHA_NOVA_SERVICE_DOWN_TIME (60 s)
#
# Reachability: every API and RabbitMQ listen on 0.0.0.0 (MariaDB, used only by
# host-side services, on 127.0.0.1). The Keystone catalog, auth_url and
# transport_url use the host name "iha-cloud": `up` adds the marked line
# "127.0.0.1 iha-cloud" to the host's /etc/hosts, and pcmk.sh multi-up maps
# it to the host veth (.254) in every lab node's /etc/hosts. So the same
# URLs (OS_AUTH_URL=http://iha-cloud:5000/v3) work from the host and from
# inside `pcmk.sh exec NODE ...`; traffic stays on loopback / the lab bridge.
# RabbitMQ's guest user is allowed from non-loopback addresses (loopback_users).
#
# IHA_COMPUTE_IN_NODES=1 (with the multi-node lab already up: pcmk.sh
# multi-up first): the nova-compute of every compute-I that is a lab node runs
# INSIDE that node's namespaces (my_ip = node address), so pcmk.sh power-off
# kills it and power-on starts it again; hosts without a lab node (e.g.
# compute-2) run on the host. The choice is recorded in
# /run/iha-lab/os/nova-compute-HOST.where (host|node).
#
# Ports (fixed, so only one such cloud per machine, and not together with the
# shared /work/shared/labs/openstack lab): keystone 5000, placement 8778,
# glance 9292, fake neutron 9696, nova 8774, rabbitmq 5672 (+epmd 4369 and
# 25672 on 127.0.0.1/all), mariadb 3306 on 127.0.0.1.
# State/logs: /var/lib/iha-lab/os/{etc,log,state,mysql,rabbitmq}; pids: /run/iha-lab/os/.
set -euo pipefail
IHA_VENV_FROM_ENV=${IHA_VENV:-}
. "$(dirname "$0")/lib.sh"

OSD=$IHA_STATE/os
OSR=$IHA_RUN/os
ETC=$OSD/etc LOG=$OSD/log ST=$OSD/state
# the venv chosen at `up` is reused by compute-start (e.g. run by fence_iha_lab with a clean env)
if [ -z "$IHA_VENV_FROM_ENV" ] && [ -s "$OSR/venv" ] && [ "${1:-}" != up ]; then IHA_VENV=$(cat "$OSR/venv"); fi
VENV=$IHA_VENV
N_COMPUTE=${N_COMPUTE:-3}
ADMIN_PASS=admin-secret SERVICE_PASS=service-secret DB_PASS=iha-db-secret REGION=RegionOne
KEYSTONE_PORT=5000 PLACEMENT_PORT=8778 NOVA_PORT=8774 GLANCE_PORT=9292 NEUTRON_PORT=9696
RABBIT_PORT=5672 RABBIT_DIST_PORT=25672 MYSQL_PORT=3306
MYSQL_SOCK=$OSR/mysqld.sock
KS_URL=http://$IHA_CLOUD:$KEYSTONE_PORT
db_url() { echo "mysql+pymysql://iha:$DB_PASS@127.0.0.1:$MYSQL_PORT/$1?charset=utf8"; }

admin_env() {
  export OS_AUTH_URL=$KS_URL/v3 OS_USERNAME=admin OS_PASSWORD=$ADMIN_PASS OS_PROJECT_NAME=admin
  export OS_USER_DOMAIN_NAME=Default OS_PROJECT_DOMAIN_NAME=Default OS_REGION_NAME=$REGION
  export OS_IDENTITY_API_VERSION=3 OS_INTERFACE=public
}

# ---- process bookkeeping: $OSR/NAME.pid = "PID\nWORD" (WORD must occur in the
# process's command line: PID-reuse guard) -----------------------------------------
alive() {   # NAME
  local f=$OSR/$1.pid
  [ -s "$f" ] && pid_match "$(sed -n 1p "$f")" "$(sed -n 2p "$f")"
}
start_bg() {   # NAME WORD CMD...: own session, clean env, output in $LOG/NAME.out
  local name=$1 word=$2; shift 2
  if alive "$name"; then log "$name already running (pid $(sed -n 1p "$OSR/$name.pid"))"; return 0; fi
  setsid "${IHA_DAEMON_ENV[@]}" "$@" >>"$LOG/$name.out" 2>&1 </dev/null 9>&- &
  printf '%s\n%s\n' $! "$word" >"$OSR/$name.pid"
}
wait_http() {   # URL SECONDS
  local i code=
  for ((i = 0; i < $2 * 4; i++)); do
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$1" || true)
    [ -n "$code" ] && [ "$code" != 000 ] && [ "$code" -lt 500 ] && return 0
    sleep 0.25
  done
  die "timeout waiting for $1 (last HTTP code $code)"
}
wait_tcp() {   # PORT SECONDS NAME
  local i
  for ((i = 0; i < $2 * 4; i++)); do (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.25; done
  die "$3 not listening on :$1 after $2 s (logs: $LOG)"
}

# ---- compute hosts ---------------------------------------------------------------
compute_start() {   # HOST
  local host=$1 i=${1#compute-} where=host addr=127.0.0.1 name=nova-compute-$1
  [ -f "$ETC/nova/nova.conf" ] && [[ $i =~ ^[0-9]+$ ]] || die "unknown compute host $host (openstack.sh up first)"
  alive "$name" && { log "$name already running"; return 0; }
  if [ -f "$OSR/compute-in-nodes" ] && node_exists "$host"; then
    where=node; addr=$(cat "$IHA_PCMK_RUN/nodes/$host/addr")
    [ -f "$IHA_PCMK_RUN/nodes/$host/powered-off" ] && die "lab node $host is powered off"
  fi
  mkdir -p "$ST/$host"
  cat >"$ETC/nova/$host.conf" <<EOF
# per fake-compute overrides (devstack NUMBER_FAKE_NOVA_COMPUTE style)
[DEFAULT]
host = $host
my_ip = $addr
state_path = $ST/$host
instances_path = $ST/$host/instances
EOF
  # persistent node identity = the uuid iha_fake_driver reports for this node
  # (nova >= 2023.1 refuses a restart without it)
  [ -s "$ST/$host/compute_id" ] ||
    "$VENV/bin/python" -c "import uuid; print(uuid.uuid5(uuid.NAMESPACE_DNS, '$host'))" >"$ST/$host/compute_id"
  local argv=("$VENV/bin/nova-compute" --config-file "$ETC/nova/nova.conf"
    --config-file "$ETC/nova/$host.conf" --log-file "$LOG/$name.log")
  if [ $where = node ]; then
    node_spawn "$host" "$LOG/$name.out" "$OSR/$name.pid" "${argv[@]}"
    echo nova-compute >>"$OSR/$name.pid"
  else
    start_bg "$name" nova-compute "${argv[@]}"
  fi
  echo $where >"$OSR/$name.where"
  log "started $name in $where (pid $(sed -n 1p "$OSR/$name.pid"))"
}
compute_kill() {   # HOST
  local name=nova-compute-$1 pid
  alive "$name" || die "$name is not running"
  pid=$(sed -n 1p "$OSR/$name.pid")
  kill -KILL "$pid"; pid_dead_wait "$pid" 10 || true
  log "killed $name (pid $pid)"
}

# ---- up ----------------------------------------------------------------------------
up() {
  need_root
  local t0 first=0 i h
  t0=$(date +%s.%N)
  [ -x "$VENV/bin/nova-compute" ] || die "no OpenStack venv at $VENV: run deps.sh"
  mkdir -p "$ETC"/{keystone,placement,nova,glance} "$LOG" "$ST"/glance/{images,staging,tasks} \
    "$ST/nova/lock" "$OSD/rabbitmq" "$OSR"
  echo "$VENV" >"$OSR/venv"
  if [ "${IHA_COMPUTE_IN_NODES:-0}" = 1 ]; then
    [ -d "$IHA_PCMK_RUN/nodes" ] || die "IHA_COMPUTE_IN_NODES=1 needs the multi-node lab: pcmk.sh multi-up first"
    touch "$OSR/compute-in-nodes"
  else
    rm -f "$OSR/compute-in-nodes"
  fi
  # iha-cloud = 127.0.0.1 on the host (append only: /etc/hosts may be a bind mount)
  grep -Eq "^[^#]*[[:space:]]$IHA_CLOUD([[:space:]]|\$)" /etc/hosts ||
    echo "127.0.0.1 $IHA_CLOUD  # iha-lab harness (tests/harness/openstack.sh)" >>/etc/hosts
  # nova loads virt drivers only from the nova.virt package
  local vdir; vdir=$("$VENV/bin/python" -c 'import nova.virt, os; print(os.path.dirname(nova.virt.__file__))')
  cmp -s "$IHA_HARNESS/os/iha_fake_driver.py" "$vdir/iha_fake_driver.py" ||
    install -m 644 "$IHA_HARNESS/os/iha_fake_driver.py" "$vdir/iha_fake_driver.py"

  write_configs

  # rabbitmq + mariadb start in parallel (both take a few seconds)
  local rmq_env=(HOME=/var/lib/rabbitmq RABBITMQ_NODENAME=iha@localhost RABBITMQ_NODE_IP_ADDRESS=0.0.0.0
    "RABBITMQ_NODE_PORT=$RABBIT_PORT" "RABBITMQ_DIST_PORT=$RABBIT_DIST_PORT"
    "RABBITMQ_MNESIA_BASE=$OSD/rabbitmq/mnesia" "RABBITMQ_LOG_BASE=$OSD/rabbitmq/log"
    "RABBITMQ_ENABLED_PLUGINS_FILE=$OSD/rabbitmq/enabled_plugins"
    "RABBITMQ_CONFIG_FILE=$OSD/rabbitmq/rabbitmq.conf" RABBITMQ_CONF_ENV_FILE=/dev/null
    ERL_EPMD_ADDRESS=127.0.0.1)
  # guest may connect from the lab nodes (default: loopback only)
  echo 'loopback_users.guest = false' >"$OSD/rabbitmq/rabbitmq.conf"
  [ -f "$OSD/rabbitmq/enabled_plugins" ] || echo '[].' >"$OSD/rabbitmq/enabled_plugins"
  chown -R rabbitmq:rabbitmq "$OSD/rabbitmq"
  local as_rabbit=(setpriv --reuid=rabbitmq --regid=rabbitmq --init-groups env "${rmq_env[@]}")
  # our own epmd first, so that erl does not daemonise an anonymous one
  if ! alive epmd && ! (echo >/dev/tcp/127.0.0.1/4369) 2>/dev/null; then start_bg epmd epmd "${as_rabbit[@]}" epmd -address 127.0.0.1; sleep 0.3; fi
  start_bg rabbitmq rabbit "${as_rabbit[@]}" /usr/lib/rabbitmq/bin/rabbitmq-server

  mkdir -p "$OSD/mysql"; chown mysql:mysql "$OSD/mysql" "$OSR"
  if [ ! -d "$OSD/mysql/mysql" ]; then
    mariadb-install-db --no-defaults --user=mysql --datadir="$OSD/mysql" \
      --auth-root-authentication-method=socket --skip-test-db >"$LOG/mariadb-install.log" 2>&1
  fi
  start_bg mariadb mariadbd /usr/sbin/mariadbd --no-defaults --user=mysql --datadir="$OSD/mysql" \
    --socket="$MYSQL_SOCK" --port=$MYSQL_PORT --bind-address=127.0.0.1 \
    --pid-file="$OSR/mariadbd-own.pid" --log-error="$LOG/mariadb.err" \
    --skip-log-bin --innodb-buffer-pool-size=128M --innodb-flush-log-at-trx-commit=2 \
    --max-connections=1000 --character-set-server=utf8mb4 --collation-server=utf8mb4_general_ci
  for ((i = 0; i < 240; i++)); do
    mariadb --no-defaults -uroot --socket="$MYSQL_SOCK" -e 'select 1' >/dev/null 2>&1 && break; sleep 0.25
  done
  mariadb --no-defaults -uroot --socket="$MYSQL_SOCK" <<SQL || die "mariadb not usable, see $LOG/mariadb.err"
CREATE USER IF NOT EXISTS 'iha'@'127.0.0.1' IDENTIFIED BY '$DB_PASS';
$(for d in keystone placement glance nova_api nova_cell0 nova_cell1; do
    echo "CREATE DATABASE IF NOT EXISTS $d; GRANT ALL PRIVILEGES ON $d.* TO 'iha'@'127.0.0.1';"
  done)
SQL
  log "mariadb up ($(elapsed "$t0") s)"

  local NM=("$VENV/bin/nova-manage" --config-file "$ETC/nova/nova.conf" --config-file "$ETC/nova/nova-db.conf")
  if [ ! -f "$OSD/.initialised" ]; then
    first=1
    log "first run: initialising the databases (~30 s)"
    local KSM=("$VENV/bin/keystone-manage" --config-file "$ETC/keystone/keystone.conf")
    mkdir -p "$ETC/keystone/fernet-keys" "$ETC/keystone/credential-keys"
    # the db syncs of the different services are independent: run them in parallel
    (
      "${KSM[@]}" db_sync
      "${KSM[@]}" fernet_setup --keystone-user root --keystone-group root
      "${KSM[@]}" credential_setup --keystone-user root --keystone-group root
      "${KSM[@]}" bootstrap --bootstrap-password "$ADMIN_PASS" --bootstrap-admin-url "$KS_URL/v3/" \
        --bootstrap-internal-url "$KS_URL/v3/" --bootstrap-public-url "$KS_URL/v3/" --bootstrap-region-id "$REGION"
    ) >"$LOG/init-keystone.log" 2>&1 &
    local p1=$!
    "$VENV/bin/placement-manage" --config-file "$ETC/placement/placement.conf" db sync >"$LOG/init-placement.log" 2>&1 &
    local p2=$!
    "$VENV/bin/glance-manage" --config-file "$ETC/glance/glance-api.conf" db_sync >"$LOG/init-glance.log" 2>&1 &
    local p3=$!
    (
      "${NM[@]}" api_db sync
      "${NM[@]}" cell_v2 map_cell0 --database_connection "$(db_url nova_cell0)"
      "${NM[@]}" cell_v2 create_cell --name cell1 --verbose
      "${NM[@]}" db sync
    ) >"$LOG/init-nova.log" 2>&1 &
    local p4=$!
    local ok=1
    wait $p1 || { ok=0; tail "$LOG/init-keystone.log" >&2; }
    wait $p2 || { ok=0; tail "$LOG/init-placement.log" >&2; }
    wait $p3 || { ok=0; tail "$LOG/init-glance.log" >&2; }
    wait $p4 || { ok=0; tail "$LOG/init-nova.log" >&2; }
    [ $ok = 1 ] || die "database initialisation failed (logs in $LOG/init-*.log)"
    log "databases initialised ($(elapsed "$t0") s)"
  fi

  # API services (gunicorn via wsgi-serve.py: see its header for why)
  local ws=("$VENV/bin/python" "$IHA_HARNESS/os/wsgi-serve.py")
  start_bg keystone keystone env OS_KEYSTONE_CONFIG_FILES="$ETC/keystone/keystone.conf" \
    "${ws[@]}" keystone $KEYSTONE_PORT 1 keystone.wsgi.api:application "$LOG/keystone-access.log" 4
  start_bg placement placement env OS_PLACEMENT_CONFIG_DIR="$ETC/placement" \
    "${ws[@]}" placement $PLACEMENT_PORT 1 placement.wsgi.api:application "$LOG/placement-access.log" 4
  start_bg glance-api glance-api env OS_GLANCE_CONFIG_DIR="$ETC/glance" \
    "${ws[@]}" glance-api $GLANCE_PORT 1 glance.wsgi.api:application "$LOG/glance-api-access.log" 4
  start_bg fake-neutron fake-neutron.py "$VENV/bin/python" "$IHA_HARNESS/os/fake-neutron.py" $NEUTRON_PORT
  # nova-api: 2 workers so that one slow request does not block a fence agent
  start_bg nova-api nova-api env OS_NOVA_CONFIG_DIR="$ETC/nova" OS_NOVA_CONFIG_FILES="api-paste.ini;nova.conf;nova-db.conf" \
    "${ws[@]}" nova-api $NOVA_PORT 2 nova.wsgi.osapi_compute:application "$LOG/nova-api-access.log" 4
  wait_tcp $RABBIT_PORT 120 rabbitmq
  log "rabbitmq up ($(elapsed "$t0") s)"
  wait_http "http://127.0.0.1:$KEYSTONE_PORT/v3" 120
  log "keystone up ($(elapsed "$t0") s)"
  admin_env
  if [ $first = 1 ] || [ ! -f "$OSD/.entities" ]; then
    env SERVICE_PASS="$SERVICE_PASS" REGION="$REGION" CLOUD_HOST="$IHA_CLOUD" NOVA_PORT=$NOVA_PORT \
      PLACEMENT_PORT=$PLACEMENT_PORT GLANCE_PORT=$GLANCE_PORT NEUTRON_PORT=$NEUTRON_PORT \
      "$VENV/bin/python" "$IHA_HARNESS/os/keystone-entities.py"
    touch "$OSD/.entities"
  fi
  touch "$OSD/.initialised"
  # conductor/scheduler only now: at start-up they authenticate as the nova
  # service user and exit on a 401 (first run: user not created yet)
  local nd=(--config-file "$ETC/nova/nova.conf" --config-file "$ETC/nova/nova-db.conf")
  start_bg nova-conductor nova-conductor "$VENV/bin/nova-conductor" "${nd[@]}" --log-file "$LOG/nova-conductor.log"
  start_bg nova-scheduler nova-scheduler "$VENV/bin/nova-scheduler" "${nd[@]}" --log-file "$LOG/nova-scheduler.log"
  wait_http "http://127.0.0.1:$PLACEMENT_PORT/" 120
  wait_http "http://127.0.0.1:$GLANCE_PORT/versions" 120
  wait_http "http://127.0.0.1:$NEUTRON_PORT/" 30
  wait_http "http://127.0.0.1:$NOVA_PORT/" 120
  log "APIs up ($(elapsed "$t0") s)"
  # computes last: a compute that asks before the conductor's RPC queue exists
  # loses the message and retries only 10 s later
  for ((i = 0; i < N_COMPUTE; i++)); do compute_start "compute-$i"; done

  # conductor + scheduler + every compute enabled/up
  "$VENV/bin/python" "$IHA_HARNESS/os/iha-os.py" wait-services $((N_COMPUTE + 2)) --since "${t0%.*}" --timeout 240
  # Map new compute hosts into cell1. nova-manage costs ~3 s: ask the DB first.
  # The compute node records appear shortly after the service records.
  local sql=(mariadb --no-defaults -uroot --socket="$MYSQL_SOCK" -N -B) want unmapped
  want=$(for ((i = 0; i < N_COMPUTE; i++)); do echo "compute-$i"; done)
  for ((i = 0; i < 120; i++)); do
    [ "$("${sql[@]}" -e "select count(distinct host) from nova_cell1.compute_nodes where deleted=0 and host like 'compute-%'")" -ge "$N_COMPUTE" ] && break
    sleep 0.5
  done
  unmapped=$(comm -23 <(echo "$want" | sort) <("${sql[@]}" -e 'select host from nova_api.host_mappings' | sort))
  if [ -n "$unmapped" ]; then
    "${NM[@]}" cell_v2 discover_hosts --verbose >>"$LOG/discover-hosts.log" 2>&1
    log "mapped $(echo $unmapped) into cell1"
  fi
  log "cloud up in $(elapsed "$t0") s: $N_COMPUTE computes ($(for ((i = 0; i < N_COMPUTE; i++)); do
    printf 'compute-%s:%s ' $i "$(cat "$OSR/nova-compute-compute-$i.where")"; done))"
}

write_configs() {
  authtoken() { cat <<EOF
[keystone_authtoken]
www_authenticate_uri = $KS_URL
auth_url = $KS_URL
auth_type = password
project_domain_name = Default
user_domain_name = Default
project_name = service
username = $1
password = $SERVICE_PASS
region_name = $REGION
service_token_roles_required = true
EOF
  }
  ksc() { cat <<EOF
[$1]
auth_type = password
auth_url = $KS_URL
project_domain_name = Default
user_domain_name = Default
project_name = service
username = $2
password = $SERVICE_PASS
region_name = $REGION
EOF
  }
  cat >"$ETC/keystone/keystone.conf" <<EOF
[DEFAULT]
log_file = $LOG/keystone.log
[database]
connection = $(db_url keystone)
[token]
provider = fernet
[fernet_tokens]
key_repository = $ETC/keystone/fernet-keys
[fernet_receipts]
key_repository = $ETC/keystone/fernet-keys
[credential]
key_repository = $ETC/keystone/credential-keys
EOF
  cat >"$ETC/placement/placement.conf" <<EOF
[DEFAULT]
log_file = $LOG/placement.log
[placement_database]
connection = $(db_url placement)
[api]
auth_strategy = keystone
$(authtoken placement)
EOF
  cp "$VENV/etc/glance/glance-api-paste.ini" "$ETC/glance/"
  cat >"$ETC/glance/glance-api.conf" <<EOF
[DEFAULT]
log_file = $LOG/glance-api.log
enabled_backends = fs:file
[glance_store]
default_backend = fs
[fs]
filesystem_store_datadir = $ST/glance/images/
[os_glance_staging_store]
filesystem_store_datadir = $ST/glance/staging/
[os_glance_tasks_store]
filesystem_store_datadir = $ST/glance/tasks/
[database]
connection = $(db_url glance)
[paste_deploy]
flavor = keystone
[oslo_concurrency]
lock_path = $ST/glance
$(authtoken glance)
EOF
  cp "$VENV/etc/nova/api-paste.ini" "$ETC/nova/"
  cat >"$ETC/nova/nova.conf" <<EOF
[DEFAULT]
# iha-cloud: reachable from the host and from the lab nodes (see openstack.sh header)
transport_url = rabbit://guest:guest@$IHA_CLOUD:$RABBIT_PORT/
my_ip = 127.0.0.1
state_path = $ST/nova
# nova.virt.fake.FakeDriver + node uuids stable across restarts (see the module)
compute_driver = iha_fake_driver.StableFakeDriver
# no neutron: do not heal network info caches periodically
heal_instance_info_cache_interval = -1
# SIGTERM -> exit within 5 s (default 60 s graceful shutdown)
graceful_shutdown_timeout = 5
# compute heartbeat, and how long without one until a service shows "down"
report_interval = ${IHA_NOVA_REPORT_INTERVAL:-10}
service_down_time = ${IHA_NOVA_SERVICE_DOWN_TIME:-60}
[api]
auth_strategy = keystone
[wsgi]
api_paste_config = $ETC/nova/api-paste.ini
[conductor]
workers = 1
[scheduler]
workers = 1
discover_hosts_in_cells_interval = -1
[quota]
instances = -1
cores = -1
ram = -1
[oslo_concurrency]
lock_path = $ST/nova/lock
[oslo_messaging_notifications]
driver = noop
$(authtoken nova)
$(ksc service_user nova)
send_service_user_token = true
$(ksc placement nova)
$(ksc neutron nova)
$(ksc glance nova)
$(ksc cinder nova)
EOF
  # DB access only for api/conductor/scheduler/nova-manage: nova-compute must
  # not see [api_database] (it would log "No DB access allowed in nova-compute")
  cat >"$ETC/nova/nova-db.conf" <<EOF
[api_database]
connection = $(db_url nova_api)
[database]
connection = $(db_url nova_cell1)
EOF
}

# ---- down ---------------------------------------------------------------------------
# Stop in waves, each signalled at once and then awaited (nova services take a
# few seconds each to stop gracefully): OpenStack services, then rabbitmq +
# mariadb, then epmd. Only PIDs from our pid files (with the cmdline check).
stop_wave() {
  local name f pid pids=() kids=() i p alive
  for name in "$@"; do
    f=$OSR/$name.pid; [ -s "$f" ] || continue
    if alive "$name"; then
      pid=$(sed -n 1p "$f")
      # children (gunicorn workers, beam.smp): orphaned if the parent needs a KILL
      # shellcheck disable=SC2207
      kids+=($(children_of "$pid"))
      kill -TERM "$pid" 2>/dev/null || true; pids+=("$pid")
    fi
    rm -f "$f"
  done
  [ ${#pids[@]} = 0 ] && return 0
  log "stopping $*"
  for ((i = 0; i < 60; i++)); do
    alive=0
    for p in "${pids[@]}" "${kids[@]}"; do
      [ -d /proc/$p ] && [ "$(awk '/^State:/{print $2}' /proc/$p/status 2>/dev/null)" != Z ] && alive=1
    done
    [ $alive = 0 ] && return 0
    sleep 0.25
  done
  for p in "${pids[@]}" "${kids[@]}"; do kill -KILL "$p" 2>/dev/null && log "pid $p alive after 15 s: KILL" || true; done
}
down() {
  local f n w1=()
  if [ -d "$OSR" ]; then
    for f in "$OSR"/*.pid; do
      [ -e "$f" ] || continue
      n=$(basename "$f" .pid)
      case $n in rabbitmq|mariadb|epmd|mariadbd-own) ;; *) w1+=("$n") ;; esac
    done
    stop_wave "${w1[@]}"
    stop_wave rabbitmq mariadb
    stop_wave epmd
    rm -f "$OSR"/*.where "$OSR/compute-in-nodes" "$OSR/nova-compute-by-pacemaker"
  fi
  if [ "${WIPE:-0}" = 1 ]; then rm -rf "${OSD:?}" "${OSR:?}"; log "wiped $OSD"; fi
  log "OpenStack lab down"
}

status() {
  local f n
  for f in "$OSR"/*.pid; do
    [ -e "$f" ] || continue
    n=$(basename "$f" .pid)
    [ "$n" = mariadbd-own ] && continue
    if alive "$n"; then echo "$n: running pid $(sed -n 1p "$f") $(cat "$OSR/$n.where" 2>/dev/null || true)"
    else echo "$n: dead"; fi
  done
  if alive keystone; then admin_env; "$VENV/bin/python" "$IHA_HARNESS/os/iha-os.py" status; fi
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case $cmd in
  up) up ;;
  down) down ;;
  status) status ;;
  env)
    admin_env
    echo "# OpenStack lab admin credentials; CLI: $VENV/bin/openstack"
    for v in OS_AUTH_URL OS_USERNAME OS_PASSWORD OS_PROJECT_NAME OS_USER_DOMAIN_NAME \
             OS_PROJECT_DOMAIN_NAME OS_REGION_NAME OS_IDENTITY_API_VERSION OS_INTERFACE; do
      printf 'export %s=%q\n' "$v" "${!v}"
    done
    ;;
  boot)
    admin_env
    "$VENV/bin/python" "$IHA_HARNESS/os/iha-os.py" boot "${1:?N}" ${2:+--host "$2"} --prefix "vm${2:+-$2}" ;;
  compute-kill) compute_kill "${1:?HOST}" ;;
  compute-start) compute_start "${1:?HOST}" ;;
  *) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; [ -z "$cmd" ] || [ "$cmd" = -h ] || [ "$cmd" = help ] || exit 1 ;;
esac
