package metering

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/tollgate/tollgate/counter"
	"github.com/tollgate/tollgate/internal/httperr"
	"github.com/tollgate/tollgate/ratelimit"
)

// Headers Check adds for the upstream.
const (
	// HeaderTenantID carries the tenant id upstream; the access log reads it
	// back (AccessLogEntry.Tenant).
	HeaderTenantID = "x-tenant-id"
	// HeaderPlan carries the plan name upstream.
	HeaderPlan = "x-tollgate-plan"
)

// CheckRequest is the part of an ext_authz CheckRequest metering decides on.
type CheckRequest struct {
	// Method is the HTTP method.
	Method string
	// Path is the request path, with or without the query string.
	Path string
	// Headers are the request headers, keys lowercase.
	Headers map[string]string
	// RequestID is x-request-id; with Start it makes the events' idempotency
	// tokens, so a retried Check counts once.
	RequestID string
	// Start is the request's start time. Zero means now, and so does a time
	// outside the accept window around now (Options.AcceptWindow) of an
	// event's namespace, for that event.
	Start time.Time
	// RequestBytes is the request size, for request_bytes meters.
	RequestBytes int64
}

// Header is one HTTP header.
type Header struct {
	Key, Value string
}

// CheckResult is the answer to a Check.
type CheckResult struct {
	// Allowed says the request goes upstream; Status is then 200, else 401,
	// 429 or 503.
	Allowed bool
	Status  int
	// TenantID and Plan are set once the tenant is identified.
	TenantID, Plan string
	// UpstreamHeaders are set on the request upstream (x-tenant-id,
	// x-tollgate-plan).
	UpstreamHeaders []Header
	// RemoveHeaders are removed from the request before it goes upstream
	// (the API key header, unless strip_api_key is false).
	RemoveHeaders []string
	// ResponseHeaders go to the client: RateLimit-Limit, RateLimit-Remaining,
	// RateLimit-Reset (seconds), and Retry-After (seconds) on 429.
	ResponseHeaders []Header
	// Body is the denial's JSON body, {"error":{"code":...,"message":...}};
	// it is shared, do not modify it.
	Body []byte
}

func (r *CheckResult) reset() {
	clear(r.UpstreamHeaders)
	clear(r.RemoveHeaders)
	clear(r.ResponseHeaders)
	*r = CheckResult{
		UpstreamHeaders: r.UpstreamHeaders[:0],
		RemoveHeaders:   r.RemoveHeaders[:0],
		ResponseHeaders: r.ResponseHeaders[:0],
	}
}

// Check results, as labels of tollgate_metering_checks_total.
const (
	resultAllowed = iota
	resultMissingCredentials
	resultInvalidCredentials
	resultRateLimited
	resultQuotaExceeded
	resultUnavailable
	numResults
)

var resultNames = [numResults]string{"allowed", "missing_credentials", "invalid_credentials", "rate_limited", "quota_exceeded", "unavailable"}

var (
	bodyInvalidKey    = httperr.Body("invalid_api_key", "the API key is not valid (hint: check the key, or ask for a new one)")
	bodyUnknownTenant = httperr.Body("unknown_tenant", "the authenticated tenant has no plan here (hint: ask the operator to add the tenant)")
	bodyRateLimited   = httperr.Body("rate_limited", "rate limit exceeded (hint: retry after the Retry-After seconds)")
	bodyUnavailable   = httperr.Body("unavailable", "metering is temporarily unavailable (hint: retry shortly)")
)

// checkScratch is a Check's pooled working memory.
type checkScratch struct {
	rlReq    ratelimit.Request
	rlResp   ratelimit.Response
	entries  [16]ratelimit.Entry
	events   []counter.Event
	reserved [8]string
}

