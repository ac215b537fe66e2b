package envoy

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	accesslogv3 "github.com/envoyproxy/go-control-plane/envoy/data/accesslog/v3"
	alsv3 "github.com/envoyproxy/go-control-plane/envoy/service/accesslog/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	rlqsv3 "github.com/envoyproxy/go-control-plane/envoy/service/rate_limit_quota/v3"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/metadata"

	"github.com/tollgate/tollgate/internal/tracing"
	"github.com/tollgate/tollgate/metering"
	"github.com/tollgate/tollgate/ratelimit"
)

const (
	envoyTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	envoySpan  = "00f067aa0ba902b7"
)

// newRecorder returns a provider sampling every span into a recorder.
func newRecorder() (*sdktrace.TracerProvider, *tracetest.SpanRecorder) {
	rec := tracetest.NewSpanRecorder()
	return sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec)), rec
}

// attrs returns the attributes of s by key, as strings.
func attrs(s sdktrace.ReadOnlySpan) map[string]string {
	m := map[string]string{}
	for _, kv := range s.Attributes() {
		m[string(kv.Key)] = kv.Value.String()
	}
	return m
}

// wantAttrs checks that s carries want (and maybe more).
func wantAttrs(t *testing.T, s sdktrace.ReadOnlySpan, want map[string]string) {
	t.Helper()
	got := attrs(s)
	for k, v := range want {
		if got[k] != v {
			t.Errorf("span %s: attribute %s = %q, want %q (all: %v)", s.Name(), k, got[k], v, got)
		}
	}
}

// childDecider decides with next inside a child span, as a traced backend
// does.
type childDecider struct {
	next   Decider
	tracer trace.Tracer
}

func (d childDecider) ShouldRateLimit(ctx context.Context, req *ratelimit.Request, resp *ratelimit.Response) error {
	ctx, span := d.tracer.Start(ctx, "backend")
	defer span.End()
	return d.next.ShouldRateLimit(ctx, req, resp)
}

func TestShouldRateLimitSpan(t *testing.T) {
	tp, rec := newRecorder()
	base := newTestServer(t)
	s := NewRateLimitServer(childDecider{base.decider, tp.Tracer("test")}, HeaderOptions{}, tp)
	ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs("traceparent", "00-"+envoyTrace+"-"+envoySpan+"-01"))
	req := benchRequest([][2]string{{"a", "1"}, {"over", "x"}})
	for range 2 { // the over rule allows one hit a minute
		if _, err := s.ShouldRateLimit(ctx, req); err != nil {
			t.Fatal(err)
		}
	}
	spans := rec.Ended()
	if len(spans) != 4 || spans[0].Name() != "backend" || spans[1].Name() != spanShouldRateLimit {
		t.Fatalf("ended %d spans, want backend and %s twice", len(spans), spanShouldRateLimit)
	}
	rls := spans[3]
	if rls.SpanKind() != trace.SpanKindServer || rls.SpanContext().TraceID().String() != envoyTrace || rls.Parent().SpanID().String() != envoySpan || !rls.Parent().IsRemote() {
		t.Errorf("RLS span: kind %v trace %s parent %s, want server, Envoy's trace and span", rls.SpanKind(), rls.SpanContext().TraceID(), rls.Parent().SpanID())
	}
	if child := spans[2]; child.Parent().SpanID() != rls.SpanContext().SpanID() || child.SpanContext().TraceID() != rls.SpanContext().TraceID() {
		t.Errorf("backend span's parent %s, want the RLS span %s", child.Parent().SpanID(), rls.SpanContext().SpanID())
	}
	wantAttrs(t, rls, map[string]string{"rpc.system": "grpc", "tollgate.ratelimit.domain": "bench", "tollgate.ratelimit.descriptors": "2", "tollgate.ratelimit.code": "OVER_LIMIT"})
	if rls.Status().Code != codes.Unset {
		t.Errorf("RLS span status %v, want unset (a denial is an answer)", rls.Status())
	}

	// An invalid request: the span records the error.
	_, err := s.ShouldRateLimit(context.Background(), benchRequest([][2]string{{"a", strings.Repeat("v", ratelimit.MaxValueLen+1)}}))
	if err == nil {
		t.Fatal("want an error")
	}
	bad := rec.Ended()[4]
	if bad.Status().Code != codes.Error || bad.Status().Description != err.Error() || len(bad.Events()) != 1 || bad.Events()[0].Name != "exception" {
		t.Errorf("failed call's span: status %v, events %v; want Error %q and an exception event", bad.Status(), bad.Events(), err)
	}
	if _, ok := attrs(bad)["tollgate.ratelimit.code"]; ok || bad.Parent().IsValid() {
		t.Errorf("failed call's span: %v, parent %v; want no code and no parent", attrs(bad), bad.Parent())
	}
}

