#!/usr/bin/env bash
# `make bench`: Go benchmarks, then end-to-end load with ghz against the
# sidecar on the Redis backend (single redis-server on loopback).
# Knobs: BENCH_DURATION (20s), BENCH_CONCURRENCY (50), BENCH_GO (1: run Go
# benchmarks), BENCH_BACKEND (redis or memory).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${BENCH_DURATION:-20s}"
CONC="${BENCH_CONCURRENCY:-50}"
BACKEND="${BENCH_BACKEND:-redis}"
export TOLLGATE_RUN_DIR="${TOLLGATE_RUN_DIR:-/tmp/tollgate-bench}"
OUT="$TOLLGATE_RUN_DIR/results"
mkdir -p "$OUT"

if [ "${BENCH_GO:-1}" = 1 ]; then
  echo "== Go benchmarks"
  go test -run '^$' -bench . -benchmem -benchtime "${BENCH_TIME:-1s}" ./... | tee "$OUT/go-bench.txt"
fi

GHZ="$(go env GOPATH)/bin/ghz"
if [ ! -x "$GHZ" ]; then
  echo "== installing ghz"
  GOFLAGS= go install github.com/bojand/ghz/cmd/ghz@v0.93.0
fi

sidecar_pid=""
cleanup() {
  [ -n "$sidecar_pid" ] && kill "$sidecar_pid" 2>/dev/null && wait "$sidecar_pid" 2>/dev/null || true
  [ "$BACKEND" = redis ] && bash scripts/redis.sh down || true
}
trap cleanup EXIT INT TERM

args=(serve --grpc-addr 127.0.0.1:18081 --http-addr 127.0.0.1:18080
      --ratelimit-config examples/bench/ratelimit.yaml --backend "$BACKEND" --data-dir "$TOLLGATE_RUN_DIR/data")
if [ "$BACKEND" = redis ]; then
  bash scripts/redis.sh up
  eval "$(bash scripts/redis.sh env)"
  args+=(--redis-url "redis://$TOLLGATE_TEST_REDIS_SINGLE")
fi
./bin/sidecar "${args[@]}" 2> "$TOLLGATE_RUN_DIR/sidecar.log" &
sidecar_pid=$!
for _ in $(seq 1 100); do
  curl -fsS http://127.0.0.1:18080/readyz >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fsS http://127.0.0.1:18080/readyz >/dev/null

# cpu_ticks prints the sidecar's user+system CPU time in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$sidecar_pid/stat"; }
HZ="$(getconf CLK_TCK)"

printf '%-16s %10s %10s %10s %10s %14s\n' scenario rps p50_ms p99_ms errors cpu_us_per_req | tee "$OUT/ghz-summary.txt"
run() {
  local name=$1 data=$2 before after
  before="$(cpu_ticks)"
  "$GHZ" --insecure --call envoy.service.ratelimit.v3.RateLimitService.ShouldRateLimit \
    -c "$CONC" -z "$DURATION" --connections 4 -d "$data" -O json 127.0.0.1:18081 > "$OUT/ghz-$name.json"
  after="$(cpu_ticks)"
  python3 - "$OUT/ghz-$name.json" "$name" "$before" "$after" "$HZ" <<'PY' | tee -a "$OUT/ghz-summary.txt"
import json, sys
path, name, before, after, hz = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
r = json.load(open(path))
lat = {d["percentage"]: d["latency"] for d in r.get("latencyDistribution") or []}
count = r["count"]
errors = sum(r.get("statusCodeDistribution", {}).get(k, 0) for k in r.get("statusCodeDistribution", {}) if k != "OK")
cpu_us = (after - before) / hz * 1e6 / max(count, 1)
print(f"{name:<16} {r['rps']:10.0f} {lat.get(50, 0)/1e6:10.2f} {lat.get(99, 0)/1e6:10.2f} {errors:10d} {cpu_us:14.1f}")
PY
}
run hot_key      '{"domain":"bench","descriptors":[{"entries":[{"key":"hot","value":"k"}]}]}'
run unique_keys  '{"domain":"bench","descriptors":[{"entries":[{"key":"user","value":"u{{.RequestNumber}}-{{.WorkerID}}"}]}]}'
run three_descr  '{"domain":"bench","descriptors":[{"entries":[{"key":"a","value":"1"}]},{"entries":[{"key":"b","value":"2"}]},{"entries":[{"key":"c","value":"3"}]}]}'
run over_limit   '{"domain":"bench","descriptors":[{"entries":[{"key":"over","value":"x"}]}]}'
echo "results in $OUT"
