package apiauth

import (
	"context"
	"crypto/tls"
	"net"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	"github.com/tollgate/tollgate/counter/counterpb"
)

// fakeCounters answers every admitted call with count 7, after the counter
// API's hook.
type fakeCounters struct {
	counterpb.UnimplementedCounterServiceServer
	g *Guard
}

func (f *fakeCounters) GetCount(ctx context.Context, r *counterpb.GetCountRequest) (*counterpb.CountResponse, error) {
	if err := f.g.CheckCounter(ctx, CounterRead, r.GetNamespace(), r.GetCounterName()); err != nil {
		return nil, status.Error(codes.PermissionDenied, err.Error())
	}
	return &counterpb.CountResponse{Count: 7}, nil
}

func (f *fakeCounters) ClearCount(ctx context.Context, r *counterpb.ClearCountRequest) (*counterpb.ClearCountResponse, error) {
	if err := f.g.CheckCounter(ctx, CounterClear, r.GetNamespace(), r.GetCounterName()); err != nil {
		return nil, status.Error(codes.PermissionDenied, err.Error())
	}
	return &counterpb.ClearCountResponse{}, nil
}

// startGRPC serves the counter service (Credential), health (admin, to test
// streams) and reflection (unlisted, so refused) behind g over bufconn.
func startGRPC(t *testing.T, g *Guard) *grpc.ClientConn {
	t.Helper()
	rule := ByService(map[string]Need{
		counterpb.CounterService_ServiceDesc.ServiceName: Credential,
		healthpb.Health_ServiceDesc.ServiceName:          Needs(Admin),
	})
	srv := grpc.NewServer(grpc.ChainUnaryInterceptor(g.UnaryServerInterceptor(rule)),
		grpc.ChainStreamInterceptor(g.StreamServerInterceptor(rule)))
	counterpb.RegisterCounterServiceServer(srv, &fakeCounters{g: g})
	healthpb.RegisterHealthServer(srv, health.NewServer())
	reflection.Register(srv)
	lis := bufconn.Listen(1 << 20)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	cc, err := grpc.NewClient("passthrough:///bufconn",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	return cc
}

func TestInterceptors(t *testing.T) {
	g, _ := newTestGuard(t, testConfig)
	cc := startGRPC(t, g)
	counters := counterpb.NewCounterServiceClient(cc)
	hc := healthpb.NewHealthClient(cc)
	call := func(authz []string, method string) error {
		ctx := context.Background()
		for _, a := range authz {
			ctx = metadata.AppendToOutgoingContext(ctx, "authorization", a)
		}
		switch method {
		case "get":
			r, err := counters.GetCount(ctx, &counterpb.GetCountRequest{Namespace: "requests", CounterName: "acme"})
			if err == nil && r.GetCount() != 7 {
				t.Errorf("count %d", r.GetCount())
			}
			return err
		case "clear":
			_, err := counters.ClearCount(ctx, &counterpb.ClearCountRequest{Namespace: "requests", CounterName: "acme"})
			return err
		case "watch":
			s, err := hc.Watch(ctx, &healthpb.HealthCheckRequest{})
			if err != nil {
				return err
			}
			r, err := s.Recv()
			if err == nil && r.GetStatus() != healthpb.HealthCheckResponse_SERVING {
				t.Errorf("health %v", r.GetStatus())
			}
			return err
		case "reflection":
			return reflectionCall(ctx, cc)
		}
		t.Fatalf("unknown method %s", method)
		return nil
	}
	bearer := func(tok string) []string { return []string{"Bearer " + tok} }
	for _, c := range []struct {
		name   string
		authz  []string
		method string
		code   codes.Code
		msg    string
	}{
		{"no credentials", nil, "get", codes.Unauthenticated, msgNoCreds},
		{"malformed", []string{"Token abc"}, "get", codes.Unauthenticated, msgMalformed},
		{"unknown token", bearer("reader-token-0123456789aX"), "get", codes.Unauthenticated, msgBadToken},
		{"two values", []string{"Bearer " + tokReader, "Bearer " + tokReader}, "get", codes.Unauthenticated, "2 Authorization values; send one"},
		{"read", bearer(tokReader), "get", codes.OK, ""},
		{"read, lower-case scheme", []string{"bearer " + tokReader}, "get", codes.OK, ""},
		{"clear without scope", bearer(tokReader), "clear", codes.PermissionDenied, `credential "reader" lacks the scope counters:clear:requests`},
		{"admin clears billing", bearer(tokOps), "clear", codes.PermissionDenied, `namespace "requests" is owned by meter "requests": writes and clears through the counter API are refused (hint: only a credential holding the scope counters:write-billing may correct billing counters)`},
		{"billing admin clears billing", bearer(tokBilling), "clear", codes.OK, ""},
		{"stream, admin", bearer(tokOps), "watch", codes.OK, ""},
		{"stream, not admin", bearer(tokReader), "watch", codes.PermissionDenied, `credential "reader" lacks the scope admin`},
		{"stream, no credentials", nil, "watch", codes.Unauthenticated, msgNoCreds},
		{"unlisted service", bearer(tokOps), "reflection", codes.PermissionDenied, "this endpoint is not open to any credential"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := call(c.authz, c.method)
			if st := status.Convert(err); st.Code() != c.code || st.Message() != c.msg {
				t.Errorf("%s: %v %q, want %v %q", c.method, st.Code(), st.Message(), c.code, c.msg)
			}
		})
	}
}

