package metering

import (
	"crypto/sha256"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/tollgate/tollgate/internal/testkit"
	"github.com/tollgate/tollgate/ratelimit"
)

// parseSection parses the metering: section of a sidecar YAML document.
func parseSection(t *testing.T, file, doc string) (*Config, error) {
	t.Helper()
	var root yaml.Node
	if err := yaml.Unmarshal([]byte(doc), &root); err != nil {
		t.Fatalf("yaml: %v", err)
	}
	var section *yaml.Node
	if len(root.Content) > 0 {
		top := root.Content[0]
		for i := 0; i+1 < len(top.Content); i += 2 {
			if top.Content[i].Value == "metering" {
				section = top.Content[i+1]
			}
		}
	}
	return ParseConfig(file, section)
}

func mustParse(t *testing.T, doc string) *Config {
	t.Helper()
	cfg, err := parseSection(t, "sidecar.yaml", doc)
	if err != nil {
		t.Fatalf("ParseConfig: %v", err)
	}
	return cfg
}

func TestQuickstartConfig(t *testing.T) {
	data, err := os.ReadFile("testdata/quickstart.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg := mustParse(t, string(data))
	acme := cfg.Tenant("acme")
	if acme == nil || acme.Plan != "demo" || len(acme.APIKeys) != 1 || acme.APIKeys[0].Hash != sha256.Sum256([]byte("acme-demo-key")) {
		t.Fatalf("tenant acme = %+v", acme)
	}
	demo := cfg.Plan("demo")
	if len(demo.RateLimits) != 1 || demo.RateLimits[0] != (RateLimit{RequestsPerUnit: 100, Unit: "minute", Algorithm: "fixed_window"}) {
		t.Errorf("rate limits = %+v", demo.RateLimits)
	}
	if len(demo.Quotas) != 1 || demo.Quotas[0].RequestsPerMonth != 1000 || demo.Quotas[0].Location != time.UTC || demo.Quotas[0].Namespace != DefaultQuotaNamespace {
		t.Errorf("quotas = %+v", demo.Quotas)
	}
	req := cfg.Meter("requests")
	if req.Source != SourceAuthz || req.Value != ValueRequests || req.Type != Accurate || req.Namespace != "requests" || req.Unit != "request" {
		t.Errorf("meter requests = %+v", req)
	}
	eg := cfg.Meter("egress_bytes")
	if eg.Source != SourceAccessLog || eg.Value != ValueResponseBytes || eg.Type != Eventual ||
		len(eg.Filters.Statuses) != 1 || eg.Filters.Statuses[0] != (StatusRange{0, 499}) || eg.Filters.Statuses[0].String() != "<500" {
		t.Errorf("meter egress_bytes = %+v", eg)
	}
	if cfg.Spool != (SpoolConfig{Dir: "metering-spool", BatchSize: 500, FlushInterval: 500 * time.Millisecond, RetryMinBackoff: DefaultRetryMinBackoff, RetryMaxBackoff: DefaultRetryMaxBackoff}) {
		t.Errorf("spool = %+v", cfg.Spool)
	}
	if !cfg.StripAPIKey || cfg.FailureMode != ratelimit.FailClosed || cfg.QuotaRefresh != 5*time.Second {
		t.Errorf("strip=%v failure=%v refresh=%v", cfg.StripAPIKey, cfg.FailureMode, cfg.QuotaRefresh)
	}
	if got := cfg.RateLimitConfig().Domains(); len(got) != 1 || got[0] != RateLimitDomain {
		t.Errorf("rate-limit domains = %v", got)
	}
}

func TestDefaults(t *testing.T) {
	cfg := mustParse(t, "metering:\n")
	if len(cfg.Identification) != 1 || cfg.Identification[0] != (RouteIdentification{PathPrefix: "/", APIKeyHeader: DefaultAPIKeyHeader}) {
		t.Errorf("identification = %+v", cfg.Identification)
	}
	if !cfg.StripAPIKey || cfg.QuotaRefresh != DefaultQuotaRefresh || cfg.FailureMode != ratelimit.FailClosed || cfg.Spool.Dir != DefaultSpoolDir {
		t.Errorf("defaults: %+v", cfg)
	}
}

func TestStatusRanges(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want StatusRange
		ok   bool
	}{
		{"2xx", StatusRange{200, 299}, true},
		{"5xx", StatusRange{500, 599}, true},
		{"404", StatusRange{404, 404}, true},
		{"<500", StatusRange{0, 499}, true},
		{"<=499", StatusRange{0, 499}, true},
		{">=400", StatusRange{400, 999}, true},
		{">399", StatusRange{400, 999}, true},
		{"6xx", StatusRange{}, false},
		{"<50", StatusRange{}, false},
		{"ok", StatusRange{}, false},
	} {
		got, ok := parseStatusRange(tc.in)
		if ok != tc.ok || (ok && got != tc.want) {
			t.Errorf("parseStatusRange(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

// TestConfigErrors checks every error of a bad section, with its line.
func TestConfigErrors(t *testing.T) {
	const doc = `metering:
  tenants:
    - id: acme
      plan: gold
      api_keys:
        - acme-demo-key
        - sha256:8676d15d94dabdd1283e6c407e2bb08a7b5c13b4e3667d4795c17172e080a3d4
        - {hash: "sha256:8676d15d94dabdd1283e6c407e2bb08a7b5c13b4e3667d4795c17172e080a3d4", plan: demo}
    - id: "bad id"
      plan: demo
    - plan: demo
  identification:
    - path_prefix: api
      api_key_header: x-api-key
      trusted_header: x-jwt-sub
  plans:
    - name: demo
      rate_limits:
        - {requests_per_unit: 100, unit: fortnight}
        - {requests_per_unit: -1, window: 1500ms, by: [method, host]}
        - {requests_per_unit: 5}
      quotas:
        - {requests_per_month: 0, time_zone: Mars/Olympus}
    - name: demo
  meters:
    - name: requests
      source: authz
      value: response_bytes
      filters: {status_classes: ["2xx"]}
    - name: egress
      source: access_log
      value: bytes
      filters: {status_classes: ["2xx", "<50"]}
      group_by: [route]
      type: exact
    - name: requests
      source: log
      value: requests
  spool:
    batch_size: 0
    flush_interval: soon
  quota_refresh: 5
  failure_mode: open
  colour: blue
`
	_, err := parseSection(t, "sidecar.yaml", doc)
	var ce ConfigErrors
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v, want ConfigErrors", err)
	}
	want := `sidecar.yaml:4:13: metering.tenants[0].plan: unknown plan "gold" (hint: define it under metering.plans)
sidecar.yaml:6:11: metering.tenants[0].api_keys[0]: API key must be "sha256:" and 64 hex digits, the SHA-256 of the key (hint: printf %s "$KEY" | sha256sum); never put the key itself in config
sidecar.yaml:8:11: metering.tenants[0].api_keys[2]: API key hash also listed at line 7 (hint: each key belongs to one tenant)
sidecar.yaml:9:11: metering.tenants[1].id: invalid tenant id "bad id" (hint: use 1 to 64 letters, digits, '.', '_' or '-')
sidecar.yaml:11:7: metering.tenants[2]: missing id (hint: add "id: <tenant id>")
sidecar.yaml:13:7: metering.identification[0]: set api_key_header or trusted_header, not both
sidecar.yaml:13:20: metering.identification[0].path_prefix: path prefix "api" must start with "/"
sidecar.yaml:19:42: metering.plans[0].rate_limits[0].unit: "fortnight" is not one of second, minute, hour, day, week, month, year
sidecar.yaml:20:31: metering.plans[0].rate_limits[1].requests_per_unit: must be a whole number from 0 to 4294967295, got "-1"
sidecar.yaml:20:43: metering.plans[0].rate_limits[1].window: must be a whole number of seconds, at least 1s, got 1.5s (hint: such as 30s, 5m or 36h)
sidecar.yaml:20:64: metering.plans[0].rate_limits[1].by[1]: invalid by "host" (valid: method, path_prefix; every limit already counts per tenant)
sidecar.yaml:21:11: metering.plans[0].rate_limits[2]: missing unit or window (hint: add "unit: minute" or "window: 30s")
sidecar.yaml:23:32: metering.plans[0].quotas[0].requests_per_month: must be a whole number from 1 to 9007199254740992, got "0"
sidecar.yaml:23:46: metering.plans[0].quotas[0].time_zone: unknown time zone "Mars/Olympus" (hint: an IANA name such as UTC or Europe/Berlin)
sidecar.yaml:24:13: metering.plans[1].name: duplicate plan "demo", first at line 17 (hint: names must be unique)
sidecar.yaml:28:14: metering.meters[0].value: response_bytes is known only after the response (hint: use source: access_log)
sidecar.yaml:29:33: metering.meters[0].filters.status_classes: the status is known only after the response (hint: use source: access_log)
sidecar.yaml:32:14: metering.meters[1].value: invalid value "bytes" (valid: requests, request_bytes, response_bytes, duration_ms, header:<name>)
sidecar.yaml:33:41: metering.meters[1].filters.status_classes[1]: invalid status class "<50" (valid: a class such as 2xx, a code such as 404, or a comparison such as <500 or >=400)
sidecar.yaml:34:17: metering.meters[1].group_by: must include tenant (hint: [tenant] or [tenant, route])
sidecar.yaml:35:13: metering.meters[1].type: "exact" is not one of eventual, accurate
sidecar.yaml:36:13: metering.meters[2].name: duplicate meter "requests", first at line 26 (hint: names must be unique)
sidecar.yaml:37:15: metering.meters[2].source: "log" is not one of authz, access_log, events, rlqs
sidecar.yaml:40:17: metering.spool.batch_size: must be a whole number from 1 to 100000, got "0"
sidecar.yaml:41:21: metering.spool.flush_interval: invalid duration "soon" (hint: a Go duration with a unit, such as 500ms, 5s or 1m)
sidecar.yaml:42:18: metering.quota_refresh: invalid duration "5" (hint: a Go duration with a unit, such as 500ms, 5s or 1m)
sidecar.yaml:43:17: metering.failure_mode: "open" is not one of fail_open, fail_closed
sidecar.yaml:44:3: metering: unknown key "colour" (allowed: tenants, identification, strip_api_key, plans, meters, spool, quota_refresh, failure_mode)`
	if got := err.Error(); got != want {
		t.Errorf("errors:\n%s\n\nwant:\n%s", got, want)
		gl, wl := strings.Split(got, "\n"), strings.Split(want, "\n")
		for i := range min(len(gl), len(wl)) {
			if gl[i] != wl[i] {
				t.Errorf("first difference:\n got %s\nwant %s", gl[i], wl[i])
				break
			}
		}
	}
}

// TestRateLimitConfig checks the generated descriptors decide as planned:
// a per-tenant limit and a per-method limit.
func TestRateLimitConfig(t *testing.T) {
	cfg := mustParse(t, `metering:
  plans:
    - name: p
      rate_limits:
        - {requests_per_unit: 3, unit: minute}
        - {requests_per_unit: 1, window: 30s, by: [method]}
        - {requests_per_unit: 7, unit: hour, by: [method, path_prefix], algorithm: token_bucket}
`)
	if got := cfg.Plan("p").combos; len(got) != 3 {
		t.Fatalf("combos = %v", got)
	}
	svc, err := ratelimit.New(ratelimit.Options{Counter: testkit.NewCounter()}, cfg.RateLimitConfig())
	if err != nil {
		t.Fatal(err)
	}
	var resp ratelimit.Response
	req := &ratelimit.Request{Domain: RateLimitDomain, Descriptors: []ratelimit.Descriptor{
		{Entries: []ratelimit.Entry{{Key: "plan", Value: "p"}, {Key: "tenant", Value: "a"}}},
		{Entries: []ratelimit.Entry{{Key: "plan", Value: "p"}, {Key: "tenant", Value: "a"}, {Key: "method", Value: "GET"}}},
		{Entries: []ratelimit.Entry{{Key: "plan", Value: "p"}, {Key: "tenant", Value: "a"}, {Key: "method", Value: "GET"}, {Key: "path_prefix", Value: "/"}}},
	}}
	if err := svc.ShouldRateLimit(t.Context(), req, &resp); err != nil {
		t.Fatal(err)
	}
	for i, want := range []uint32{3, 1, 7} {
		if l := resp.Statuses[i].CurrentLimit; l == nil || l.RequestsPerUnit != want {
			t.Errorf("status %d limit = %+v, want %d", i, l, want)
		}
	}
	if resp.Statuses[1].CurrentLimit.Window != 30*time.Second {
		t.Errorf("window = %v", resp.Statuses[1].CurrentLimit.Window)
	}
}
