#!/usr/bin/env bash
# Tollgate behind a real Envoy (scripts/envoy.sh's, one worker thread),
# loaded by wrk over HTTP/1.1; called by scripts/bench.sh (BENCH_ENVOY=1),
# or run alone. Three scenarios, interleaved A B C A B C ... so that each
# round measures them under the same background load:
#   envoy_alone  Envoy alone (examples/bench/envoy-alone.yaml): the ingress
#                listener proxies to a second listener of the same Envoy
#                that answers with direct_response, so no app process runs;
#   envoy_rls    the same plus Envoy's rate-limit filter -> Tollgate on Redis
#                (envoy-rls.yaml, ratelimit.yaml): a distinct descriptor
#                value per request, never over its limit;
#   envoy_authz  the same plus ext_authz -> Tollgate with metering on, on the
#                embedded Pebble store (envoy-authz.yaml, sidecar.yaml): a
#                distinct x-request-id per request, never denied;
#   envoy_rlqs   the same plus Envoy's rate_limit_quota filter (RLQS) ->
#                Tollgate (envoy-rlqs.yaml, ratelimit.yaml): every request in
#                one bucket limited to 5,000/s, which Envoy enforces itself
#                (429 over it) from Tollgate's assignment, with no call per
#                request; "admitted" is its 2xx answers per second;
#   envoy_rlqs_open  the same with the bucket {tenant: open}, whose limit is
#                far above what Envoy serves: the filter's cost alone.
# Every scenario runs the same wrk command (examples/bench/wrk.lua), so the
# load generator's work per request is the same in each.
#
# Knobs (environment; those shared with scripts/bench.sh mean the same):
#   BENCH_DURATION      wrk run length per scenario and round (20s)
#   BENCH_CONCURRENCY   wrk connections (50)
#   BENCH_ROUNDS        rounds of the scenarios (2)
#   BENCH_WRK_THREADS   wrk threads (1)
#   BENCH_SCENARIOS     the subset to run; this script runs those of
#                       envoy_alone envoy_rls envoy_authz envoy_rlqs
#                       envoy_rlqs_open listed (all)
#   BENCH_REDIS_PORT    port of the dedicated bench redis-server (16479)
#   BENCH_BIN           sidecar binary (./bin/sidecar)
#   BENCH_GOGC          GOGC for the sidecars only (unset: the default)
# Ports: Envoy 18090 (ingress), 18091 (its upstream), 18099 (admin);
# Tollgate 18181/18180 (envoy_rls), 18281/18280 (envoy_authz) and
# 18381/18380 (envoy_rlqs).
#
# The summary has, per scenario, wrk's rps and latency percentiles, the
# throughput ratio to envoy_alone over the same rounds, and the CPU time
# (user+system, from /proc/<pid>/stat and, for wrk, /usr/bin/time) of Envoy,
# Tollgate, Redis and wrk per request, and the 1-minute load average. The
# errors column adds wrk's socket errors and non-2xx answers to the 2xx
# answers Envoy's filter did not check OK (from its stats: Tollgate failed,
# and the rate-limit filter let the request through, or was never asked).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${BENCH_DURATION:-20s}"
CONC="${BENCH_CONCURRENCY:-50}"
ROUNDS="${BENCH_ROUNDS:-2}"
THREADS="${BENCH_WRK_THREADS:-1}"
REDIS_PORT="${BENCH_REDIS_PORT:-16479}"
BIN="${BENCH_BIN:-./bin/sidecar}"
SCENARIOS=()
for s in envoy_alone envoy_rls envoy_authz envoy_rlqs envoy_rlqs_open; do
  case " ${BENCH_SCENARIOS:-$s} " in *" $s "*) SCENARIOS+=("$s") ;; esac
