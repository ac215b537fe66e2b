package envoy

import (
	"context"
	"errors"
	"fmt"
	"io"

	rlqsv3 "github.com/envoyproxy/go-control-plane/envoy/service/rate_limit_quota/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/tollgate/tollgate/internal/tracing"
	"github.com/tollgate/tollgate/ratelimit/rlqs"
)

// Bounds on a bucket id Envoy sends: its entries and the length of each
// key and value.
const (
	maxBucketEntries = 16
	maxBucketPart    = 256
)

// RateLimitQuotaServer serves
// envoy.service.rate_limit_quota.v3.RateLimitQuotaService on an rlqs.Server.
type RateLimitQuotaServer struct {
	rlqsv3.UnimplementedRateLimitQuotaServiceServer
	srv    *rlqs.Server
	tracer trace.Tracer // nil: no spans
}

// NewRateLimitQuotaServer returns a server that assigns quotas with srv.
// With tp not nil, each usage report makes a span; nil makes none.
func NewRateLimitQuotaServer(srv *rlqs.Server, tp trace.TracerProvider) *RateLimitQuotaServer {
	return &RateLimitQuotaServer{srv: srv, tracer: tracing.Tracer(tp, tracerName)}
}

// StreamRateLimitQuotas implements the RLQS stream: reports are read on one
// goroutine, assignments (answers and pushes) sent on this one. The stream
// releases its buckets when it ends, and ends when the rlqs.Server closes.
func (x *RateLimitQuotaServer) StreamRateLimitQuotas(stream rlqsv3.RateLimitQuotaService_StreamRateLimitQuotasServer) error {
	st := x.srv.NewStream()
	defer st.Close()
	ctx, cancel := context.WithCancel(stream.Context())
	defer cancel()
	recvErr := make(chan error, 1)
	go func() { recvErr <- x.receiveReports(ctx, stream, st) }()
	for {
		select {
		case <-x.srv.Done():
			return status.Error(codes.Unavailable, "the rate limit quota service is shutting down (hint: Envoy reconnects at its next report)")
		case err := <-recvErr:
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		case <-st.Ready():
			if actions := st.Take(); len(actions) > 0 {
				if err := stream.Send(quotaResponse(actions)); err != nil {
					return err
				}
			}
		}
	}
}

// receiveReports reads reports until the stream ends.
func (x *RateLimitQuotaServer) receiveReports(ctx context.Context, stream rlqsv3.RateLimitQuotaService_StreamRateLimitQuotasServer, st *rlqs.Stream) error {
	var usages []rlqs.Usage
	for {
		msg, err := stream.Recv()
		if err != nil {
			return err
		}
		usages = usages[:0]
		for i, u := range msg.GetBucketQuotaUsages() {
			bucket := u.GetBucketId().GetBucket()
			if err := checkBucket(bucket); err != nil {
				return status.Errorf(codes.InvalidArgument, "bucket_quota_usages[%d].bucket_id: %v", i, err)
			}
			usages = append(usages, rlqs.Usage{Bucket: bucket, Allowed: u.GetNumRequestsAllowed(), Denied: u.GetNumRequestsDenied()})
		}
		if err := x.report(ctx, st, msg.GetDomain(), usages); err != nil {
			return status.Error(codes.InvalidArgument, err.Error())
		}
	}
}

// report hands one report to the stream, in a span of its own when
// tracing is on.
func (x *RateLimitQuotaServer) report(ctx context.Context, st *rlqs.Stream, domain string, usages []rlqs.Usage) error {
	if x.tracer == nil {
		return st.Report(ctx, domain, usages)
	}
	ctx, span := x.tracer.Start(ctx, spanQuotaReport, trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(rpcGRPC, attribute.String(tracing.AttrDomain, domain), attribute.Int(tracing.AttrBuckets, len(usages))))
	err := st.Report(ctx, domain, usages)
	tracing.End(span, err)
	return err
}

// checkBucket bounds a bucket id.
func checkBucket(bucket map[string]string) error {
	if len(bucket) == 0 {
		return errors.New("empty bucket id (hint: give the filter's bucket_id_builder at least one entry)")
	}
	if len(bucket) > maxBucketEntries {
		return fmt.Errorf("%d entries, at most %d", len(bucket), maxBucketEntries)
	}
	for k, v := range bucket {
		if len(k) > maxBucketPart || len(v) > maxBucketPart {
			return fmt.Errorf("an entry (key %.32q…) is over %d bytes", k, maxBucketPart)
		}
	}
	return nil
}

// quotaResponse translates actions into one response.
func quotaResponse(actions []rlqs.Action) *rlqsv3.RateLimitQuotaResponse {
	out := &rlqsv3.RateLimitQuotaResponse{BucketAction: make([]*rlqsv3.RateLimitQuotaResponse_BucketAction, 0, len(actions))}
	for _, a := range actions {
		ba := &rlqsv3.RateLimitQuotaResponse_BucketAction{BucketId: &rlqsv3.BucketId{Bucket: a.Bucket}}
		if a.Kind == rlqs.Abandon {
			ba.BucketAction = &rlqsv3.RateLimitQuotaResponse_BucketAction_AbandonAction_{
				AbandonAction: &rlqsv3.RateLimitQuotaResponse_BucketAction_AbandonAction{},
			}
			out.BucketAction = append(out.BucketAction, ba)
			continue
		}
		strategy := &typev3.RateLimitStrategy{}
		switch a.Kind {
		case rlqs.AllowAll:
			strategy.Strategy = &typev3.RateLimitStrategy_BlanketRule_{BlanketRule: typev3.RateLimitStrategy_ALLOW_ALL}
		case rlqs.DenyAll:
			strategy.Strategy = &typev3.RateLimitStrategy_BlanketRule_{BlanketRule: typev3.RateLimitStrategy_DENY_ALL}
		case rlqs.Limit:
			tb := a.TokenBucket
			strategy.Strategy = &typev3.RateLimitStrategy_TokenBucket{TokenBucket: &typev3.TokenBucket{
				MaxTokens:     tb.MaxTokens,
				TokensPerFill: wrapperspb.UInt32(tb.TokensPerFill),
				FillInterval:  durationpb.New(tb.FillInterval),
			}}
		}
		ba.BucketAction = &rlqsv3.RateLimitQuotaResponse_BucketAction_QuotaAssignmentAction_{
			QuotaAssignmentAction: &rlqsv3.RateLimitQuotaResponse_BucketAction_QuotaAssignmentAction{
				AssignmentTimeToLive: durationpb.New(a.TTL),
				RateLimitStrategy:    strategy,
			},
		}
		out.BucketAction = append(out.BucketAction, ba)
	}
	return out
}
