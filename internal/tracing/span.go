package tracing

import (
	"context"

	"go.opentelemetry.io/contrib/propagators/b3"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/metadata"
)

// Tracer returns the tracer named after the instrumented package (its
// import path), or nil when tp is nil: a component with a nil tracer
// makes no spans and skips their cost.
func Tracer(tp trace.TracerProvider, pkg string) trace.Tracer {
	if tp == nil {
		return nil
	}
	return tp.Tracer(pkg)
}

// End ends span, first recording err, when not nil, as an exception
// event and the span's Error status.
func End(span trace.Span, err error) {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

// propagator reads W3C Trace Context and B3 (single and multiple header);
// later propagators win, so traceparent wins over B3.
var propagator = propagation.NewCompositeTextMapPropagator(b3.New(), propagation.TraceContext{})

// Extract returns ctx with the remote parent span context that carrier
// holds in W3C Trace Context or B3, or ctx unchanged when it holds none
// (or a malformed one).
func Extract(ctx context.Context, carrier propagation.TextMapCarrier) context.Context {
	return propagator.Extract(ctx, carrier)
}

// ExtractGRPC is Extract on the incoming gRPC metadata of ctx, where
// Envoy's gRPC client puts the context of its egress span.
func ExtractGRPC(ctx context.Context) context.Context {
	md, ok := metadata.FromIncomingContext(ctx)
	if !ok {
		return ctx
	}
	return Extract(ctx, metadataCarrier(md))
}

// metadataCarrier reads gRPC metadata (lowercase keys) as a carrier.
type metadataCarrier metadata.MD

// Get returns the first value of key.
func (m metadataCarrier) Get(key string) string {
	if v := metadata.MD(m).Get(key); len(v) > 0 {
		return v[0]
	}
	return ""
}

// Set replaces the values of key.
func (m metadataCarrier) Set(key, value string) { metadata.MD(m).Set(key, value) }

// Keys returns the keys.
func (m metadataCarrier) Keys() []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	return keys
}
