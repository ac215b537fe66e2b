// Package countertrace wraps the counter backends in OpenTelemetry client
// spans, one per backend call, whatever the backend: the best-effort
// limiter's Apply (memory or Redis) and the event store's calls (Pebble or
// Cassandra). Each span is a child of the caller's (a decision, a Check, a
// counter call, a rollup, a spool shipment) and carries db.system.name.
// The sidecar wraps its backends only when tracing is on.
package countertrace

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/tollgate/tollgate/counter"
	"github.com/tollgate/tollgate/internal/tracing"
)

// tracerName is the instrumentation scope of the package's spans.
const tracerName = "github.com/tollgate/tollgate/counter/countertrace"

// Applier is a best-effort backend, as ratelimit.Counter calls it.
type Applier interface {
	Apply(ctx context.Context, now time.Time, hits []counter.Hit, out []counter.Outcome) error
}

// Limiter is a best-effort backend whose Apply calls are spans named
// tollgate.besteffort.Apply, with the number of hits. It is safe for
// concurrent use if the backend is.
type Limiter struct {
	next   Applier
	tracer trace.Tracer
	system attribute.KeyValue
}

// NewLimiter wraps next, a backend named system (memory or redis), with
// tp's spans; tp must not be nil (without tracing, use next itself).
func NewLimiter(next Applier, tp trace.TracerProvider, system string) *Limiter {
	return &Limiter{next: next, tracer: tp.Tracer(tracerName), system: attribute.String(tracing.AttrDBSystem, system)}
}

var _ Applier = (*Limiter)(nil)

// Apply calls the backend's Apply in a span.
func (l *Limiter) Apply(ctx context.Context, now time.Time, hits []counter.Hit, out []counter.Outcome) error {
	ctx, span := l.tracer.Start(ctx, "tollgate.besteffort.Apply", trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(l.system, attribute.Int(tracing.AttrHits, len(hits))))
	err := l.next.Apply(ctx, now, hits, out)
	tracing.End(span, err)
	return err
}

// Store is an event store whose calls are spans named
// tollgate.eventstore.<method>, with the counter or the number of events.
// LateAfter and Close make no span. It is safe for concurrent use if the
// store is.
type Store struct {
	next   counter.EventStore
	tracer trace.Tracer
	system attribute.KeyValue
}

// NewStore wraps next, a store named system (pebble or cassandra), with
// tp's spans; tp must not be nil (without tracing, use next itself).
func NewStore(next counter.EventStore, tp trace.TracerProvider, system string) *Store {
	return &Store{next: next, tracer: tp.Tracer(tracerName), system: attribute.String(tracing.AttrDBSystem, system)}
}

var _ counter.EventStore = (*Store)(nil)

// start starts the span of method on the counter ns/name.
func (s *Store) start(ctx context.Context, method, ns, name string) (context.Context, trace.Span) {
	return s.tracer.Start(ctx, "tollgate.eventstore."+method, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(s.system, attribute.String(tracing.AttrNamespace, ns), attribute.String(tracing.AttrCounter, name)))
}

// Append calls the store's Append in a span with the number of events.
func (s *Store) Append(ctx context.Context, events []counter.Event) error {
	ctx, span := s.tracer.Start(ctx, "tollgate.eventstore.Append", trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(s.system, attribute.Int(tracing.AttrEvents, len(events))))
	err := s.next.Append(ctx, events)
	tracing.End(span, err)
	return err
}

// LateAfter returns the store's LateAfter (no I/O, no span).
func (s *Store) LateAfter(namespace string) time.Duration { return s.next.LateAfter(namespace) }

// LateWrites calls the store's LateWrites in a span.
func (s *Store) LateWrites(ctx context.Context, ns, name string) (int64, error) {
	ctx, span := s.start(ctx, "LateWrites", ns, name)
	n, err := s.next.LateWrites(ctx, ns, name)
	tracing.End(span, err)
	return n, err
}

// Aggregate calls the store's Aggregate in a span.
func (s *Store) Aggregate(ctx context.Context, ns, name string, from, to time.Time) (counter.Aggregate, error) {
	ctx, span := s.start(ctx, "Aggregate", ns, name)
	a, err := s.next.Aggregate(ctx, ns, name, from, to)
	tracing.End(span, err)
	return a, err
}

// AggregateSplit calls the store's AggregateSplit in a span.
func (s *Store) AggregateSplit(ctx context.Context, ns, name string, from, cut, to time.Time) (head, tail counter.Aggregate, err error) {
	ctx, span := s.start(ctx, "AggregateSplit", ns, name)
	head, tail, err = s.next.AggregateSplit(ctx, ns, name, from, cut, to)
	tracing.End(span, err)
	return head, tail, err
}

// Sum calls the store's Sum in a span.
func (s *Store) Sum(ctx context.Context, ns, name string, from, to time.Time) (int64, error) {
	ctx, span := s.start(ctx, "Sum", ns, name)
	n, err := s.next.Sum(ctx, ns, name, from, to)
	tracing.End(span, err)
	return n, err
}

// Checkpoint calls the store's Checkpoint in a span.
func (s *Store) Checkpoint(ctx context.Context, ns, name string) (counter.Checkpoint, error) {
	ctx, span := s.start(ctx, "Checkpoint", ns, name)
	cp, err := s.next.Checkpoint(ctx, ns, name)
	tracing.End(span, err)
	return cp, err
}

// SaveCheckpoint calls the store's SaveCheckpoint in a span.
func (s *Store) SaveCheckpoint(ctx context.Context, ns, name string, cp counter.Checkpoint) error {
	ctx, span := s.start(ctx, "SaveCheckpoint", ns, name)
	err := s.next.SaveCheckpoint(ctx, ns, name, cp)
	tracing.End(span, err)
	return err
}

// LastWrite calls the store's LastWrite in a span.
func (s *Store) LastWrite(ctx context.Context, ns, name string) (time.Time, error) {
	ctx, span := s.start(ctx, "LastWrite", ns, name)
	t, err := s.next.LastWrite(ctx, ns, name)
	tracing.End(span, err)
	return t, err
}

// Close closes the store.
func (s *Store) Close() error { return s.next.Close() }
