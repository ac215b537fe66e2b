#!/usr/bin/env bash
# Runs every test against real backends: starts Redis (single, ring, cluster,
# and TLS, TLS ring, TLS cluster and ACL servers), a two-datacenter Cassandra
# and a Cassandra node with PasswordAuthenticator and TLS, fetches the real
# Envoy (once, cached), installs chromium when missing (the usage console's
# browser test) and pyarrow (the Parquet export's reader), runs `go test` on every package but
# ./faults/, then on ./faults/ alone (it stops Cassandra nodes), with TOLLGATE_REQUIRE_BACKENDS=1
# (a missing backend fails, never skips), and stops what it started,
# whatever the outcome. The servers' files live in this checkout's own
# TOLLGATE_RUN_DIR (scripts/run-dir.sh), and Redis takes free ports
# (scripts/redis.sh), so a run in another checkout on the same machine is
# left alone; Cassandra's addresses are fixed, so its start fails (and says
# why) while another checkout's cluster runs.
set -euo pipefail
cd "$(dirname "$0")/.."

source scripts/run-dir.sh
mkdir -p "$TOLLGATE_RUN_DIR"

cleanup() {
  local rc=$?
  bash scripts/redis.sh down || true
  bash scripts/cassandra.sh down || true
  bash scripts/cassandra.sh down-auth || true
  exit "$rc"
}
trap cleanup EXIT INT TERM

# Cassandra takes the longest to start: start it first, in the background,
# and bring Redis up meanwhile. The jars first, so the cluster and the auth
# node (its own ports, config and lock) start side by side.
bash scripts/cassandra.sh fetch
bash scripts/cassandra.sh up > "$TOLLGATE_RUN_DIR/cassandra-up.log" 2>&1 &
cass_pid=$!
bash scripts/cassandra.sh single-auth > "$TOLLGATE_RUN_DIR/cassandra-auth-up.log" 2>&1 &
cass_auth_pid=$!
bash scripts/redis.sh up
eval "$(bash scripts/redis.sh env)"
eval "$(bash scripts/envoy.sh env)"
# pyarrow reads the Parquet export back in a test.
if ! python3 -c 'import pyarrow' 2>/dev/null; then
  python3 -m pip install --quiet pyarrow==26.0.1
fi
export TOLLGATE_TEST_PYTHON="$(command -v python3)"
eval "$(bash scripts/chromium.sh env)"
if ! wait "$cass_pid"; then
  echo "cassandra did not start; its log:" >&2
  cat "$TOLLGATE_RUN_DIR/cassandra-up.log" >&2
  exit 1
fi
if ! wait "$cass_auth_pid"; then
  echo "the cassandra auth node did not start; its log:" >&2
  cat "$TOLLGATE_RUN_DIR/cassandra-auth-up.log" >&2
  exit 1
fi
eval "$(bash scripts/cassandra.sh env)"

export TOLLGATE_REQUIRE_BACKENDS=1
# ./faults/ stops and restarts Cassandra nodes (scripts/cassandra.sh
# stop-node/start-node): it runs alone, after every other package is done
# with the cluster.
go test -count=1 -timeout 30m ${GOTESTFLAGS:-} $(go list ./... | grep -v '/faults$')
go test -count=1 -timeout 30m ${GOTESTFLAGS:-} ./faults/