// TestJSONSpan: /json takes the trace context of its HTTP headers.
func TestJSONSpan(t *testing.T) {
	tp, rec := newRecorder()
	s := NewRateLimitServer(newTestServer(t).decider, HeaderOptions{}, tp)
	r := httptest.NewRequest(http.MethodPost, "/json", strings.NewReader(`{"domain":"bench","descriptors":[{"entries":[{"key":"hot","value":"k"}]}]}`))
	r.Header.Set("Traceparent", "00-"+envoyTrace+"-"+envoySpan+"-01")
	w := httptest.NewRecorder()
	s.JSONHandler().ServeHTTP(w, r)
	spans := rec.Ended()
	if w.Code != 200 || len(spans) != 1 || spans[0].SpanContext().TraceID().String() != envoyTrace || spans[0].Parent().SpanID().String() != envoySpan {
		t.Fatalf("status %d, %d spans; want 200 and one span in Envoy's trace", w.Code, len(spans))
	}
	wantAttrs(t, spans[0], map[string]string{"tollgate.ratelimit.code": "OK"})
}

func TestCheckSpan(t *testing.T) {
	f := func(name string, headers map[string]string, wantTrace, wantParent string) {
		t.Helper()
		tp, rec := newRecorder()
		a := &recordingAuthorizer{result: metering.CheckResult{Allowed: true, Status: 200, TenantID: "acme", Plan: "demo"}}
		s := NewAuthorizationServer(a, tp)
		in := &authv3.CheckRequest{Attributes: &authv3.AttributeContext{Request: &authv3.AttributeContext_Request{
			Http: &authv3.AttributeContext_HttpRequest{Id: "req-1", Method: "GET", Path: "/v1/things", Headers: headers},
		}}}
		// gRPC metadata of another span: the checked request's headers win.
		ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs("traceparent", "00-11111111111111111111111111111111-2222222222222222-01"))
		if _, err := s.Check(ctx, in); err != nil {
			t.Fatal(err)
		}
		spans := rec.Ended()
		if len(spans) != 1 {
			t.Fatalf("%s: %d spans, want 1", name, len(spans))
		}
		sp := spans[0]
		if sp.Name() != spanCheck || sp.SpanKind() != trace.SpanKindServer {
			t.Errorf("%s: span %q kind %v", name, sp.Name(), sp.SpanKind())
		}
		if got := sp.SpanContext().TraceID().String(); got != wantTrace {
			t.Errorf("%s: trace id %s, want %s", name, got, wantTrace)
		}
		if got := sp.Parent().SpanID().String(); got != wantParent {
			t.Errorf("%s: parent span id %s, want %s", name, got, wantParent)
		}
		wantAttrs(t, sp, map[string]string{"rpc.system": "grpc", "http.request.method": "GET", "tollgate.request_id": "req-1",
			"http.response.status_code": "200", "tollgate.tenant": "acme", "tollgate.plan": "demo"})
	}
	f("traceparent", map[string]string{"traceparent": "00-" + envoyTrace + "-" + envoySpan + "-01", "tracestate": "envoy=1"}, envoyTrace, envoySpan)
	f("b3 headers", map[string]string{"x-b3-traceid": envoyTrace, "x-b3-spanid": envoySpan, "x-b3-sampled": "1"}, envoyTrace, envoySpan)
	f("b3 single header", map[string]string{"b3": envoyTrace + "-" + envoySpan + "-1"}, envoyTrace, envoySpan)
	f("none: the gRPC metadata's", map[string]string{"x-request-id": "r"}, "11111111111111111111111111111111", "2222222222222222")
}

// TestCheckSpanUnavailable: a 503 (a backend failed) marks the span an
// error; a 429 does not.
func TestCheckSpanUnavailable(t *testing.T) {
	for _, st := range []int{429, 503} {
		tp, rec := newRecorder()
		s := NewAuthorizationServer(&recordingAuthorizer{result: metering.CheckResult{Status: st}}, tp)
		if _, err := s.Check(context.Background(), &authv3.CheckRequest{}); err != nil {
			t.Fatal(err)
		}
		want := codes.Unset
		if st == 503 {
			want = codes.Error
		}
		if got := rec.Ended()[0].Status().Code; got != want {
			t.Errorf("status %d: span status %v, want %v", st, got, want)
		}
	}
}

// alsMessage is a message of HTTP entries, one GET per path.
func alsMessage(paths ...string) *alsv3.StreamAccessLogsMessage {
	var entries []*accesslogv3.HTTPAccessLogEntry
	for _, p := range paths {
		entries = append(entries, &accesslogv3.HTTPAccessLogEntry{Request: &accesslogv3.HTTPRequestProperties{Path: p}})
	}
	return &alsv3.StreamAccessLogsMessage{LogEntries: &alsv3.StreamAccessLogsMessage_HttpLogs{HttpLogs: &alsv3.StreamAccessLogsMessage_HTTPAccessLogEntries{LogEntry: entries}}}
}

