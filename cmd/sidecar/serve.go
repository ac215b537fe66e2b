package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/tollgate/tollgate/counter/api"
	"github.com/tollgate/tollgate/internal/lifecycle"
	"github.com/tollgate/tollgate/internal/settings"
	"github.com/tollgate/tollgate/ratelimit"
	"github.com/tollgate/tollgate/ratelimit/rlqs"
)

// defaultGCPercent is the sidecar's GOGC unless the environment sets one: its
// live heap is small (a few MB), so Go's default of 100 collects dozens of
// times a second under load; 400 cut CPU per decision by about a quarter for
// about 10 MB more memory (measured with `make bench`).
const defaultGCPercent = 400

func serve(args []string) int {
	cf := newConfigFlags("serve", "Runs the sidecar: on gRPC Envoy's rate-limit, rate limit quota, ext_authz and access log services and the counter API; on HTTP health, metrics, /json, the counter API, usage, export and events.")
	s, err := cf.parse(args)
	if err != nil {
		return exitCode(err)
	}
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGCPercent)
	}
	logger := newLogger(os.Stderr, s.LogLevel, s.LogFormat)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := runServer(ctx, s, logger, nil); err != nil {
		logger.Error("sidecar stopped", "err", err)
		return 1
	}
	return 0
}

// newLogger returns the process's logger on w at level, in format (text or
// json; both validated by settings).
func newLogger(w io.Writer, level, format string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	opts := &slog.HandlerOptions{Level: l}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// listeners are the sidecar's bound addresses, reported once serving.
type listeners struct {
	GRPC, HTTP string
}

// runServer plans the components from s (as check-config does), starts
// them in one lifecycle group, serves until ctx is done or a component
// fails, then drains them in reverse: servers (health NOT_SERVING, RLQS
// streams ended, graceful stop), config watcher, RLQS, metering (spool
// flushed), counters (rollups drained), event store, backend. ready, when
// not nil, receives the bound addresses once serving.
func runServer(ctx context.Context, s *settings.Settings, logger *slog.Logger, ready chan<- listeners) (err error) {
	start := time.Now()
	p, err := newPlan(s)
	if err != nil {
		return fmt.Errorf("invalid configuration:\n%w", err)
	}
	for _, w := range p.warnings {
		logger.Warn(w)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	g := lifecycle.New()
	defer func() {
		logger.Info("sidecar draining")
		err = errors.Join(err, g.Stop())
		logger.Info("sidecar stopped")
	}()

	tp, err := startTracing(p, g, logger)
	if err != nil {
		return err
	}
	backend, err := startBackend(p, g, logger, reg, tp)
	if err != nil {
		return err
	}
	counters, store, err := startCounters(ctx, p, g, logger, reg, tp)
	if err != nil {
		return err
	}
	svc, err := ratelimit.New(ratelimit.Options{
		Counter: backend, Now: time.Now, Logger: logger, Registerer: reg,
		GlobalShadowMode: s.RateLimit.ShadowMode, FailureMode: s.RateLimit.FailureMode,
	}, p.rateLimit)
	if err != nil {
		return err
	}
	var meter *meteringService
	if p.metering != nil {
		if meter, err = startMetering(ctx, p, g, counters, store, backend, logger, reg, tp); err != nil {
			return err
		}
	}
	rlqsOpts := rlqs.Options{
		Config: svc.Config, Counter: backend, Shared: p.redis != nil, GlobalShadowMode: s.RateLimit.ShadowMode,
		Now: time.Now, Logger: logger, Registerer: reg,
	}
	if meter != nil {
		rlqsOpts.OnUsage = meter.RecordRLQS
	}
	quotas, err := rlqs.New(rlqsOpts)
	if err != nil {
		return err
	}
	g.Go("rlqs", quotas.Run, quotas.Close)
	if s.RateLimit.Config != "" {
		g.Go("rate-limit config watcher", func(ctx context.Context) error {
			return ratelimit.Watch(ctx, s.RateLimit.Config, ratelimit.WatchOptions{Logger: logger, Registerer: reg, OnLoad: svc.SetConfig})
		}, nil)
	}
	guard, err := newGuard(p, logger)
	if err != nil {
		return err
	}
	grpcTLS, err := startTLS(p.grpcTLS, "grpc", g, logger, reg)
	if err != nil {
		return err
	}
	httpTLS, err := startTLS(p.httpTLS, "http", g, logger, reg)
	if err != nil {
		return err
	}
	srv, err := listen(p, services{rateLimit: svc, quotas: quotas, counters: api.NewServer(counters, api.Options{Authorizer: guard, TracerProvider: tp}),
		meter: meter, backend: backend, store: store, registry: reg, guard: guard, grpcTLS: grpcTLS, httpTLS: httpTLS, tracerProvider: tp})
	if err != nil {
		return err
	}
	g.Go("http server", srv.runHTTP, nil)
	g.Go("grpc server", srv.runGRPC, nil)
	logger.Info("sidecar serving",
		"grpc_addr", srv.gl.Addr().String(), "http_addr", srv.hl.Addr().String(),
		"grpc_tls", grpcTLS != nil, "http_tls", httpTLS != nil, "api_auth", !guard.Open(),
		"backend", s.Backend, "counter_store", s.Counters.Store, "ratelimit_config", s.RateLimit.Config,
		"domains", len(p.rateLimit.Domains()), "metering", meter != nil, "tracing", tp != nil, "startup", time.Since(start).Round(time.Millisecond))
	if ready != nil {
		ready <- listeners{GRPC: srv.gl.Addr().String(), HTTP: srv.hl.Addr().String()}
	}
	select {
	case <-ctx.Done():
		return nil
	case err := <-g.Failed():
		return fmt.Errorf("server failed: %w", err)
	}
}
