package envoy

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	rlsv3 "github.com/envoyproxy/go-control-plane/envoy/service/ratelimit/v3"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/tollgate/tollgate/internal/tracing"
	"github.com/tollgate/tollgate/ratelimit"
)

// Decider makes rate-limit decisions; *ratelimit.Service implements it.
type Decider interface {
	ShouldRateLimit(ctx context.Context, req *ratelimit.Request, resp *ratelimit.Response) error
}

// HeaderOptions configures the RateLimit-* response headers Envoy adds to the
// downstream response. They describe the tightest descriptor
// (ratelimit.Tightest), formatted as ext_authz Check formats them.
type HeaderOptions struct {
	// Enabled turns the headers on. Default: false (as envoyproxy/ratelimit).
	Enabled bool
	// Limit is the header carrying the limit and its window, e.g. "5, 5;w=60"
	// (ratelimit.FormatLimit).
	// Default: "RateLimit-Limit".
	Limit string
	// Remaining is the header carrying the hits left. Default: "RateLimit-Remaining".
	Remaining string
	// Reset is the header carrying the seconds until the window resets.
	// Default: "RateLimit-Reset".
	Reset string
}

// EnsureDefaults fills empty header names with their defaults.
func (o *HeaderOptions) EnsureDefaults() {
	if o.Limit == "" {
		o.Limit = "RateLimit-Limit"
	}
	if o.Remaining == "" {
		o.Remaining = "RateLimit-Remaining"
	}
	if o.Reset == "" {
		o.Reset = "RateLimit-Reset"
	}
}

// RateLimitServer serves envoy.service.ratelimit.v3.RateLimitService on top of
// a Decider. It only translates between Envoy's protos and ratelimit types.
// It is safe for concurrent use.
type RateLimitServer struct {
	rlsv3.UnimplementedRateLimitServiceServer
	decider Decider
	headers HeaderOptions
	tracer  trace.Tracer // nil: no spans
	pool    sync.Pool
}

// NewRateLimitServer returns a server that decides with d. With tp not
// nil, each call makes a span (see the package doc); nil makes none.
func NewRateLimitServer(d Decider, headers HeaderOptions, tp trace.TracerProvider) *RateLimitServer {
	headers.EnsureDefaults()
	s := &RateLimitServer{decider: d, headers: headers, tracer: tracing.Tracer(tp, tracerName)}
	s.pool.New = func() any { return new(exchange) }
	return s
}

// exchange holds the reusable domain request and response of one call.
type exchange struct {
	req     ratelimit.Request
	resp    ratelimit.Response
	entries []ratelimit.Entry
	hits    []uint64
	limits  []ratelimit.LimitOverride
}

// ShouldRateLimit implements envoy.service.ratelimit.v3.RateLimitService.
// A request over ratelimit.Request.Validate's bounds gets INVALID_ARGUMENT
// (on /json, HTTP 400).
func (s *RateLimitServer) ShouldRateLimit(ctx context.Context, in *rlsv3.RateLimitRequest) (*rlsv3.RateLimitResponse, error) {
	if s.tracer != nil {
		return s.tracedShouldRateLimit(ctx, in)
	}
	return s.shouldRateLimit(ctx, in)
}

// shouldRateLimit implements ShouldRateLimit.
func (s *RateLimitServer) shouldRateLimit(ctx context.Context, in *rlsv3.RateLimitRequest) (*rlsv3.RateLimitResponse, error) {
	x := s.pool.Get().(*exchange)
	defer s.pool.Put(x)
	x.fromProto(in)
	if err := x.req.Validate(); err != nil {
		return nil, grpcError(err)
	}
	if err := s.decider.ShouldRateLimit(ctx, &x.req, &x.resp); err != nil {
		return nil, grpcError(err)
	}
	return s.toProto(&x.resp), nil
}

