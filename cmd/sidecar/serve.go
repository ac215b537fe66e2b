package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	alsv3 "github.com/envoyproxy/go-control-plane/envoy/service/accesslog/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	rlqsv3 "github.com/envoyproxy/go-control-plane/envoy/service/rate_limit_quota/v3"
	rlsv3 "github.com/envoyproxy/go-control-plane/envoy/service/ratelimit/v3"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"

	"github.com/tollgate/tollgate/counter/api"
	"github.com/tollgate/tollgate/counter/counterpb"
	"github.com/tollgate/tollgate/envoy"
	"github.com/tollgate/tollgate/internal/settings"
	"github.com/tollgate/tollgate/metering/httpapi"
	"github.com/tollgate/tollgate/ratelimit"
	"github.com/tollgate/tollgate/ratelimit/rlqs"
)

// shutdownGrace bounds how long in-flight calls may take to finish on stop.
const shutdownGrace = 10 * time.Second

// defaultGCPercent is the sidecar's GOGC unless the environment sets one: its
// live heap is small (a few MB), so Go's default of 100 collects dozens of
// times a second under load; 400 cut CPU per decision by about a quarter for
// about 10 MB more memory (measured with `make bench`).
const defaultGCPercent = 400

// grpcStreamWorkers is the number of goroutines that serve gRPC calls; a call
// that finds them all busy gets a goroutine of its own, as without workers.
// Envoy keeps a few connections with tens of calls in flight, so 256 covers
// it; each idle worker holds one goroutine stack (a few KB).
const grpcStreamWorkers = 256

func serve(args []string) int {
	cf := newConfigFlags("serve", "Runs the sidecar: on gRPC Envoy's rate-limit, ext_authz and access log services and the counter API; on HTTP health, metrics, /json, the counter API, usage and export.")
	s, err := cf.parse(args)
	if err != nil {
		return exitCode(err)
	}
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGCPercent)
	}
	logger := newLogger(s.LogLevel)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := runServer(ctx, s, logger, nil); err != nil {
		logger.Error("sidecar stopped", "err", err)
		return 1
	}
	return 0
}

func newLogger(level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level)) // validated by settings
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: l}))
}

// listeners are the sidecar's bound addresses, reported once serving.
type listeners struct {
	GRPC, HTTP string
}

