package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tollgate/tollgate/counter"
	"github.com/tollgate/tollgate/counter/memory"
	"github.com/tollgate/tollgate/internal/testkit"
)

// t0 is 40 seconds into a minute.
var t0 = time.Unix(1_700_000_020, 0)

type harness struct {
	svc   *Service
	fc    *testkit.Counter
	clock *testkit.Clock
	reg   *prometheus.Registry
}

func newHarness(t *testing.T, yaml string, mod func(*Options)) *harness {
	t.Helper()
	h := &harness{fc: testkit.NewCounter(), clock: testkit.NewClock(t0), reg: prometheus.NewRegistry()}
	opts := Options{Counter: h.fc, Now: h.clock.Now, Registerer: h.reg}
	if mod != nil {
		mod(&opts)
	}
	svc, err := New(opts, mustLoad(t, yaml))
	if err != nil {
		t.Fatal(err)
	}
	h.svc = svc
	return h
}

// desc builds a descriptor from "k=v,k2=v2".
func desc(s string) Descriptor { return Descriptor{Entries: entries(s)} }

// call decides and renders the response.
func (h *harness) call(t *testing.T, req Request) string {
	t.Helper()
	var resp Response
	if err := h.svc.ShouldRateLimit(context.Background(), &req, &resp); err != nil {
		t.Fatalf("ShouldRateLimit: %v", err)
	}
	return render(&resp)
}

// render writes a response as "OVERALL: status; status", each status as
// "CODE rem=N limit=R/unit reset=D [quota]".
func render(r *Response) string {
	var b strings.Builder
	b.WriteString(codeName(r.OverallCode) + ":")
	for i, s := range r.Statuses {
		if i > 0 {
			b.WriteByte(';')
		}
		fmt.Fprintf(&b, " %s rem=%d", codeName(s.Code), s.LimitRemaining)
		if s.CurrentLimit != nil {
			fmt.Fprintf(&b, " limit=%d/%s", s.CurrentLimit.RequestsPerUnit, s.CurrentLimit.Unit)
			if s.CurrentLimit.Name != "" {
				fmt.Fprintf(&b, "(%s)", s.CurrentLimit.Name)
			}
			fmt.Fprintf(&b, " reset=%s", s.DurationUntilReset)
		}
		if s.QuotaMode {
			b.WriteString(" quota")
		}
	}
	return b.String()
}

func codeName(c Code) string {
	switch c {
	case CodeOK:
		return "OK"
	case CodeOverLimit:
		return "OVER"
	}
	return "UNKNOWN"
}

func req(descs ...string) Request {
	r := Request{Domain: "d"}
	for _, d := range descs {
		r.Descriptors = append(r.Descriptors, desc(d))
	}
	return r
}

func u64(v uint64) *uint64 { return &v }

// step is one call in a decision sequence and its rendered response.
type step struct {
	req     Request
	advance time.Duration // clock advance before the call
	want    string
}

func runSteps(t *testing.T, h *harness, steps []step) {
	t.Helper()
	for i, s := range steps {
		h.clock.Advance(s.advance)
		if got := h.call(t, s.req); got != s.want {
			t.Errorf("step %d: got  %s\nwant %s", i, got, s.want)
		}
	}
}

