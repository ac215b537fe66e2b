package redis

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/tollgate/tollgate/counter"
)

// Store is a best-effort counter backend on Redis. It is safe for concurrent
// use. Build it with New and release it with Close.
type Store struct {
	opts    Options
	client  goredis.UniversalClient
	where   string // mode and addresses, for error texts
	sliding script
	bucket  script
	b       *batcher
	co      *coalescer      // nil when coalescing is disabled
	ol      *overLimitCache // nil when the over-limit cache is disabled
	m       *metrics
	br      *breaker
	lastLog atomic.Int64 // Unix nanoseconds of the last error log

	mu      sync.RWMutex // guards closed against new flushes
	closed  bool
	flushes sync.WaitGroup
}

// script is a Lua script and its SHA-1 for EVALSHA.
type script struct{ src, sha string }

func newScript(src string) script {
	sum := sha1.Sum([]byte(src))
	return script{src: src, sha: hex.EncodeToString(sum[:])}
}

// errClosed fails coalesced hits that were still waiting when the Store closed.
var errClosed = errors.New("counter/redis: store is closed (do not call Apply after Close)")

// New returns a Store for opts. It does not connect: connections are made on
// first use, so New succeeds while Redis is down and the Store recovers by
// itself once Redis is back. It fails only on invalid options or when the
// metrics cannot be registered.
func New(opts Options) (*Store, error) {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, fmt.Errorf("counter/redis: cannot register metrics: %w (give the Store a registry it has not registered on)", err)
	}
	opts.Logger = opts.Logger.With("component", "counter/redis")
	s := &Store{
		opts:    opts,
		client:  newClient(&opts),
		where:   where(&opts),
		sliding: newScript(slidingScript),
		bucket:  newScript(bucketScript),
		ol:      newOverLimitCache(opts.OverLimitCacheSize),
		m:       m,
		br:      &breaker{threshold: int32(opts.BreakerThreshold), cooldown: opts.BreakerCooldown, m: m},
	}
	if !opts.DisableCoalescing {
		s.co = newCoalescer()
	}
	s.b = newBatcher(s.client, opts.Timeout, opts.Pipelines)
	return s, nil
}

// where names the servers of o in error texts: mode, TLS and addresses.
func where(o *Options) string {
	if o.TLS != nil {
		return string(o.Mode) + " tls " + strings.Join(o.Addrs, ",")
	}
	return string(o.Mode) + " " + strings.Join(o.Addrs, ",")
}

// newClient builds the go-redis client. Every wait is bounded by Timeout:
// dialling (one attempt), waiting for a pooled connection, socket reads and
// writes; context deadlines are honoured, and retries are off unless asked.
// Pipelines share the main pool.
func newClient(o *Options) goredis.UniversalClient {
	retries := o.MaxRetries
	if retries == 0 {
		retries = -1 // go-redis reads 0 as "the default, 3"
	}
	t := o.Timeout
	switch o.Mode {
	case ModeCluster:
		return goredis.NewClusterClient(&goredis.ClusterOptions{
			Addrs: o.Addrs, Username: o.Username, Password: o.Password, TLSConfig: o.TLS,
			MaxRetries: retries, DialTimeout: t, DialerRetries: 1, ReadTimeout: t, WriteTimeout: t,
			ContextTimeoutEnabled: true, PoolSize: o.PoolSize, PoolTimeout: t, PipelinePoolSize: -1,
			DisableIdentity:          true,
			MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
		})
	case ModeRing:
		addrs := make(map[string]string, len(o.Addrs))
		for _, a := range o.Addrs {
			addrs[a] = a // the address names the shard, so the order of Addrs does not matter
		}
		return goredis.NewRing(&goredis.RingOptions{
			Addrs: addrs, Username: o.Username, Password: o.Password, DB: o.DB, TLSConfig: o.TLS,
			MaxRetries: retries, DialTimeout: t, DialerRetries: 1, ReadTimeout: t, WriteTimeout: t,
			ContextTimeoutEnabled: true, PoolSize: o.PoolSize, PoolTimeout: t, PipelinePoolSize: -1,
			DisableIdentity: true,
		})
	default:
		return goredis.NewClient(&goredis.Options{
			Addr: o.Addrs[0], Username: o.Username, Password: o.Password, DB: o.DB, TLSConfig: o.TLS,
			MaxRetries: retries, DialTimeout: t, DialerRetries: 1, ReadTimeout: t, WriteTimeout: t,
			ContextTimeoutEnabled: true, PoolSize: o.PoolSize, PoolTimeout: t, PipelinePoolSize: -1,
			DisableIdentity:          true,
			MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
		})
	}
}

