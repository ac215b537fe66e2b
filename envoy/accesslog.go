package envoy

import (
	"context"
	"errors"
	"io"
	"math"

	accesslogv3 "github.com/envoyproxy/go-control-plane/envoy/data/accesslog/v3"
	alsv3 "github.com/envoyproxy/go-control-plane/envoy/service/accesslog/v3"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tollgate/tollgate/internal/tracing"
	"github.com/tollgate/tollgate/metering"
)

// AccessLogRecorder records Envoy's HTTP access log entries;
// *metering.Metering implements it.
type AccessLogRecorder interface {
	RecordAccessLog(ctx context.Context, entries ...metering.AccessLogEntry) error
}

// AccessLogServer serves envoy.service.accesslog.v3.AccessLogService: each
// HTTP log entry feeds the access_log meters. TCP entries are ignored.
type AccessLogServer struct {
	alsv3.UnimplementedAccessLogServiceServer
	rec    AccessLogRecorder
	tracer trace.Tracer // nil: no spans
}

// NewAccessLogServer returns a server that records into rec. With tp not
// nil, each message of a stream makes a span; nil makes none.
func NewAccessLogServer(rec AccessLogRecorder, tp trace.TracerProvider) *AccessLogServer {
	return &AccessLogServer{rec: rec, tracer: tracing.Tracer(tp, tracerName)}
}

// StreamAccessLogs implements envoy.service.accesslog.v3.AccessLogService.
func (s *AccessLogServer) StreamAccessLogs(stream alsv3.AccessLogService_StreamAccessLogsServer) error {
	var entries []metering.AccessLogEntry
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return stream.SendAndClose(&alsv3.StreamAccessLogsResponse{})
		}
		if err != nil {
			return err
		}
		entries = entries[:0]
		for _, e := range msg.GetHttpLogs().GetLogEntry() {
			entries = append(entries, accessLogEntry(e))
		}
		if len(entries) == 0 {
			continue
		}
		if err := s.record(stream.Context(), entries); err != nil {
			return status.Errorf(codes.Unavailable, "cannot record access log entries: %v", err)
		}
	}
}

// record records the entries of one message, in a span of its own when
// tracing is on.
func (s *AccessLogServer) record(ctx context.Context, entries []metering.AccessLogEntry) error {
	if s.tracer == nil {
		return s.rec.RecordAccessLog(ctx, entries...)
	}
	ctx, span := s.tracer.Start(ctx, spanAccessLogBatch, trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(rpcGRPC, attribute.Int(tracing.AttrEntries, len(entries))))
	err := s.rec.RecordAccessLog(ctx, entries...)
	tracing.End(span, err)
	return err
}

// accessLogEntry translates one Envoy HTTP access log entry.
func accessLogEntry(e *accesslogv3.HTTPAccessLogEntry) metering.AccessLogEntry {
	req, resp, common := e.GetRequest(), e.GetResponse(), e.GetCommonProperties()
	out := metering.AccessLogEntry{
		Tenant:            req.GetRequestHeaders()[metering.HeaderTenantID],
		Plan:              req.GetRequestHeaders()[metering.HeaderPlan],
		Method:            req.GetRequestMethod().String(),
		Path:              req.GetPath(),
		Status:            int(resp.GetResponseCode().GetValue()),
		RequestBytes:      size(req.GetRequestHeadersBytes(), req.GetRequestBodyBytes()),
		ResponseBodyBytes: size(resp.GetResponseBodyBytes(), 0),
		Duration:          max(common.GetTimeToLastDownstreamTxByte().AsDuration(), 0),
		RequestID:         req.GetRequestId(),
		NotServed:         notServed(common.GetResponseFlags()),
	}
	if common.GetStartTime() != nil {
		out.Start = common.GetStartTime().AsTime()
	}
	if n := len(req.GetRequestHeaders()) + len(resp.GetResponseHeaders()); n > 0 {
		out.Headers = make(map[string]string, n)
		for k, v := range req.GetRequestHeaders() {
			out.Headers[k] = v
		}
		for k, v := range resp.GetResponseHeaders() {
			out.Headers[k] = v
		}
	}
	return out
}

// size returns the byte count a + b, saturated at math.MaxInt64 rather than
// wrapped: Envoy's counts are unsigned.
func size(a, b uint64) int64 {
	if a > math.MaxInt64 || b > math.MaxInt64-a {
		return math.MaxInt64
	}
	return int64(a + b)
}

// notServed reports whether Envoy's response flags say it answered the
// request itself before any upstream took it: a rate-limit filter's denial
// or error (RL, RLSE), no route or cluster (NR, NC), no healthy or
// reachable upstream (UH, UF), the upstream's circuit breaker (UO), or the
// overload manager (OM). A request an upstream took and then failed
// (timeouts, resets) counts as served.
func notServed(f *accesslogv3.ResponseFlags) bool {
	return f.GetRateLimited() || f.GetRateLimitServiceError() || f.GetNoRouteFound() || f.GetNoClusterFound() ||
		f.GetNoHealthyUpstream() || f.GetUpstreamConnectionFailure() || f.GetUpstreamOverflow() || f.GetOverloadManager()
}