func TestDecisions(t *testing.T) {
	tests := []struct {
		name  string
		yaml  string
		opts  func(*Options)
		steps []step
	}{
		{
			name: "fixed window counts and resets on the epoch-aligned minute",
			yaml: "domain: d\ndescriptors:\n  - key: k\n    rate_limit: {unit: minute, requests_per_unit: 2}\n",
			steps: []step{
				{req: req("k=a"), want: "OK: OK rem=1 limit=2/minute reset=20s"},
				{req: req("k=a"), advance: 5 * time.Second, want: "OK: OK rem=0 limit=2/minute reset=15s"},
				{req: req("k=a"), want: "OVER: OVER rem=0 limit=2/minute reset=15s"},
				{req: req("k=a"), advance: 15 * time.Second, want: "OK: OK rem=1 limit=2/minute reset=1m0s"},
			},
		},
		{
			name: "default key counts each value apart; key_value wins over key",
			yaml: "domain: d\ndescriptors:\n  - key: k\n    rate_limit: {unit: second, requests_per_unit: 1}\n  - key: k\n    value: vip\n    rate_limit: {unit: second, requests_per_unit: 5}\n",
			steps: []step{
				{req: req("k=a"), want: "OK: OK rem=0 limit=1/second reset=1s"},
				{req: req("k=b"), want: "OK: OK rem=0 limit=1/second reset=1s"},
				{req: req("k=a"), want: "OVER: OVER rem=0 limit=1/second reset=1s"},
				{req: req("k=vip"), want: "OK: OK rem=4 limit=5/second reset=1s"},
			},
		},
		{
			name: "wildcard values count apart unless share_threshold",
			yaml: "domain: d\ndescriptors:\n  - key: w\n    value: \"f*\"\n    rate_limit: {unit: second, requests_per_unit: 1}\n  - key: s\n    value: \"f*\"\n    share_threshold: true\n    rate_limit: {unit: second, requests_per_unit: 1}\n",
			steps: []step{
				{req: req("w=f1"), want: "OK: OK rem=0 limit=1/second reset=1s"},
				{req: req("w=f2"), want: "OK: OK rem=0 limit=1/second reset=1s"},
				{req: req("s=f1"), want: "OK: OK rem=0 limit=1/second reset=1s"},
				{req: req("s=f2"), want: "OVER: OVER rem=0 limit=1/second reset=1s"},
			},
		},
		{
			name: "replaces drops the named limit of another descriptor in the request",
			yaml: `domain: d
descriptors:
  - key: a
    rate_limit: {unit: minute, requests_per_unit: 1, name: base}
  - key: b
    rate_limit: {unit: minute, requests_per_unit: 10, name: special, replaces: [{name: base}]}
`,
			steps: []step{
				{req: req("a=1", "b=1"), want: "OK: OK rem=0; OK rem=9 limit=10/minute(special) reset=20s"},
				{req: req("a=1", "b=1"), want: "OK: OK rem=0; OK rem=8 limit=10/minute(special) reset=20s"},
				{req: req("a=1"), want: "OK: OK rem=0 limit=1/minute(base) reset=20s"},
				{req: req("a=1"), want: "OVER: OVER rem=0 limit=1/minute(base) reset=20s"},
			},
		},
		{
			name: "unlimited answers OK with no limit",
			yaml: "domain: d\ndescriptors:\n  - key: u\n    rate_limit: {unlimited: true}\n",
			steps: []step{
				{req: req("u=1"), want: "OK: OK rem=4294967295"},
			},
		},
		{
			name: "no match answers OK with no limit",
			yaml: "domain: d\ndescriptors:\n  - key: k\n    rate_limit: {unit: second, requests_per_unit: 1}\n",
			steps: []step{
				{req: req("other=1", "k=1,extra=2"), want: "OK: OK rem=0; OK rem=0"},
			},
		},
		{
			name: "shadow_mode rule is counted but answers OK",
			yaml: "domain: d\ndescriptors:\n  - key: k\n    shadow_mode: true\n    rate_limit: {unit: second, requests_per_unit: 0}\n",
			steps: []step{
				{req: req("k=1"), want: "OK: OK rem=0 limit=0/second reset=1s"},
			},
		},
		{
			name: "global shadow mode keeps descriptor statuses",
			yaml: "domain: d\ndescriptors:\n  - key: k\n    rate_limit: {unit: second, requests_per_unit: 0}\n",
			opts: func(o *Options) { o.GlobalShadowMode = true },
			steps: []step{
				{req: req("k=1"), want: "OK: OVER rem=0 limit=0/second reset=1s"},
			},
		},
		{
			name: "quota_mode: over only when every quota descriptor is over",
			yaml: `domain: d
descriptors:
  - key: q1
    quota_mode: true
    rate_limit: {unit: second, requests_per_unit: 0}
  - key: q2
    quota_mode: true
    rate_limit: {unit: second, requests_per_unit: 1}
  - key: r
    rate_limit: {unit: second, requests_per_unit: 1}
`,
			steps: []step{
				{req: req("q1=1", "q2=1"), want: "OK: OVER rem=0 limit=0/second reset=1s quota; OK rem=0 limit=1/second reset=1s quota"},
				{req: req("q1=1", "q2=1"), want: "OVER: OVER rem=0 limit=0/second reset=1s quota; OVER rem=0 limit=1/second reset=1s quota"},
				{req: req("q1=1", "r=1"), want: "OVER: OVER rem=0 limit=0/second reset=1s quota; OK rem=0 limit=1/second reset=1s"},
				{req: req("q2=2", "r=1"), want: "OVER: OK rem=0 limit=1/second reset=1s quota; OVER rem=0 limit=1/second reset=1s"},
			},
		},
		{
			name: "override replaces the configured limit and creates one where none is",
			yaml: "domain: d\ndescriptors:\n  - key: k\n    rate_limit: {unit: minute, requests_per_unit: 100}\n",
			steps: []step{
				{req: Request{Domain: "d", Descriptors: []Descriptor{{Entries: entries("k=1"), Limit: &LimitOverride{RequestsPerUnit: 1, Unit: UnitSecond}}}},
					want: "OK: OK rem=0 limit=1/second reset=1s"},
				{req: Request{Domain: "d", Descriptors: []Descriptor{{Entries: entries("nothing=1"), Limit: &LimitOverride{RequestsPerUnit: 3, Unit: UnitHour}}}},
					want: "OK: OK rem=2 limit=3/hour reset=46m20s"},
				{req: Request{Domain: "other", Descriptors: []Descriptor{{Entries: entries("k=1"), Limit: &LimitOverride{RequestsPerUnit: 3, Unit: UnitHour}}}},
					want: "OK: OK rem=0"},
			},
		},
		{
			name: "hits_addend: request-wide, per descriptor, and zero checks only",
			yaml: "domain: d\ndescriptors:\n  - key: k\n    rate_limit: {unit: minute, requests_per_unit: 10}\n",
			steps: []step{
				{req: Request{Domain: "d", HitsAddend: 4, Descriptors: []Descriptor{desc("k=1")}}, want: "OK: OK rem=6 limit=10/minute reset=20s"},
				{req: Request{Domain: "d", HitsAddend: 4, Descriptors: []Descriptor{{Entries: entries("k=1"), HitsAddend: u64(0)}}}, want: "OK: OK rem=6 limit=10/minute reset=20s"},
				{req: Request{Domain: "d", Descriptors: []Descriptor{{Entries: entries("k=1"), HitsAddend: u64(7)}}}, want: "OVER: OVER rem=0 limit=10/minute reset=20s"},
				{req: Request{Domain: "d", Descriptors: []Descriptor{{Entries: entries("k=1"), HitsAddend: u64(0)}}}, want: "OVER: OVER rem=0 limit=10/minute reset=20s"},
			},
		},
		{
			name: "several limits: the over one, else the least remaining",
			yaml: `domain: d
descriptors:
  - key: k
    rate_limit: {unit: second, requests_per_unit: 2}
    rate_limits:
      - {unit: minute, requests_per_unit: 3}
      - {window: 30s, requests_per_unit: 100}
`,
			steps: []step{
				{req: req("k=1"), want: "OK: OK rem=1 limit=2/second reset=1s"},
				{req: req("k=1"), want: "OK: OK rem=0 limit=2/second reset=1s"},
				{req: req("k=1"), advance: time.Second, want: "OK: OK rem=0 limit=3/minute reset=19s"},
				{req: req("k=1"), advance: time.Second, want: "OVER: OVER rem=0 limit=3/minute reset=18s"},
			},
		},
		{
			name: "unknown domain is not limited",
			yaml: "domain: d\n",
			steps: []step{
				{req: Request{Domain: "x", Descriptors: []Descriptor{desc("k=1"), desc("k=2")}}, want: "OK: OK rem=0; OK rem=0"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			runSteps(t, newHarness(t, tt.yaml, tt.opts), tt.steps)
		})
	}
}

func TestCounterHits(t *testing.T) {
	h := newHarness(t, `domain: d
descriptors:
  - key: k
    rate_limit: {unit: week, requests_per_unit: 5}
    rate_limits:
      - {unit: month, requests_per_unit: 6, algorithm: sliding_window}
      - {unit: year, requests_per_unit: 7, algorithm: token_bucket}
  - key: u
    rate_limit: {unlimited: true}
`, nil)
	h.call(t, Request{Domain: "d", HitsAddend: 3, Descriptors: []Descriptor{desc("k=a"), desc("u=1"), desc("none=1")}})
	want := []counter.Hit{
		{Key: "1:d1:k=1:a|5/604800s/fixed_window", Algorithm: counter.FixedWindow, Limit: 5, Window: 7 * 24 * time.Hour, Hits: 3},
		{Key: "1:d1:k=1:a|6/2592000s/sliding_window", Algorithm: counter.SlidingWindow, Limit: 6, Window: 30 * 24 * time.Hour, Hits: 3},
		{Key: "1:d1:k=1:a|7/31536000s/token_bucket", Algorithm: counter.TokenBucket, Limit: 7, Window: 365 * 24 * time.Hour, Hits: 3},
	}
	if h.fc.Calls() != 1 {
		t.Errorf("Apply calls %d, want 1", h.fc.Calls())
	}
	if fmt.Sprint(h.fc.LastHits()) != fmt.Sprint(want) {
		t.Errorf("hits\n%v\nwant\n%v", h.fc.LastHits(), want)
	}

	// No applicable limit: no backend call.
	h.call(t, req("u=1", "none=1"))
	if h.fc.Calls() != 1 {
		t.Errorf("Apply calls %d after unlimited-only request, want 1", h.fc.Calls())
	}
}

func TestInvalidRequests(t *testing.T) {
	h := newHarness(t, "domain: d\n", nil)
	tests := []struct {
		req  Request
		want string
	}{
		{Request{Descriptors: []Descriptor{desc("k=1")}}, "ratelimit: invalid request: empty domain (hint: set the domain in Envoy's rate_limit filter)"},
		{Request{Domain: "d"}, "ratelimit: invalid request: no descriptors (hint: Envoy's rate_limit actions produced none)"},
		{Request{Domain: "d", Descriptors: []Descriptor{{Entries: entries("k=1"), Limit: &LimitOverride{RequestsPerUnit: 1}}}},
			"ratelimit: invalid request: descriptor 0: limit override has unknown unit 0 (hint: use SECOND to YEAR)"},
	}
	for _, tt := range tests {
		var resp Response
		err := h.svc.ShouldRateLimit(context.Background(), &tt.req, &resp)
		if !errors.Is(err, ErrInvalidRequest) || err.Error() != tt.want {
			t.Errorf("error %v, want %s", err, tt.want)
		}
	}
}

func TestFailureModes(t *testing.T) {
	yaml := "domain: d\ndescriptors:\n  - key: k\n    rate_limit: {unit: second, requests_per_unit: 5}\n  - key: s\n    shadow_mode: true\n    rate_limit: {unit: second, requests_per_unit: 5}\n"
	backendErr := fmt.Errorf("redis: dial: %w", counter.ErrUnavailable)
	tests := []struct {
		name string
		opts func(*Options)
		want string
		code string
	}{
		{"fail open", nil, "OK: OK rem=5 limit=5/second reset=0s; OK rem=5 limit=5/second reset=0s; OK rem=0", "fail_open"},
		{"fail closed", func(o *Options) { o.FailureMode = FailClosed },
			"OVER: OVER rem=0 limit=5/second reset=0s; OK rem=0 limit=5/second reset=0s; OK rem=0", "fail_closed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, yaml, tt.opts)
			h.fc.Fail(backendErr)
			if got := h.call(t, req("k=1", "s=1", "none=1")); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
			if got := testutil.ToFloat64(h.svc.metrics.backendErrors); got != 1 {
				t.Errorf("backend errors %v, want 1", got)
			}
			if got := testutil.ToFloat64(h.svc.metrics.decisions.WithLabelValues("d", tt.code)); got != 1 {
				t.Errorf("decisions{code=%s} %v, want 1", tt.code, got)
			}
		})
	}
}

