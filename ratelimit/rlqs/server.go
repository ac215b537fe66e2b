package rlqs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tollgate/tollgate/ratelimit"
)

// Options configures a Server.
type Options struct {
	// Config returns the rate-limit rules in use; when it returns another
	// config than before, every assignment is evaluated again. Required.
	Config func() *ratelimit.Config
	// Counter is the best-effort backend the replicas share. Required.
	Counter ratelimit.Counter
	// Shared says other replicas use the same Counter (Redis): each replica
	// then publishes its streams' demand there and takes the part of every
	// limit that its demand is of the total. Default: false (one process).
	Shared bool
	// GlobalShadowMode assigns ALLOW_ALL to every bucket while still
	// counting what would have been limited.
	GlobalShadowMode bool
	// OnUsage, when set, receives the requests each report allowed, per
	// bucket (meters fed by RLQS). Envoy does not resend a report: what
	// OnUsage fails to keep is lost.
	OnUsage func(ctx context.Context, usage []Allowed) error
	// Now is the clock. Default: time.Now.
	Now func() time.Time
	// Logger receives the server's logs. Default: discard.
	Logger *slog.Logger
	// Registerer receives the metrics. Default: a private registry.
	Registerer prometheus.Registerer
	// Tick is how often idle buckets are abandoned and a changed config is
	// applied. Default: 500ms.
	Tick time.Duration
	// IdleAfter is how long a bucket may see no request before it is
	// abandoned (Envoy forgets it and subscribes again on its next request).
	// Default: 1m.
	IdleAfter time.Duration
	// MaxBuckets bounds the buckets tracked across all streams; a bucket over
	// it that a limit matches is denied (and counted), one that none matches
	// is allowed. Default: 100,000.
	MaxBuckets int
	// BackendTimeout bounds one call to Counter. Default: 100ms.
	BackendTimeout time.Duration
}

// EnsureDefaults fills in the defaults of unset fields.
func (o *Options) EnsureDefaults() {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Registerer == nil {
		o.Registerer = prometheus.NewRegistry()
	}
	if o.Tick <= 0 {
		o.Tick = 500 * time.Millisecond
	}
	if o.IdleAfter <= 0 {
		o.IdleAfter = time.Minute
	}
	if o.MaxBuckets <= 0 {
		o.MaxBuckets = 100_000
	}
	if o.BackendTimeout <= 0 {
		o.BackendTimeout = 100 * time.Millisecond
	}
}

// Validate reports every missing required field.
func (o *Options) Validate() error {
	var errs []error
	if o.Config == nil {
		errs = append(errs, errors.New("rlqs: Options.Config is required"))
	}
	if o.Counter == nil {
		errs = append(errs, errors.New("rlqs: Options.Counter is required"))
	}
	return errors.Join(errs...)
}

// Usage is one bucket's line of a usage report.
type Usage struct {
	Bucket          map[string]string
	Allowed, Denied uint64
}

// Allowed is what one report allowed in one bucket, for OnUsage. Stream and
// Seq name the report uniquely (Stream is random per stream), so a
// consumer can make idempotency tokens of them.
type Allowed struct {
	Domain   string
	Bucket   map[string]string
	Requests uint64
	Stream   string
	Seq      uint64
	Time     time.Time
}

// ActionKind is what an Action tells Envoy to do with a bucket.
type ActionKind uint8

// Action kinds.
const (
	// AllowAll admits every request of the bucket.
	AllowAll ActionKind = iota
	// DenyAll refuses every request of the bucket.
	DenyAll
	// Limit admits what TokenBucket lets through.
	Limit
	// Abandon makes Envoy forget the bucket.
	Abandon
)

var actionNames = [...]string{AllowAll: "allow_all", DenyAll: "deny_all", Limit: "token_bucket", Abandon: "abandon"}

// String names the kind as the metrics label it.
func (k ActionKind) String() string { return actionNames[k] }

// Action is an assignment (or abandonment) of one bucket.
type Action struct {
	Bucket      map[string]string
	Kind        ActionKind
	TokenBucket TokenBucket
	// TTL is how long Envoy keeps the assignment (whole seconds).
	TTL time.Duration
}

// same reports whether sending b instead of a changes nothing Envoy keeps.
func (a Action) same(b Action) bool {
	return a.Kind == b.Kind && (a.Kind != Limit || a.TokenBucket == b.TokenBucket)
}

// Server keeps every stream's buckets and the pools (one per limit) they
// draw from, and assigns each bucket its share. It is safe for concurrent
// use.
type Server struct {
	opts     Options
	log      *slog.Logger
	metrics  *metrics
	instance string

	mu      sync.Mutex
	cfg     *ratelimit.Config
	streams map[*Stream]struct{}
	pools   map[string]*pool
	buckets int
	nextID  uint64

	closeOnce sync.Once
	done      chan struct{}
}

// New returns a Server; Run applies config changes and abandons idle
// buckets.
func New(opts Options) (*Server, error) {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, fmt.Errorf("rlqs: cannot register metrics: %w", err)
	}
	return &Server{
		opts: opts, log: opts.Logger.With("component", "rlqs"), metrics: m,
		instance: strconv.FormatUint(rand.Uint64(), 36),
		streams:  map[*Stream]struct{}{}, pools: map[string]*pool{}, done: make(chan struct{}),
	}, nil
}

// Run applies config changes and abandons idle buckets every Tick until ctx
// ends or Close is called.
func (s *Server) Run(ctx context.Context) error {
	t := time.NewTicker(s.opts.Tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.done:
			return nil
		case <-t.C:
			s.tick()
		}
	}
}

// Close stops Run and tells the streams' servers to end them (Done). It is
// idempotent.
func (s *Server) Close() error {
	s.closeOnce.Do(func() { close(s.done) })
	return nil
}

// Done is closed by Close: stream servers end their streams then, so a
// draining sidecar does not wait for Envoys to hang up (they open a new
// stream at their next report).
func (s *Server) Done() <-chan struct{} { return s.done }

// tick re-evaluates a changed config and abandons idle buckets.
func (s *Server) tick() {
	now := s.opts.Now()
	s.mu.Lock()
	var touched []*Stream
	if cfg := s.opts.Config(); cfg != s.cfg {
		s.reconfigure(cfg)
		touched = s.reassignAll(now)
	}
	for st := range s.streams {
		for key, b := range st.buckets {
			if now.Sub(b.lastActive) < s.opts.IdleAfter {
				continue
			}
			s.dropBucket(b)
			delete(st.buckets, key)
			st.queue(Action{Bucket: b.id, Kind: Abandon}, s.metrics)
			touched = append(touched, st)
		}
	}
	s.metrics.buckets.Set(float64(s.buckets))
	s.observeRates()
	s.mu.Unlock()
	notify(touched)
}

// observeRates sets the demand and assigned-rate gauges per domain. Called
// with s.mu held.
func (s *Server) observeRates() {
	demand, assigned := map[string]float64{}, map[string]float64{}
	for st := range s.streams {
		for _, b := range st.buckets {
			if b.measured {
				demand[st.domain] += b.demand
			}
			if b.hasSent && b.sent.Kind == Limit {
				assigned[st.domain] += b.sent.TokenBucket.rate()
			}
		}
	}
	s.metrics.demandVec.Reset()
	s.metrics.assignedVec.Reset()
	for d, v := range demand {
		s.metrics.demandVec.WithLabelValues(d).Set(v)
	}
	for d, v := range assigned {
		s.metrics.assignedVec.WithLabelValues(d).Set(v)
	}
}
