package apiauth

import (
	"context"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

var sinkErr error

// Envoy calls (every RLS and ext_authz request) pass the interceptor
// without an allocation while envoy_identities is empty.
func TestEnvoyPathAllocs(t *testing.T) {
	g, _ := newTestGuard(t, Config{Tokens: testConfig.Tokens})
	icpt := g.UnaryServerInterceptor(func(string) Need { return EnvoyPeer })
	info := &grpc.UnaryServerInfo{FullMethod: "/envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit"}
	ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs("x", "y"))
	handler := func(context.Context, any) (any, error) { return nil, nil }
	if n := testing.AllocsPerRun(100, func() { _, sinkErr = icpt(ctx, nil, info, handler) }); n != 0 {
		t.Fatalf("%v allocations per Envoy call, want 0", n)
	}
}

// BenchmarkTokenCall is one gRPC call authenticated by a bearer token
// against the five test tokens.
func BenchmarkTokenCall(b *testing.B) {
	var t testing.T
	g, _ := newTestGuard(&t, testConfig)
	icpt := g.UnaryServerInterceptor(func(string) Need { return Credential })
	info := &grpc.UnaryServerInfo{FullMethod: "/tollgate.counter.v1.CounterService/GetCount"}
	ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs("authorization", "Bearer "+tokBilling))
	handler := func(context.Context, any) (any, error) { return nil, nil }
	b.ReportAllocs()
	for b.Loop() {
		_, sinkErr = icpt(ctx, nil, info, handler)
	}
	if sinkErr != nil {
		b.Fatal(sinkErr)
	}
}