func TestMetrics(t *testing.T) {
	h := newHarness(t, `domain: d
descriptors:
  - key: k
    detailed_metric: true
    rate_limit: {unit: second, requests_per_unit: 1}
  - key: s
    shadow_mode: true
    rate_limit: {unit: second, requests_per_unit: 0}
  - key: route
    value: "api/*"
    value_to_metric: true
    detailed_metric: true
    rate_limit: {unit: second, requests_per_unit: 10}
`, nil)
	h.call(t, req("k=1"))
	h.call(t, Request{Domain: "d", HitsAddend: 2, Descriptors: []Descriptor{desc("k=1")}})
	h.call(t, req("s=1"))
	h.call(t, req("route=api/v1"))
	h.call(t, Request{Domain: "nope", Descriptors: []Descriptor{desc("k=1")}})
	want := `
# HELP tollgate_ratelimit_decisions_total ShouldRateLimit decisions by domain ("unknown" for unconfigured domains) and code (ok, over_limit, shadow_over_limit, fail_open, fail_closed).
# TYPE tollgate_ratelimit_decisions_total counter
tollgate_ratelimit_decisions_total{code="fail_closed",domain="d"} 0
tollgate_ratelimit_decisions_total{code="fail_closed",domain="unknown"} 0
tollgate_ratelimit_decisions_total{code="fail_open",domain="d"} 0
tollgate_ratelimit_decisions_total{code="fail_open",domain="unknown"} 0
tollgate_ratelimit_decisions_total{code="ok",domain="d"} 2
tollgate_ratelimit_decisions_total{code="ok",domain="unknown"} 1
tollgate_ratelimit_decisions_total{code="over_limit",domain="d"} 1
tollgate_ratelimit_decisions_total{code="over_limit",domain="unknown"} 0
tollgate_ratelimit_decisions_total{code="shadow_over_limit",domain="d"} 1
tollgate_ratelimit_decisions_total{code="shadow_over_limit",domain="unknown"} 0
# HELP tollgate_ratelimit_rule_hits_total Hits on rules with detailed_metric, by domain, rule path and result (ok, over_limit, shadow_over_limit).
# TYPE tollgate_ratelimit_rule_hits_total counter
tollgate_ratelimit_rule_hits_total{domain="d",result="ok",rule="k"} 1
tollgate_ratelimit_rule_hits_total{domain="d",result="ok",rule="route_api/v1"} 1
tollgate_ratelimit_rule_hits_total{domain="d",result="over_limit",rule="k"} 2
tollgate_ratelimit_rule_hits_total{domain="d",result="shadow_over_limit",rule="k"} 0
`
	if err := testutil.GatherAndCompare(h.reg, strings.NewReader(want), "tollgate_ratelimit_decisions_total", "tollgate_ratelimit_rule_hits_total"); err != nil {
		t.Error(err)
	}
	if problems, err := testutil.GatherAndLint(h.reg); err != nil || len(problems) > 0 {
		t.Errorf("promlint: %v %v", problems, err)
	}
}

