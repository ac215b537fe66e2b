#!/usr/bin/env bash
# redis.sh starts and stops the loopback Redis servers the integration tests use.
#
#   bash scripts/redis.sh up     # install redis-server if missing, (re)start all
#   bash scripts/redis.sh env    # print the TOLLGATE_TEST_REDIS_* exports
#   bash scripts/redis.sh down   # stop everything `up` started
#
# Layout (all on 127.0.0.1, no persistence):
#   single:      16379
#   ring:        16380 16381 16382 (three independent servers)
#   cluster:     16390 16391 16392 (three masters, no replicas)
#   tls:         16400 16401 (TLS only, client certificate required; 16400 is
#                the TLS single server, both the TLS ring)
#   tls cluster: 16410 16411 16412 (TLS only, cluster bus over TLS too)
#   acl:         16420 (plain TCP; the default user is off)
# Every tls and acl server has the ACL user tollgate with the password
# tollgate-test-password (internal/testenv/redistls.go has the same), with
# every permission. `up` generates the certificates with openssl into
# $RUN_DIR/tls: ca.crt, server.crt/.key (127.0.0.1, localhost; also the
# cluster bus's client certificate), client.crt/.key.
# TOLLGATE_REDIS_PORT_OFFSET (default 0) is added to every port, to run a
# second set beside the first (with another TOLLGATE_RUN_DIR).
# Work files live under ${TOLLGATE_RUN_DIR:-/tmp/tollgate-test}/redis.
set -euo pipefail

RUN_DIR="${TOLLGATE_RUN_DIR:-/tmp/tollgate-test}/redis"
TLS_DIR="$RUN_DIR/tls"
HOST=127.0.0.1
OFFSET="${TOLLGATE_REDIS_PORT_OFFSET:-0}"
ports() { local p; for p in "$@"; do echo $((p + OFFSET)); done; }
mapfile -t SINGLE_PORTS < <(ports 16379)
mapfile -t RING_PORTS < <(ports 16380 16381 16382)
mapfile -t CLUSTER_PORTS < <(ports 16390 16391 16392)
mapfile -t TLS_PORTS < <(ports 16400 16401)
mapfile -t TLS_CLUSTER_PORTS < <(ports 16410 16411 16412)
mapfile -t ACL_PORTS < <(ports 16420)
ACL_USER=tollgate
ACL_PASSWORD=tollgate-test-password

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

wait_ping() {
	local port=$1 i
	for i in $(seq 1 100); do
		if cli "$port" ping 2>/dev/null | grep -q PONG; then
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

# wait_cluster_ok PORT...
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
	log "cluster $* did not reach cluster_state:ok within 10s; see $RUN_DIR/<port>/redis.log"
	return 1
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

all_ports() {
	echo "${SINGLE_PORTS[@]}" "${RING_PORTS[@]}" "${CLUSTER_PORTS[@]}" "${TLS_PORTS[@]}" "${TLS_CLUSTER_PORTS[@]}" "${ACL_PORTS[@]}"
}

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
	gen_certs
	local p
	for p in "${SINGLE_PORTS[@]}" "${RING_PORTS[@]}"; do start_server "$p"; done
	for p in "${CLUSTER_PORTS[@]}"; do
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
	for p in $(all_ports); do wait_ping "$p"; done
	create_cluster "${CLUSTER_PORTS[@]}"
	create_cluster "${TLS_CLUSTER_PORTS[@]}"
	log "up: single $(join_addrs "${SINGLE_PORTS[@]}"), ring $(join_addrs "${RING_PORTS[@]}"), cluster $(join_addrs "${CLUSTER_PORTS[@]}"), tls $(join_addrs "${TLS_PORTS[@]}"), tls cluster $(join_addrs "${TLS_CLUSTER_PORTS[@]}"), acl $(join_addrs "${ACL_PORTS[@]}")"
}

cmd_env() {
	echo "export TOLLGATE_TEST_REDIS_SINGLE=$(join_addrs "${SINGLE_PORTS[@]}")"
	echo "export TOLLGATE_TEST_REDIS_RING=$(join_addrs "${RING_PORTS[@]}")"
	echo "export TOLLGATE_TEST_REDIS_CLUSTER=$(join_addrs "${CLUSTER_PORTS[@]}")"
	echo "export TOLLGATE_TEST_REDIS_TLS=$(join_addrs "${TLS_PORTS[0]}")"
	echo "export TOLLGATE_TEST_REDIS_TLS_RING=$(join_addrs "${TLS_PORTS[@]}")"
	echo "export TOLLGATE_TEST_REDIS_TLS_CLUSTER=$(join_addrs "${TLS_CLUSTER_PORTS[@]}")"
	echo "export TOLLGATE_TEST_REDIS_TLS_CA=$TLS_DIR/ca.crt"
	echo "export TOLLGATE_TEST_REDIS_TLS_CERT=$TLS_DIR/client.crt"
	echo "export TOLLGATE_TEST_REDIS_TLS_KEY=$TLS_DIR/client.key"
	echo "export TOLLGATE_TEST_REDIS_ACL=$(join_addrs "${ACL_PORTS[@]}")"
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
