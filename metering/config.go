package metering

import (
	"strconv"
	"time"

	"github.com/tollgate/tollgate/metering/spool"
	"github.com/tollgate/tollgate/ratelimit"
)

// RateLimitDomain is the rate-limit domain of the config that
// Config.RateLimitConfig builds from the plans' rate_limits.
const RateLimitDomain = "tollgate_authz"

// Defaults of Config.
const (
	// DefaultAPIKeyHeader is the header the API key is read from.
	DefaultAPIKeyHeader = "x-api-key"
	// DefaultQuotaRefresh is how often cached quota counts are re-read.
	DefaultQuotaRefresh = 5 * time.Second
	// DefaultQuotaNamespace is the counter namespace quotas count in.
	DefaultQuotaNamespace = "tollgate_quota"
	// DefaultSpoolDir is the spool directory, relative to the data directory.
	DefaultSpoolDir = "metering-spool"
	// DefaultBatchSize is the most events shipped in one Sink call.
	DefaultBatchSize = 500
	// DefaultFlushInterval is how long an event waits at most before shipping:
	// short enough that shipped events are on time for the accurate counters'
	// incremental reads (late_after, 1 s by default).
	DefaultFlushInterval = spool.DefaultFlushInterval
	// DefaultRetryMinBackoff is the first wait after a failed shipment.
	DefaultRetryMinBackoff = 100 * time.Millisecond
	// DefaultRetryMaxBackoff bounds the wait between failed shipments.
	DefaultRetryMaxBackoff = 30 * time.Second
	// DefaultFailureMode is the failure mode of Checks: fail_closed, so
	// metering never lets unbilled requests through unless told to.
	DefaultFailureMode = ratelimit.FailClosed
)

// Config is a parsed, validated metering section. It is immutable after
// ParseConfig returns and safe for concurrent use.
type Config struct {
	// Tenants are the configured tenants, in config order.
	Tenants []Tenant
	// Identification says how the tenant is found, per route prefix, longest
	// prefix first. Default: one rule for "/" reading DefaultAPIKeyHeader.
	Identification []RouteIdentification
	// StripAPIKey removes the API key header before the request goes
	// upstream. Default: true.
	StripAPIKey bool
	// Plans are the configured plans, in config order.
	Plans []Plan
	// Meters are the configured meters, in config order.
	Meters []Meter
	// Spool configures the local event spool.
	Spool SpoolConfig
	// QuotaRefresh is how often the cached quota counts are re-read from
	// the accurate counters. Default: DefaultQuotaRefresh.
	QuotaRefresh time.Duration
	// FailureMode decides Checks when the spool, the quota counts or the
	// rate limiter fail: ratelimit.FailClosed answers 503, ratelimit.FailOpen
	// lets the request through (its events may be lost). Written fail_open or
	// fail_closed. Default: DefaultFailureMode (fail_closed).
	FailureMode ratelimit.FailureMode

	rateLimit *ratelimit.Config
	tenants   map[string]*Tenant
	plans     map[string]*Plan
	meters    map[string]*Meter
}

// Tenant is one customer.
type Tenant struct {
	// ID is the tenant id: letters, digits, '.', '_' and '-', at most 64 bytes.
	ID string
	// Plan is the plan of the tenant's requests (API keys may override it).
	Plan string
	// APIKeys are the tenant's keys, as SHA-256 hashes.
	APIKeys []APIKey
}

// APIKey is one API key, stored as the SHA-256 hash of the key.
type APIKey struct {
	// Hash is the SHA-256 of the key as the client sends it.
	Hash [32]byte
	// Plan overrides the tenant's plan for requests with this key; empty
	// means the tenant's plan.
	Plan string
}

// RouteIdentification says how requests under PathPrefix identify their
// tenant: by an API key in APIKeyHeader, or by a tenant id that a trusted
// upstream (e.g. Envoy's jwt_authn) put in TrustedHeader. Exactly one of the
// two is set; header names are lowercase.
type RouteIdentification struct {
	PathPrefix    string
	APIKeyHeader  string
	TrustedHeader string
}