func TestNewValidates(t *testing.T) {
	_, err := New(Options{FailureMode: 7}, nil)
	want := "ratelimit: Options.Counter is nil (hint: pass a counter/memory or counter/redis backend)\nratelimit: Options.FailureMode is 7 (hint: use FailOpen or FailClosed)"
	if err == nil || err.Error() != want {
		t.Errorf("error %v, want %s", err, want)
	}
}

func TestSetConfigUnderLoad(t *testing.T) {
	h := newHarness(t, "domain: d\ndescriptors:\n  - key: k\n    rate_limit: {unit: second, requests_per_unit: 1000000}\n", nil)
	other := mustLoad(t, "domain: d\ndescriptors:\n  - key: k\n    rate_limit: {unit: minute, requests_per_unit: 1000000}\n")
	first := h.svc.Config()
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var resp Response
			r := req("k=1", "k=2")
			for i := 0; i < 500; i++ {
				if err := h.svc.ShouldRateLimit(context.Background(), &r, &resp); err != nil {
					t.Error(err)
					return
				}
				if resp.OverallCode != CodeOK || len(resp.Statuses) != 2 || resp.Statuses[1].CurrentLimit == nil {
					t.Errorf("bad response %s", render(&resp))
					return
				}
			}
		}()
	}
	for i := 0; i < 100; i++ {
		if i%2 == 0 {
			h.svc.SetConfig(other)
		} else {
			h.svc.SetConfig(first)
		}
	}
	wg.Wait()
	if h.svc.Config() != first {
		t.Error("Config() is not the last config set")
	}
}

