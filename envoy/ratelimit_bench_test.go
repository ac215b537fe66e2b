package envoy

import (
	"context"
	"net"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	rlcommon "github.com/envoyproxy/go-control-plane/envoy/extensions/common/ratelimit/v3"
	rlsv3 "github.com/envoyproxy/go-control-plane/envoy/service/ratelimit/v3"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/tollgate/tollgate/counter/countertrace"
	"github.com/tollgate/tollgate/counter/memory"
	"github.com/tollgate/tollgate/internal/tracing"
	"github.com/tollgate/tollgate/ratelimit"
)

// benchScenarios are the requests of `make bench` (scripts/bench.sh), on
// examples/bench/ratelimit.yaml. unique_keys gets a new user value per call.
var benchScenarios = []struct {
	name    string
	entries [][2]string // one descriptor per pair
}{
	{"hot_key", [][2]string{{"hot", "k"}}},
	{"unique_keys", [][2]string{{"user", ""}}},
	{"three_descr", [][2]string{{"a", "1"}, {"b", "2"}, {"c", "3"}}},
	{"over_limit", [][2]string{{"over", "x"}}},
}

func benchRequest(entries [][2]string) *rlsv3.RateLimitRequest {
	r := &rlsv3.RateLimitRequest{Domain: "bench"}
	for _, e := range entries {
		r.Descriptors = append(r.Descriptors, &rlcommon.RateLimitDescriptor{
			Entries: []*rlcommon.RateLimitDescriptor_Entry{{Key: e[0], Value: e[1]}},
		})
	}
	return r
}

// startBenchServer serves the bench config on the memory backend over
// loopback TCP and returns conns clients, each on its own connection.
func startBenchServer(b *testing.B, conns int) []rlsv3.RateLimitServiceClient {
	b.Helper()
	cfg, err := ratelimit.LoadConfig("../examples/bench/ratelimit.yaml")
	if err != nil {
		b.Fatal(err)
	}
	svc, err := ratelimit.New(ratelimit.Options{Counter: memory.New(memory.Options{})}, cfg)
	if err != nil {
		b.Fatal(err)
	}
	srv := grpc.NewServer()
	rlsv3.RegisterRateLimitServiceServer(srv, NewRateLimitServer(svc, HeaderOptions{}, nil))
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go func() { _ = srv.Serve(lis) }()
	b.Cleanup(srv.Stop)
	clients := make([]rlsv3.RateLimitServiceClient, conns)
	for i := range clients {
		cc, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { cc.Close() })
		clients[i] = rlsv3.NewRateLimitServiceClient(cc)
	}
	return clients
}

// BenchmarkGRPCShouldRateLimit measures whole calls (client and server in
// this process, loopback TCP, memory backend) with 50 concurrent callers on
// 4 connections, as `make bench` does. allocs/op counts both sides.
func BenchmarkGRPCShouldRateLimit(b *testing.B) {
	for _, sc := range benchScenarios {
		b.Run(sc.name, func(b *testing.B) {
			clients := startBenchServer(b, 4)
			var worker atomic.Int64
			ctx := context.Background()
			b.SetParallelism(max(50/runtime.GOMAXPROCS(0), 1))
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				w := worker.Add(1)
				client := clients[w%int64(len(clients))]
				req := benchRequest(sc.entries)
				prefix := "u" + strconv.FormatInt(w, 10) + "-"
				for n := 0; pb.Next(); n++ {
					if sc.name == "unique_keys" {
						req.Descriptors[0].Entries[0].Value = prefix + strconv.Itoa(n)
					}
					if _, err := client.ShouldRateLimit(ctx, req); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkAdapter measures the proto <-> domain translation and the
// decision, without gRPC, on the memory backend.
func BenchmarkAdapter(b *testing.B) {
	cfg, err := ratelimit.LoadConfig("../examples/bench/ratelimit.yaml")
	if err != nil {
		b.Fatal(err)
	}
	svc, err := ratelimit.New(ratelimit.Options{Counter: memory.New(memory.Options{}), Now: func() time.Time { return time.Unix(1_700_000_000, 0) }}, cfg)
	if err != nil {
		b.Fatal(err)
	}
	s := NewRateLimitServer(svc, HeaderOptions{}, nil)
	benchAdapterScenarios(b, s)
}

// BenchmarkAdapterTraced is BenchmarkAdapter with tracing on at ratio 1,
// as the sidecar runs it: a span per decision and one per backend call
// (the batch processor, an exporter that drops the batches).
func BenchmarkAdapterTraced(b *testing.B) {
	cfg, err := ratelimit.LoadConfig("../examples/bench/ratelimit.yaml")
	if err != nil {
		b.Fatal(err)
	}
	p, err := tracing.New(tracing.Options{SamplingRatio: 1, Exporter: tracetest.NewNoopExporter()})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	backend := countertrace.NewLimiter(memory.New(memory.Options{}), p.TracerProvider(), "memory")
	svc, err := ratelimit.New(ratelimit.Options{Counter: backend, Now: func() time.Time { return time.Unix(1_700_000_000, 0) }}, cfg)
	if err != nil {
		b.Fatal(err)
	}
	s := NewRateLimitServer(svc, HeaderOptions{}, p.TracerProvider())
	benchAdapterScenarios(b, s)
}

// benchAdapterScenarios runs each scenario but unique_keys through s.
func benchAdapterScenarios(b *testing.B, s *RateLimitServer) {
	for _, sc := range benchScenarios {
		if sc.name == "unique_keys" {
			continue
		}
		b.Run(sc.name, func(b *testing.B) {
			req := benchRequest(sc.entries)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.ShouldRateLimit(ctx, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
