package metering

import (
	"fmt"
	"os"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/tollgate/tollgate/counter"
)

func quickstart(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile("testdata/quickstart.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

var acmeKey = map[string]string{"x-api-key": "acme-demo-key"}

func TestCheckIdentification(t *testing.T) {
	h := newHarness(t, quickstart(t), time.Date(2024, 5, 10, 12, 0, 0, 0, time.UTC))
	for _, tc := range []struct {
		name    string
		headers map[string]string
		status  int
		body    string
	}{
		{"no key", map[string]string{}, 401, `{"error":{"code":"missing_api_key","message":"no API key (hint: send it in the x-api-key header)"}}`},
		{"unknown key", map[string]string{"x-api-key": "guess"}, 401, `{"error":{"code":"invalid_api_key","message":"the API key is not valid (hint: check the key, or ask for a new one)"}}`},
		{"key in another header", map[string]string{"authorization": "acme-demo-key"}, 401, `{"error":{"code":"missing_api_key","message":"no API key (hint: send it in the x-api-key header)"}}`},
		{"valid key", acmeKey, 200, ``},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := h.check(t, "GET", "/v1/things?x=1", "", tc.headers)
			if res.Status != tc.status || string(res.Body) != tc.body || res.Allowed != (tc.status == 200) {
				t.Errorf("got %d %s, want %d %s", res.Status, res.Body, tc.status, tc.body)
			}
		})
	}
	res := h.check(t, "GET", "/v1/things", "r1", acmeKey)
	wantUp := []Header{{"x-tenant-id", "acme"}, {"x-tollgate-plan", "demo"}}
	if !reflect.DeepEqual(res.UpstreamHeaders, wantUp) || !reflect.DeepEqual(res.RemoveHeaders, []string{"x-api-key"}) ||
		res.TenantID != "acme" || res.Plan != "demo" {
		t.Errorf("allowed result = %+v", res)
	}
}

func TestCheckRateLimit(t *testing.T) {
	h := newHarness(t, quickstart(t), time.Date(2024, 5, 10, 12, 0, 30, 0, time.UTC))
	allowed := 0
	var last CheckResult
	for i := range 105 {
		res := h.check(t, "GET", "/v1/things", "req-"+strconv.Itoa(i), acmeKey)
		if res.Allowed {
			allowed++
			if allowed != i+1 {
				t.Fatalf("check %d allowed after a denial", i)
			}
		}
		last = res
	}
	if allowed != 100 {
		t.Fatalf("allowed %d of 105, want 100", allowed)
	}
	want := []Header{{"RateLimit-Limit", "100, 100;w=60"}, {"RateLimit-Remaining", "0"}, {"RateLimit-Reset", "30"}, {"Retry-After", "30"}}
	if last.Status != 429 || !reflect.DeepEqual(last.ResponseHeaders, want) ||
		string(last.Body) != `{"error":{"code":"rate_limited","message":"rate limit exceeded (hint: retry after the Retry-After seconds)"}}` {
		t.Errorf("105th check = %d %v %s", last.Status, last.ResponseHeaders, last.Body)
	}
	h.flush(t)
	if got := h.sum(t, "requests", "acme"); got != 100 {
		t.Errorf("requests usage = %d, want 100", got)
	}
	if got := h.sum(t, DefaultQuotaNamespace, "acme/monthly/2024-05"); got != 100 {
		t.Errorf("quota count = %d, want 100", got)
	}
}

const quotaDoc = `metering:
  tenants: [{id: acme, plan: p, api_keys: ["sha256:8676d15d94dabdd1283e6c407e2bb08a7b5c13b4e3667d4795c17172e080a3d4"]}]
  plans:
    - name: p
      quotas: [{requests_per_month: %d, time_zone: %s}]
  meters: [{name: requests, source: authz, value: requests, type: accurate}]
`

// checkN runs n Checks with distinct request ids and returns how many were
// allowed and the last result.
func (h *harness) checkN(t *testing.T, n int, idPrefix string) (int, CheckResult) {
	t.Helper()
	allowed := 0
	var last CheckResult
	for i := range n {
		last = h.check(t, "POST", "/v1/x", idPrefix+strconv.Itoa(i), acmeKey)
		if last.Allowed {
			allowed++
		}
	}
	return allowed, last
}