func TestAccessLogSpans(t *testing.T) {
	tp, rec := newRecorder()
	stream := &fakeALSStream{msgs: []*alsv3.StreamAccessLogsMessage{alsMessage("/a", "/b"), alsMessage(), alsMessage("/c")}}
	if err := NewAccessLogServer(&recordingRecorder{}, tp).StreamAccessLogs(stream); err != nil {
		t.Fatal(err)
	}
	spans := rec.Ended()
	if len(spans) != 2 {
		t.Fatalf("%d spans, want one per message with HTTP entries (2)", len(spans))
	}
	for i, want := range []string{"2", "1"} {
		if spans[i].Name() != spanAccessLogBatch {
			t.Errorf("span %d: %q", i, spans[i].Name())
		}
		wantAttrs(t, spans[i], map[string]string{"tollgate.accesslog.entries": want})
	}
	stream = &fakeALSStream{msgs: []*alsv3.StreamAccessLogsMessage{alsMessage("/a")}}
	_ = NewAccessLogServer(&recordingRecorder{err: errors.New("spool full")}, tp).StreamAccessLogs(stream)
	if st := rec.Ended()[2].Status(); st.Code != codes.Error || st.Description != "spool full" {
		t.Errorf("failed record's span status %v, want Error: spool full", st)
	}
}

// TestSamplingRatio: through internal/tracing's provider, ratio 0 keeps no
// call without a parent, ratio 1 keeps every call.
func TestSamplingRatio(t *testing.T) {
	for _, tc := range []struct {
		ratio float64
		want  int
	}{{0, 0}, {1, 10}} {
		exp := tracetest.NewInMemoryExporter()
		p, err := tracing.New(tracing.Options{SamplingRatio: tc.ratio, Exporter: exp})
		if err != nil {
			t.Fatal(err)
		}
		s := NewRateLimitServer(newTestServer(t).decider, HeaderOptions{}, p.TracerProvider())
		for range 10 {
			if _, err := s.ShouldRateLimit(context.Background(), benchRequest([][2]string{{"hot", "k"}})); err != nil {
				t.Fatal(err)
			}
		}
		if err := p.TracerProvider().(*sdktrace.TracerProvider).ForceFlush(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got := len(exp.GetSpans()); got != tc.want {
			t.Errorf("ratio %v: %d spans exported, want %d", tc.ratio, got, tc.want)
		}
		_ = p.Close()
	}
}

// TestCheckAllocs: without a tracer provider, Check allocates only its
// response; tracing adds no allocation when off.
func TestCheckAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items at random under the race detector")
	}
	s := NewAuthorizationServer(staticAuthorizer{}, nil)
	in := checkBenchRequest()
	got := testing.AllocsPerRun(100, func() {
		if _, err := s.Check(context.Background(), in); err != nil {
			t.Fatal(err)
		}
	})
	if got != checkAllocs {
		t.Errorf("%v allocations per Check, want %d", got, checkAllocs)
	}
}

// TestQuotaReportSpan: each RLQS usage report is a span with its domain
// and number of buckets.
func TestQuotaReportSpan(t *testing.T) {
	tp, rec := newRecorder()
	stream, _ := rlqsTracedClient(t, rlqsTestRules, tp)
	report := &rlqsv3.RateLimitQuotaUsageReports{Domain: "d", BucketQuotaUsages: []*rlqsv3.RateLimitQuotaUsageReports_BucketQuotaUsage{
		usage(map[string]string{"tenant": "acme"}, 1, 0), usage(map[string]string{"tenant": "spent"}, 0, 1),
	}}
	if err := stream.Send(report); err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(rec.Ended()) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	spans := rec.Ended()
	if len(spans) != 1 || spans[0].Name() != spanQuotaReport {
		t.Fatalf("%d spans, want one %s", len(spans), spanQuotaReport)
	}
	wantAttrs(t, spans[0], map[string]string{"tollgate.ratelimit.domain": "d", "tollgate.rlqs.buckets": "2"})
}

// TestCheckSpanHeaderMap: the trace context is read from raw header_map
// headers too.
func TestCheckSpanHeaderMap(t *testing.T) {
	tp, rec := newRecorder()
	s := NewAuthorizationServer(&recordingAuthorizer{result: metering.CheckResult{Allowed: true, Status: 200}}, tp)
	in := &authv3.CheckRequest{Attributes: &authv3.AttributeContext{Request: &authv3.AttributeContext_Request{
		Http: &authv3.AttributeContext_HttpRequest{HeaderMap: &corev3.HeaderMap{Headers: []*corev3.HeaderValue{
			{Key: "traceparent", RawValue: []byte("00-" + envoyTrace + "-" + envoySpan + "-01")},
		}}},
	}}}
	if _, err := s.Check(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	sp := rec.Ended()[0]
	if sp.SpanContext().TraceID().String() != envoyTrace || sp.Parent().SpanID().String() != envoySpan {
		t.Errorf("trace %s parent %s, want %s %s", sp.SpanContext().TraceID(), sp.Parent().SpanID(), envoyTrace, envoySpan)
	}
}