// Plan is a set of rate limits and monthly quotas.
type Plan struct {
	// Name is the plan name, sent upstream in x-tollgate-plan.
	Name string
	// RateLimits are enforced through the ratelimit engine, domain
	// RateLimitDomain.
	RateLimits []RateLimit
	// Quotas are per calendar month.
	Quotas []Quota

	// combos lists the descriptor shapes (By sets) the plan's rate limits use.
	combos []byCombo
}

// RateLimit is one limit of a plan, in the ratelimit engine's terms.
type RateLimit struct {
	// RequestsPerUnit is the number of requests allowed per Unit or Window.
	RequestsPerUnit uint32
	// Unit is second, minute, hour, day, week, month or year; empty when
	// Window is set.
	Unit string
	// Window is a custom window (whole seconds); zero when Unit is set.
	Window time.Duration
	// Algorithm is fixed_window (default), sliding_window or token_bucket.
	Algorithm string
	// ByMethod counts each HTTP method apart.
	ByMethod bool
	// ByPathPrefix counts each identification route prefix apart.
	ByPathPrefix bool
}

// byCombo is a descriptor shape: which of method and path_prefix it holds.
type byCombo struct{ method, pathPrefix bool }

// Quota is a number of allowed requests per calendar month of a time zone.
type Quota struct {
	// Name tells the quota apart from the plan's others; part of the counter
	// name.
	Name string
	// RequestsPerMonth is the number of requests allowed per calendar month.
	RequestsPerMonth int64
	// Location is the zone whose calendar months count. Default: UTC.
	Location *time.Location
	// Namespace is the accurate counter namespace. Default:
	// DefaultQuotaNamespace.
	Namespace string
}

// Source says which events feed a meter.
type Source uint8

// Sources of meters.
const (
	// SourceAuthz counts each allowed Check.
	SourceAuthz Source = iota + 1
	// SourceAccessLog counts each access log entry of a known tenant.
	SourceAccessLog
	// SourceEvents counts CloudEvents of the meter's event type posted to
	// /v1/events (RecordEvents).
	SourceEvents
	// SourceRLQS counts the requests Envoys' RLQS reports allowed, one
	// event per bucket and report (RecordRLQS).
	SourceRLQS
)

// String returns the config name of s: authz, access_log, events or rlqs.
func (s Source) String() string {
	switch s {
	case SourceAccessLog:
		return "access_log"
	case SourceEvents:
		return "events"
	case SourceRLQS:
		return "rlqs"
	}
	return "authz"
}

// ValueKind says what a meter counts per event.
type ValueKind uint8

// Value kinds of meters.
const (
	// ValueRequests counts 1 per request.
	ValueRequests ValueKind = iota + 1
	// ValueRequestBytes counts the request size in bytes.
	ValueRequestBytes
	// ValueResponseBytes counts the response body bytes (access_log only).
	ValueResponseBytes
	// ValueDurationMS counts the request duration in milliseconds
	// (access_log only).
	ValueDurationMS
	// ValueHeader counts the integer value of a header; requests without it
	// (or with a value that is not a non-negative integer) count nothing.
	ValueHeader
	// ValueEventData counts the whole number at Meter.ValuePath in a
	// CloudEvent's data (events meters).
	ValueEventData
)

// CounterType is the kind of durable counter a namespace is read with.
type CounterType uint8

// Counter types.
const (
	// Eventual counters are cheap and may lag by the rollup's accept limit.
	Eventual CounterType = iota + 1
	// Accurate counters read every event up to now.
	Accurate
)

// String returns "eventual" or "accurate".
func (t CounterType) String() string {
	if t == Accurate {
		return "accurate"
	}
	return "eventual"
}

