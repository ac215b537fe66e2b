#!/usr/bin/env bash
# Runs every test against real backends: starts Redis (single, ring, cluster)
# and a two-datacenter Cassandra, fetches the real Envoy (once, cached), installs chromium
# when missing (for the usage console's browser test), runs `go test ./...` with
# TOLLGATE_REQUIRE_BACKENDS=1 (a missing backend fails, never skips), and
# stops what it started, whatever the outcome.
set -euo pipefail
cd "$(dirname "$0")/.."

export TOLLGATE_RUN_DIR="${TOLLGATE_RUN_DIR:-/tmp/tollgate-test}"
mkdir -p "$TOLLGATE_RUN_DIR"

cleanup() {
  local rc=$?
  bash scripts/redis.sh down || true
  bash scripts/cassandra.sh down || true
  exit "$rc"
}
trap cleanup EXIT INT TERM

# Cassandra takes the longest to start: start it first, in the background,
# and bring Redis up meanwhile.
bash scripts/cassandra.sh up > "$TOLLGATE_RUN_DIR/cassandra-up.log" 2>&1 &
cass_pid=$!
bash scripts/redis.sh up
eval "$(bash scripts/redis.sh env)"
eval "$(bash scripts/envoy.sh env)"
eval "$(bash scripts/chromium.sh env)"
if ! wait "$cass_pid"; then
  echo "cassandra did not start; its log:" >&2
  cat "$TOLLGATE_RUN_DIR/cassandra-up.log" >&2
  exit 1
fi
eval "$(bash scripts/cassandra.sh env)"

export TOLLGATE_REQUIRE_BACKENDS=1
go test -count=1 -timeout 30m ${GOTESTFLAGS:-} ./...
