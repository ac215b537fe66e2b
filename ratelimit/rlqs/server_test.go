package rlqs

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tollgate/tollgate/counter/memory"
	"github.com/tollgate/tollgate/ratelimit"
)

const testRules = `
domain: d
descriptors:
  - key: tenant
    value: acme
    rate_limit: {unit: second, requests_per_unit: 100}
  - key: tenant
    value: daily
    rate_limit: {unit: day, requests_per_unit: 1000}
  - key: tenant
    value: vip
    rate_limit: {unlimited: true}
  - key: tenant
    value: shadow
    shadow_mode: true
    rate_limit: {unit: second, requests_per_unit: 10}
  - key: tenant
    value: bucket
    rate_limit: {unit: second, requests_per_unit: 20, algorithm: token_bucket}
`

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

type env struct {
	clock *fakeClock
	cfg   atomic.Pointer[ratelimit.Config]
	store *memory.Store
}

func newEnv(t *testing.T, rules string) *env {
	t.Helper()
	e := &env{clock: &fakeClock{now: time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)}, store: memory.New(memory.Options{})}
	e.setRules(t, rules)
	return e
}

func (e *env) setRules(t *testing.T, rules string) {
	t.Helper()
	cfg, err := ratelimit.ParseConfig("rules.yaml", []byte(rules))
	if err != nil {
		t.Fatal(err)
	}
	e.cfg.Store(cfg)
}

