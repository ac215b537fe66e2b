#!/usr/bin/env bash
# `make bench`: Go benchmarks, then end-to-end load with ghz against the
# sidecar (bin/sidecar, built by `make build`) on Redis or memory, then
# Tollgate behind a real Envoy loaded by wrk (scripts/bench-envoy.sh).
#
# Knobs (environment):
#   BENCH_DURATION     ghz and wrk run length per scenario (20s)
#   BENCH_CONCURRENCY  ghz concurrent workers, wrk connections (50)
#   BENCH_CONNECTIONS  ghz gRPC connections (4)
#   BENCH_GO           1: run the Go benchmarks first (1)
#   BENCH_BACKEND      redis or memory (redis)
#   BENCH_REDIS_PORT   port of the dedicated bench redis-server (16479); the
#                      test servers of scripts/redis.sh are left alone
#   BENCH_PIN          1: pin the sidecar to CPU 0 and ghz (--cpus 1) and
#                      redis-server to CPU 1, so ghz does not steal the
#                      sidecar's core (0)
#   BENCH_SCENARIOS    space-separated subset of: noop_max noop_rate hot_key
#                      unique_keys three_descr over_limit authz_rate
#                      authz_max (ghz), envoy_alone envoy_rls envoy_authz envoy_rlqs
#                      envoy_rlqs_open
#                      (Envoy) (all); none of ghz's: no ghz at all
#   BENCH_BIN          sidecar binary (./bin/sidecar)
#   BENCH_GOGC         GOGC for the sidecar only (unset: the binary's default)
#   BENCH_AUTHZ        1: also load ext_authz Check with metering on (1)
#   BENCH_AUTHZ_RATE   fixed Check rate of the authz_rate scenario (5000)
#   BENCH_CASSANDRA    1: start a single Cassandra node and run its store
#                      benchmarks (0)
#   BENCH_ENVOY        1: run scripts/bench-envoy.sh last: Envoy 1.40 with one
#                      worker alone, with its rate-limit filter -> Tollgate,
#                      with ext_authz -> Tollgate, interleaved (1)
#   BENCH_ROUNDS       rounds of the Envoy scenarios (2)
#   BENCH_WRK_THREADS  wrk threads of the Envoy scenarios (1)
# The summary has the CPU time (user+system) per decision of the sidecar and
# of ghz itself, and the 1-minute load average after each run: the box may
# be shared, so compare runs made under the same load. On a 2-core box ghz's
# own CPU per call bounds the throughput: rps <= 2e6 / (sidecar + ghz us).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${BENCH_DURATION:-20s}"
CONC="${BENCH_CONCURRENCY:-50}"
CONNS="${BENCH_CONNECTIONS:-4}"
BACKEND="${BENCH_BACKEND:-redis}"
REDIS_PORT="${BENCH_REDIS_PORT:-16479}"
PIN="${BENCH_PIN:-0}"
GHZ_SCENARIOS="noop_max noop_rate hot_key unique_keys three_descr over_limit authz_rate authz_max"
SCENARIOS="${BENCH_SCENARIOS:-$GHZ_SCENARIOS envoy_alone envoy_rls envoy_authz envoy_rlqs envoy_rlqs_open}"
BIN="${BENCH_BIN:-./bin/sidecar}"
sidecar_env=()
if [ -n "${BENCH_GOGC:-}" ]; then sidecar_env=(env "GOGC=$BENCH_GOGC"); fi
RUN_DIR="${TOLLGATE_RUN_DIR:-/tmp/tollgate-bench}"
OUT="$RUN_DIR/results"
mkdir -p "$OUT"

if [ "${BENCH_GO:-1}" = 1 ]; then
  echo "== Go benchmarks"
  go test -run '^$' -bench . -benchmem -benchtime "${BENCH_TIME:-1s}" \
    ./envoy/ ./ratelimit/ ./counter/memory/ ./metering/ | tee "$OUT/go-bench.txt"
  # Durable counters: a fixed number of operations, so the latency
  # percentiles they report have enough samples.
  go test -run '^$' -bench 'Append|AddCount|AccurateGetCount$' -benchmem -benchtime 300000x \
    ./counter/pebble/ ./counter/global/ | tee -a "$OUT/go-bench.txt"
  # Each iteration waits for an eventual count to converge (seconds).
  go test -run '^$' -bench EventualConvergence -benchtime 3x ./counter/global/ | tee -a "$OUT/go-bench.txt"
