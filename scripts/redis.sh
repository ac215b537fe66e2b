#!/usr/bin/env bash
# redis.sh starts and stops the loopback Redis servers the integration tests use.
#
#   bash scripts/redis.sh up     # install redis-server if missing, (re)start this run dir's servers
#   bash scripts/redis.sh env    # print the TOLLGATE_TEST_REDIS_* exports of the servers `up` started
#   bash scripts/redis.sh down   # stop the servers `up` started from this run dir, and only those
#
# Layout (all on 127.0.0.1, no persistence), from a base port B:
#   single:      B                (16379)
#   ring:        B+1 B+2 B+3      (16380-16382, three independent servers)
#   cluster:     B+11 B+12 B+13   (16390-16392, three masters, no replicas; bus ports +10000)
#   tls:         B+21 B+22        (16400 16401: TLS only, client certificate required;
#                                  B+21 is the TLS single server, both the TLS ring)
#   tls cluster: B+31 B+32 B+33   (16410-16412: TLS only, cluster bus over TLS too)
#   acl:         B+41             (16420: plain TCP, the default user off)
# Every tls and acl server has the ACL user tollgate with the password
# tollgate-test-password (internal/testenv/redistls.go has the same), with
# every permission. `up` generates the certificates with openssl into
# $RUN_DIR/tls: ca.crt, server.crt/.key (127.0.0.1, localhost; also the
# cluster bus's client certificate), client.crt/.key.
# B is TOLLGATE_REDIS_PORT (16379) when all those ports and bus ports are free, else the
# first of B+100, B+200, ... that is, so two checkouts on one machine each get servers of
# their own. `up` records B in the run dir for `env` and `down`.
#
# The run dir is $TOLLGATE_RUN_DIR/redis; TOLLGATE_RUN_DIR defaults to a directory of this
# checkout's own (scripts/run-dir.sh). Invocations on one run dir run one at a time, and
# choosing ports and starting on them is serialised machine-wide (flock), so an `up` never
# takes ports another `up` is starting on. `down` signals only pids from its run dir's pid
# files that are still a redis-server on the recorded port.
set -euo pipefail

source "$(dirname "$0")/run-dir.sh"
RUN_DIR="$TOLLGATE_RUN_DIR/redis"
HOST=127.0.0.1
BASE_PORT="${TOLLGATE_REDIS_PORT:-16379}"
PORT_STEP=100
PORT_TRIES=40
PORTS_LOCK="${TOLLGATE_REDIS_PORTS_LOCK:-/tmp/tollgate-redis-ports.lock}"
SINGLE_OFFSETS=(0)
RING_OFFSETS=(1 2 3)
CLUSTER_OFFSETS=(11 12 13)
TLS_OFFSETS=(21 22)
TLS_CLUSTER_OFFSETS=(31 32 33)
ACL_OFFSETS=(41)
ALL_OFFSETS=("${SINGLE_OFFSETS[@]}" "${RING_OFFSETS[@]}" "${CLUSTER_OFFSETS[@]}" "${TLS_OFFSETS[@]}" "${TLS_CLUSTER_OFFSETS[@]}" "${ACL_OFFSETS[@]}")
TLS_DIR="$RUN_DIR/tls"
ACL_USER=tollgate
ACL_PASSWORD=tollgate-test-password
# The ports of the base `up` chose (set by set_ports).
TLS_PORTS=() TLS_CLUSTER_PORTS=() ACL_PORTS=()

log() { echo "redis.sh: $*" >&2; }
die() {
	log "$*"
	exit 1
}

join_addrs() {
	local out="" p
	for p in "$@"; do out="${out:+$out,}$HOST:$p"; done
	echo "$out"
}

# ports BASE OFFSET... prints BASE+OFFSET for each offset.
ports() {
	local base=$1 o
	shift
	for o in "$@"; do echo $((base + o)); done
}

# recorded_base prints the base port `up` recorded, or fails.
recorded_base() {
	[[ -f "$RUN_DIR/base-port" ]] || return 1
	cat "$RUN_DIR/base-port"
}

