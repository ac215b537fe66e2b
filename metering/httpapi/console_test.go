package httpapi

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/tollgate/tollgate/metering"
)

// mapReader answers the sum stored for a namespace/counter, whatever the
// range.
type mapReader map[string]int64

func (m mapReader) Sum(_ context.Context, namespace, counterName string, _, _ time.Time) (int64, error) {
	return m[namespace+"/"+counterName], nil
}

func consoleReporter(t *testing.T) *metering.Reporter {
	t.Helper()
	var n yaml.Node
	doc := `{tenants: [{id: acme, plan: p}, {id: beta, plan: p}, {id: zulu, plan: p}],
plans: [{name: p, quotas: [{name: monthly, requests_per_month: 100}]}],
meters: [{name: requests, source: authz, value: requests, unit: call}, {name: bytes, source: access_log, value: response_bytes}]}`
	if err := yaml.Unmarshal([]byte(doc), &n); err != nil {
		t.Fatal(err)
	}
	cfg, err := metering.ParseConfig("sidecar.yaml", n.Content[0])
	if err != nil {
		t.Fatal(err)
	}
	reader := mapReader{"requests/acme": 7, "requests/beta": 30, "tollgate_quota/acme/monthly/2024-02": 25}
	r, err := metering.NewReporter(metering.ReporterOptions{Config: cfg, Reader: reader,
		Now: func() time.Time { return time.Date(2024, 2, 6, 0, 0, 0, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestConsoleHandlers(t *testing.T) {
	r := consoleReporter(t)
	top, quota, catalog := TopHandler(r), QuotaHandler(r), CatalogHandler(r)
	const month = "from=2024-02-01T00:00:00Z&to=2024-03-01T00:00:00Z&window=month"
	for _, tc := range []struct {
		name   string
		h      http.Handler
		method string
		url    string
		status int
		body   string
	}{
		{"top", top, "GET", "/v1/usage/top?meter=requests&" + month, 200,
			`{"meter":"requests","window":"month","time_zone":"UTC","from":"2024-02-01T00:00:00Z","to":"2024-03-01T00:00:00Z","tenants":[{"tenant":"beta","quantity":30},{"tenant":"acme","quantity":7}]}`},
		{"top limit", top, "GET", "/v1/usage/top?meter=requests&limit=1&tz=UTC&" + month, 200,
			`{"meter":"requests","window":"month","time_zone":"UTC","from":"2024-02-01T00:00:00Z","to":"2024-03-01T00:00:00Z","tenants":[{"tenant":"beta","quantity":30}]}`},
		{"top no usage", top, "GET", "/v1/usage/top?meter=bytes&" + month, 200,
			`{"meter":"bytes","window":"month","time_zone":"UTC","from":"2024-02-01T00:00:00Z","to":"2024-03-01T00:00:00Z","tenants":[]}`},
		{"top bad limit", top, "GET", "/v1/usage/top?meter=requests&limit=ten&" + month, 400,
			`{"error":{"code":"invalid_query","message":"limit \"ten\" is not a positive integer (hint: 1 to 1000)"}}`},
		{"top zero limit", top, "GET", "/v1/usage/top?meter=requests&limit=0&" + month, 400,
			`{"error":{"code":"invalid_query","message":"limit \"0\" is not a positive integer (hint: 1 to 1000)"}}`},
		{"top limit too large", top, "GET", "/v1/usage/top?meter=requests&limit=1001&" + month, 400,
			`{"error":{"code":"invalid_query","message":"metering: invalid query: limit 1001 is out of range (hint: 1 to 1000)"}}`},
		{"top unknown meter", top, "GET", "/v1/usage/top?meter=tokens&" + month, 400,
			`{"error":{"code":"unknown_meter","message":"metering: unknown meter \"tokens\" (hint: one of requests, bytes)"}}`},
		{"top missing to", top, "GET", "/v1/usage/top?meter=requests&from=2024-02-01T00:00:00Z&window=month", 400,
			`{"error":{"code":"invalid_query","message":"to is missing (hint: an RFC 3339 time such as 2024-05-01T00:00:00Z)"}}`},
		{"top post", top, "POST", "/v1/usage/top", 405,
			`{"error":{"code":"method_not_allowed","message":"POST is not allowed (hint: use GET)"}}`},
		{"quota", quota, "GET", "/v1/quota?tenant=acme", 200,
			`{"tenant":"acme","plan":"p","at":"2024-02-06T00:00:00Z","quotas":[{"name":"monthly","limit":100,"used":25,"time_zone":"UTC","month_start":"2024-02-01T00:00:00Z","month_end":"2024-03-01T00:00:00Z","exhausted":false,"projected_exhaustion":"2024-02-21T00:00:00Z"}]}`},
		{"quota unused", quota, "GET", "/v1/quota?tenant=zulu", 200,
			`{"tenant":"zulu","plan":"p","at":"2024-02-06T00:00:00Z","quotas":[{"name":"monthly","limit":100,"used":0,"time_zone":"UTC","month_start":"2024-02-01T00:00:00Z","month_end":"2024-03-01T00:00:00Z","exhausted":false,"projected_exhaustion":null}]}`},
		{"quota unknown tenant", quota, "GET", "/v1/quota?tenant=zeta", 400,
			`{"error":{"code":"unknown_tenant","message":"metering: unknown tenant \"zeta\" (hint: use a tenant id from config)"}}`},
		{"quota post", quota, "POST", "/v1/quota?tenant=acme", 405,
			`{"error":{"code":"method_not_allowed","message":"POST is not allowed (hint: use GET)"}}`},
		{"catalog", catalog, "GET", "/v1/catalog", 200,
			`{"meters":[{"name":"requests","unit":"call","source":"authz","type":"eventual"},{"name":"bytes","unit":"byte","source":"access_log","type":"eventual"}],"tenants":[{"id":"acme","plan":"p"},{"id":"beta","plan":"p"},{"id":"zulu","plan":"p"}]}`},
		{"catalog without metering", CatalogHandler(nil), "GET", "/v1/catalog", 200, `{"meters":[],"tenants":[]}`},
		{"catalog post", catalog, "POST", "/v1/catalog", 405,
			`{"error":{"code":"method_not_allowed","message":"POST is not allowed (hint: use GET)"}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			tc.h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.url, nil))
			if rec.Code != tc.status || rec.Header().Get("Content-Type") != "application/json" || rec.Body.String() != tc.body+"\n" {
				t.Errorf("got %d %q\n%s\nwant %d application/json\n%s", rec.Code, rec.Header().Get("Content-Type"), rec.Body.String(), tc.status, tc.body)
			}
		})
	}
}