fi
if [ "${BENCH_CASSANDRA:-0}" = 1 ]; then
  echo "== Cassandra store benchmarks (single node)"
  bash scripts/cassandra.sh single
  eval "$(bash scripts/cassandra.sh env)"
  # A fresh JVM compiles Cassandra's read paths during its first minute: an
  # untimed pass of each read benchmark first, so the figures are those of a
  # node in service. Then reads on a quiet node; then writes; then reads
  # again while the node flushes and compacts what the writes left.
  go test -run '^$' -bench AggregateSmallGap -benchtime 10s ./counter/cassandra/ > /dev/null || true
  go test -run '^$' -bench AccurateGetCountCassandra -benchtime 3000x ./counter/global/ > /dev/null || true
  go test -run '^$' -bench AggregateSmallGap -benchmem -benchtime 5s ./counter/cassandra/ | tee "$OUT/go-bench-cassandra.txt" || true
  go test -run '^$' -bench AccurateGetCountCassandra -benchmem -benchtime 3000x ./counter/global/ | tee -a "$OUT/go-bench-cassandra.txt" || true
  go test -run '^$' -bench 'Append|AggregateSmallGap' -benchmem -benchtime 3s ./counter/cassandra/ | tee -a "$OUT/go-bench-cassandra.txt" || true
  go test -run '^$' -bench AccurateGetCountCassandra -benchmem -benchtime 3000x ./counter/global/ | tee -a "$OUT/go-bench-cassandra.txt" || true
  bash scripts/cassandra.sh down
fi

# envoy_group runs the Envoy scenarios (scripts/bench-envoy.sh), whose
# summary ends the output.
envoy_group() {
  if [ "${BENCH_ENVOY:-1}" = 1 ]; then BENCH_SCENARIOS="$SCENARIOS" bash scripts/bench-envoy.sh; else echo "results in $OUT"; fi
}
ghz_selected=0
for s in $SCENARIOS; do case " $GHZ_SCENARIOS " in *" $s "*) ghz_selected=1 ;; esac; done
if [ "$ghz_selected" = 0 ]; then envoy_group; exit 0; fi

GHZ="$(go env GOPATH)/bin/ghz"
if [ ! -x "$GHZ" ]; then
  echo "== installing ghz"
  GOFLAGS= go install github.com/bojand/ghz/cmd/ghz@v0.93.0
fi

sidecar_cpu=() ghz_cpu=() redis_cpu=()
ghz_args=()
if [ "$PIN" = 1 ]; then
  sidecar_cpu=(taskset -c 0) ghz_cpu=(taskset -c 1) redis_cpu=(taskset -c 1)
  ghz_args=(--cpus 1)
fi

sidecar_pid=""
redis_dir="$RUN_DIR/redis-$REDIS_PORT"
cleanup() {
  if [ -n "$sidecar_pid" ]; then kill "$sidecar_pid" 2>/dev/null && wait "$sidecar_pid" 2>/dev/null || true; fi
  if [ -f "$redis_dir/redis.pid" ]; then
    local rpid
    rpid="$(cat "$redis_dir/redis.pid")"
    kill "$rpid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$rpid" 2>/dev/null || break; sleep 0.1; done # free the port for the next run
  fi
}
trap cleanup EXIT INT TERM

args=(serve --grpc-addr 127.0.0.1:18081 --http-addr 127.0.0.1:18080
      --ratelimit-config examples/bench/ratelimit.yaml --backend "$BACKEND" --data-dir "$RUN_DIR/data")
if [ "$BACKEND" = redis ]; then
  command -v redis-server >/dev/null || bash scripts/redis.sh up >/dev/null # installs it
  mkdir -p "$redis_dir"
  "${redis_cpu[@]}" redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --protected-mode no \
    --daemonize yes --pidfile "$redis_dir/redis.pid" --logfile "$redis_dir/redis.log" \
    --dir "$redis_dir" --save "" --appendonly no
  for _ in $(seq 1 100); do
    redis-cli -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG && break
    sleep 0.1
  done
  args+=(--redis-url "redis://127.0.0.1:$REDIS_PORT")
fi
# start_sidecar (re)starts the sidecar with the given serve arguments and
# waits until it is ready.
start_sidecar() {
  if [ -n "$sidecar_pid" ]; then kill "$sidecar_pid" 2>/dev/null && wait "$sidecar_pid" 2>/dev/null || true; fi
  "${sidecar_cpu[@]}" "${sidecar_env[@]}" "$BIN" "$@" 2> "$RUN_DIR/sidecar.log" &
  sidecar_pid=$!
  for _ in $(seq 1 100); do
    curl -fsS http://127.0.0.1:18080/readyz >/dev/null 2>&1 && break
    sleep 0.1
  done
  curl -fsS http://127.0.0.1:18080/readyz >/dev/null
}
start_sidecar "${args[@]}"

# cpu_ticks prints the sidecar's user+system CPU time in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$sidecar_pid/stat"; }
HZ="$(getconf CLK_TCK)"