ensure_installed() {
	if command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1; then
		return
	fi
	log "redis-server not found; installing redis-server and redis-tools with apt-get"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq redis-server redis-tools >/dev/null
}

port_open() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

# free_base prints the first candidate base port whose ports and cluster bus
# ports nothing listens on.
free_base() {
	local i base p busy
	for ((i = 0; i < PORT_TRIES; i++)); do
		base=$((BASE_PORT + i * PORT_STEP))
		busy=0
		for p in $(ports "$base" "${ALL_OFFSETS[@]}"); do
			if port_open "$p" || port_open $((p + 10000)); then
				busy=1
				break
			fi
		done
		if [[ $busy == 0 ]]; then
			echo "$base"
			return 0
		fi
		log "ports from $base are in use (port $p or its bus port); trying $((base + PORT_STEP))"
	done
	die "no free ports from $BASE_PORT in $PORT_TRIES steps of $PORT_STEP; set TOLLGATE_REDIS_PORT"
}

# start_server PORT [extra redis-server args...]
start_server() {
	local port=$1
	shift
	local dir="$RUN_DIR/$port"
	mkdir -p "$dir"
	# 8>&- 9>&-: the daemon must not inherit the locks.
	redis-server --bind "$HOST" --port "$port" --protected-mode no \
		--daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" \
		--dir "$dir" --save "" --appendonly no "$@" 8>&- 9>&-
}

# set_ports BASE sets the TLS and ACL port lists of BASE.
set_ports() {
	mapfile -t TLS_PORTS < <(ports "$1" "${TLS_OFFSETS[@]}")
	mapfile -t TLS_CLUSTER_PORTS < <(ports "$1" "${TLS_CLUSTER_OFFSETS[@]}")
	mapfile -t ACL_PORTS < <(ports "$1" "${ACL_OFFSETS[@]}")
}

