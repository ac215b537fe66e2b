#!/usr/bin/env bash
# redis.sh starts and stops the loopback Redis servers the integration tests use.
#
#   bash scripts/redis.sh up     # install redis-server if missing, (re)start all
#   bash scripts/redis.sh env    # print the TOLLGATE_TEST_REDIS_* exports
#   bash scripts/redis.sh down   # stop everything `up` started
#
# Layout (all on 127.0.0.1, no persistence):
#   single:  16379
#   ring:    16380 16381 16382 (three independent servers)
#   cluster: 16390 16391 16392 (three masters, no replicas)
# Work files live under ${TOLLGATE_RUN_DIR:-/tmp/tollgate-test}/redis.
set -euo pipefail

RUN_DIR="${TOLLGATE_RUN_DIR:-/tmp/tollgate-test}/redis"
HOST=127.0.0.1
SINGLE_PORTS=(16379)
RING_PORTS=(16380 16381 16382)
CLUSTER_PORTS=(16390 16391 16392)

log() { echo "redis.sh: $*" >&2; }

join_addrs() {
	local out="" p
	for p in "$@"; do out="${out:+$out,}$HOST:$p"; done
	echo "$out"
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

# start_server PORT [extra redis-server args...]
start_server() {
	local port=$1
	shift
	local dir="$RUN_DIR/$port"
	mkdir -p "$dir"
	redis-server --bind "$HOST" --port "$port" --protected-mode no \
		--daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" \
		--dir "$dir" --save "" --appendonly no "$@"
}

wait_ping() {
	local port=$1 i
	for i in $(seq 1 100); do
		if redis-cli -h "$HOST" -p "$port" ping 2>/dev/null | grep -q PONG; then
			return 0
		fi
		sleep 0.1
	done
	log "redis on port $port did not answer PING within 10s; see $RUN_DIR/$port/redis.log"
	return 1
}

# signal_server PORT sends SIGTERM to the server started on PORT, if running,
# and prints its pid.
signal_server() {
	local port=$1
	local pidfile="$RUN_DIR/$port/redis.pid" pid
	[[ -f "$pidfile" ]] || return 0
	pid=$(cat "$pidfile")
	rm -f "$pidfile"
	if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
		kill "$pid" 2>/dev/null || true
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
		for p in "${CLUSTER_PORTS[@]}"; do
			if ! redis-cli -h "$HOST" -p "$p" cluster info 2>/dev/null | grep -q 'cluster_state:ok'; then
				ok=0
				break
			fi
		done
		[[ $ok == 1 ]] && return 0
		sleep 0.1
	done
	log "cluster did not reach cluster_state:ok within 10s; see $RUN_DIR/1639*/redis.log"
	return 1
}

all_ports() { echo "${SINGLE_PORTS[@]}" "${RING_PORTS[@]}" "${CLUSTER_PORTS[@]}"; }

cmd_down() {
	local p pids=()
	for p in $(all_ports); do pids+=($(signal_server "$p")); done
	if ((${#pids[@]})); then wait_exit "${pids[@]}"; fi
}

cmd_up() {
	ensure_installed
	cmd_down
	rm -rf "$RUN_DIR"
	mkdir -p "$RUN_DIR"
	local p
	for p in "${SINGLE_PORTS[@]}" "${RING_PORTS[@]}"; do start_server "$p"; done
	for p in "${CLUSTER_PORTS[@]}"; do
		start_server "$p" --cluster-enabled yes --cluster-config-file "$RUN_DIR/$p/nodes.conf" \
			--cluster-node-timeout 2000
	done
	for p in $(all_ports); do wait_ping "$p"; done
	local nodes=()
	for p in "${CLUSTER_PORTS[@]}"; do nodes+=("$HOST:$p"); done
	redis-cli --cluster create "${nodes[@]}" --cluster-replicas 0 --cluster-yes >"$RUN_DIR/cluster-create.log" 2>&1 || {
		log "redis-cli --cluster create failed; see $RUN_DIR/cluster-create.log"
		cat "$RUN_DIR/cluster-create.log" >&2
		return 1
	}
	wait_cluster_ok
	log "up: single $(join_addrs "${SINGLE_PORTS[@]}"), ring $(join_addrs "${RING_PORTS[@]}"), cluster $(join_addrs "${CLUSTER_PORTS[@]}")"
}

cmd_env() {
	echo "export TOLLGATE_TEST_REDIS_SINGLE=$(join_addrs "${SINGLE_PORTS[@]}")"
	echo "export TOLLGATE_TEST_REDIS_RING=$(join_addrs "${RING_PORTS[@]}")"
	echo "export TOLLGATE_TEST_REDIS_CLUSTER=$(join_addrs "${CLUSTER_PORTS[@]}")"
}

case "${1:-}" in
up) cmd_up ;;
down) cmd_down ;;
env) cmd_env ;;
*)
	echo "usage: $0 up|down|env" >&2
	exit 2
	;;
esac