echo "== ghz: $BIN, backend $BACKEND, c=$CONC, $CONNS connections, $DURATION per scenario, pinned=$PIN, GOGC=${BENCH_GOGC:-default}" | tee "$OUT/ghz-summary.txt"
printf '%-12s %8s %8s %8s %7s %8s %8s %6s\n' scenario rps p50_ms p99_ms errors cpu_us ghz_us load1 | tee -a "$OUT/ghz-summary.txt"
# Request bodies, precomputed (scripts/ghzdata) so that ghz spends no CPU on
# templates: one per scenario, or a distinct one per request for unique_keys
# (a new counter each) and authz (a new x-request-id, so a new metering
# event each). ghz sends them round robin and parses them before it starts,
# which its CPU figure includes (about 2 s per 100,000 bodies).
DATA="$RUN_DIR/ghz-data"
mkdir -p "$DATA"
for s in noop hot_key unique_keys three_descr over_limit authz; do
  case $s in unique_keys) n=300000 ;; authz) n=150000 ;; *) n=1 ;; esac
  [ -s "$DATA/$s-$n.bin" ] || go run ./scripts/ghzdata -scenario "$s" -n "$n" -out "$DATA/$s-$n.bin"
  declare "data_$s=$DATA/$s-$n.bin"
done

# run NAME [DATA [CALL [GHZ ARGS...]]] loads the sidecar with one scenario;
# DATA names the request bodies (default: NAME's).
run() {
  local name=$1 data=${2:-$1} call=${3:-envoy.service.ratelimit.v3.RateLimitService.ShouldRateLimit} before after file
  shift 3 || shift $#
  case " $SCENARIOS " in *" $name "*) ;; *) return 0 ;; esac
  file="data_$data"
  before="$(cpu_ticks)"
  timer=()
  if [ -x /usr/bin/time ]; then timer=(/usr/bin/time -f '%U %S' -o "$OUT/ghz-$name.time"); else echo '0 0' > "$OUT/ghz-$name.time"; fi
  "${timer[@]}" "${ghz_cpu[@]}" "$GHZ" "${ghz_args[@]}" --insecure --call "$call" "$@" \
    -c "$CONC" -z "$DURATION" --connections "$CONNS" --binary-file "${!file}" -O json 127.0.0.1:18081 > "$OUT/ghz-$name.json"
  after="$(cpu_ticks)"
  python3 - "$OUT/ghz-$name.json" "$name" "$before" "$after" "$HZ" "$(cut -d' ' -f1 /proc/loadavg)" "$OUT/ghz-$name.time" <<'PY' | tee -a "$OUT/ghz-summary.txt"
import json, sys
path, name, before, after, hz, load = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
ghz_s = sum(float(x) for x in open(sys.argv[7]).read().split()[-2:])
r = json.load(open(path))
lat = {d["percentage"]: d["latency"] for d in r.get("latencyDistribution") or []}
count = r["count"]
codes = r.get("statusCodeDistribution", {})
errors = sum(v for k, v in codes.items() if k != "OK")
cpu_us = (after - before) / hz * 1e6 / max(count, 1)
print(f"{name:<12} {r['rps']:8.0f} {lat.get(50, 0)/1e6:8.2f} {lat.get(99, 0)/1e6:8.2f} {errors:7d} {cpu_us:8.1f} {ghz_s*1e6/max(count, 1):8.1f} {load:>6}")
PY
}
# The floor: gRPC's own health check, which does no work, flat out and at
# the authz scenario's rate.
run noop_max noop grpc.health.v1.Health.Check
run noop_rate noop grpc.health.v1.Health.Check -r "${BENCH_AUTHZ_RATE:-5000}"
run hot_key
run unique_keys
run three_descr
run over_limit

if [ "${BENCH_AUTHZ:-1}" = 1 ]; then
  # ext_authz Check with metering on (a synced spool write per allowed
  # Check), on the embedded store: first at a fixed rate, then flat out.
  start_sidecar serve --config examples/bench/sidecar.yaml --grpc-addr 127.0.0.1:18081 --http-addr 127.0.0.1:18080 \
    --backend memory --data-dir "$RUN_DIR/data-authz-$$"
  run authz_rate authz envoy.service.auth.v3.Authorization.Check -r "${BENCH_AUTHZ_RATE:-5000}"
  # A fresh store: the same request ids again would be retries.
  start_sidecar serve --config examples/bench/sidecar.yaml --grpc-addr 127.0.0.1:18081 --http-addr 127.0.0.1:18080 \
    --backend memory --data-dir "$RUN_DIR/data-authz-max-$$"
  run authz_max authz envoy.service.auth.v3.Authorization.Check
fi
# Free the bench Redis port: bench-envoy.sh starts its own.
cleanup
trap - EXIT INT TERM
envoy_group