// detach returns a context that keeps ctx's values but not its cancellation
// or deadline, bounded by Timeout instead. A caller that gives up must not
// make go-redis drop a connection with a reply still in flight.
func (s *Store) detach(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), s.opts.Timeout)
}

// Ping checks that every server (each cluster master, each ring shard)
// answers within Options.Timeout. Its error wraps counter.ErrUnavailable.
func (s *Store) Ping(ctx context.Context) error {
	// With the breaker open, a Ping after the cooldown is its probe (a
	// sidecar taken out of rotation gets no decisions to probe with).
	ok, probe := s.br.allow(s.opts.Now())
	if !ok {
		_, since := s.br.open()
		return fmt.Errorf("counter/redis: %s: %w: circuit breaker open since %s (decisions follow the failure mode until a probe succeeds)",
			s.where, counter.ErrUnavailable, since.UTC().Format(time.RFC3339Nano))
	}
	err := s.ping(ctx)
	if probe || err != nil {
		s.br.done(s.opts.Now(), probe, err != nil)
	}
	return err
}

// ping checks every server once, within Options.Timeout.
func (s *Store) ping(ctx context.Context) error {
	rctx, cancel := s.detach(ctx)
	defer cancel()
	ping := func(ctx context.Context, c *goredis.Client) error { return c.Ping(ctx).Err() }
	var err error
	switch c := s.client.(type) {
	case *goredis.ClusterClient:
		err = c.ForEachMaster(rctx, ping)
	case *goredis.Ring:
		err = c.ForEachShard(rctx, ping)
	default:
		err = s.client.Ping(rctx).Err()
	}
	if err != nil {
		return fmt.Errorf("counter/redis: cannot ping %s: %w: %w (%s)", s.where, counter.ErrUnavailable, err, hint(err, "check that redis is up and reachable"))
	}
	return nil
}

// Close waits for merged increments in flight and closes the connections.
// It may be called more than once; later calls return nil.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.flushes.Wait()
	s.b.close()
	if err := s.client.Close(); err != nil {
		return fmt.Errorf("counter/redis: cannot close client for %s: %w", s.where, err)
	}
	return nil
}

// logError logs err at most once a second.
func (s *Store) logError(err error) {
	now := s.opts.Now().UnixNano()
	last := s.lastLog.Load()
	if now-last < int64(time.Second) || !s.lastLog.CompareAndSwap(last, now) {
		return
	}
	s.opts.Logger.Warn("redis counter operation failed", "backend", "redis", "error", err)
}

// fixedKey is prefix "f:" key ":" window index. The index has no ':', so
// the key stays unambiguous whatever key holds.
func fixedKey(prefix, key string, idx int64) string {
	var b strings.Builder
	b.Grow(len(prefix) + len(key) + 23)
	b.WriteString(prefix)
	b.WriteString("f:")
	b.WriteString(key)
	b.WriteByte(':')
	var num [20]byte
	b.Write(strconv.AppendInt(num[:0], idx, 10))
	return b.String()
}

// floorDiv is a/b rounded towards minus infinity, for b > 0.
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b < 0 {
		q--
	}
	return q
}

// ceilMs rounds nanoseconds up to whole milliseconds, at least 1.
func ceilMs(ns int64) int64 {
	return max((ns+int64(time.Millisecond)-1)/int64(time.Millisecond), 1)
}
