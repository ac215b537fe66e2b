package api

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/tollgate/tollgate/counter/global"
	"github.com/tollgate/tollgate/internal/tracing"
)

// tracerName is the instrumentation scope of the package's spans.
const tracerName = "github.com/tollgate/tollgate/counter/api"

// tracedCounters makes a server span of each counter call, on either
// transport, named after its gRPC method: a child of the span context of
// the call's gRPC metadata or HTTP headers.
type tracedCounters struct {
	next   Counters
	tracer trace.Tracer
}

var _ Counters = tracedCounters{}

// start starts the span of method on the counter ns/name.
func (c tracedCounters) start(ctx context.Context, method, ns, name string) (context.Context, trace.Span) {
	return c.tracer.Start(tracing.ExtractGRPC(ctx), "tollgate.counter.v1.CounterService/"+method, trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String(tracing.AttrNamespace, ns), attribute.String(tracing.AttrCounter, name)))
}

// AddCount implements Counters in a span.
func (c tracedCounters) AddCount(ctx context.Context, ns, name string, delta int64, tok global.IdempotencyToken) error {
	ctx, span := c.start(ctx, "AddCount", ns, name)
	err := c.next.AddCount(ctx, ns, name, delta, tok)
	tracing.End(span, err)
	return err
}

// AddAndGetCount implements Counters in a span.
func (c tracedCounters) AddAndGetCount(ctx context.Context, ns, name string, delta int64, tok global.IdempotencyToken) (int64, error) {
	ctx, span := c.start(ctx, "AddAndGetCount", ns, name)
	n, err := c.next.AddAndGetCount(ctx, ns, name, delta, tok)
	tracing.End(span, err)
	return n, err
}

// GetCount implements Counters in a span.
func (c tracedCounters) GetCount(ctx context.Context, ns, name string) (int64, error) {
	ctx, span := c.start(ctx, "GetCount", ns, name)
	n, err := c.next.GetCount(ctx, ns, name)
	tracing.End(span, err)
	return n, err
}

// ClearCount implements Counters in a span.
func (c tracedCounters) ClearCount(ctx context.Context, ns, name string, tok global.IdempotencyToken) error {
	ctx, span := c.start(ctx, "ClearCount", ns, name)
	err := c.next.ClearCount(ctx, ns, name, tok)
	tracing.End(span, err)
	return err
}

// BatchAdd implements Counters in a span carrying the number of adds.
func (c tracedCounters) BatchAdd(ctx context.Context, reqs []global.AddRequest) error {
	ctx, span := c.tracer.Start(tracing.ExtractGRPC(ctx), "tollgate.counter.v1.CounterService/BatchAddCount", trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.Int(tracing.AttrEvents, len(reqs))))
	err := c.next.BatchAdd(ctx, reqs)
	tracing.End(span, err)
	return err
}