func (e *env) server(t *testing.T, shared bool) *Server {
	t.Helper()
	s, err := New(Options{Config: e.cfg.Load, Counter: e.store, Shared: shared, Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// step is Envoy 1.40's reporting interval.
const step = 5 * time.Second

func tenant(v string) map[string]string { return map[string]string{"tenant": v} }

// report sends one report and returns the stream's queued actions as text.
func report(t *testing.T, st *Stream, usages ...Usage) []string {
	t.Helper()
	if err := st.Report(context.Background(), "d", usages); err != nil {
		t.Fatal(err)
	}
	return describe(st.Take())
}

func describe(actions []Action) []string {
	var out []string
	for _, a := range actions {
		s := fmt.Sprintf("%s %s", a.Bucket["tenant"], a.Kind)
		if a.Kind == Limit {
			tb := a.TokenBucket
			s += fmt.Sprintf(" %d/%v max %d", tb.TokensPerFill, tb.FillInterval, tb.MaxTokens)
		}
		if a.Kind != Abandon {
			s += fmt.Sprintf(" ttl %v", a.TTL)
		}
		out = append(out, s)
	}
	return out
}

func use(v string, allowed, denied uint64) Usage {
	return Usage{Bucket: tenant(v), Allowed: allowed, Denied: denied}
}

func expect(t *testing.T, got []string, want ...string) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("actions\n got %q\nwant %q", got, want)
	}
}

func TestOneStreamGetsTheLimit(t *testing.T) {
	e := newEnv(t, testRules)
	s := e.server(t, false)
	st := s.NewStream()
	// The subscription: a new bucket wants everything until measured.
	expect(t, report(t, st, use("acme", 1, 0)), "acme token_bucket 100/1s max 100 ttl 15s")
	e.clock.Add(step)
	// 400 offered per second: the whole limit, burst one interval.
	expect(t, report(t, st, use("acme", 500, 1500)), "acme token_bucket 100/1s max 100 ttl 15s")
	e.clock.Add(step)
	// Demand falls to 10/s: its demand plus headroom (12), after smoothing
	// ((400+10)/2 = 205 first, so still the whole limit).
	expect(t, report(t, st, use("acme", 50, 0)), "acme token_bucket 100/1s max 100 ttl 15s")
	e.clock.Add(step)
	expect(t, report(t, st, use("acme", 50, 0)), "acme token_bucket 100/1s max 100 ttl 15s")
	// The smoothed demand halves its distance to 10/s at each report.
	for range 20 {
		e.clock.Add(step)
		report(t, st, use("acme", 50, 0))
	}
	e.clock.Add(step)
	// 12/s; the burst of 13 is the one sent a few reports ago, kept because
	// it is within 10% (Envoy would refill a bucket whose settings change).
	expect(t, report(t, st, use("acme", 50, 0)), "acme token_bucket 12/1s max 13 ttl 15s")
}

func TestUnlimitedUnmatchedShadow(t *testing.T) {
	e := newEnv(t, testRules)
	st := e.server(t, false).NewStream()
	expect(t, report(t, st, use("vip", 1, 0), use("nobody", 1, 0), use("shadow", 1, 0)),
		"vip allow_all ttl 15s", "nobody allow_all ttl 15s", "shadow allow_all ttl 15s")
}

func TestTokenBucketAlgorithmBurst(t *testing.T) {
	e := newEnv(t, testRules)
	st := e.server(t, false).NewStream()
	// token_bucket 20/s: the rate, and the bucket's capacity as burst.
	expect(t, report(t, st, use("bucket", 1, 0)), "bucket token_bucket 20/1s max 20 ttl 15s")
}

// TestTwoStreamsShare: two Envoys on one bucket, offered 1:4 over a limit
// of 100/s, get 50/s each; when one leaves, the other gets all of it.
func TestTwoStreamsShare(t *testing.T) {
	e := newEnv(t, testRules)
	s := e.server(t, false)
	a, b := s.NewStream(), s.NewStream()
	expect(t, report(t, a, use("acme", 1, 0)), "acme token_bucket 100/1s max 100 ttl 15s")
	// b subscribes: both unmeasured, equal halves; a is pushed its half.
	expect(t, report(t, b, use("acme", 1, 0)), "acme token_bucket 50/1s max 50 ttl 15s")
	expect(t, describe(a.Take()), "acme token_bucket 50/1s max 50 ttl 15s")
	e.clock.Add(step)
	expect(t, report(t, a, use("acme", 250, 250)), "acme token_bucket 50/1s max 50 ttl 15s")
	expect(t, report(t, b, use("acme", 250, 1750)), "acme token_bucket 50/1s max 50 ttl 15s")
	if got := a.Take(); len(got) != 0 {
		t.Fatalf("unchanged share pushed to a: %v", describe(got))
	}
	// b leaves: a gets the whole limit at once.
	b.Close()
	expect(t, describe(a.Take()), "acme token_bucket 100/1s max 100 ttl 15s")
	b.Close() // idempotent
}

// TestSkewedDemandShares: a stream that wants less than its half gets what
// it wants plus headroom, and the other the rest.
func TestSkewedDemandShares(t *testing.T) {
	e := newEnv(t, testRules)
	s := e.server(t, false)
	a, b := s.NewStream(), s.NewStream()
	report(t, a, use("acme", 1, 0))
	report(t, b, use("acme", 1, 0))
	a.Take()
	e.clock.Add(step)
	// a measured at 10/s while b is still unmeasured (wants everything).
	expect(t, report(t, a, use("acme", 50, 0)), "acme token_bucket 12/1s max 12 ttl 15s")
	expect(t, report(t, b, use("acme", 250, 2000)), "acme token_bucket 88/1s max 88 ttl 15s")
	if got := a.Take(); len(got) != 0 {
		t.Fatalf("unchanged share pushed to a: %v", describe(got))
	}
}

// TestQuotaRunsOut: a daily quota of 1000 is spent at any pace; once used
// up every stream gets DENY_ALL at once, until the day turns.
func TestQuotaRunsOut(t *testing.T) {
	e := newEnv(t, testRules)
	e.clock.now = time.Date(2026, 12, 3, 23, 59, 45, 0, time.UTC)
	s := e.server(t, false)
	a, b := s.NewStream(), s.NewStream()
	// Unmeasured streams want everything: the quota left, split.
	expect(t, report(t, a, use("daily", 1, 0)), "daily token_bucket 1/1m0s max 999 ttl 15s")
	expect(t, report(t, b, use("daily", 1, 0)), "daily token_bucket 1/1m0s max 499 ttl 15s")
	expect(t, describe(a.Take()), "daily token_bucket 1/1m0s max 499 ttl 15s")
	e.clock.Add(step)
	expect(t, report(t, a, use("daily", 499, 100)), "daily token_bucket 1/1m0s max 249 ttl 15s")
	expect(t, report(t, b, use("daily", 499, 0)), "daily deny_all ttl 15s")
	expect(t, describe(a.Take()), "daily deny_all ttl 15s")
	e.clock.Add(step)
	expect(t, report(t, a, use("daily", 0, 100)), "daily deny_all ttl 15s")
	// Midnight: the quota is back, shared by demand.
	e.clock.Add(step)
	expect(t, report(t, a, use("daily", 0, 100)), "daily token_bucket 1/1m0s max 500 ttl 15s")
}

// TestReloadLowersLimit: a reload that lowers a limit is pushed to every
// stream by Run's tick.
func TestReloadLowersLimit(t *testing.T) {
	e := newEnv(t, testRules)
	s := e.server(t, false)
	st := s.NewStream()
	expect(t, report(t, st, use("acme", 1, 0)), "acme token_bucket 100/1s max 100 ttl 15s")
	e.setRules(t, `
domain: d
descriptors:
  - key: tenant
    value: acme
    rate_limit: {unit: second, requests_per_unit: 10}
`)
	s.tick()
	select {
	case <-st.Ready():
	default:
		t.Fatal("no push after the reload")
	}
	expect(t, describe(st.Take()), "acme token_bucket 10/1s max 10 ttl 15s")
}

// TestIdleBucketsAbandoned: a bucket with no requests for IdleAfter is
// abandoned and forgotten.
func TestIdleBucketsAbandoned(t *testing.T) {
	e := newEnv(t, testRules)
	s := e.server(t, false)
	st := s.NewStream()
	report(t, st, use("acme", 1, 0), use("vip", 1, 0))
	for range 61 {
		e.clock.Add(step)
		report(t, st, use("acme", 1, 0), use("vip", 0, 0))
	}
	s.tick()
	expect(t, describe(st.Take()), "vip abandon")
	if got := len(st.buckets); got != 1 || s.buckets != 1 {
		t.Fatalf("after abandonment: %d buckets on the stream, %d tracked; want 1 and 1", got, s.buckets)
	}
}

// TestMaxBuckets: past MaxBuckets a limited bucket is denied, an unmatched
// one allowed, and neither is kept.
func TestMaxBuckets(t *testing.T) {
	e := newEnv(t, testRules)
	s, err := New(Options{Config: e.cfg.Load, Counter: e.store, Now: e.clock.Now, MaxBuckets: 1})
	if err != nil {
		t.Fatal(err)
	}
	st := s.NewStream()
	expect(t, report(t, st, use("acme", 1, 0), use("daily", 1, 0), use("nobody", 1, 0)),
		"acme token_bucket 100/1s max 100 ttl 15s", "daily deny_all ttl 15s", "nobody allow_all ttl 15s")
	if s.buckets != 1 {
		t.Fatalf("%d buckets tracked, want 1", s.buckets)
	}
}

// TestReplicasShare: two servers sharing one backend (as replicas share
// Redis) split a limit by their streams' demand.
func TestReplicasShare(t *testing.T) {
	e := newEnv(t, testRules)
	r1, r2 := e.server(t, true), e.server(t, true)
	a, b := r1.NewStream(), r2.NewStream()
	report(t, a, use("acme", 1, 0))
	report(t, b, use("acme", 1, 0))
	for range 20 {
		e.clock.Add(step)
		report(t, a, use("acme", 250, 750))
		report(t, b, use("acme", 250, 750))
	}
	// Each takes its replica's part of the demand over the last 30 s, the
	// mean of its part just before and just after its own report: equal
	// demand, reported in turn, sums to the limit (53 + 47; the sliding
	// window's weighting of its previous half favours the one reporting
	// first by a few requests).
	e.clock.Add(step)
	expect(t, report(t, a, use("acme", 250, 750)), "acme token_bucket 53/1s max 53 ttl 15s")
	expect(t, report(t, b, use("acme", 250, 750)), "acme token_bucket 47/1s max 47 ttl 15s")
}

func TestDomainChange(t *testing.T) {
	e := newEnv(t, testRules)
	st := e.server(t, false).NewStream()
	report(t, st, use("acme", 1, 0))
	if err := st.Report(context.Background(), "other", nil); err != ErrDomainChanged {
		t.Fatalf("got %v, want ErrDomainChanged", err)
	}
}

// TestRateGauges: the tick publishes each domain's demand and assigned rate.
func TestRateGauges(t *testing.T) {
	e := newEnv(t, testRules)
	reg := prometheus.NewRegistry()
	s, err := New(Options{Config: e.cfg.Load, Counter: e.store, Now: e.clock.Now, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	st := s.NewStream()
	report(t, st, use("acme", 1, 0), use("vip", 1, 0))
	e.clock.Add(step)
	report(t, st, use("acme", 250, 1250), use("vip", 50, 0))
	s.tick()
	want := `
# HELP tollgate_rlqs_assigned_requests_per_second Requests per second assigned as token buckets, summed over the domain's buckets (ALLOW_ALL buckets not included).
# TYPE tollgate_rlqs_assigned_requests_per_second gauge
tollgate_rlqs_assigned_requests_per_second{domain="d"} 100
# HELP tollgate_rlqs_demand_requests_per_second Requests per second this replica's Envoys ask for (allowed and denied), summed over the domain's buckets.
# TYPE tollgate_rlqs_demand_requests_per_second gauge
tollgate_rlqs_demand_requests_per_second{domain="d"} 310
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"tollgate_rlqs_assigned_requests_per_second", "tollgate_rlqs_demand_requests_per_second"); err != nil {
		t.Fatal(err)
	}
}
