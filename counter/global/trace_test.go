package global

import (
	"context"
	"errors"
	"testing"

	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/tollgate/tollgate/counter"
	"github.com/tollgate/tollgate/internal/testkit"
)

// brokenCheckpoints fails every checkpoint read.
type brokenCheckpoints struct{ counter.EventStore }

func (brokenCheckpoints) Checkpoint(context.Context, string, string) (counter.Checkpoint, error) {
	return counter.Checkpoint{}, errors.New("disk on fire")
}

func TestRollupSpan(t *testing.T) {
	clock := testkit.NewClock(t0)
	store := openStore(t, clock)
	f := func(store counter.EventStore, add bool) sdktrace.ReadOnlySpan {
		t.Helper()
		rec := tracetest.NewSpanRecorder()
		c, err := New(Options{Store: store, Namespaces: testNamespaces, Now: clock.Now, TracerProvider: sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if add {
			mustAdd(t, c, "ev", "views", 5, tok(clock, "a"))
			clock.Advance(settle + 1)
		}
		_, _ = c.Rollup(context.Background(), "ev", "views")
		spans := rec.Ended()
		if len(spans) != 1 || spans[0].Name() != "tollgate.counter.rollup" {
			t.Fatalf("%d spans ended, want one tollgate.counter.rollup", len(spans))
		}
		return spans[0]
	}
	sp := f(store, true)
	got := map[string]string{}
	for _, kv := range sp.Attributes() {
		got[string(kv.Key)] = kv.Value.String()
	}
	if got["tollgate.counter.namespace"] != "ev" || got["tollgate.counter.name"] != "views" || got["tollgate.counter.checkpoint_count"] != "5" || len(got) != 3 {
		t.Errorf("rollup span attributes %v, want ev/views with checkpoint count 5", got)
	}
	if sp.Status().Code != codes.Unset {
		t.Errorf("rollup span status %v", sp.Status())
	}
	sp = f(brokenCheckpoints{store}, false)
	if st := sp.Status(); st.Code != codes.Error || st.Description != "disk on fire" {
		t.Errorf("failed rollup's span status %v, want Error: disk on fire", st)
	}
}
