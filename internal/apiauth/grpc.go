package apiauth

import (
	"context"
	"crypto/tls"
	"errors"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// ByService returns a gRPC rule giving each method the Need of its service
// in needs, keyed by full service name (a ServiceDesc's ServiceName, e.g.
// "tollgate.counter.v1.CounterService"). Methods of other services get the
// zero Need and are refused.
func ByService(needs map[string]Need) func(fullMethod string) Need {
	return func(fullMethod string) Need {
		svc, _, _ := strings.Cut(strings.TrimPrefix(fullMethod, "/"), "/")
		return needs[svc]
	}
}

// UnaryServerInterceptor guards unary calls: rule gives each full method
// name ("/pkg.Service/Method") its Need. Refusals are codes.Unauthenticated
// or codes.PermissionDenied; an admitted call's context carries its
// principal.
func (g *Guard) UnaryServerInterceptor(rule func(fullMethod string) Need) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		ctx, err := g.grpcCheck(ctx, rule(info.FullMethod))
		if err != nil {
			return nil, err
		}
		return handler(ctx, req)
	}
}

// StreamServerInterceptor guards streaming calls as UnaryServerInterceptor
// guards unary ones.
func (g *Guard) StreamServerInterceptor(rule func(fullMethod string) Need) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		ctx, err := g.grpcCheck(ss.Context(), rule(info.FullMethod))
		if err != nil {
			return err
		}
		return handler(srv, &principalStream{ss, ctx})
	}
}

// principalStream is a server stream whose context carries the principal.
type principalStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *principalStream) Context() context.Context { return s.ctx }

func (g *Guard) grpcCheck(ctx context.Context, need Need) (context.Context, error) {
	if g.free(need) {
		return ctx, nil
	}
	p, err := g.check(need, metadata.ValueFromIncomingContext(ctx, "authorization"), peerTLS(ctx))
	switch {
	case errors.Is(err, ErrUnauthenticated):
		return ctx, status.Error(codes.Unauthenticated, err.Error())
	case err != nil:
		return ctx, status.Error(codes.PermissionDenied, err.Error())
	case p != nil:
		ctx = WithPrincipal(ctx, p)
	}
	return ctx, nil
}

// peerTLS returns the TLS state of the call's connection, or nil.
func peerTLS(ctx context.Context) *tls.ConnectionState {
	pr, ok := peer.FromContext(ctx)
	if !ok {
		return nil
	}
	if info, ok := pr.AuthInfo.(credentials.TLSInfo); ok {
		return &info.State
	}
	return nil
}