// Check authorizes req into res (reusing res's slices): it identifies the
// tenant, enforces the plan's quotas and rate limits and records the authz
// meters' events in the spool (durably) before it returns. It never
// returns an error: backend failures are decided by Config.FailureMode.
func (m *Metering) Check(ctx context.Context, req *CheckRequest, res *CheckResult) {
	res.reset()
	path := req.Path
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	rs := m.rule(path)
	tp, code := m.identify(rs, req)
	if tp == nil {
		res.Status = 401
		res.Body = rs.missingBody
		if code == resultInvalidCredentials {
			res.Body = bodyInvalidKey
			if rs.rule.TrustedHeader != "" {
				res.Body = bodyUnknownTenant
			}
		}
		m.metrics.checks[code].Inc()
		return
	}
	res.TenantID, res.Plan = tp.tenant.ID, tp.plan.Name
	now := m.opts.Now()
	sc := m.scratch.Get().(*checkScratch)
	defer func() {
		clear(sc.events)
		sc.events = sc.events[:0]
		m.scratch.Put(sc)
	}()

	// Quotas: reserve one request on each, or release them all.
	reserved := sc.reserved[:0]
	release := func() {
		for i, name := range reserved {
			m.quotas.release(tp.quotas[i].count, name)
		}
	}
	for i := range tp.quotas {
		pq := &tp.quotas[i]
		v, name, end := m.quotas.reserve(pq.count, pq.quota.RequestsPerMonth, now)
		switch v {
		case quotaExceeded:
			release()
			m.deny(res, 429, resultQuotaExceeded, pq.body)
			reset := ratelimit.FormatSeconds(end.Sub(now))
			// The window is this calendar month: end is the next month's
			// start in the quota's time zone.
			month := end.Sub(end.AddDate(0, -1, 0))
			res.ResponseHeaders = append(res.ResponseHeaders,
				Header{"RateLimit-Limit", ratelimit.FormatLimit(uint64(pq.quota.RequestsPerMonth), month)},
				Header{"RateLimit-Remaining", "0"},
				Header{"RateLimit-Reset", reset},
				Header{"Retry-After", reset})
			return
		case quotaStale:
			m.metrics.backendFailure(backendQuota, m.cfg.FailureMode)
			if m.cfg.FailureMode == ratelimit.FailClosed {
				release()
				m.deny(res, 503, resultUnavailable, bodyUnavailable)
				return
			}
			m.quotas.reserveStale(pq.count, now)
		}
		reserved = append(reserved, name)
		start := m.eventTime(req.Start, now, pq.quota.Namespace, SourceAuthz)
		sc.events = append(sc.events, counter.Event{
			Namespace: pq.quota.Namespace, Counter: name, Time: start, Delta: 1,
			ID: eventID(pq.token, req.RequestID, tp.tenant.ID, req.Method, path, start),
		})
	}

	if len(tp.plan.combos) > 0 {
		if !m.rateLimit(ctx, sc, tp, rs.rule.PathPrefix, req.Method, res) {
			release()
			return
		}
	}

	for i := range m.cfg.Meters {
		mt := &m.cfg.Meters[i]
		if mt.Source != SourceAuthz || !mt.Filters.match(req.Method, path, 0) {
			continue
		}
		// A Check has no response yet: configs give authz meters neither
		// response bytes nor duration.
		if v := mt.quantity(req.RequestBytes, 0, 0, req.Headers); v > 0 {
			start := m.eventTime(req.Start, now, mt.Namespace, SourceAuthz)
			sc.events = append(sc.events, m.meterEvent(mt, tp.tenant.ID, rs.rule.PathPrefix, req.RequestID, req.Method, path, start, v))
		}
	}
	if err := m.spool.Append(ctx, sc.events); err != nil {
		m.metrics.backendFailure(backendSpool, m.cfg.FailureMode)
		m.logThrottled(now, "cannot spool metering events", err)
		if m.cfg.FailureMode == ratelimit.FailClosed {
			release()
			res.ResponseHeaders = res.ResponseHeaders[:0]
			m.deny(res, 503, resultUnavailable, bodyUnavailable)
			return
		}
	}
	res.Allowed, res.Status = true, 200
	res.UpstreamHeaders = append(res.UpstreamHeaders, tp.upstream[:]...)
	if rs.rule.APIKeyHeader != "" && m.cfg.StripAPIKey {
		res.RemoveHeaders = append(res.RemoveHeaders, rs.rule.APIKeyHeader)
	}
	m.metrics.checks[resultAllowed].Inc()
}

func (m *Metering) deny(res *CheckResult, status, result int, body []byte) {
	res.Allowed, res.Status, res.Body = false, status, body
	m.metrics.checks[result].Inc()
}

