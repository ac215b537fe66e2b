package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	goredis "github.com/redis/go-redis/v9"

	"github.com/tollgate/tollgate/counter"
	"github.com/tollgate/tollgate/counter/memory"
	"github.com/tollgate/tollgate/counter/redis"
	"github.com/tollgate/tollgate/internal/settings"
)

// bestEffortBackend is a best-effort counter backend as the sidecar runs it.
type bestEffortBackend interface {
	Apply(ctx context.Context, now time.Time, hits []counter.Hit, out []counter.Outcome) error
	Ping(ctx context.Context) error
	Close() error
}

// openBackend builds the configured best-effort counter backend.
func openBackend(s *settings.Settings, logger *slog.Logger, reg prometheus.Registerer) (bestEffortBackend, error) {
	switch s.Backend {
	case "redis":
		addrs, err := s.Redis.Addrs()
		if err != nil {
			return nil, err
		}
		goredis.SetLogger(redisLogger{logger.With("component", "go-redis")})
		st, err := redis.New(redis.Options{
			Mode:       redis.Mode(s.Redis.Mode),
			Addrs:      addrs,
			Password:   s.Redis.Password,
			Timeout:    s.Redis.Timeout,
			PoolSize:   s.Redis.PoolSize,
			Logger:     logger.With("component", "redis"),
			Registerer: reg,
		})
		if err != nil {
			return nil, fmt.Errorf("cannot open the redis backend: %w", err)
		}
		return st, nil
	default:
		return startMemory(), nil
	}
}

// memoryBackend runs a memory store with its sweeper until Close.
type memoryBackend struct {
	*memory.Store
	stop context.CancelFunc
	done chan struct{}
}

func startMemory() *memoryBackend {
	ctx, cancel := context.WithCancel(context.Background())
	b := &memoryBackend{Store: memory.New(memory.Options{}), stop: cancel, done: make(chan struct{})}
	go func() {
		defer close(b.done)
		_ = b.Run(ctx) // returns nil when ctx ends
	}()
	return b
}

// Ping reports the in-process store as always reachable.
func (b *memoryBackend) Ping(context.Context) error { return nil }

// Close stops the sweeper and waits for it.
func (b *memoryBackend) Close() error {
	b.stop()
	<-b.done
	return nil
}

// redisLogger sends go-redis's own messages (dial failures and the like) to
// the sidecar's logger at warn level instead of its process-wide stderr log.
type redisLogger struct{ l *slog.Logger }

// Printf implements go-redis's logging interface.
func (r redisLogger) Printf(ctx context.Context, format string, v ...any) {
	r.l.WarnContext(ctx, fmt.Sprintf(format, v...))
}