func TestCheckMonthlyQuota(t *testing.T) {
	h := newHarness(t, fmt.Sprintf(quotaDoc, 1000, "UTC"), time.Date(2024, 5, 31, 23, 0, 0, 0, time.UTC))
	allowed, last := h.checkN(t, 1005, "a")
	if allowed != 1000 {
		t.Fatalf("allowed %d of 1005, want 1000", allowed)
	}
	want := []Header{{"RateLimit-Limit", "1000, 1000;w=2678400"}, {"RateLimit-Remaining", "0"}, {"RateLimit-Reset", "3600"}, {"Retry-After", "3600"}}
	if last.Status != 429 || !reflect.DeepEqual(last.ResponseHeaders, want) ||
		string(last.Body) != `{"error":{"code":"quota_exceeded","message":"monthly quota \"monthly\" of 1000 requests used up (hint: it resets at the start of the next calendar month, UTC)"}}` {
		t.Errorf("denied = %d %v %s", last.Status, last.ResponseHeaders, last.Body)
	}
	// Shipping and refreshing must not count the month's events twice.
	h.flush(t)
	if allowed, _ := h.checkN(t, 3, "b"); allowed != 0 {
		t.Errorf("after refresh %d allowed, want 0", allowed)
	}
	h.clock.Set(time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC))
	h.flush(t) // the background refresh, as Run does
	if allowed, _ := h.checkN(t, 3, "c"); allowed != 3 {
		t.Errorf("in June %d allowed, want 3", allowed)
	}
	h.flush(t)
	if got := h.sum(t, DefaultQuotaNamespace, "acme/monthly/2024-06"); got != 3 {
		t.Errorf("June count = %d, want 3", got)
	}
}

// TestQuotaSharedCount checks the quota sees other sidecars' counts after a
// refresh, and this sidecar's own adds in between.
func TestQuotaSharedCount(t *testing.T) {
	start := time.Date(2024, 5, 10, 12, 0, 0, 0, time.UTC)
	h := newHarness(t, fmt.Sprintf(quotaDoc, 20, "UTC"), start)
	if allowed, _ := h.checkN(t, 5, "a"); allowed != 5 {
		t.Fatalf("allowed %d, want 5", allowed)
	}
	h.flush(t) // this sidecar's 5 are now in the store
	// Another sidecar adds 10 (already shipped).
	h.store.store.Append(t.Context(), otherSidecar(10, start))
	if allowed, _ := h.checkN(t, 20, "b"); allowed != 15 {
		t.Errorf("before refresh %d allowed, want 15 (stale by the other sidecar's 10)", allowed)
	}
	h.flush(t)
	if allowed, _ := h.checkN(t, 5, "c"); allowed != 0 {
		t.Errorf("after refresh %d allowed, want 0", allowed)
	}
}

func otherSidecar(n int, at time.Time) []counter.Event {
	evs := make([]counter.Event, n)
	for i := range evs {
		evs[i] = counter.Event{Namespace: DefaultQuotaNamespace, Counter: "acme/monthly/2024-05", Time: at, ID: "other/" + strconv.Itoa(i), Delta: 1}
	}
	return evs
}

func TestQuotaMonthRolloverInTimeZone(t *testing.T) {
	// 22:30 UTC on 31 January is 23:30 in Berlin: still January there.
	h := newHarness(t, fmt.Sprintf(quotaDoc, 2, "Europe/Berlin"), time.Date(2024, 1, 31, 22, 30, 0, 0, time.UTC))
	allowed, last := h.checkN(t, 3, "jan")
	if allowed != 2 || last.Status != 429 {
		t.Fatalf("January: allowed %d, last %d", allowed, last.Status)
	}
	if got := last.ResponseHeaders[3]; got != (Header{"Retry-After", "1800"}) {
		t.Errorf("Retry-After = %v, want 1800 (until midnight in Berlin)", got)
	}
	// 23:30 UTC is 00:30 on 1 February in Berlin, still January in UTC.
	h.clock.Set(time.Date(2024, 1, 31, 23, 30, 0, 0, time.UTC))
	h.flush(t)
	if allowed, _ := h.checkN(t, 3, "feb"); allowed != 2 {
		t.Errorf("February in Berlin: allowed %d, want 2", allowed)
	}
	h.flush(t)
	for name, want := range map[string]int64{"acme/monthly/2024-01": 2, "acme/monthly/2024-02": 2} {
		if got := h.sum(t, DefaultQuotaNamespace, name); got != want {
			t.Errorf("%s = %d, want %d", name, got, want)
		}
	}
}

const routesDoc = `metering:
  tenants:
    - {id: acme, plan: p, api_keys: ["sha256:8676d15d94dabdd1283e6c407e2bb08a7b5c13b4e3667d4795c17172e080a3d4"]}
    - {id: beta, plan: p}
  identification:
    - {path_prefix: /, api_key_header: x-api-key}
    - {path_prefix: /internal/, trusted_header: x-jwt-sub}
  strip_api_key: %s
  plans: [{name: p}]
`

