// Package tracing builds the sidecar's OpenTelemetry tracer provider and
// holds the helpers every traced component shares.
//
// # Model
//
// Tracing is off unless the settings name an OTLP collector: components
// then get a nil trace.TracerProvider, keep a nil trace.Tracer (Tracer)
// and skip all span work, so the hot paths cost what they cost without
// tracing. When it is on, New exports spans over OTLP/gRPC in batches
// (the SDK's BatchSpanProcessor: a full queue drops spans, it never
// blocks a call) and samples with ParentBased(TraceIDRatioBased(ratio)):
// a span whose parent came from Envoy follows Envoy's sampling decision,
// a root span is kept with probability ratio.
//
// No process-wide state: the provider is passed to each component's
// constructor or Options; nothing here calls otel.SetTracerProvider.
//
// # Joining Envoy's trace
//
// Extract reads a parent span context from request headers or gRPC
// metadata, in W3C Trace Context (traceparent, tracestate) and B3 (the
// single b3 header, or x-b3-traceid, x-b3-spanid and x-b3-sampled);
// traceparent wins when both are present.
package tracing
