package api

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"google.golang.org/grpc/metadata"

	"github.com/tollgate/tollgate/counter/counterpb"
	"github.com/tollgate/tollgate/counter/global"
)

const (
	parentTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	parentSpan  = "00f067aa0ba902b7"
)

// missingCounters answers every call with an unknown namespace.
type missingCounters struct{ fakeCounters }

func (missingCounters) GetCount(_ context.Context, ns, _ string) (int64, error) {
	return 0, fmt.Errorf("%w %q", global.ErrUnknownNamespace, ns)
}

// spanOf returns the one span rec ended, with its attributes as strings.
func spanOf(t *testing.T, rec *tracetest.SpanRecorder) (sdktrace.ReadOnlySpan, map[string]string) {
	t.Helper()
	spans := rec.Ended()
	if len(spans) != 1 {
		t.Fatalf("%d spans ended, want 1", len(spans))
	}
	attrs := map[string]string{}
	for _, kv := range spans[0].Attributes() {
		attrs[string(kv.Key)] = kv.Value.String()
	}
	return spans[0], attrs
}

func TestSpans(t *testing.T) {
	f := func(op, body, wantName, wantAttrs string) {
		t.Helper()
		rec := tracetest.NewSpanRecorder()
		s := NewServer(fakeCounters{}, Options{TracerProvider: sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))})
		// Over HTTP, with the caller's trace context in its headers.
		r := httptest.NewRequest("POST", "/v1/counter/"+op, strings.NewReader(body))
		r.Header.Set("traceparent", "00-"+parentTrace+"-"+parentSpan+"-01")
		w := httptest.NewRecorder()
		s.Handler().ServeHTTP(w, r)
		if w.Code != 200 {
			t.Fatalf("%s: HTTP %d %s", op, w.Code, w.Body)
		}
		sp, attrs := spanOf(t, rec)
		if sp.Name() != wantName || sp.SpanContext().TraceID().String() != parentTrace || sp.Parent().SpanID().String() != parentSpan {
			t.Errorf("%s: span %q in trace %s under %s, want %q under the caller's span", op, sp.Name(), sp.SpanContext().TraceID(), sp.Parent().SpanID(), wantName)
		}
		if got := fmt.Sprint(attrs); got != wantAttrs {
			t.Errorf("%s: attributes %s, want %s", op, got, wantAttrs)
		}
	}
	one := "map[tollgate.counter.name:acme tollgate.counter.namespace:billing]"
	f("add", `{"namespace":"billing","counter_name":"acme","delta":1}`, "tollgate.counter.v1.CounterService/AddCount", one)
	f("addAndGet", `{"namespace":"billing","counter_name":"acme","delta":1}`, "tollgate.counter.v1.CounterService/AddAndGetCount", one)
	f("get", `{"namespace":"billing","counter_name":"acme"}`, "tollgate.counter.v1.CounterService/GetCount", one)
	f("clear", `{"namespace":"billing","counter_name":"acme"}`, "tollgate.counter.v1.CounterService/ClearCount", one)
	f("batchAdd", `{"requests":[{"namespace":"a","counter_name":"b","delta":1},{"namespace":"a","counter_name":"c","delta":1}]}`,
		"tollgate.counter.v1.CounterService/BatchAddCount", "map[tollgate.counter.events:2]")
}

// TestSpanGRPC: over gRPC the parent comes from the call's metadata, and
// a failed call's span carries the error.
func TestSpanGRPC(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	s := NewServer(missingCounters{}, Options{TracerProvider: sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))})
	ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs("traceparent", "00-"+parentTrace+"-"+parentSpan+"-01"))
	_, err := s.GetCount(ctx, &counterpb.GetCountRequest{Namespace: "nope", CounterName: "x"})
	if err == nil {
		t.Fatal("want an error")
	}
	sp, attrs := spanOf(t, rec)
	if sp.Name() != "tollgate.counter.v1.CounterService/GetCount" || sp.Parent().SpanID().String() != parentSpan || attrs["tollgate.counter.namespace"] != "nope" {
		t.Errorf("span %q under %s with %v", sp.Name(), sp.Parent().SpanID(), attrs)
	}
	if want := `counter/global: unknown namespace "nope"`; sp.Status().Code != codes.Error || sp.Status().Description != want {
		t.Errorf("span status %v, want Error %q", sp.Status(), want)
	}
}
