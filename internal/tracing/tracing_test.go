package tracing

import (
	"context"
	"math"
	"testing"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/metadata"
)

const (
	traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	spanID  = "00f067aa0ba902b7"
)

func TestExtract(t *testing.T) {
	f := func(name string, headers map[string]string, wantTrace, wantSpan string, wantSampled bool) {
		t.Helper()
		sc := trace.SpanContextFromContext(Extract(context.Background(), propagation.MapCarrier(headers)))
		if wantTrace == "" {
			if sc.IsValid() {
				t.Errorf("%s: got span context %s/%s, want none", name, sc.TraceID(), sc.SpanID())
			}
			return
		}
		if got := sc.TraceID().String(); got != wantTrace {
			t.Errorf("%s: trace id %s, want %s", name, got, wantTrace)
		}
		if got := sc.SpanID().String(); got != wantSpan {
			t.Errorf("%s: span id %s, want %s", name, got, wantSpan)
		}
		if sc.IsSampled() != wantSampled || !sc.IsRemote() {
			t.Errorf("%s: sampled %v remote %v, want sampled %v and remote", name, sc.IsSampled(), sc.IsRemote(), wantSampled)
		}
	}
	f("w3c", map[string]string{"traceparent": "00-" + traceID + "-" + spanID + "-01"}, traceID, spanID, true)
	f("w3c not sampled", map[string]string{"traceparent": "00-" + traceID + "-" + spanID + "-00"}, traceID, spanID, false)
	f("b3 multi", map[string]string{"x-b3-traceid": traceID, "x-b3-spanid": spanID, "x-b3-sampled": "1"}, traceID, spanID, true)
	f("b3 multi 64-bit trace id", map[string]string{"x-b3-traceid": "a3ce929d0e0e4736", "x-b3-spanid": spanID, "x-b3-sampled": "1"},
		"0000000000000000a3ce929d0e0e4736", spanID, true)
	f("b3 single", map[string]string{"b3": traceID + "-" + spanID + "-1"}, traceID, spanID, true)
	f("both: traceparent wins", map[string]string{
		"traceparent":  "00-" + traceID + "-" + spanID + "-01",
		"x-b3-traceid": "11111111111111111111111111111111", "x-b3-spanid": "2222222222222222", "x-b3-sampled": "1",
	}, traceID, spanID, true)
	f("malformed traceparent", map[string]string{"traceparent": "00-zz-" + spanID + "-01"}, "", "", false)
	f("none", map[string]string{"x-request-id": "r1"}, "", "", false)
}

func TestExtractGRPC(t *testing.T) {
	ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs("traceparent", "00-"+traceID+"-"+spanID+"-01"))
	sc := trace.SpanContextFromContext(ExtractGRPC(ctx))
	if sc.TraceID().String() != traceID || sc.SpanID().String() != spanID {
		t.Errorf("got %s/%s, want %s/%s", sc.TraceID(), sc.SpanID(), traceID, spanID)
	}
	if sc := trace.SpanContextFromContext(ExtractGRPC(context.Background())); sc.IsValid() {
		t.Errorf("without metadata: got %s, want no span context", sc.TraceID())
	}
}

// spans starts one root span and one child of a sampled remote parent on
// a provider sampling ratio, closes it, and returns the exported names.
func spans(t *testing.T, ratio float64) []string {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	p, err := New(Options{SamplingRatio: ratio, Exporter: exp, ServiceVersion: "v1.2.3"})
	if err != nil {
		t.Fatal(err)
	}
	tr := Tracer(p.TracerProvider(), "test")
	_, root := tr.Start(context.Background(), "root")
	root.End()
	parent := Extract(context.Background(), propagation.MapCarrier{"traceparent": "00-" + traceID + "-" + spanID + "-01"})
	_, child := tr.Start(parent, "child")
	child.End()
	// Shutdown empties the in-memory exporter: read it after a flush.
	if err := p.tp.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := exp.GetSpans()
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	var names []string
	for _, s := range got {
		names = append(names, s.Name)
		if got := s.Resource.String(); got != "service.name=tollgate,service.version=v1.2.3" {
			t.Errorf("resource %q", got)
		}
		if s.Name == "child" && (s.SpanContext.TraceID().String() != traceID || s.Parent.SpanID().String() != spanID) {
			t.Errorf("child: trace %s parent %s, want %s %s", s.SpanContext.TraceID(), s.Parent.SpanID(), traceID, spanID)
		}
	}
	return names
}

func TestSampling(t *testing.T) {
	if got := spans(t, 1); len(got) != 2 || got[0] != "root" || got[1] != "child" {
		t.Errorf("ratio 1: exported %q, want [root child]", got)
	}
	// Ratio 0 keeps no root span; a sampled parent still wins.
	if got := spans(t, 0); len(got) != 1 || got[0] != "child" {
		t.Errorf("ratio 0: exported %q, want [child]", got)
	}
}

func TestTracerNil(t *testing.T) {
	if tr := Tracer(nil, "test"); tr != nil {
		t.Errorf("Tracer(nil) = %v, want nil (tracing off)", tr)
	}
}

func TestValidate(t *testing.T) {
	f := func(o Options, want string) {
		t.Helper()
		_, err := New(o)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != want {
			t.Errorf("New(%+v):\n got %q\nwant %q", o, got, want)
		}
	}
	f(Options{SamplingRatio: 1}, "tracing: Options.Endpoint is empty (hint: the collector's host:port, such as otel-collector:4317)")
	f(Options{Endpoint: "c:4317", SamplingRatio: -0.1}, "tracing: Options.SamplingRatio -0.1 is not from 0 to 1 (hint: 0.01 keeps one root span in 100)")
	f(Options{Endpoint: "c:4317", SamplingRatio: 2}, "tracing: Options.SamplingRatio 2 is not from 0 to 1 (hint: 0.01 keeps one root span in 100)")
	f(Options{Endpoint: "c:4317", SamplingRatio: math.NaN()}, "tracing: Options.SamplingRatio NaN is not from 0 to 1 (hint: 0.01 keeps one root span in 100)")
	f(Options{Endpoint: "c:4317", ShutdownTimeout: -1}, "tracing: Options.ShutdownTimeout -1ns is negative (hint: 0 for the default 5s)")
}

// TestNewOTLP builds the real exporter: no collector is needed until a
// span is exported, and Close with nothing queued returns at once.
func TestNewOTLP(t *testing.T) {
	p, err := New(Options{Endpoint: "127.0.0.1:1", SamplingRatio: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
}
