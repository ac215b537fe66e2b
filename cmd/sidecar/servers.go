package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	alsv3 "github.com/envoyproxy/go-control-plane/envoy/service/accesslog/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	rlqsv3 "github.com/envoyproxy/go-control-plane/envoy/service/rate_limit_quota/v3"
	rlsv3 "github.com/envoyproxy/go-control-plane/envoy/service/ratelimit/v3"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"

	"github.com/tollgate/tollgate/counter/api"
	"github.com/tollgate/tollgate/counter/counterpb"
	"github.com/tollgate/tollgate/envoy"
	"github.com/tollgate/tollgate/internal/apiauth"
	"github.com/tollgate/tollgate/metering/httpapi"
	"github.com/tollgate/tollgate/ratelimit"
	"github.com/tollgate/tollgate/ratelimit/rlqs"
)

// shutdownGrace bounds how long in-flight calls may take to finish on stop.
const shutdownGrace = 10 * time.Second

// grpcStreamWorkers is the number of goroutines that serve gRPC calls; a call
// that finds them all busy gets a goroutine of its own, as without workers.
// Envoy keeps a few connections with tens of calls in flight, so 256 covers
// it; each idle worker holds one goroutine stack (a few KB).
const grpcStreamWorkers = 256

// services are what the listeners serve.
type services struct {
	rateLimit *ratelimit.Service
	quotas    *rlqs.Server
	counters  *api.Server
	meter     *meteringService // nil without metering
	backend   pinger
	store     pinger
	registry  *prometheus.Registry
	guard     *apiauth.Guard
	// grpcTLS and httpTLS serve TLS on their listener; nil: plaintext.
	grpcTLS, httpTLS *tls.Config
	// tracerProvider makes the Envoy services' spans; nil: tracing off.
	tracerProvider trace.TracerProvider
}

// servers are the gRPC and HTTP servers on their bound listeners.
type servers struct {
	grpc   *grpc.Server
	health *health.Server
	http   *http.Server
	gl, hl net.Listener
	quotas *rlqs.Server
}

// listen builds both servers and binds their listeners.
func listen(p *plan, svc services) (*servers, error) {
	s := p.settings
	rls := envoy.NewRateLimitServer(svc.rateLimit, envoy.HeaderOptions{
		Enabled:   s.RateLimit.ResponseHeaders.Enabled,
		Limit:     s.RateLimit.ResponseHeaders.Limit,
		Remaining: s.RateLimit.ResponseHeaders.Remaining,
		Reset:     s.RateLimit.ResponseHeaders.Reset,
	}, svc.tracerProvider)
	latency := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "tollgate_grpc_request_duration_seconds",
		Help:    "Time to answer one gRPC call, by method.",
		Buckets: latencyBuckets,
	}, []string{"method"})
	if err := svc.registry.Register(latency); err != nil {
		return nil, err
	}
	opts := []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(observeLatency(latency), svc.guard.UnaryServerInterceptor(grpcNeeds)),
		grpc.StreamInterceptor(svc.guard.StreamServerInterceptor(grpcNeeds)),
		// Long-lived workers keep the stacks they have grown; a goroutine per
		// call grows a fresh stack each time (14% of the CPU of a decision).
		grpc.NumStreamWorkers(grpcStreamWorkers),
	}
	if svc.grpcTLS != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(svc.grpcTLS)))
	}
	g := grpc.NewServer(opts...)
	rlsv3.RegisterRateLimitServiceServer(g, rls)
	rlqsv3.RegisterRateLimitQuotaServiceServer(g, envoy.NewRateLimitQuotaServer(svc.quotas, svc.tracerProvider))
	counterpb.RegisterCounterServiceServer(g, svc.counters)
	if svc.meter != nil {
		authv3.RegisterAuthorizationServer(g, envoy.NewAuthorizationServer(svc.meter, svc.tracerProvider))
		alsv3.RegisterAccessLogServiceServer(g, envoy.NewAccessLogServer(svc.meter, svc.tracerProvider))
	}
	healthSrv := health.NewServer()
	healthpb.RegisterHealthServer(g, healthSrv)
	reflection.Register(g)

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		pctx, pcancel := context.WithTimeout(r.Context(), time.Second)
		defer pcancel()
		if err := svc.backend.Ping(pctx); err != nil {
			http.Error(w, "not ready: "+s.Backend+" backend: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		if err := svc.store.Ping(pctx); err != nil {
			http.Error(w, "not ready: "+s.Counters.Store+" event store: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(svc.registry, promhttp.HandlerOpts{Registry: svc.registry}))
	guard := svc.guard
	mux.Handle("/json", guard.Require(rls.JSONHandler(), need(apiauth.Needs(apiauth.Admin))))
	mux.Handle("/v1/counter/", guard.Require(svc.counters.Handler(), need(apiauth.Credential)))
	if svc.meter != nil {
		mux.Handle("/v1/usage", guard.Require(httpapi.UsageHandler(svc.meter.reporter), usageNeed))
		mux.Handle("/v1/export", guard.Require(httpapi.ExportHandler(guardedReporter{svc.meter.reporter, guard}), exportNeed))
		mux.Handle("/v1/events", guard.Require(httpapi.EventsHandler(svc.meter), need(apiauth.Needs(apiauth.EventsWrite))))
	}
	mountConsole(mux, svc.meter, svc.registry, guard)

	gl, err := net.Listen("tcp", s.GRPCAddr)
	if err != nil {
		return nil, fmt.Errorf("cannot listen on --grpc-addr %s: %w", s.GRPCAddr, err)
	}
	hl, err := net.Listen("tcp", s.HTTPAddr)
	if err != nil {
		gl.Close()
		return nil, fmt.Errorf("cannot listen on --http-addr %s: %w", s.HTTPAddr, err)
	}
	if svc.httpTLS != nil {
		hl = tls.NewListener(hl, svc.httpTLS)
	}
	return &servers{grpc: g, health: healthSrv, http: &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second},
		gl: gl, hl: hl, quotas: svc.quotas}, nil
}

// runGRPC serves gRPC until ctx ends, then drains: health NOT_SERVING, the
// RLQS streams ended (Envoy reopens them elsewhere), calls in flight
// finished within shutdownGrace.
func (s *servers) runGRPC(ctx context.Context) error {
	served := make(chan error, 1)
	go func() { served <- s.grpc.Serve(s.gl) }()
	s.health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	s.health.Shutdown()
	_ = s.quotas.Close()
	stopped := make(chan struct{})
	go func() { s.grpc.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(shutdownGrace):
		s.grpc.Stop()
	}
	return nil
}

// runHTTP serves HTTP until ctx ends, then shuts down within shutdownGrace.
func (s *servers) runHTTP(ctx context.Context) error {
	served := make(chan error, 1)
	go func() { served <- s.http.Serve(s.hl) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	shCtx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := s.http.Shutdown(shCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("http shutdown: %w", err)
	}
	return nil
}

// latencyBuckets resolve sub-millisecond latencies (50µs up to 2.5s).
var latencyBuckets = []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}

// observeLatency records each unary call's duration by full method name.
func observeLatency(h *prometheus.HistogramVec) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		start := time.Now()
		resp, err := handler(ctx, req)
		h.WithLabelValues(info.FullMethod).Observe(time.Since(start).Seconds())
		return resp, err
	}
}
