package envoy

import (
	"context"

	rlsv3 "github.com/envoyproxy/go-control-plane/envoy/service/ratelimit/v3"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/tollgate/tollgate/internal/tracing"
	"github.com/tollgate/tollgate/metering"
)

// tracerName is the instrumentation scope of the package's spans.
const tracerName = "github.com/tollgate/tollgate/envoy"

// Span names: one per rate-limit decision, Check and access-log message.
const (
	spanShouldRateLimit = "envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit"
	spanCheck           = "envoy.service.auth.v3.Authorization/Check"
	// spanAccessLogBatch is the span of one message of an access-log
	// stream (the stream itself lives as long as Envoy's connection).
	spanAccessLogBatch = "envoy.service.accesslog.v3.AccessLogService/StreamAccessLogs message"
	// spanQuotaReport is the span of one usage report of an RLQS stream.
	spanQuotaReport = "envoy.service.rate_limit_quota.v3.RateLimitQuotaService/StreamRateLimitQuotas report"
)

// rpcGRPC marks the spans of gRPC calls.
var rpcGRPC = attribute.String(tracing.AttrRPCSystem, "grpc")

// tracedShouldRateLimit is shouldRateLimit in a span, a child of the span
// context of the call's gRPC metadata, where Envoy puts its egress span's.
func (s *RateLimitServer) tracedShouldRateLimit(ctx context.Context, in *rlsv3.RateLimitRequest) (out *rlsv3.RateLimitResponse, err error) {
	ctx, span := s.tracer.Start(tracing.ExtractGRPC(ctx), spanShouldRateLimit, trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(rpcGRPC, attribute.String(tracing.AttrDomain, in.GetDomain()), attribute.Int(tracing.AttrDescriptors, len(in.GetDescriptors()))))
	out, err = s.shouldRateLimit(ctx, in)
	if out != nil {
		span.SetAttributes(attribute.String(tracing.AttrCode, out.GetOverallCode().String()))
	}
	tracing.End(span, err)
	return out, err
}

// startCheckSpan starts the span of a Check: a child of the span context
// in the checked request's headers (W3C traceparent or B3), so it joins
// the trace of the request Envoy checks; else of the call's gRPC
// metadata.
func (s *AuthorizationServer) startCheckSpan(ctx context.Context, req *metering.CheckRequest) (context.Context, trace.Span) {
	parent := tracing.Extract(ctx, propagation.MapCarrier(req.Headers))
	if !trace.SpanContextFromContext(parent).IsValid() {
		parent = tracing.ExtractGRPC(ctx)
	}
	return s.tracer.Start(parent, spanCheck, trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(rpcGRPC, attribute.String(tracing.AttrMethod, req.Method), attribute.String(tracing.AttrRequestID, req.RequestID)))
}

// endCheckSpan records the decision on the span of a Check and ends it. A
// denial is an answer, not an error; a 503 (a backend failed and the
// failure mode denies) is an error.
func endCheckSpan(span trace.Span, res *metering.CheckResult) {
	span.SetAttributes(attribute.Int(tracing.AttrStatus, res.Status), attribute.String(tracing.AttrTenant, res.TenantID), attribute.String(tracing.AttrPlan, res.Plan))
	if res.Status == 503 {
		span.SetStatus(codes.Error, "unavailable")
	}
	span.End()
}
