package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"

	"github.com/tollgate/tollgate/counter"
	"github.com/tollgate/tollgate/internal/lifecycle"
	"github.com/tollgate/tollgate/metering"
	"github.com/tollgate/tollgate/ratelimit"
)

// meteringService is metering with its own rate limiter and reporter.
type meteringService struct {
	*metering.Metering
	reporter *metering.Reporter
}

// countReader reads accurate counts for the quotas.
type countReader interface {
	GetCount(ctx context.Context, namespace, counterName string) (int64, error)
}

// startMetering opens metering as planned, on the counters, the event store
// and the best-effort backend, and adds it to g.
func startMetering(ctx context.Context, p *plan, g *lifecycle.Group, counts countReader, store counter.EventStore, backend ratelimit.Counter,
	logger *slog.Logger, reg prometheus.Registerer, tp trace.TracerProvider) (*meteringService, error) {
	mc := p.metering
	// The plans' rate limits get their own service on the shared registry:
	// its decisions show under domain tollgate_authz.
	limiter, err := ratelimit.New(ratelimit.Options{
		Counter: backend, Now: time.Now, Logger: logger.With("limiter", "authz"), FailureMode: mc.FailureMode, Registerer: reg,
	}, mc.RateLimitConfig())
	if err != nil {
		return nil, err
	}
	m, err := metering.Open(ctx, metering.Options{
		Config: mc, DataDir: p.settings.DataDir, Sink: metering.StoreSink{Store: store}, Counts: counts, RateLimiter: limiter,
		AcceptWindow: func(ns string) (time.Duration, time.Duration) {
			n := p.counters.Namespaces[ns]
			return n.AcceptLimit, n.FutureLimit
		},
		Now: time.Now, Logger: logger, Registerer: reg, TracerProvider: tp,
	})
	if err != nil {
		return nil, fmt.Errorf("cannot start metering: %w", err)
	}
	g.Go("metering", m.Run, m.Close)
	rep, err := metering.NewReporter(metering.ReporterOptions{
		Config: mc, Reader: store, ClosedMargin: p.closedMargin, Now: time.Now,
	})
	if err != nil {
		return nil, err
	}
	return &meteringService{Metering: m, reporter: rep}, nil
}