// TestServicesShareRegistry: two services on one registry (the sidecar's
// and metering's limiter) share the collectors; each one's decisions show
// under its domains.
func TestServicesShareRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	mk := func(domain string) *Service {
		cfg, err := ParseConfig("r.yaml", []byte("domain: "+domain+"\ndescriptors:\n  - key: k\n    rate_limit: {unit: second, requests_per_unit: 1}\n"))
		if err != nil {
			t.Fatal(err)
		}
		s, err := New(Options{Counter: memory.New(memory.Options{}), Registerer: reg}, cfg)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	a, b := mk("a"), mk("b")
	for _, s := range []struct {
		svc    *Service
		domain string
	}{{a, "a"}, {b, "b"}, {b, "b"}} {
		var resp Response
		if err := s.svc.ShouldRateLimit(context.Background(), &Request{Domain: s.domain, Descriptors: []Descriptor{{Entries: []Entry{{"k", "v"}}}}}, &resp); err != nil {
			t.Fatal(err)
		}
	}
	want := `
# HELP tollgate_ratelimit_decisions_total ShouldRateLimit decisions by domain ("unknown" for unconfigured domains) and code (ok, over_limit, shadow_over_limit, fail_open, fail_closed).
# TYPE tollgate_ratelimit_decisions_total counter
tollgate_ratelimit_decisions_total{code="fail_closed",domain="a"} 0
tollgate_ratelimit_decisions_total{code="fail_closed",domain="b"} 0
tollgate_ratelimit_decisions_total{code="fail_closed",domain="unknown"} 0
tollgate_ratelimit_decisions_total{code="fail_open",domain="a"} 0
tollgate_ratelimit_decisions_total{code="fail_open",domain="b"} 0
tollgate_ratelimit_decisions_total{code="fail_open",domain="unknown"} 0
tollgate_ratelimit_decisions_total{code="ok",domain="a"} 1
tollgate_ratelimit_decisions_total{code="ok",domain="b"} 1
tollgate_ratelimit_decisions_total{code="ok",domain="unknown"} 0
tollgate_ratelimit_decisions_total{code="over_limit",domain="a"} 0
tollgate_ratelimit_decisions_total{code="over_limit",domain="b"} 1
tollgate_ratelimit_decisions_total{code="over_limit",domain="unknown"} 0
tollgate_ratelimit_decisions_total{code="shadow_over_limit",domain="a"} 0
tollgate_ratelimit_decisions_total{code="shadow_over_limit",domain="b"} 0
tollgate_ratelimit_decisions_total{code="shadow_over_limit",domain="unknown"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "tollgate_ratelimit_decisions_total"); err != nil {
		t.Fatal(err)
	}
}