func TestCheckRoutes(t *testing.T) {
	h := newHarness(t, fmt.Sprintf(routesDoc, "true"), time.Date(2024, 5, 10, 12, 0, 0, 0, time.UTC))
	for _, tc := range []struct {
		name    string
		path    string
		headers map[string]string
		status  int
		tenant  string
		remove  []string
		body    string
	}{
		{"api key on /", "/v1/x", acmeKey, 200, "acme", []string{"x-api-key"}, ""},
		{"trusted header on /internal/", "/internal/x", map[string]string{"x-jwt-sub": "beta"}, 200, "beta", nil, ""},
		{"api key ignored on /internal/", "/internal/x", acmeKey, 401, "", nil,
			`{"error":{"code":"missing_credentials","message":"no authenticated tenant (hint: authenticate first; the x-jwt-sub header was not set)"}}`},
		{"unknown subject", "/internal/x", map[string]string{"x-jwt-sub": "gamma"}, 401, "", nil,
			`{"error":{"code":"unknown_tenant","message":"the authenticated tenant has no plan here (hint: ask the operator to add the tenant)"}}`},
		{"trusted header ignored on /", "/v1/x", map[string]string{"x-jwt-sub": "beta"}, 401, "", nil,
			`{"error":{"code":"missing_api_key","message":"no API key (hint: send it in the x-api-key header)"}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := h.check(t, "GET", tc.path, "", tc.headers)
			if res.Status != tc.status || res.TenantID != tc.tenant || !reflect.DeepEqual(res.RemoveHeaders, tc.remove) && len(tc.remove)+len(res.RemoveHeaders) > 0 || string(res.Body) != tc.body {
				t.Errorf("got %d tenant %q remove %v body %s", res.Status, res.TenantID, res.RemoveHeaders, res.Body)
			}
		})
	}
	keep := newHarness(t, fmt.Sprintf(routesDoc, "false"), time.Date(2024, 5, 10, 12, 0, 0, 0, time.UTC))
	if res := keep.check(t, "GET", "/v1/x", "", acmeKey); !res.Allowed || len(res.RemoveHeaders) != 0 {
		t.Errorf("strip_api_key false: %+v", res)
	}
}

func TestCheckIdempotent(t *testing.T) {
	h := newHarness(t, quickstart(t), time.Date(2024, 5, 10, 12, 0, 0, 0, time.UTC))
	start := h.clock.Now()
	for range 3 { // Envoy retries the same Check
		var res CheckResult
		h.m.Check(t.Context(), &CheckRequest{Method: "GET", Path: "/v1/x", Headers: acmeKey, RequestID: "same", Start: start}, &res)
		if !res.Allowed {
			t.Fatal("retry denied")
		}
	}
	h.flush(t)
	if got := h.sum(t, "requests", "acme"); got != 1 {
		t.Errorf("requests = %d after 3 tries of one request, want 1", got)
	}
	if got := h.sum(t, DefaultQuotaNamespace, "acme/monthly/2024-05"); got != 1 {
		t.Errorf("quota count = %d, want 1", got)
	}
}

func TestFailureModes(t *testing.T) {
	for _, tc := range []struct {
		mode   string
		status int
		result string
	}{
		{"fail_closed", 503, `{"error":{"code":"unavailable","message":"metering is temporarily unavailable (hint: retry shortly)"}}`},
		{"fail_open", 200, ``},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			doc := fmt.Sprintf(quotaDoc, 10, "UTC") + "  failure_mode: " + tc.mode + "\n"
			h := newHarness(t, doc, time.Date(2024, 5, 10, 12, 0, 0, 0, time.UTC))
			h.store.setFail(errDown)
			h.clock.Set(h.clock.Now().Add(time.Minute)) // the count from Open is now stale
			if err := h.m.RefreshQuotas(t.Context()); err == nil {
				t.Fatal("refresh succeeded with the store down")
			}
			res := h.check(t, "GET", "/v1/x", "r", acmeKey)
			if res.Status != tc.status || string(res.Body) != tc.result {
				t.Errorf("stale quota: %d %s", res.Status, res.Body)
			}
			h.store.setFail(nil)
			if err := h.m.RefreshQuotas(t.Context()); err != nil {
				t.Fatal(err)
			}
			if res := h.check(t, "GET", "/v1/x", "r2", acmeKey); res.Status != 200 {
				t.Errorf("after recovery: %d %s", res.Status, res.Body)
			}
		})
	}
}

func TestAccessLog(t *testing.T) {
	h := newHarness(t, quickstart(t), time.Date(2024, 5, 10, 12, 0, 0, 0, time.UTC))
	start := h.clock.Now()
	entries := []AccessLogEntry{
		{Tenant: "acme", Method: "GET", Path: "/v1/a", Status: 200, ResponseBodyBytes: 1000, RequestID: "r1", Start: start},
		{Tenant: "acme", Method: "GET", Path: "/v1/b", Status: 200, ResponseBodyBytes: 500, RequestID: "r2", Start: start},
		{Tenant: "acme", Method: "GET", Path: "/v1/c", Status: 503, ResponseBodyBytes: 999, RequestID: "r3", Start: start},
		{Tenant: "nobody", Method: "GET", Path: "/v1/d", Status: 200, ResponseBodyBytes: 7, RequestID: "r4", Start: start},
	}
	for range 2 { // the second time is a replay
		if err := h.m.RecordAccessLog(t.Context(), entries...); err != nil {
			t.Fatal(err)
		}
	}
	h.flush(t)
	if got := h.sum(t, "egress_bytes", "acme"); got != 1500 {
		t.Errorf("egress_bytes = %d, want 1500", got)
	}
	if got := h.sum(t, "egress_bytes", "nobody"); got != 0 {
		t.Errorf("unknown tenant metered: %d", got)
	}
}