// identify finds the tenant and plan of a request, or nil and why not.
func (m *Metering) identify(rs *ruleState, req *CheckRequest) (*tenantPlan, int) {
	if h := rs.rule.TrustedHeader; h != "" {
		id := req.Headers[h]
		if id == "" {
			return nil, resultMissingCredentials
		}
		t := m.cfg.tenants[id]
		if t == nil {
			return nil, resultInvalidCredentials
		}
		return m.plans[tenantPlanKey{t.ID, t.Plan}], resultAllowed
	}
	key := req.Headers[rs.rule.APIKeyHeader]
	if key == "" {
		return nil, resultMissingCredentials
	}
	sum := sha256.Sum256([]byte(key))
	e, ok := m.bykey[sum]
	// The map finds the candidate by hash; the constant-time comparison
	// keeps the final check free of early exits on the key material.
	if !ok || subtle.ConstantTimeCompare(e.hash[:], sum[:]) != 1 {
		return nil, resultInvalidCredentials
	}
	return e.tp, resultAllowed
}

// rateLimit asks the rate limiter with one descriptor per shape the plan's
// limits use; false means res holds the denial.
func (m *Metering) rateLimit(ctx context.Context, sc *checkScratch, tp *tenantPlan, prefix, method string, res *CheckResult) bool {
	method = normalizeMethod(method)
	sc.rlReq = ratelimit.Request{Domain: RateLimitDomain, Descriptors: sc.rlReq.Descriptors[:0]}
	n := 0
	for _, c := range tp.plan.combos {
		from := n
		sc.entries[n] = ratelimit.Entry{Key: entryPlan, Value: tp.plan.Name}
		sc.entries[n+1] = ratelimit.Entry{Key: entryTenant, Value: tp.tenant.ID}
		n += 2
		if c.method {
			sc.entries[n] = ratelimit.Entry{Key: entryMethod, Value: method}
			n++
		}
		if c.pathPrefix {
			sc.entries[n] = ratelimit.Entry{Key: entryPathPrefix, Value: prefix}
			n++
		}
		sc.rlReq.Descriptors = append(sc.rlReq.Descriptors, ratelimit.Descriptor{Entries: sc.entries[from:n:n]})
	}
	if err := m.opts.RateLimiter.ShouldRateLimit(ctx, &sc.rlReq, &sc.rlResp); err != nil {
		// Only malformed requests fail, and these are built here.
		m.metrics.backendFailure(backendRateLimit, m.cfg.FailureMode)
		m.logThrottled(m.opts.Now(), "rate limiter refused the request", err)
		if m.cfg.FailureMode == ratelimit.FailClosed {
			m.deny(res, 503, resultUnavailable, bodyUnavailable)
			return false
		}
		return true
	}
	if sc.rlResp.BackendFailed {
		// The counter backend (Redis) is down: metering's failure mode
		// decides, not the limiter's statuses.
		m.metrics.backendFailure(backendRateLimit, m.cfg.FailureMode)
		m.logThrottled(m.opts.Now(), "rate-limit backend failed", errors.New("the best-effort counter backend did not answer"))
		if m.cfg.FailureMode == ratelimit.FailClosed {
			m.deny(res, 503, resultUnavailable, bodyUnavailable)
			return false
		}
		return true
	}
	if i := ratelimit.Tightest(sc.rlResp.Statuses); i >= 0 {
		st := &sc.rlResp.Statuses[i]
		reset := ratelimit.FormatSeconds(st.DurationUntilReset)
		res.ResponseHeaders = append(res.ResponseHeaders,
			Header{"RateLimit-Limit", ratelimit.FormatLimit(uint64(st.CurrentLimit.RequestsPerUnit), st.CurrentLimit.Window)},
			Header{"RateLimit-Remaining", strconv.FormatUint(uint64(st.LimitRemaining), 10)},
			Header{"RateLimit-Reset", reset})
		if sc.rlResp.OverallCode == ratelimit.CodeOverLimit {
			res.ResponseHeaders = append(res.ResponseHeaders, Header{"Retry-After", reset})
		}
	}
	if sc.rlResp.OverallCode == ratelimit.CodeOverLimit {
		m.deny(res, 429, resultRateLimited, bodyRateLimited)
		return false
	}
	return true
}

// normalizeMethod bounds the method values counters see.
func normalizeMethod(m string) string {
	switch m {
	case "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE":
		return m
	}
	return "OTHER"
}

// headerValue parses a non-negative integer header; anything else is 0.
func headerValue(s string) int64 {
	if s == "" || len(s) > 18 {
		return 0
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < 0 {
		return 0
	}
	return v
}
