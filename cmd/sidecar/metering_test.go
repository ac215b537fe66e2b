package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	accesslogv3 "github.com/envoyproxy/go-control-plane/envoy/data/accesslog/v3"
	alsv3 "github.com/envoyproxy/go-control-plane/envoy/service/accesslog/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"
	"gopkg.in/yaml.v3"

	"github.com/tollgate/tollgate/internal/settings"
)

// testMeteringYAML is the quick start's metering plus a tenant whose plan
// is roomy enough to retry Checks under its rate limit.
const testMeteringYAML = `
metering:
  tenants:
    - id: acme
      plan: demo
      api_keys: [sha256:8676d15d94dabdd1283e6c407e2bb08a7b5c13b4e3667d4795c17172e080a3d4] # acme-demo-key
    - id: beta
      plan: roomy
      api_keys: [sha256:7a3d637bc601f7000cc2c33141c8c8a7554e02e319fa8b293a0c88c613b77620]   # beta-key
  identification:
    - {path_prefix: /, api_key_header: x-api-key}
  plans:
    - name: demo
      rate_limits: [{requests_per_unit: 100, unit: minute}]
      quotas: [{name: monthly, requests_per_month: 1000, time_zone: UTC}]
    - name: roomy
      rate_limits: [{requests_per_unit: 1000, unit: minute}]
  meters:
    - {name: requests, source: authz, value: requests, type: accurate, unit: request}
    - name: egress_bytes
      source: access_log
      value: response_bytes
      filters: {status_classes: ["<500"]}
      unit: byte
  spool: {flush_interval: 100ms}
  quota_refresh: 1s
`

func withMetering(t *testing.T) func(*settings.Settings) {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(testMeteringYAML), &doc); err != nil {
		t.Fatal(err)
	}
	return func(s *settings.Settings) {
		s.Metering = *doc.Content[0].Content[1]
		fastNamespaces(s)
	}
}

