package httpapi

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/tollgate/tollgate/metering"
)

// fixedReader answers 42 for every window starting on 1 Feb 2024 UTC, else 0.
type fixedReader struct{}

func (fixedReader) Sum(_ context.Context, _, counterName string, from, _ time.Time) (int64, error) {
	if counterName == "acme" && from.Equal(time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC)) {
		return 42, nil
	}
	return 0, nil
}

func reporter(t *testing.T) *metering.Reporter {
	t.Helper()
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(`{tenants: [{id: acme, plan: p}], plans: [{name: p}], meters: [{name: requests, source: authz, value: requests}]}`), &n); err != nil {
		t.Fatal(err)
	}
	cfg, err := metering.ParseConfig("sidecar.yaml", n.Content[0])
	if err != nil {
		t.Fatal(err)
	}
	r, err := metering.NewReporter(metering.ReporterOptions{Config: cfg, Reader: fixedReader{}, Now: func() time.Time { return time.Date(2024, 3, 1, 0, 30, 0, 0, time.UTC) }, ClosedMargin: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestHandlers(t *testing.T) {
	r := reporter(t)
	usage, export := UsageHandler(r), ExportHandler(r)
	for _, tc := range []struct {
		name   string
		h      http.Handler
		method string
		url    string
		status int
		ctype  string
		body   string
	}{
		{"usage", usage, "GET", "/v1/usage?meter=requests&tenant=acme&from=2024-01-01T00:00:00Z&to=2024-03-01T00:00:00Z&window=month", 200, "application/json",
			`{"meter":"requests","tenant":"acme","window":"month","time_zone":"UTC","rows":[{"window_start":"2024-01-01T00:00:00Z","window_end":"2024-02-01T00:00:00Z","quantity":0},{"window_start":"2024-02-01T00:00:00Z","window_end":"2024-03-01T00:00:00Z","quantity":42}]}` + "\n"},
		{"usage bad from", usage, "GET", "/v1/usage?meter=requests&tenant=acme&from=yesterday&to=2024-03-01T00:00:00Z&window=month", 400, "application/json",
			`{"error":{"code":"invalid_query","message":"from \"yesterday\" is not an RFC 3339 time (hint: such as 2024-05-01T00:00:00Z; encode \"+\" as %2B)"}}` + "\n"},
		{"usage zero from", usage, "GET", "/v1/usage?meter=requests&tenant=acme&from=0001-01-01T00:00:00Z&to=2024-03-01T00:00:00Z&window=month", 400, "application/json",
			`{"error":{"code":"invalid_query","message":"from \"0001-01-01T00:00:00Z\" is the zero time, which stands for a missing bound (hint: a real time such as 2024-05-01T00:00:00Z)"}}` + "\n"},
		{"usage unknown meter", usage, "GET", "/v1/usage?meter=tokens&tenant=acme&from=2024-01-01T00:00:00Z&to=2024-03-01T00:00:00Z&window=month", 400, "application/json",
			`{"error":{"code":"unknown_meter","message":"metering: unknown meter \"tokens\" (hint: one of requests)"}}` + "\n"},
		{"usage unknown tenant", usage, "GET", "/v1/usage?meter=requests&tenant=zeta&from=2024-01-01T00:00:00Z&to=2024-03-01T00:00:00Z&window=month", 400, "application/json",
			`{"error":{"code":"unknown_tenant","message":"metering: unknown tenant \"zeta\" (hint: use a tenant id from config)"}}` + "\n"},
		{"usage from after to", usage, "GET", "/v1/usage?meter=requests&tenant=acme&from=2024-03-01T00:00:00Z&to=2024-01-01T00:00:00Z&window=month", 400, "application/json",
			`{"error":{"code":"invalid_query","message":"metering: invalid query: from 2024-03-01T00:00:00Z is not before to 2024-01-01T00:00:00Z (hint: swap them or widen the range)"}}` + "\n"},
		{"usage post", usage, "POST", "/v1/usage", 405, "application/json",
			`{"error":{"code":"method_not_allowed","message":"POST is not allowed (hint: use GET)"}}` + "\n"},
		{"export csv", export, "GET", "/v1/export?meter=requests&from=2024-02-01T00:00:00Z&to=2024-03-01T00:00:00Z&window=month", 409, "application/json",
			`{"error":{"code":"window_open","message":"metering: window still open: window 2024-02-01T00:00:00Z to 2024-03-01T00:00:00Z closes for export at 2024-03-01T01:00:00Z (its end plus the 1h0m0s accept margin) (hint: retry after that, or end the range at 2024-02-01T00:00:00Z)"}}` + "\n"},
		{"export closed", export, "GET", "/v1/export?meter=requests&from=2024-02-01T00:00:00Z&to=2024-02-03T00:00:00Z&window=day&format=jsonl", 200, "application/x-ndjson",
			`{"tenant":"acme","meter":"requests","window_start":"2024-02-01T00:00:00Z","window_end":"2024-02-02T00:00:00Z","quantity":42,"unit":"request","row_id":"829c9e0873db72e85628238fe604b181"}` + "\n" +
				`{"tenant":"acme","meter":"requests","window_start":"2024-02-02T00:00:00Z","window_end":"2024-02-03T00:00:00Z","quantity":0,"unit":"request","row_id":"462c356f8dcc2676d5081b90ce97b969"}` + "\n"},
		{"export csv default", export, "GET", "/v1/export?meter=requests&from=2024-01-01T00:00:00Z&to=2024-02-01T00:00:00Z&window=month", 200, "text/csv; charset=utf-8",
			"tenant,meter,window_start,window_end,quantity,unit,row_id\nacme,requests,2024-01-01T00:00:00Z,2024-02-01T00:00:00Z,0,request,b701de54b45650379690a3f815ada6cd\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			tc.h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.url, nil))
			if rec.Code != tc.status || rec.Header().Get("Content-Type") != tc.ctype || rec.Body.String() != tc.body {
				t.Errorf("got %d %q\n%s\nwant %d %q\n%s", rec.Code, rec.Header().Get("Content-Type"), rec.Body.String(), tc.status, tc.ctype, tc.body)
			}
		})
	}
}

// TestExportParquetHTTP: format=parquet answers a Parquet file (its magic
// at both ends) with Parquet's media type.
func TestExportParquetHTTP(t *testing.T) {
	rec := httptest.NewRecorder()
	ExportHandler(reporter(t)).ServeHTTP(rec, httptest.NewRequest("GET",
		"/v1/export?meter=requests&from=2024-02-01T00:00:00Z&to=2024-02-03T00:00:00Z&window=day&format=parquet", nil))
	body := rec.Body.String()
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "application/vnd.apache.parquet" ||
		!strings.HasPrefix(body, "PAR1") || !strings.HasSuffix(body, "PAR1") {
		t.Fatalf("got %d %q, %d bytes starting %q", rec.Code, rec.Header().Get("Content-Type"), len(body), body[:min(len(body), 8)])
	}
}