// reflectionCall opens a reflection stream and reads one answer (the
// interceptor refuses before the message is decoded, so any message will
// do).
func reflectionCall(ctx context.Context, cc *grpc.ClientConn) error {
	s, err := cc.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true, ClientStreams: true}, "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo")
	if err != nil {
		return err
	}
	if err := s.SendMsg(&healthpb.HealthCheckRequest{}); err != nil {
		return err
	}
	return s.RecvMsg(&healthpb.HealthCheckResponse{})
}

// fakeStream is a server stream with a given context.
type fakeStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *fakeStream) Context() context.Context { return s.ctx }

// The Envoy-facing services take only the identities envoy_identities
// lists; the peer's TLS state comes from the gRPC peer. The interceptors
// are called directly so the TLS state can be set without a handshake.
func TestEnvoyPeer(t *testing.T) {
	rule := func(string) Need { return EnvoyPeer }
	withPeer := func(ids string) context.Context {
		ctx := context.Background()
		if ids == "" {
			return ctx
		}
		return peer.NewContext(ctx, &peer.Peer{AuthInfo: credentials.TLSInfo{State: tls.ConnectionState{ServerName: ids}}})
	}
	f := func(g *Guard, ids string, code codes.Code, msg string) {
		t.Helper()
		var reached int
		_, err := g.UnaryServerInterceptor(rule)(withPeer(ids), nil, &grpc.UnaryServerInfo{FullMethod: "/envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit"},
			func(ctx context.Context, _ any) (any, error) { reached++; return nil, nil })
		serr := g.StreamServerInterceptor(rule)(nil, &fakeStream{ctx: withPeer(ids)}, &grpc.StreamServerInfo{FullMethod: "/envoy.service.rate_limit_quota.v3.RateLimitQuotaService/StreamRateLimitQuotas"},
			func(any, grpc.ServerStream) error { reached++; return nil })
		for _, e := range []error{err, serr} {
			if st := status.Convert(e); st.Code() != code || st.Message() != msg {
				t.Errorf("peer %q: %v %q, want %v %q", ids, st.Code(), st.Message(), code, msg)
			}
		}
		if want := map[bool]int{true: 2, false: 0}[code == codes.OK]; reached != want {
			t.Errorf("peer %q: handlers reached %d times, want %d", ids, reached, want)
		}
	}
	g, _ := newTestGuard(t, testConfig)
	f(g, "spiffe://example.org/ns/edge/sa/envoy", codes.OK, "")
	f(g, "envoy.internal spiffe://example.org/ns/edge/sa/envoy", codes.OK, "")
	f(g, "spiffe://example.org/ns/edge/sa/other", codes.PermissionDenied, "the client certificate's identity is not one api_auth.envoy_identities lists")
	f(g, "", codes.Unauthenticated, "the Envoy-facing services need a client certificate whose identity api_auth.envoy_identities lists")
	// Without envoy_identities the services take any client.
	open, _ := newTestGuard(t, Config{Tokens: testConfig.Tokens})
	f(open, "", codes.OK, "")
}

// The stream handler sees the principal the interceptor authenticated.
func TestStreamPrincipal(t *testing.T) {
	g, _ := newTestGuard(t, testConfig)
	ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs("authorization", "Bearer "+tokAcme))
	var got string
	err := g.StreamServerInterceptor(func(string) Need { return Credential })(nil, &fakeStream{ctx: ctx}, &grpc.StreamServerInfo{FullMethod: "/x.Y/Z"},
		func(_ any, ss grpc.ServerStream) error { got = FromContext(ss.Context()).Name(); return nil })
	if err != nil || got != "acme" {
		t.Fatalf("principal %q, err %v", got, err)
	}
}
