-- wrk script of `make bench` (scripts/bench-envoy.sh), the same for every
-- Envoy scenario so the load generator does the same work in each:
--   wrk -s examples/bench/wrk.lua ... -- PREFIX
-- Every request carries x-bench-id and x-request-id set to
-- "PREFIX-<thread>-<n>", distinct across threads and, with a new PREFIX per
-- run, across runs: a new rate-limit counter (envoy-rls.yaml keys the
-- descriptor on x-bench-id) and a new metering event (Tollgate makes the
-- events of a request idempotent by x-request-id) each. At the end it
-- prints one JSON line with the totals the script reads.
local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

local prefix
local n = 0

function init(args)
  prefix = (args[1] or "run") .. "-" .. tid .. "-"
end

function request()
  n = n + 1
  local id = prefix .. n
  wrk.headers["x-bench-id"] = id
  wrk.headers["x-request-id"] = id
  return wrk.format()
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"errors":%d,"non2xx":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout, e.status))
end