// fromProto fills the reusable request from Envoy's request without keeping
// references to the exchange's previous contents.
func (x *exchange) fromProto(in *rlsv3.RateLimitRequest) {
	x.req.Domain = in.GetDomain()
	x.req.HitsAddend = uint64(in.GetHitsAddend())
	descs := in.GetDescriptors()
	x.req.Descriptors = x.req.Descriptors[:0]
	x.entries = x.entries[:0]
	x.hits = x.hits[:0]
	x.limits = x.limits[:0]
	for _, d := range descs {
		for _, e := range d.GetEntries() {
			x.entries = append(x.entries, ratelimit.Entry{Key: e.GetKey(), Value: e.GetValue()})
		}
		if d.GetHitsAddend() != nil {
			x.hits = append(x.hits, d.GetHitsAddend().GetValue())
		}
		if d.GetLimit() != nil {
			x.limits = append(x.limits, ratelimit.LimitOverride{
				RequestsPerUnit: d.GetLimit().GetRequestsPerUnit(),
				Unit:            ratelimit.Unit(d.GetLimit().GetUnit()),
			})
		}
	}
	// Slice the shared backing arrays only after all appends are done, so the
	// descriptors never point into an array that append has since replaced.
	var ei, hi, li int
	for _, d := range descs {
		n := len(d.GetEntries())
		desc := ratelimit.Descriptor{Entries: x.entries[ei : ei+n : ei+n]}
		ei += n
		if d.GetHitsAddend() != nil {
			desc.HitsAddend = &x.hits[hi]
			hi++
		}
		if d.GetLimit() != nil {
			desc.Limit = &x.limits[li]
			li++
		}
		x.req.Descriptors = append(x.req.Descriptors, desc)
	}
}

// protoStatus holds one descriptor status with the messages it points to,
// so that a response takes three allocations whatever its size.
type protoStatus struct {
	status   rlsv3.RateLimitResponse_DescriptorStatus
	limit    rlsv3.RateLimitResponse_RateLimit
	duration durationpb.Duration
}

func (s *RateLimitServer) toProto(r *ratelimit.Response) *rlsv3.RateLimitResponse {
	out := &rlsv3.RateLimitResponse{
		OverallCode: rlsv3.RateLimitResponse_Code(r.OverallCode),
		Statuses:    make([]*rlsv3.RateLimitResponse_DescriptorStatus, len(r.Statuses)),
	}
	backing := make([]protoStatus, len(r.Statuses))
	for i := range r.Statuses {
		st, b := &r.Statuses[i], &backing[i]
		ps := &b.status
		ps.Code = rlsv3.RateLimitResponse_Code(st.Code)
		ps.LimitRemaining = st.LimitRemaining
		if st.CurrentLimit != nil {
			b.limit.Name = st.CurrentLimit.Name
			b.limit.RequestsPerUnit = st.CurrentLimit.RequestsPerUnit
			b.limit.Unit = rlsv3.RateLimitResponse_RateLimit_Unit(st.CurrentLimit.Unit)
			ps.CurrentLimit = &b.limit
			b.duration.Seconds = int64(st.DurationUntilReset / time.Second)
			b.duration.Nanos = int32(st.DurationUntilReset % time.Second)
			ps.DurationUntilReset = &b.duration
		}
		out.Statuses[i] = ps
	}
	if s.headers.Enabled {
		out.ResponseHeadersToAdd = s.rateLimitHeaders(r)
	}
	return out
}

// rateLimitHeaders describes the tightest descriptor with a limit
// (ratelimit.Tightest), or nothing when no limit applied.
func (s *RateLimitServer) rateLimitHeaders(r *ratelimit.Response) []*corev3.HeaderValue {
	i := ratelimit.Tightest(r.Statuses)
	if i < 0 {
		return nil
	}
	st := &r.Statuses[i]
	l := st.CurrentLimit
	return []*corev3.HeaderValue{
		{Key: s.headers.Limit, Value: ratelimit.FormatLimit(uint64(l.RequestsPerUnit), l.Window)},
		{Key: s.headers.Remaining, Value: strconv.FormatUint(uint64(st.LimitRemaining), 10)},
		{Key: s.headers.Reset, Value: ratelimit.FormatSeconds(st.DurationUntilReset)},
	}
}

// grpcError maps domain errors to gRPC status codes; only this package does so.
func grpcError(err error) error {
	switch {
	case errors.Is(err, ratelimit.ErrInvalidRequest):
		return status.Error(codes.InvalidArgument, err.Error())
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, err.Error())
	}
	return status.Error(codes.Internal, err.Error())
}
