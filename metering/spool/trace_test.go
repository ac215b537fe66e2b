package spool

import (
	"context"
	"testing"
	"time"

	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/tollgate/tollgate/counter"
)

// spanSink is a fakeSink that records the span of each call's context.
type spanSink struct {
	fakeSink
	spans []trace.SpanContext
}

func (s *spanSink) Ship(ctx context.Context, events []counter.Event) error {
	s.spans = append(s.spans, trace.SpanContextFromContext(ctx))
	return s.fakeSink.Ship(ctx, events)
}

func TestShipSpans(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	sink := &spanSink{fakeSink: fakeSink{fail: 1}}
	s, err := Open(Options{Dir: t.TempDir(), Sink: sink, BatchSize: 2, FlushInterval: time.Hour,
		TracerProvider: sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Append(t.Context(), []counter.Event{event(0), event(1), event(2)}); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(t.Context()); err == nil {
		t.Fatal("first Flush: want the sink's error")
	}
	if err := s.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	spans := rec.Ended()
	if len(spans) != 3 {
		t.Fatalf("%d spans, want 3 (a failed shipment of 2, then 2 and 1)", len(spans))
	}
	for i, want := range []struct {
		events int64
		code   codes.Code
	}{{2, codes.Error}, {2, codes.Unset}, {1, codes.Unset}} {
		sp := spans[i]
		if sp.Name() != "tollgate.metering.spool.ship" || len(sp.Attributes()) != 1 || sp.Attributes()[0].Key != "tollgate.counter.events" || sp.Attributes()[0].Value.AsInt64() != want.events {
			t.Errorf("span %d: %q %v, want tollgate.metering.spool.ship with %d events", i, sp.Name(), sp.Attributes(), want.events)
		}
		if sp.Status().Code != want.code {
			t.Errorf("span %d: status %v, want %v", i, sp.Status(), want.code)
		}
		if sink.spans[i].SpanID() != sp.SpanContext().SpanID() {
			t.Errorf("span %d: the sink ran under span %s, want the shipment's %s", i, sink.spans[i].SpanID(), sp.SpanContext().SpanID())
		}
	}
}