func check(t *testing.T, c authv3.AuthorizationClient, key, requestID string, start time.Time) *authv3.CheckResponse {
	t.Helper()
	headers := map[string]string{"x-request-id": requestID}
	if key != "" {
		headers["x-api-key"] = key
	}
	resp, err := c.Check(context.Background(), &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Request: &authv3.AttributeContext_Request{
			Time: timestamppb.New(start),
			Http: &authv3.AttributeContext_HttpRequest{Id: requestID, Method: "GET", Path: "/v1/things?q=1", Headers: headers},
		},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func getUsage(t *testing.T, sc *sidecar, meter, tenant string, from, to time.Time, window string) (int, string) {
	t.Helper()
	q := url.Values{"meter": {meter}, "tenant": {tenant}, "from": {from.Format(time.RFC3339)}, "to": {to.Format(time.RFC3339)}, "window": {window}}
	return httpDo(t, "GET", "http://"+sc.addrs.HTTP+"/v1/usage?"+q.Encode(), "")
}

// eventuallyQuantity polls the usage of one window until it is want.
func eventuallyQuantity(t *testing.T, sc *sidecar, meter, tenant string, from, to time.Time, window string, want int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, body := getUsage(t, sc, meter, tenant, from, to, window)
		var resp struct{ Rows []struct{ Quantity int64 } }
		if code == 200 && json.Unmarshal([]byte(body), &resp) == nil && len(resp.Rows) == 1 && resp.Rows[0].Quantity == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("usage of %s for %s = %d %s, want one row with quantity %d", meter, tenant, code, body, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitShipped waits until the spool has taken want events in all and the
// store has acknowledged every one of them.
func waitShipped(t *testing.T, sc *sidecar, want float64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		spooled, shipped := metricValue(t, sc, "tollgate_metering_spooled_events_total"), metricValue(t, sc, "tollgate_metering_shipped_events_total")
		if spooled == want && shipped == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%v events spooled and %v shipped after 10s, want %v of each", spooled, shipped, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// wantQuantity asserts the usage of one window, read once: an exact sum of
// the stored events.
func wantQuantity(t *testing.T, sc *sidecar, meter, tenant string, from, to time.Time, window string, want int64) {
	t.Helper()
	code, body := getUsage(t, sc, meter, tenant, from, to, window)
	var resp struct{ Rows []struct{ Quantity int64 } }
	if err := json.Unmarshal([]byte(body), &resp); code != 200 || err != nil || len(resp.Rows) != 1 || resp.Rows[0].Quantity != want {
		t.Fatalf("usage of %s for %s = %d %s, want one row with quantity %d", meter, tenant, code, body, want)
	}
}

// metricValue returns the value of an unlabelled metric on /metrics.
func metricValue(t *testing.T, sc *sidecar, name string) float64 {
	t.Helper()
	_, body := httpDo(t, "GET", "http://"+sc.addrs.HTTP+"/metrics", "")
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("/metrics: %s has value %q: %v", name, v, err)
			}
			return f
		}
	}
	t.Fatalf("/metrics lacks %s", name)
	return 0
}

func accessLog(requestID string, start time.Time, status uint32, bodyBytes uint64) *accesslogv3.HTTPAccessLogEntry {
	return &accesslogv3.HTTPAccessLogEntry{
		CommonProperties: &accesslogv3.AccessLogCommon{StartTime: timestamppb.New(start), TimeToLastDownstreamTxByte: durationpb.New(12 * time.Millisecond)},
		Request: &accesslogv3.HTTPRequestProperties{
			RequestMethod: corev3.RequestMethod_GET, Path: "/v1/things", RequestId: requestID,
			RequestHeaders: map[string]string{"x-tenant-id": "acme"},
		},
		Response: &accesslogv3.HTTPResponseProperties{ResponseCode: wrapperspb.UInt32(status), ResponseBodyBytes: bodyBytes},
	}
}

func sendAccessLogs(t *testing.T, c alsv3.AccessLogServiceClient, entries []*accesslogv3.HTTPAccessLogEntry) {
	t.Helper()
	stream, err := c.StreamAccessLogs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	msg := &alsv3.StreamAccessLogsMessage{
		Identifier: &alsv3.StreamAccessLogsMessage_Identifier{Node: &corev3.Node{Id: "envoy-1"}, LogName: "tollgate"},
		LogEntries: &alsv3.StreamAccessLogsMessage_HttpLogs{HttpLogs: &alsv3.StreamAccessLogsMessage_HTTPAccessLogEntries{LogEntry: entries}},
	}
	if err := stream.Send(msg); err != nil {
		t.Fatal(err)
	}
	if _, err := stream.CloseAndRecv(); err != nil {
		t.Fatal(err)
	}
}

// testMetering is issue 4's end-to-end suite over real gRPC with Envoy's protos.
func testMetering(t *testing.T, store func(*settings.Settings)) {
	sc := startSidecar(t, func(s *settings.Settings) {
		withMetering(t)(s)
		if store != nil {
			store(s)
		}
	})
	authz := authv3.NewAuthorizationClient(sc.conn)
	now := time.Now().UTC()
	hour := now.Truncate(time.Hour)
	run := now.Format("150405.000000")

	t.Run("no key is 401", func(t *testing.T) {
		resp := check(t, authz, "", "nokey-"+run, now)
		if codes.Code(resp.GetStatus().GetCode()) != codes.Unauthenticated || resp.GetDeniedResponse().GetStatus().GetCode() != 401 {
			t.Fatalf("Check without key = %v", resp)
		}
		resp = check(t, authz, "wrong-key", "badkey-"+run, now)
		if resp.GetDeniedResponse().GetStatus().GetCode() != 401 || !strings.Contains(resp.GetDeniedResponse().GetBody(), "invalid_api_key") {
			t.Fatalf("Check with an unknown key = %v", resp)
		}
	})

	t.Run("105 checks admit exactly 100", func(t *testing.T) {
		var ok, limited int
		for i := 0; i < 105; i++ {
			resp := check(t, authz, "acme-demo-key", fmt.Sprintf("acme-%s-%d", run, i), now)
			switch {
			case resp.GetOkResponse() != nil:
				ok++
				hdr := map[string]string{}
				for _, h := range resp.GetOkResponse().GetHeaders() {
					hdr[h.GetHeader().GetKey()] = h.GetHeader().GetValue()
				}
				if hdr["x-tenant-id"] != "acme" || hdr["x-tollgate-plan"] != "demo" ||
					strings.Join(resp.GetOkResponse().GetHeadersToRemove(), ",") != "x-api-key" {
					t.Fatalf("allowed Check %d: headers %v, remove %v", i, hdr, resp.GetOkResponse().GetHeadersToRemove())
				}
			case resp.GetDeniedResponse().GetStatus().GetCode() == 429:
				limited++
				hdr := map[string]string{}
				for _, h := range resp.GetDeniedResponse().GetHeaders() {
					hdr[h.GetHeader().GetKey()] = h.GetHeader().GetValue()
				}
				if hdr["retry-after"] == "" && hdr["Retry-After"] == "" {
					t.Fatalf("429 without Retry-After: %v", hdr)
				}
			default:
				t.Fatalf("Check %d = %v", i, resp)
			}
		}
		if ok != 100 || limited != 5 {
			t.Fatalf("ok=%d limited=%d, want 100 and 5", ok, limited)
		}
		eventuallyQuantity(t, sc, "requests", "acme", hour, hour.Add(time.Hour), "hour", 100)
	})

	t.Run("retried checks count once", func(t *testing.T) {
		spooled := metricValue(t, sc, "tollgate_metering_spooled_events_total")
		for round := 0; round < 2; round++ {
			for i := 0; i < 10; i++ {
				if resp := check(t, authz, "beta-key", fmt.Sprintf("beta-%s-%d", run, i), now); resp.GetOkResponse() == nil {
					t.Fatalf("round %d Check %d = %v", round, i, resp)
				}
			}
		}
		// Both rounds' events (the retries carry the same ids) are
		// spooled and shipped; the stored usage counts each Check once.
		waitShipped(t, sc, spooled+20)
		wantQuantity(t, sc, "requests", "beta", hour, hour.Add(time.Hour), "hour", 10)
	})

	// Access logs of requests now, metered by the day; yesterday's day is
	// closed for export.
	today := now.Truncate(24 * time.Hour)
	day := today.Add(-24 * time.Hour)
	at := now
	als := alsv3.NewAccessLogServiceClient(sc.conn)
	t.Run("access logs meter egress bytes once", func(t *testing.T) {
		entries := []*accesslogv3.HTTPAccessLogEntry{
			accessLog("als-1-"+run, at, 200, 1000),
			accessLog("als-2-"+run, at, 200, 500),
			accessLog("als-3-"+run, at, 503, 999),
		}
		sendAccessLogs(t, als, entries)
		eventuallyQuantity(t, sc, "egress_bytes", "acme", today, today.Add(24*time.Hour), "day", 1500)
		// Replayed: the same two events (the 503 is filtered out) are
		// spooled and shipped again; once the store has acknowledged them,
		// usage (an exact sum of the stored events) must not have moved.
		spooled := metricValue(t, sc, "tollgate_metering_spooled_events_total")
		sendAccessLogs(t, als, entries)
		waitShipped(t, sc, spooled+2)
		wantQuantity(t, sc, "egress_bytes", "acme", today, today.Add(24*time.Hour), "day", 1500)
	})

	// An entry dated yesterday, far outside the namespace's accept window,
	// counts when it arrives: yesterday's closed window never changes.
	t.Run("access logs outside the accept window count at arrival", func(t *testing.T) {
		const clamped = `tollgate_metering_clamped_times_total{source="access_log"}`
		before := metricValue(t, sc, clamped)
		sendAccessLogs(t, als, []*accesslogv3.HTTPAccessLogEntry{accessLog("als-old-"+run, day.Add(10*time.Hour), 200, 700)})
		eventuallyQuantity(t, sc, "egress_bytes", "acme", today, today.Add(24*time.Hour), "day", 2200)
		if got := metricValue(t, sc, clamped); got != before+1 {
			t.Errorf("%s = %v, want %v", clamped, got, before+1)
		}
		wantQuantity(t, sc, "egress_bytes", "acme", day, today, "day", 0)
	})

	t.Run("export of a closed window, refusal of an open one", func(t *testing.T) {
		q := url.Values{"meter": {"egress_bytes"}, "from": {day.Format(time.RFC3339)}, "to": {day.Add(24 * time.Hour).Format(time.RFC3339)}, "window": {"day"}, "format": {"jsonl"}}
		code, body := httpDo(t, "GET", "http://"+sc.addrs.HTTP+"/v1/export?"+q.Encode(), "")
		if code != 200 {
			t.Fatalf("export = %d %s", code, body)
		}
		rows := map[string]int64{}
		for _, line := range strings.Split(strings.TrimSpace(body), "\n") {
			var r struct {
				Tenant, Meter, Unit string
				Quantity            int64
			}
			if err := json.Unmarshal([]byte(line), &r); err != nil {
				t.Fatalf("export line %q: %v", line, err)
			}
			if r.Meter != "egress_bytes" || r.Unit != "byte" {
				t.Fatalf("export row %q", line)
			}
			rows[r.Tenant] = r.Quantity
		}
		if len(rows) != 2 || rows["acme"] != 0 || rows["beta"] != 0 {
			t.Fatalf("export rows %v, want acme 0 and beta 0 (nothing lands in a closed window)", rows)
		}
		// The CLI writes the same export to a file.
		out := filepath.Join(t.TempDir(), "export.jsonl")
		code, msg := captureRun(t, []string{"export", "--addr", sc.addrs.HTTP, "--meter", "egress_bytes", "--from", q.Get("from"),
			"--to", q.Get("to"), "--window", "day", "--format", "jsonl", "--out", out})
		written, _ := os.ReadFile(out)
		if code != 0 || string(written) != body {
			t.Fatalf("sidecar export = %d %q, wrote %q, want %q", code, msg, written, body)
		}
		// Today's window is still open: refused with a clear message.
		q.Set("from", now.Truncate(24*time.Hour).Format(time.RFC3339))
		q.Set("to", now.Truncate(24*time.Hour).Add(24*time.Hour).Format(time.RFC3339))
		code, body = httpDo(t, "GET", "http://"+sc.addrs.HTTP+"/v1/export?"+q.Encode(), "")
		if code != 409 || !strings.Contains(body, "window_open") {
			t.Fatalf("export of an open window = %d %s, want 409 window_open", code, body)
		}
		code, msg = captureRun(t, []string{"export", "--addr", sc.addrs.HTTP, "--meter", "egress_bytes", "--from", q.Get("from"),
			"--to", q.Get("to"), "--window", "day", "--out", out})
		if code != 1 || !strings.Contains(msg, "409 Conflict") {
			t.Fatalf("sidecar export of an open window = %d %q", code, msg)
		}
		if again, _ := os.ReadFile(out); string(again) != string(written) {
			t.Fatalf("a refused export overwrote %s", out)
		}
		code, msg = captureRun(t, []string{"usage", "--addr", sc.addrs.HTTP, "--meter", "egress_bytes", "--tenant", "acme",
			"--from", today.Format(time.RFC3339), "--to", today.Add(24 * time.Hour).Format(time.RFC3339)})
		if code != 0 || !strings.Contains(msg, `"quantity":2200`) {
			t.Fatalf("sidecar usage = %d %q", code, msg)
		}
	})

	t.Run("bad usage queries are 400", func(t *testing.T) {
		for _, c := range []struct{ meter, tenant, window, want string }{
			{"nope", "acme", "hour", "unknown_meter"},
			{"requests", "nobody", "hour", "unknown_tenant"},
			{"requests", "acme", "fortnight", "invalid_query"},
		} {
			code, body := getUsage(t, sc, c.meter, c.tenant, hour, hour.Add(time.Hour), c.window)
			if code != 400 || !strings.Contains(body, c.want) {
				t.Errorf("usage(%s,%s,%s) = %d %s, want 400 %s", c.meter, c.tenant, c.window, code, body, c.want)
			}
		}
		if code, body := getUsage(t, sc, "requests", "acme", hour, hour, "hour"); code != 400 || !strings.Contains(body, "invalid_query") {
			t.Errorf("usage with from = to = %d %s", code, body)
		}
	})
}

func TestMeteringPebble(t *testing.T) { testMetering(t, nil) }

func TestMeteringCassandra(t *testing.T) { testMetering(t, onCassandra(t, "tollgate_metering_it")) }