// runServer builds every component from s, serves until ctx is done, then
// drains: health NOT_SERVING, graceful gRPC stop, HTTP shutdown, metering
// flushed, counters drained, backends closed. ready, when not nil, receives
// the bound addresses once serving.
func runServer(ctx context.Context, s *settings.Settings, logger *slog.Logger, ready chan<- listeners) error {
	start := time.Now()
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	meterCfg, err := parseMetering(s)
	if err != nil {
		return fmt.Errorf("cannot load the metering config:\n%w", err)
	}
	nsOpts, err := namespaceOptions(s)
	if err != nil {
		return err
	}
	meteringNamespaces(meterCfg, nsOpts)

	backend, err := openBackend(s, logger, reg)
	if err != nil {
		return err
	}
	defer backend.Close()

	counters, err := openCounters(ctx, s, nsOpts, logger, reg)
	if err != nil {
		return fmt.Errorf("cannot open the counter store (counters.store %s): %w", s.Counters.Store, err)
	}
	defer counters.Close()
	counterAPI := api.NewServer(counters)

	cfg, err := ratelimit.LoadConfig(rateLimitPaths(s)...)
	if err != nil {
		return fmt.Errorf("cannot load rate-limit config:\n%w", err)
	}
	failure := ratelimit.FailOpen
	if s.RateLimit.FailureMode == "fail_closed" {
		failure = ratelimit.FailClosed
	}
	svc, err := ratelimit.New(ratelimit.Options{
		Counter:          backend,
		Now:              time.Now,
		Logger:           logger,
		Registerer:       reg,
		GlobalShadowMode: s.RateLimit.ShadowMode,
		FailureMode:      failure,
	}, cfg)
	if err != nil {
		return err
	}

	quotas, err := rlqs.New(rlqs.Options{
		Config: svc.Config, Counter: backend, Shared: s.Backend == "redis", GlobalShadowMode: s.RateLimit.ShadowMode,
		Now: time.Now, Logger: logger, Registerer: reg,
	})
	if err != nil {
		return err
	}
	defer quotas.Close()

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	quotasDone := make(chan error, 1)
	go func() { quotasDone <- quotas.Run(runCtx) }()

	var meter *meteringService
	meterDone := make(chan error, 1)
	if meterCfg != nil {
		meter, err = openMetering(meterCfg, s, counters, backend, logger, reg)
		if err != nil {
			return fmt.Errorf("cannot start metering: %w", err)
		}
		// Closed after the gRPC server stops, before the counters close (LIFO).
		defer meter.Close()
		go func() { meterDone <- meter.Run(runCtx) }()
	} else {
		meterDone <- nil
	}
	watchDone := make(chan error, 1)
	if s.RateLimit.Config != "" {
		go func() {
			watchDone <- ratelimit.Watch(runCtx, s.RateLimit.Config, ratelimit.WatchOptions{
				Logger:     logger,
				Registerer: reg,
				OnLoad:     svc.SetConfig,
			})
		}()
	} else {
		watchDone <- nil
	}

	rls := envoy.NewRateLimitServer(svc, envoy.HeaderOptions{
		Enabled:   s.RateLimit.ResponseHeaders.Enabled,
		Limit:     s.RateLimit.ResponseHeaders.Limit,
		Remaining: s.RateLimit.ResponseHeaders.Remaining,
		Reset:     s.RateLimit.ResponseHeaders.Reset,
	})
	latency := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "tollgate_grpc_request_duration_seconds",
		Help:    "Time to answer one gRPC call, by method.",
		Buckets: latencyBuckets,
	}, []string{"method"})
	reg.MustRegister(latency)

	grpcSrv := grpc.NewServer(
		grpc.UnaryInterceptor(observeLatency(latency)),
		// Long-lived workers keep the stacks they have grown; a goroutine per
		// call grows a fresh stack each time (14% of the CPU of a decision).
		grpc.NumStreamWorkers(grpcStreamWorkers),
	)
	rlsv3.RegisterRateLimitServiceServer(grpcSrv, rls)
	rlqsv3.RegisterRateLimitQuotaServiceServer(grpcSrv, envoy.NewRateLimitQuotaServer(quotas))
	counterpb.RegisterCounterServiceServer(grpcSrv, counterAPI)
	if meter != nil {
		authv3.RegisterAuthorizationServer(grpcSrv, envoy.NewAuthorizationServer(meter))
		alsv3.RegisterAccessLogServiceServer(grpcSrv, envoy.NewAccessLogServer(meter))
	}
	healthSrv := health.NewServer()
	healthpb.RegisterHealthServer(grpcSrv, healthSrv)
	reflection.Register(grpcSrv)

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		pctx, pcancel := context.WithTimeout(r.Context(), time.Second)
		defer pcancel()
		if err := backend.Ping(pctx); err != nil {
			http.Error(w, "not ready: "+s.Backend+" backend: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		if _, err := counters.store.LastWrite(pctx, "_tollgate", "readyz"); err != nil {
			http.Error(w, "not ready: "+s.Counters.Store+" event store: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.Handle("/json", rls.JSONHandler())
	mux.Handle("/v1/counter/", counterAPI.Handler())
	if meter != nil {
		mux.Handle("/v1/usage", httpapi.UsageHandler(meter.reporter))
		mux.Handle("/v1/export", httpapi.ExportHandler(meter.reporter))
	}
	mountConsole(mux, meter, reg)
	httpSrv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}

	gl, err := net.Listen("tcp", s.GRPCAddr)
	if err != nil {
		return fmt.Errorf("cannot listen on --grpc-addr %s: %w", s.GRPCAddr, err)
	}
	hl, err := net.Listen("tcp", s.HTTPAddr)
	if err != nil {
		gl.Close()
		return fmt.Errorf("cannot listen on --http-addr %s: %w", s.HTTPAddr, err)
	}
	serveErr := make(chan error, 2)
	go func() { serveErr <- grpcSrv.Serve(gl) }()
	go func() { serveErr <- httpSrv.Serve(hl) }()
	healthSrv.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	logger.Info("sidecar serving",
		"grpc_addr", gl.Addr().String(), "http_addr", hl.Addr().String(),
		"backend", s.Backend, "counter_store", s.Counters.Store, "ratelimit_config", s.RateLimit.Config,
		"domains", len(cfg.Domains()), "metering", meter != nil, "startup", time.Since(start).Round(time.Millisecond))
	if ready != nil {
		ready <- listeners{GRPC: gl.Addr().String(), HTTP: hl.Addr().String()}
	}

	var runErr error
	select {
	case <-ctx.Done():
	case err := <-serveErr:
		runErr = fmt.Errorf("server failed: %w", err)
	}
	logger.Info("sidecar draining")
	healthSrv.Shutdown()
	quotas.Close() // ends the RLQS streams, which GracefulStop would wait for
	stopped := make(chan struct{})
	go func() { grpcSrv.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(shutdownGrace):
		grpcSrv.Stop()
	}
	shCtx, shCancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer shCancel()
	if err := httpSrv.Shutdown(shCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		logger.Warn("http shutdown", "err", err)
	}
	cancel()
	if err := <-watchDone; err != nil && !errors.Is(err, context.Canceled) {
		logger.Warn("config watcher stopped", "err", err)
	}
	if err := <-quotasDone; err != nil {
		logger.Warn("rlqs stopped", "err", err)
	}
	if err := <-meterDone; err != nil && !errors.Is(err, context.Canceled) {
		logger.Warn("metering stopped", "err", err)
	}
	logger.Info("sidecar stopped")
	return runErr
}

// rateLimitPaths returns the configured rate-limit config path, if any.
func rateLimitPaths(s *settings.Settings) []string {
	if s.RateLimit.Config == "" {
		return nil
	}
	return []string{s.RateLimit.Config}
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
