// Package metering is Tollgate's edge-auth and metering layer: it
// identifies tenants for Envoy's ext_authz Check, enforces their plans
// (rate limits and calendar-month quotas), records usage events from Checks
// and from Envoy's access log, and answers usage queries and billing
// exports. It holds no protos: the envoy package translates.
//
// # Config
//
// ParseConfig reads the sidecar YAML's metering: section (see
// testdata/quickstart.yaml) and reports every problem as
// "file:line:col: metering.path: problem (hint)". API keys are stored as
// "sha256:<hex>" only. Identification rules pick, by longest path prefix,
// an API key header or a trusted header set by an upstream authenticator
// (e.g. x-jwt-sub after jwt_authn); paths no rule matches read x-api-key.
//
// # Check
//
// Metering.Check hashes the presented key with SHA-256 and looks the hash
// up (then compares it in constant time); keys are never logged. Missing
// or unknown credentials answer 401. The plan's rate limits go to a
// RateLimiter as domain RateLimitDomain, with descriptors
// plan=<plan>, tenant=<id> [, method=<METHOD>] [, path_prefix=<rule prefix>]
// (Config.RateLimitConfig builds the matching ratelimit.Config); over a
// limit answers 429 with RateLimit-Limit, RateLimit-Remaining,
// RateLimit-Reset and Retry-After. Allowed Checks carry x-tenant-id and
// x-tollgate-plan upstream and drop the API key header (strip_api_key).
//
// # Quotas
//
// A quota counts allowed requests per calendar month of its time zone in
// the accurate counter <namespace>/<tenant>/<quota>/<YYYY-MM>. Check never
// reads the store: it compares a cached estimate,
//
//	count read at the last refresh + requests this sidecar admitted this
//	month − those of them the store had acknowledged before that read,
//
// and reserves the request in memory when it fits. Run refreshes every
// quota_refresh (CountReader.GetCount). Events acknowledged while a refresh
// reads may be counted twice, which only denies early. The largest
// overshoot over the quota is what other sidecars admit that this one has
// not seen: their admissions during one quota_refresh interval (plus the
// read's duration) plus what sits in their spools unshipped (their ship
// lag: flush_interval, or longer while the store is down). With N equal
// sidecars at r requests/s each that is about (N−1)·r·(quota_refresh +
// ship lag). A single sidecar never overshoots. When no refresh has
// succeeded for QuotaStaleAfter, Checks of plans with quotas follow
// failure_mode: deny answers 503, allow admits and counts locally.
//
// # Events
//
// Every event's identity is (namespace, counter, time, id) with time the
// request's start and id "<meter>/<x-request-id>" ("quota.<name>/…" for
// quotas), so a retried Check or a replayed access log entry writes the
// same identity again and counts once. Without x-request-id (or with one
// over 128 bytes) the id part hashes request id, tenant, method, path and
// start; access log entries without a start time fall back to the clock
// and are not replay-safe. Meter counters are "<tenant>", or
// "<tenant>/<route prefix>" for meters grouped by route.
//
// # Spool
//
// Check and RecordAccessLog return only after their events are synced to
// the local Pebble spool (metering/spool; concurrent writers share
// fsyncs), never waiting for the counter store. The shipper (Run) moves
// them to the Sink in batches, retries failures with exponential backoff
// and deletes events only after the Sink acknowledged them: at least once
// delivery plus identities gives exactly-once counts. Close flushes what it
// can; the rest ships after the next Open. When the spool fails, Check
// follows failure_mode.
//
// # Usage and export
//
// Reporter.Usage sums a meter per window (hour, day, month) aligned in a
// time zone, with DST and month lengths of that zone; From and To must be
// window boundaries. Reporter.Export writes one row per configured tenant
// and window as CSV or JSON lines, with a row_id hashing tenant, meter and
// window for idempotent import; it refuses ranges reaching a window that
// ends after now − ClosedMargin (the counters' accept limit plus clock
// skew) and says when it closes. metering/httpapi serves both.
//
// # Metrics
//
// tollgate_metering_checks_total{result},
// tollgate_metering_backend_failures_total{backend,mode},
// tollgate_metering_quota_refresh_errors_total,
// tollgate_metering_access_log_entries_total{result}, and the spool's
// tollgate_metering_spool_events, tollgate_metering_spooled_events_total,
// tollgate_metering_spool_errors_total, tollgate_metering_shipped_events_total,
// tollgate_metering_ship_errors_total and tollgate_metering_ship_lag_seconds.
package metering
