// Package api serves the counter abstraction over gRPC
// (tollgate.counter.v1.CounterService, counter/counterpb) and over HTTP JSON
// with Netflix's request bodies:
//
//	POST /v1/counter/add        {"namespace","counter_name","delta","idempotency_token":{"token","generation_time"}} -> {}
//	POST /v1/counter/addAndGet  same body                                                                        -> {"count": N}
//	POST /v1/counter/get        {"namespace","counter_name"}                                                     -> {"count": N}
//	POST /v1/counter/clear      {"namespace","counter_name","idempotency_token":{...}}                           -> {"count": 0}
//	POST /v1/counter/batchAdd   {"requests":[<add body>, ...]}                                                   -> {}
//
// generation_time is RFC 3339. Errors are {"error":{"code","message"}} with
// 404 for an unknown namespace, 400 for anything the caller must fix, 403
// (code permission_denied; gRPC PermissionDenied) when the Authorizer
// refuses, 413 for a body over 8 MiB, and 405 (with Allow: POST) for another
// method.
package api

import (
	"context"
	"errors"

	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tollgate/tollgate/counter/counterpb"
	"github.com/tollgate/tollgate/counter/global"
	"github.com/tollgate/tollgate/internal/apiauth"
	"github.com/tollgate/tollgate/internal/tracing"
)

// Counters is the counter service the API exposes; *global.Counters
// implements it.
type Counters interface {
	AddCount(ctx context.Context, ns, name string, delta int64, tok global.IdempotencyToken) error
	AddAndGetCount(ctx context.Context, ns, name string, delta int64, tok global.IdempotencyToken) (int64, error)
	GetCount(ctx context.Context, ns, name string) (int64, error)
	ClearCount(ctx context.Context, ns, name string, tok global.IdempotencyToken) error
	BatchAdd(ctx context.Context, reqs []global.AddRequest) error
}

// maxBatch bounds one BatchAddCount call.
const maxBatch = 10_000

// Authorizer decides each counter operation of a call (its caller is in
// ctx); *apiauth.Guard implements it. A refusal wraps
// apiauth.ErrPermissionDenied.
type Authorizer interface {
	CheckCounter(ctx context.Context, op apiauth.CounterOp, namespace, counter string) error
}

// Options configure a Server.
type Options struct {
	// Authorizer checks every operation before it runs: get is a read;
	// add, addAndGet and each add of a batch are writes; clear is a clear.
	// Default: nil, and every operation is allowed.
	Authorizer Authorizer
	// TracerProvider, when set, makes a span of each counter call on
	// either transport, named after its gRPC method
	// (tollgate.counter.v1.CounterService/AddCount, ...), a child of the
	// trace context of the call's gRPC metadata or HTTP headers.
	// Default: nil, no spans.
	TracerProvider trace.TracerProvider
}

// Server implements counterpb.CounterServiceServer on Counters.
type Server struct {
	counterpb.UnimplementedCounterServiceServer
	c       Counters
	auth    Authorizer
	tracing bool
}

// NewServer returns a server for c.
func NewServer(c Counters, opts Options) *Server {
	s := &Server{c: c, auth: opts.Authorizer}
	if tr := tracing.Tracer(opts.TracerProvider, tracerName); tr != nil {
		s.c, s.tracing = tracedCounters{next: c, tracer: tr}, true
	}
	return s
}

// check asks the Authorizer, if any, about one operation.
func (s *Server) check(ctx context.Context, op apiauth.CounterOp, ns, name string) error {
	if s.auth == nil {
		return nil
	}
	return s.auth.CheckCounter(ctx, op, ns, name)
}

func token(t *counterpb.IdempotencyToken) global.IdempotencyToken {
	var tok global.IdempotencyToken
	if t != nil {
		tok.Token = t.GetToken()
		if t.GetGenerationTime() != nil {
			tok.GenerationTime = t.GetGenerationTime().AsTime()
		}
	}
	return tok
}

// AddCount implements CounterService.AddCount.
func (s *Server) AddCount(ctx context.Context, r *counterpb.AddCountRequest) (*counterpb.AddCountResponse, error) {
	if err := s.check(ctx, apiauth.CounterWrite, r.GetNamespace(), r.GetCounterName()); err != nil {
		return nil, grpcError(err)
	}
	if err := s.c.AddCount(ctx, r.GetNamespace(), r.GetCounterName(), r.GetDelta(), token(r.GetIdempotencyToken())); err != nil {
		return nil, grpcError(err)
	}
	return &counterpb.AddCountResponse{}, nil
}