// Meter is one usage measure.
type Meter struct {
	// Name identifies the meter in queries and exports.
	Name string
	// Source is where events come from.
	Source Source
	// Value is what each event counts; Header names the header for
	// ValueHeader (lowercase).
	Value  ValueKind
	Header string
	// Filters select the requests that count.
	Filters Filters
	// GroupByRoute counts each identification route prefix apart (always
	// per tenant too).
	GroupByRoute bool
	// Namespace is the counter namespace the events go to. Default: Name.
	Namespace string
	// Type is how the namespace is read. Default: Eventual.
	Type CounterType
	// Unit names the quantity in exports. Default: "request" for requests,
	// "byte" for byte values, "millisecond" for duration_ms, "unit" for
	// headers and event values.
	Unit string
	// EventType is the CloudEvents type an events meter counts.
	EventType string
	// ValuePath is the path into an event's data of the number an events
	// meter counts (ValueEventData), from "$.a.b".
	ValuePath []string
	// BucketKey is the RLQS bucket entry whose value is the tenant, for
	// rlqs meters. Default: "tenant".
	BucketKey string
	// Domain, for rlqs meters, counts only reports of that domain; empty
	// counts every domain.
	Domain string
}

// Filters select requests; an empty list selects all. A request counts when
// it passes every non-empty list.
type Filters struct {
	// Methods are HTTP methods, uppercase.
	Methods []string
	// PathPrefixes match the request path (without the query).
	PathPrefixes []string
	// Statuses match the response status (access_log only).
	Statuses []StatusRange
}

// StatusRange is an inclusive range of HTTP status codes, written in config
// as a class ("2xx"), a code ("404") or a comparison ("<500", "<=499",
// ">=400", ">399").
type StatusRange struct {
	Min, Max int
}

// String returns the range as written in config when it is a class, a code
// or a one-sided comparison, else "min-max".
func (r StatusRange) String() string {
	switch {
	case r.Min == r.Max:
		return strconv.Itoa(r.Min)
	case r.Min%100 == 0 && r.Max == r.Min+99:
		return strconv.Itoa(r.Min/100) + "xx"
	case r.Min == 0:
		return "<" + strconv.Itoa(r.Max+1)
	case r.Max == maxStatus:
		return ">=" + strconv.Itoa(r.Min)
	}
	return strconv.Itoa(r.Min) + "-" + strconv.Itoa(r.Max)
}

// maxStatus bounds status ranges that are open upwards.
const maxStatus = 999

// SpoolConfig configures the local event spool and its shipper.
type SpoolConfig struct {
	// Dir is the spool directory, relative to the data directory unless
	// absolute. Default: DefaultSpoolDir.
	Dir string
	// BatchSize is the most events per Sink call. Default: DefaultBatchSize.
	BatchSize int
	// FlushInterval is how long an event waits at most before it is shipped.
	// Default: DefaultFlushInterval.
	FlushInterval time.Duration
	// RetryMinBackoff and RetryMaxBackoff bound the exponential wait after a
	// failed shipment. Defaults: DefaultRetryMinBackoff, DefaultRetryMaxBackoff.
	RetryMinBackoff time.Duration
	RetryMaxBackoff time.Duration
}

// RateLimitConfig returns the rate-limit config of the plans' rate_limits:
// domain RateLimitDomain. Decide Checks with a ratelimit.Service built on it
// (it may share the best-effort counter backend with other domains: counter
// keys include the domain).
func (c *Config) RateLimitConfig() *ratelimit.Config { return c.rateLimit }

// Tenant returns the tenant with the given id, or nil.
func (c *Config) Tenant(id string) *Tenant { return c.tenants[id] }

// Plan returns the plan with the given name, or nil.
func (c *Config) Plan(name string) *Plan { return c.plans[name] }

// Meter returns the meter with the given name, or nil.
func (c *Config) Meter(name string) *Meter { return c.meters[name] }
