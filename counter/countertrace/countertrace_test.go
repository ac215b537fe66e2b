package countertrace

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/tollgate/tollgate/counter"
	"github.com/tollgate/tollgate/counter/memory"
	"github.com/tollgate/tollgate/counter/pebble"
	"github.com/tollgate/tollgate/counter/storetest"
)

var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func openPebble(t *testing.T) *pebble.Store {
	t.Helper()
	st, err := pebble.Open(pebble.Options{FS: vfs.NewMem(), Dir: "db", Now: func() time.Time { return t0 }, LateAfter: storetest.LateAfters()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func recorder() (*sdktrace.TracerProvider, *tracetest.SpanRecorder) {
	rec := tracetest.NewSpanRecorder()
	return sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec)), rec
}

// TestConformance: the traced store passes the event store suite, so it
// changes nothing but the spans.
func TestConformance(t *testing.T) {
	tp, _ := recorder()
	storetest.Run(t, func() time.Time { return t0 }, func(t *testing.T) counter.EventStore {
		return NewStore(openPebble(t), tp, "pebble")
	})
}

// describe renders a span as "name kind status attrs".
func describe(s sdktrace.ReadOnlySpan) string {
	return fmt.Sprintf("%s %s %s %v", s.Name(), s.SpanKind(), s.Status().Code, s.Attributes())
}

func TestStoreSpans(t *testing.T) {
	tp, rec := recorder()
	s := NewStore(openPebble(t), tp, "pebble")
	ctx, parent := tp.Tracer("test").Start(context.Background(), "caller")
	ev := counter.Event{Namespace: "ns", Counter: "c", Time: t0, ID: "a", Delta: 3}
	_ = s.Append(ctx, []counter.Event{ev, ev})
	_, _ = s.LateWrites(ctx, "ns", "c")
	_, _ = s.Aggregate(ctx, "ns", "c", t0.Add(-time.Second), t0)
	_, _, _ = s.AggregateSplit(ctx, "ns", "c", t0.Add(-time.Second), t0, t0)
	_, _ = s.Sum(ctx, "ns", "c", t0, t0.Add(time.Second))
	_, _ = s.Checkpoint(ctx, "ns", "c")
	_ = s.SaveCheckpoint(ctx, "ns", "c", counter.Checkpoint{Count: 3, At: t0})
	_, _ = s.LastWrite(ctx, "ns", "c")
	_ = s.LateAfter("ns")
	parent.End()
	one := `[{"db.system.name":"pebble"} {"tollgate.counter.namespace":"ns"} {"tollgate.counter.name":"c"}]`
	want := []string{
		`tollgate.eventstore.Append client Unset [{"db.system.name":"pebble"} {"tollgate.counter.events":2}]`,
		"tollgate.eventstore.LateWrites client Unset " + one,
		"tollgate.eventstore.Aggregate client Unset " + one,
		"tollgate.eventstore.AggregateSplit client Unset " + one,
		"tollgate.eventstore.Sum client Unset " + one,
		"tollgate.eventstore.Checkpoint client Unset " + one,
		"tollgate.eventstore.SaveCheckpoint client Unset " + one,
		"tollgate.eventstore.LastWrite client Unset " + one,
	}
	spans := rec.Ended()
	if len(spans) != len(want)+1 {
		t.Fatalf("%d spans, want %d and the caller's", len(spans), len(want))
	}
	for i, w := range want {
		if got := describe(spans[i]); got != w {
			t.Errorf("span %d:\n got %s\nwant %s", i, got, w)
		}
		if spans[i].Parent().SpanID() != parent.SpanContext().SpanID() {
			t.Errorf("span %d: parent %s, want the caller's %s", i, spans[i].Parent().SpanID(), parent.SpanContext().SpanID())
		}
	}
}

// closedStore fails every append.
type closedStore struct{ counter.EventStore }

func (closedStore) Append(context.Context, []counter.Event) error { return errors.New("store closed") }

func TestStoreSpanError(t *testing.T) {
	tp, rec := recorder()
	err := NewStore(closedStore{}, tp, "cassandra").Append(context.Background(), nil)
	if err == nil || err.Error() != "store closed" {
		t.Fatalf("Append = %v, want the store's error", err)
	}
	if st := rec.Ended()[0].Status(); st.Code != codes.Error || st.Description != "store closed" {
		t.Errorf("span status %v, want Error: store closed", st)
	}
}

func TestLimiterSpan(t *testing.T) {
	tp, rec := recorder()
	l := NewLimiter(memory.New(memory.Options{}), tp, "memory")
	hits := []counter.Hit{{Key: "k", Limit: 1, Window: time.Minute, Hits: 1}, {Key: "j", Limit: 1, Window: time.Minute, Hits: 1}}
	out := make([]counter.Outcome, 2)
	if err := l.Apply(context.Background(), t0, hits, out); err != nil {
		t.Fatal(err)
	}
	if !out[0].Allowed || out[0].Used != 1 {
		t.Errorf("outcome %+v, want the backend's: allowed, used 1", out[0])
	}
	want := `tollgate.besteffort.Apply client Unset [{"db.system.name":"memory"} {"tollgate.ratelimit.hits":2}]`
	if got := describe(rec.Ended()[0]); got != want {
		t.Errorf("span\n got %s\nwant %s", got, want)
	}
}