// AddAndGetCount implements CounterService.AddAndGetCount.
func (s *Server) AddAndGetCount(ctx context.Context, r *counterpb.AddCountRequest) (*counterpb.CountResponse, error) {
	if err := s.check(ctx, apiauth.CounterWrite, r.GetNamespace(), r.GetCounterName()); err != nil {
		return nil, grpcError(err)
	}
	n, err := s.c.AddAndGetCount(ctx, r.GetNamespace(), r.GetCounterName(), r.GetDelta(), token(r.GetIdempotencyToken()))
	if err != nil {
		return nil, grpcError(err)
	}
	return &counterpb.CountResponse{Count: n}, nil
}

// GetCount implements CounterService.GetCount.
func (s *Server) GetCount(ctx context.Context, r *counterpb.GetCountRequest) (*counterpb.CountResponse, error) {
	if err := s.check(ctx, apiauth.CounterRead, r.GetNamespace(), r.GetCounterName()); err != nil {
		return nil, grpcError(err)
	}
	n, err := s.c.GetCount(ctx, r.GetNamespace(), r.GetCounterName())
	if err != nil {
		return nil, grpcError(err)
	}
	return &counterpb.CountResponse{Count: n}, nil
}

// ClearCount implements CounterService.ClearCount.
func (s *Server) ClearCount(ctx context.Context, r *counterpb.ClearCountRequest) (*counterpb.ClearCountResponse, error) {
	if err := s.check(ctx, apiauth.CounterClear, r.GetNamespace(), r.GetCounterName()); err != nil {
		return nil, grpcError(err)
	}
	if err := s.c.ClearCount(ctx, r.GetNamespace(), r.GetCounterName(), token(r.GetIdempotencyToken())); err != nil {
		return nil, grpcError(err)
	}
	return &counterpb.ClearCountResponse{}, nil
}

// BatchAddCount implements CounterService.BatchAddCount.
func (s *Server) BatchAddCount(ctx context.Context, r *counterpb.BatchAddCountRequest) (*counterpb.BatchAddCountResponse, error) {
	if len(r.GetRequests()) > maxBatch {
		return nil, status.Errorf(codes.InvalidArgument, "batch of %d adds is over the limit of %d; split it", len(r.GetRequests()), maxBatch)
	}
	reqs := make([]global.AddRequest, len(r.GetRequests()))
	for i, a := range r.GetRequests() {
		if err := s.check(ctx, apiauth.CounterWrite, a.GetNamespace(), a.GetCounterName()); err != nil {
			return nil, status.Errorf(codes.PermissionDenied, "requests[%d]: %v", i, err)
		}
		reqs[i] = global.AddRequest{Namespace: a.GetNamespace(), Counter: a.GetCounterName(), Delta: a.GetDelta(), Token: token(a.GetIdempotencyToken())}
	}
	if err := s.c.BatchAdd(ctx, reqs); err != nil {
		return nil, grpcError(err)
	}
	return &counterpb.BatchAddCountResponse{}, nil
}

// grpcError maps counter errors to gRPC codes.
func grpcError(err error) error {
	return status.Error(classify(err).grpc, err.Error())
}

// errorClass is how one kind of error is reported on each transport.
type errorClass struct {
	grpc codes.Code
	http int
	name string
}

func classify(err error) errorClass {
	switch {
	case errors.Is(err, apiauth.ErrPermissionDenied):
		return errorClass{codes.PermissionDenied, 403, "permission_denied"}
	case errors.Is(err, global.ErrUnknownNamespace):
		return errorClass{codes.NotFound, 404, "not_found"}
	case errors.Is(err, global.ErrInvalidArgument):
		return errorClass{codes.InvalidArgument, 400, "invalid_argument"}
	case errors.Is(err, global.ErrClosed):
		return errorClass{codes.Unavailable, 503, "unavailable"}
	case errors.Is(err, context.DeadlineExceeded):
		return errorClass{codes.DeadlineExceeded, 504, "deadline_exceeded"}
	case errors.Is(err, context.Canceled):
		return errorClass{codes.Canceled, 499, "canceled"}
	}
	return errorClass{codes.Internal, 500, "internal"}
}
