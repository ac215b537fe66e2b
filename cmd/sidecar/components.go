package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	goredis "github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/trace"

	"github.com/tollgate/tollgate/counter"
	"github.com/tollgate/tollgate/counter/cassandra"
	"github.com/tollgate/tollgate/counter/countertrace"
	"github.com/tollgate/tollgate/counter/global"
	"github.com/tollgate/tollgate/counter/memory"
	"github.com/tollgate/tollgate/counter/pebble"
	"github.com/tollgate/tollgate/counter/redis"
	"github.com/tollgate/tollgate/internal/lifecycle"
	"github.com/tollgate/tollgate/internal/logadapt"
	"github.com/tollgate/tollgate/ratelimit"
)

// pinger answers whether a backend can serve, for /readyz.
type pinger interface {
	Ping(ctx context.Context) error
}

// backend is a best-effort counter backend as the sidecar runs it.
type backend interface {
	ratelimit.Counter
	pinger
}

// startBackend opens the planned best-effort backend and adds it to g;
// with tp, its calls are spans.
func startBackend(p *plan, g *lifecycle.Group, logger *slog.Logger, reg prometheus.Registerer, tp trace.TracerProvider) (backend, error) {
	b, err := openBackend(p, g, logger, reg)
	if err != nil || tp == nil {
		return b, err
	}
	return tracedBackend{countertrace.NewLimiter(b, tp, p.settings.Backend), b}, nil
}

// tracedBackend is a backend whose Apply calls are spans.
type tracedBackend struct {
	*countertrace.Limiter
	pinger
}

// openBackend opens the planned best-effort backend and adds it to g.
func openBackend(p *plan, g *lifecycle.Group, logger *slog.Logger, reg prometheus.Registerer) (backend, error) {
	if p.redis == nil {
		st := memory.New(memory.Options{Registerer: reg})
		g.Go("memory backend", st.Run, nil)
		return memoryBackend{st}, nil
	}
	opts := *p.redis
	opts.Logger, opts.Registerer = logger.With("component", "redis"), reg
	goredis.SetLogger(logadapt.Redis{L: logger.With("component", "go-redis")})
	st, err := redis.New(opts)
	if err != nil {
		return nil, fmt.Errorf("cannot open the redis backend: %w", err)
	}
	g.Defer("redis backend", st.Close)
	return st, nil
}

// memoryBackend is the in-process store, always reachable.
type memoryBackend struct{ *memory.Store }

// Ping reports the in-process store as always reachable.
func (memoryBackend) Ping(context.Context) error { return nil }

// eventStore is the durable event store as the sidecar runs it.
type eventStore interface {
	counter.EventStore
	pinger
}

// tracedStore is an event store whose calls are spans.
type tracedStore struct {
	*countertrace.Store
	pinger
}

// startCounters opens the planned event store and the counter namespaces
// on it, and adds both to g; with tp, the store's calls and the rollups are
// spans.
func startCounters(ctx context.Context, p *plan, g *lifecycle.Group, logger *slog.Logger, reg prometheus.Registerer, tp trace.TracerProvider) (*global.Counters, eventStore, error) {
	var store eventStore
	switch {
	case p.cassandra != nil:
		opts := *p.cassandra
		opts.Logger = logger
		st, err := cassandra.Open(ctx, opts)
		if err != nil {
			return nil, nil, fmt.Errorf("cannot open the counter store (counters.store cassandra): %w", err)
		}
		g.Defer("cassandra event store", st.Close)
		store = st
	default:
		opts := *p.pebble
		opts.Logger = logger
		st, err := pebble.Open(opts)
		if err != nil {
			return nil, nil, fmt.Errorf("cannot open the counter store (counters.store pebble): %w", err)
		}
		g.Go("pebble event store", st.Run, st.Close)
		store = st
	}
	if tp != nil {
		store = tracedStore{countertrace.NewStore(store, tp, p.settings.Counters.Store), store}
	}
	gopts := p.counters
	gopts.Store, gopts.Logger, gopts.Registerer, gopts.TracerProvider = store, logger, reg, tp
	c, err := global.New(gopts)
	if err != nil {
		return nil, nil, err
	}
	g.Go("counters", c.Run, c.Close)
	return c, store, nil
}
