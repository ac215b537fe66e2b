#!/usr/bin/env bash
# redis.sh starts and stops the loopback Redis servers the integration tests use.
#
#   bash scripts/redis.sh up     # install redis-server if missing, (re)start this run dir's servers
#   bash scripts/redis.sh env    # print the TOLLGATE_TEST_REDIS_* exports of the servers `up` started
#   bash scripts/redis.sh down   # stop the servers `up` started from this run dir, and only those
#
# Layout (all on 127.0.0.1, no persistence), from a base port B:
#   single:  B                (16379)
#   ring:    B+1 B+2 B+3      (16380-16382, three independent servers)
#   cluster: B+11 B+12 B+13   (16390-16392, three masters, no replicas; bus ports +10000)
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
		for p in $(ports "$base" "${SINGLE_OFFSETS[@]}" "${RING_OFFSETS[@]}" "${CLUSTER_OFFSETS[@]}"); do
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

# wait_own PORT waits until the server on PORT is the one this script
# started (its process_id is the pid in our pid file), not another's.
wait_own() {
	local port=$1 i pid="" info
	for i in $(seq 1 100); do
		[[ -z "$pid" && -s "$RUN_DIR/$port/redis.pid" ]] && pid=$(cat "$RUN_DIR/$port/redis.pid")
		if [[ -n "$pid" ]]; then
			info=$(redis-cli -h "$HOST" -p "$port" info server 2>/dev/null || true)
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
	if [[ -n "$pid" && -r "/proc/$pid/cmdline" ]] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q "redis-server.*:$port\b"; then
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
			if ! redis-cli -h "$HOST" -p "$p" cluster info 2>/dev/null | grep -q 'cluster_state:ok'; then
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
	for p in $(ports "$base" "${SINGLE_OFFSETS[@]}" "${RING_OFFSETS[@]}" "${CLUSTER_OFFSETS[@]}"); do
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
	for p in "${single[@]}" "${ring[@]}"; do start_server "$p"; done
	for p in "${cluster[@]}"; do
		start_server "$p" --cluster-enabled yes --cluster-config-file "$RUN_DIR/$p/nodes.conf" \
			--cluster-node-timeout 2000
	done
	for p in "${single[@]}" "${ring[@]}" "${cluster[@]}"; do wait_own "$p"; done
	# The servers listen: another `up` now sees these ports as taken.
	flock -u 8
	local nodes=()
	for p in "${cluster[@]}"; do nodes+=("$HOST:$p"); done
	redis-cli --cluster create "${nodes[@]}" --cluster-replicas 0 --cluster-yes >"$RUN_DIR/cluster-create.log" 2>&1 || {
		log "redis-cli --cluster create failed; see $RUN_DIR/cluster-create.log"
		cat "$RUN_DIR/cluster-create.log" >&2
		return 1
	}
	wait_cluster_ok "${cluster[@]}"
	log "up in $RUN_DIR: single $(join_addrs "${single[@]}"), ring $(join_addrs "${ring[@]}"), cluster $(join_addrs "${cluster[@]}")"
}

cmd_env() {
	local base
	base=$(recorded_base) || die "no servers recorded in $RUN_DIR; run 'bash scripts/redis.sh up' with the same TOLLGATE_RUN_DIR first"
	echo "export TOLLGATE_TEST_REDIS_SINGLE=$(join_addrs $(ports "$base" "${SINGLE_OFFSETS[@]}"))"
	echo "export TOLLGATE_TEST_REDIS_RING=$(join_addrs $(ports "$base" "${RING_OFFSETS[@]}"))"
	echo "export TOLLGATE_TEST_REDIS_CLUSTER=$(join_addrs $(ports "$base" "${CLUSTER_OFFSETS[@]}"))"
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