# gen_certs writes a CA, a server certificate (server and client use, for
# the TLS cluster bus) and a client certificate into TLS_DIR.
gen_certs() {
	mkdir -p "$TLS_DIR"
	local d=$TLS_DIR name
	for name in ca server client; do
		openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$d/$name.key" 2>/dev/null
	done
	openssl req -x509 -new -key "$d/ca.key" -out "$d/ca.crt" -days 2 -subj "/CN=tollgate test redis CA"
	printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n' >"$d/server.ext"
	printf 'extendedKeyUsage=clientAuth\n' >"$d/client.ext"
	for name in server client; do
		openssl req -new -key "$d/$name.key" -subj "/CN=tollgate test redis $name" -out "$d/$name.csr"
		openssl x509 -req -in "$d/$name.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial \
			-days 2 -extfile "$d/$name.ext" -out "$d/$name.crt" 2>/dev/null
	done
	chmod 600 "$d"/*.key
}

# tls_args: redis-server arguments of a TLS-only server with the ACL user.
tls_args() {
	echo --port 0 --tls-port "$1" --tls-cert-file "$TLS_DIR/server.crt" --tls-key-file "$TLS_DIR/server.key" \
		--tls-ca-cert-file "$TLS_DIR/ca.crt" --tls-auth-clients yes
}

# The ACL user, as redis-server arguments.
ACL_ARGS=(--user "$ACL_USER" on ">$ACL_PASSWORD" '~*' '&*' '+@all')

# cli PORT args...: redis-cli on PORT, over TLS with the client certificate
# and as the ACL user for the tls and acl servers.
cli() {
	local port=$1
	shift
	local extra=()
	if [[ " ${TLS_PORTS[*]} ${TLS_CLUSTER_PORTS[*]} " == *" $port "* ]]; then
		extra=(--tls --cacert "$TLS_DIR/ca.crt" --cert "$TLS_DIR/client.crt" --key "$TLS_DIR/client.key")
	fi
	if [[ " ${ACL_PORTS[*]} " == *" $port "* ]]; then
		extra=(--user "$ACL_USER" --pass "$ACL_PASSWORD" --no-auth-warning)
	fi
	redis-cli -h "$HOST" -p "$port" ${extra[@]+"${extra[@]}"} "$@"
}

# wait_own PORT waits until the server on PORT is the one this script
# started (its process_id is the pid in our pid file), not another's.
wait_own() {
	local port=$1 i pid="" info
	for i in $(seq 1 100); do
		[[ -z "$pid" && -s "$RUN_DIR/$port/redis.pid" ]] && pid=$(cat "$RUN_DIR/$port/redis.pid")
		if [[ -n "$pid" ]]; then
			info=$(cli "$port" info server 2>/dev/null || true)
			if grep -q "^process_id:$pid\b" <<<"$info"; then
				return 0
			fi
		fi
		sleep 0.1
	done
	die "redis on port $port is not the one started here (pid ${pid:-none}) within 10s; see $RUN_DIR/$port/redis.log"
}

# own_pid PORT prints the pid of the redis-server this run dir started on
# PORT, if it still runs.
own_pid() {
	local port=$1 pidfile="$RUN_DIR/$1/redis.pid" pid
	[[ -f "$pidfile" ]] || return 0
	pid=$(cat "$pidfile")
	if [[ -n "$pid" && -r "/proc/$pid/cmdline" ]] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q "redis-server"; then
		echo "$pid"
	fi
}

# wait_exit PID... waits up to 10s for the processes to exit, then SIGKILLs.
wait_exit() {
	local pid i
	for pid in "$@"; do
		for i in $(seq 1 100); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$pid" 2>/dev/null; then
			log "redis pid $pid did not exit in 10s; sending SIGKILL"
			kill -9 "$pid" 2>/dev/null || true
		fi
	done
}

wait_cluster_ok() {
	local i p ok
	for i in $(seq 1 100); do
		ok=1
		for p in "$@"; do
			if ! cli "$p" cluster info 2>/dev/null | grep -q 'cluster_state:ok'; then
				ok=0
				break
			fi
		done
		[[ $ok == 1 ]] && return 0
		sleep 0.1
	done
	log "cluster did not reach cluster_state:ok within 10s; see $RUN_DIR/<port>/redis.log"
	return 1
}

cmd_down() {
	local base p pid pids=()
	# A run dir of the fixed-port days records no base: its servers sit on
	# the default layout.
	base=$(recorded_base) || base=$BASE_PORT
	for p in $(ports "$base" "${ALL_OFFSETS[@]}"); do
		pid=$(own_pid "$p")
		if [[ -n "$pid" ]]; then
			kill "$pid" 2>/dev/null || true
			pids+=("$pid")
		fi
		rm -f "$RUN_DIR/$p/redis.pid"
	done
	if ((${#pids[@]})); then wait_exit "${pids[@]}"; fi
	rm -f "$RUN_DIR/base-port"
}

cmd_up() {
	ensure_installed
	cmd_down
	rm -rf "$RUN_DIR"
	mkdir -p "$RUN_DIR"
	exec 8>"$PORTS_LOCK"
	flock -w 120 8 || die "another redis.sh holds $PORTS_LOCK for over 120s"
	local base p
	base=$(free_base)
	echo "$base" >"$RUN_DIR/base-port"
	local single=($(ports "$base" "${SINGLE_OFFSETS[@]}")) ring=($(ports "$base" "${RING_OFFSETS[@]}"))
	local cluster=($(ports "$base" "${CLUSTER_OFFSETS[@]}"))
	set_ports "$base"
	gen_certs
	for p in "${single[@]}" "${ring[@]}"; do start_server "$p"; done
	for p in "${cluster[@]}"; do
		start_server "$p" --cluster-enabled yes --cluster-config-file "$RUN_DIR/$p/nodes.conf" \
			--cluster-node-timeout 2000
	done
	# shellcheck disable=SC2046 # tls_args is a word list
	for p in "${TLS_PORTS[@]}"; do start_server "$p" $(tls_args "$p") "${ACL_ARGS[@]}"; done
	# shellcheck disable=SC2046
	for p in "${TLS_CLUSTER_PORTS[@]}"; do
		start_server "$p" $(tls_args "$p") --tls-cluster yes "${ACL_ARGS[@]}" --cluster-enabled yes \
			--cluster-config-file "$RUN_DIR/$p/nodes.conf" --cluster-node-timeout 2000
	done
	for p in "${ACL_PORTS[@]}"; do start_server "$p" --user default off "${ACL_ARGS[@]}"; done
	for p in "${single[@]}" "${ring[@]}" "${cluster[@]}" "${TLS_PORTS[@]}" "${TLS_CLUSTER_PORTS[@]}" "${ACL_PORTS[@]}"; do wait_own "$p"; done
	# The servers listen: another `up` now sees these ports as taken.
	flock -u 8
	create_cluster "${cluster[@]}"
	create_cluster "${TLS_CLUSTER_PORTS[@]}"
	log "up in $RUN_DIR: single $(join_addrs "${single[@]}"), ring $(join_addrs "${ring[@]}"), cluster $(join_addrs "${cluster[@]}"), tls $(join_addrs "${TLS_PORTS[@]}"), tls cluster $(join_addrs "${TLS_CLUSTER_PORTS[@]}"), acl $(join_addrs "${ACL_PORTS[@]}")"
}

# create_cluster PORT...: one cluster of the started servers on PORT...
create_cluster() {
	local nodes=() p
	for p in "$@"; do nodes+=("$HOST:$p"); done
	cli "$1" --cluster create "${nodes[@]}" --cluster-replicas 0 --cluster-yes >"$RUN_DIR/cluster-create-$1.log" 2>&1 || {
		log "redis-cli --cluster create failed; see $RUN_DIR/cluster-create-$1.log"
		cat "$RUN_DIR/cluster-create-$1.log" >&2
		return 1
	}
	wait_cluster_ok "$@"
}

cmd_env() {
	local base
	base=$(recorded_base) || die "no servers recorded in $RUN_DIR; run 'bash scripts/redis.sh up' with the same TOLLGATE_RUN_DIR first"
	echo "export TOLLGATE_TEST_REDIS_SINGLE=$(join_addrs $(ports "$base" "${SINGLE_OFFSETS[@]}"))"
	echo "export TOLLGATE_TEST_REDIS_RING=$(join_addrs $(ports "$base" "${RING_OFFSETS[@]}"))"
	echo "export TOLLGATE_TEST_REDIS_CLUSTER=$(join_addrs $(ports "$base" "${CLUSTER_OFFSETS[@]}"))"
	set_ports "$base"
	echo "export TOLLGATE_TEST_REDIS_TLS=$(join_addrs "${TLS_PORTS[0]}")"
	echo "export TOLLGATE_TEST_REDIS_TLS_RING=$(join_addrs "${TLS_PORTS[@]}")"
	echo "export TOLLGATE_TEST_REDIS_TLS_CLUSTER=$(join_addrs "${TLS_CLUSTER_PORTS[@]}")"
	echo "export TOLLGATE_TEST_REDIS_TLS_CA=$TLS_DIR/ca.crt"
	echo "export TOLLGATE_TEST_REDIS_TLS_CERT=$TLS_DIR/client.crt"
	echo "export TOLLGATE_TEST_REDIS_TLS_KEY=$TLS_DIR/client.key"
	echo "export TOLLGATE_TEST_REDIS_ACL=$(join_addrs "${ACL_PORTS[@]}")"
}

# One invocation at a time per run dir.
with_lock() {
	mkdir -p "$TOLLGATE_RUN_DIR"
	exec 9>"$TOLLGATE_RUN_DIR/redis.lock"
	flock -w 120 9 || die "another redis.sh holds $TOLLGATE_RUN_DIR/redis.lock for over 120s"
	"$@"
}

case "${1:-}" in
up) with_lock cmd_up ;;
down) with_lock cmd_down ;;
env) cmd_env ;;
*)
	sed -n '2,20p' "$0" >&2
	exit 2
	;;
esac