done
[ ${#SCENARIOS[@]} -gt 0 ] || exit 0
sidecar_env=()
if [ -n "${BENCH_GOGC:-}" ]; then sidecar_env=(env "GOGC=$BENCH_GOGC"); fi
RUN_DIR="${TOLLGATE_RUN_DIR:-/tmp/tollgate-bench}"
OUT="$RUN_DIR/results"
WORK="$RUN_DIR/envoy-$$"
mkdir -p "$OUT" "$WORK"
[ -x "$BIN" ] || { echo "bench-envoy: no sidecar binary at $BIN; run make build" >&2; exit 1; }
command -v wrk >/dev/null || apt-get install -y -qq wrk >/dev/null
[ -x /usr/bin/time ] || apt-get install -y -qq time >/dev/null # wrk's CPU time
command -v redis-server >/dev/null || bash scripts/redis.sh up >/dev/null # installs it
ENVOY="$(bash scripts/envoy.sh path)"
HZ="$(getconf CLK_TCK)"

envoy_pid="" rls_pid="" authz_pid="" rlqs_pid=""
redis_dir="$WORK/redis"
cleanup() {
  local p
  for p in $envoy_pid $rls_pid $authz_pid $rlqs_pid; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null || true; done
  if [ -f "$redis_dir/redis.pid" ]; then
    p="$(cat "$redis_dir/redis.pid")"
    kill "$p" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -rf "$WORK/data-rls" "$WORK/data-authz" "$WORK/data-rlqs" # the logs stay
}
trap cleanup EXIT INT TERM

# wait_ok URL waits up to 10 s for URL to answer 200.
wait_ok() {
  for _ in $(seq 1 100); do curl -fsS "$1" >/dev/null 2>&1 && return 0; sleep 0.1; done
  curl -fsS "$1" >/dev/null
}

# Another process on one of the ports would take this benchmark's load.
for port in 18090 18091 18099 18180 18181 18280 18281 18380 18381 "$REDIS_PORT"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "bench-envoy: port $port is in use; stop what listens there (ss -ltnp | grep $port)" >&2
    exit 1
  fi
done
redis_pid=0
if [[ " ${SCENARIOS[*]} " == *" envoy_rls "* ]]; then
  mkdir -p "$redis_dir"
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --protected-mode no \
    --daemonize yes --pidfile "$redis_dir/redis.pid" --logfile "$redis_dir/redis.log" \
    --dir "$redis_dir" --save "" --appendonly no
  for _ in $(seq 1 100); do redis-cli -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG && break; sleep 0.1; done
  redis_pid="$(cat "$redis_dir/redis.pid")"
  "${sidecar_env[@]}" "$BIN" serve --grpc-addr 127.0.0.1:18181 --http-addr 127.0.0.1:18180 \
    --ratelimit-config examples/bench/ratelimit.yaml --backend redis \
    --redis-url "redis://127.0.0.1:$REDIS_PORT" --data-dir "$WORK/data-rls" 2> "$WORK/sidecar-rls.log" &
  rls_pid=$!
  wait_ok http://127.0.0.1:18180/readyz
fi
if [[ " ${SCENARIOS[*]} " == *" envoy_authz "* ]]; then
  "${sidecar_env[@]}" "$BIN" serve --config examples/bench/sidecar.yaml --grpc-addr 127.0.0.1:18281 \
    --http-addr 127.0.0.1:18280 --backend memory --data-dir "$WORK/data-authz" 2> "$WORK/sidecar-authz.log" &
  authz_pid=$!
  wait_ok http://127.0.0.1:18280/readyz
fi
if [[ " ${SCENARIOS[*]} " == *" envoy_rlqs"* ]]; then
  sed 's/string_value: bench/string_value: open/' examples/bench/envoy-rlqs.yaml > "$WORK/envoy-rlqs-open.yaml"
  "${sidecar_env[@]}" "$BIN" serve --grpc-addr 127.0.0.1:18381 --http-addr 127.0.0.1:18380 \
    --ratelimit-config examples/bench/ratelimit.yaml --backend memory --data-dir "$WORK/data-rlqs" 2> "$WORK/sidecar-rlqs.log" &
  rlqs_pid=$!
  wait_ok http://127.0.0.1:18380/readyz
fi

# ticks PID prints the process's user+system CPU time in clock ticks (0
# for PID 0: no such process in this scenario).
ticks() { if [ "$1" = 0 ]; then echo 0; else awk '{print $14 + $15}' "/proc/$1/stat"; fi; }
# stat NAME prints one counter of Envoy's admin stats (0 when absent).
stat() { curl -fsS "http://127.0.0.1:18099/stats?filter=^${1//./\\.}\$" | awk -F': ' 'NR==1{v=$2} END{print v+0}'; }

RUNS="$OUT/envoy-runs.tsv"
printf 'round\tscenario\trequests\tduration_us\tp50_us\tp99_us\terrors\tenvoy_ticks\ttollgate_ticks\tredis_ticks\twrk_s\tload1\tadmitted\n' > "$RUNS"
echo "== Envoy $("$ENVOY" --version | grep -o '[0-9]*\.[0-9]*\.[0-9]*' | head -1) (--concurrency 1) + wrk: c=$CONC, $THREADS thread(s), $DURATION per scenario, $ROUNDS rounds, GOGC=${BENCH_GOGC:-default}"
for round in $(seq 1 "$ROUNDS"); do
  for s in "${SCENARIOS[@]}"; do
    # ok_stat counts the requests Envoy's filter checked with an OK answer.
    case $s in
      envoy_alone) cfg=examples/bench/envoy-alone.yaml tg_pid=0 rd_pid=0 ok_stat="" ;;
      envoy_rls) cfg=examples/bench/envoy-rls.yaml tg_pid=$rls_pid rd_pid=$redis_pid ok_stat=cluster.app.ratelimit.ok ;;
      envoy_authz) cfg=examples/bench/envoy-authz.yaml tg_pid=$authz_pid rd_pid=0 ok_stat=http.ingress_http.ext_authz.ok ;;
      envoy_rlqs) cfg=examples/bench/envoy-rlqs.yaml tg_pid=$rlqs_pid rd_pid=0 ok_stat="" ;;
      envoy_rlqs_open) cfg=$WORK/envoy-rlqs-open.yaml tg_pid=$rlqs_pid rd_pid=0 ok_stat="" ;;
    esac
    # Base id 917: clear of a developer's Envoy (0) and of internal/envoytest's (1000+).
    "$ENVOY" -c "$cfg" --concurrency 1 --base-id 917 --log-level warn --drain-time-s 1 \
      > "$WORK/envoy-$s-$round.log" 2>&1 &
    envoy_pid=$!
    wait_ok http://127.0.0.1:18099/ready
    prefix="$$-$round-$s"
    wrk_cmd=(wrk -t "$THREADS" -c "$CONC" --latency -s examples/bench/wrk.lua -H 'x-api-key: bench-key' http://127.0.0.1:18090/)
    # A short untimed warm-up: connections open, caches filled.
    "${wrk_cmd[@]}" -d 2s -- "$prefix-warm" > /dev/null
    ok0="$(stat "$ok_stat")"
    e0="$(ticks "$envoy_pid")" t0="$(ticks "$tg_pid")" r0="$(ticks "$rd_pid")"
    /usr/bin/time -f '%U %S' -o "$WORK/wrk.time" "${wrk_cmd[@]}" -d "$DURATION" -- "$prefix" > "$OUT/wrk-$s-$round.txt"
    e1="$(ticks "$envoy_pid")" t1="$(ticks "$tg_pid")" r1="$(ticks "$rd_pid")"
    checked=-1 # Envoy alone checks nothing
    if [ -n "$ok_stat" ]; then checked=$(( $(stat "$ok_stat") - ok0 )); fi
    kill "$envoy_pid" && wait "$envoy_pid" 2>/dev/null || true
    envoy_pid=""
    python3 - "$OUT/wrk-$s-$round.txt" "$checked" >> "$RUNS" <<PY
import json, sys
r = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
wrk_s = sum(float(x) for x in open("$WORK/wrk.time").read().split()[-2:])
checked = int(sys.argv[2])
# 2xx answers without an OK check: Tollgate failed or was never asked.
unchecked = max(0, r["requests"] - r["non2xx"] - checked) if checked >= 0 else 0
# Under RLQS the non-2xx answers are Envoy's own 429s: the limit at work.
errors = r["errors"] + (0 if "$s" == "envoy_rlqs" else r["non2xx"]) + unchecked
print("\t".join(str(v) for v in ($round, "$s", r["requests"], r["duration_us"], r["p50_us"], r["p99_us"],
      errors, $e1 - $e0, $t1 - $t0, $r1 - $r0, wrk_s,
      open("/proc/loadavg").read().split()[0], r["requests"] - r["non2xx"])))
PY
    tail -1 "$RUNS" | awk -F'\t' '{printf "round %s %-12s %8.0f rps, p50 %.2f ms, p99 %.2f ms, errors %d, load %s\n", $1, $2, $3/$4*1e6, $5/1000, $6/1000, $7, $12}'
  done
done

python3 - "$RUNS" "$HZ" "$DURATION" "$CONC" "$ROUNDS" <<'PY' | tee "$OUT/envoy-summary.txt"
import csv, sys
runs = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
hz = int(sys.argv[2])
print(f"== Through Envoy (1 worker), wrk c={sys.argv[4]}, {sys.argv[3]} x {sys.argv[5]} rounds, interleaved")
print(f"{'scenario':<15} {'rps':>7} {'ratio':>6} {'rounds':>9} {'p50_ms':>7} {'p99_ms':>7} {'errors':>6} "
      f"{'envoy_us':>8} {'tg_us':>6} {'redis_us':>8} {'wrk_us':>6} {'total_us':>8}  load1")
rps_of = lambda r: int(r["requests"]) / int(r["duration_us"]) * 1e6
alone = {r["round"]: rps_of(r) for r in runs if r["scenario"] == "envoy_alone"}
for name in ("envoy_alone", "envoy_rls", "envoy_authz", "envoy_rlqs", "envoy_rlqs_open"):
    rs = [r for r in runs if r["scenario"] == name]
    if not rs:
        continue
    n = sum(int(r["requests"]) for r in rs)
    rps = sum(rps_of(r) for r in rs) / len(rs)
    per = lambda k, scale: sum(float(r[k]) for r in rs) * scale / n * 1e6
    cpu = [per("envoy_ticks", 1 / hz), per("tollgate_ticks", 1 / hz), per("redis_ticks", 1 / hz), per("wrk_s", 1)]
    p50 = sum(int(r["p50_us"]) for r in rs) / len(rs) / 1000
    p99 = sum(int(r["p99_us"]) for r in rs) / len(rs) / 1000
    # The ratio of the means, and the range of the ratios within each round.
    ratio, rounds = "-", "-"
    if alone:
        ratio = f"{rps / (sum(alone.values()) / len(alone)):.2f}"
        within = [rps_of(r) / alone[r["round"]] for r in rs if r["round"] in alone]
        rounds = f"{min(within):.2f}-{max(within):.2f}"
    loads = "/".join(r["load1"] for r in rs)
    admitted = sum(int(r["admitted"]) / int(r["duration_us"]) * 1e6 for r in rs) / len(rs)
    print(f"{name:<15} {rps:7.0f} {ratio:>6} {rounds:>9} {p50:7.2f} {p99:7.2f} {sum(int(r['errors']) for r in rs):6d} "
          f"{cpu[0]:8.1f} {cpu[1]:6.1f} {cpu[2]:8.1f} {cpu[3]:6.1f} {sum(cpu):8.1f}  {loads}  admitted {admitted:.0f}/s")
print("rps and latencies: means over the rounds; ratio: of the mean rps to Envoy alone's, rounds: its range")
print("over the rounds; CPU: microseconds per request (user+system)")
PY
echo "results in $OUT (envoy-runs.tsv, envoy-summary.txt, wrk-*.txt)"
