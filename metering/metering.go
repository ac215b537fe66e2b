package metering

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"

	"github.com/tollgate/tollgate/counter"
	"github.com/tollgate/tollgate/metering/spool"
	"github.com/tollgate/tollgate/ratelimit"
)

// Sink is the durable counter write the spool ships events to; it must be
// idempotent by event identity (Namespace, Counter, Time, ID).
type Sink = spool.Sink

// CountReader reads an accurate counter: the sum of every event of the
// counter stored so far. Quotas use it, in the background only.
type CountReader interface {
	GetCount(ctx context.Context, namespace, counterName string) (int64, error)
}

// RateLimiter decides rate limits; *ratelimit.Service built on
// Config.RateLimitConfig satisfies it.
type RateLimiter interface {
	ShouldRateLimit(ctx context.Context, req *ratelimit.Request, resp *ratelimit.Response) error
}

// Defaults of Options.
const (
	// DefaultCountTimeout bounds one CountReader call.
	DefaultCountTimeout = 2 * time.Second
)

// Options configures Open. The zero value of a field means its default.
type Options struct {
	// Config is the parsed metering section. Required.
	Config *Config
	// DataDir is the directory a relative Config.Spool.Dir is under.
	// Required unless Config.Spool.Dir is absolute.
	DataDir string
	// SpoolFS is the spool's filesystem; tests pass vfs.NewMem().
	// Default: the OS filesystem.
	SpoolFS vfs.FS
	// Sink receives the spooled events. Required.
	Sink Sink
	// Counts reads the quota counters. Required when a plan has quotas.
	Counts CountReader
	// RateLimiter decides the plans' rate limits. Required when a plan has
	// rate limits.
	RateLimiter RateLimiter
	// CountTimeout bounds one Counts call. Default: DefaultCountTimeout.
	CountTimeout time.Duration
	// QuotaStaleAfter is how old the last successful quota refresh may get
	// before quota Checks follow Config.FailureMode. Default: three times
	// Config.QuotaRefresh.
	QuotaStaleAfter time.Duration
	// AcceptWindow says how far before and after now an event of a
	// namespace may be (the namespace's accept_limit and future_limit).
	// Ingested CloudEvents outside it are refused; the events of a Check or
	// access log entry starting outside it get the time the request
	// arrives instead.
	// Default: 5s and 1s, the counters' defaults.
	AcceptWindow func(namespace string) (past, future time.Duration)
	// Now is the clock. Default: time.Now.
	Now func() time.Time
	// Logger receives backend errors (throttled). Default: discards.
	Logger *slog.Logger
	// Registerer receives the metrics of metering and its spool.
	// Default: a private registry.
	Registerer prometheus.Registerer
	// TracerProvider, when set, makes a span of each spool shipment (see
	// spool.Options.TracerProvider). Default: nil, no spans.
	TracerProvider trace.TracerProvider
}

// EnsureDefaults fills the zero fields of o with their defaults.
func (o *Options) EnsureDefaults() {
	if o.CountTimeout == 0 {
		o.CountTimeout = DefaultCountTimeout
	}
	if o.QuotaStaleAfter == 0 && o.Config != nil {
		o.QuotaStaleAfter = 3 * o.Config.QuotaRefresh
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Registerer == nil {
		o.Registerer = prometheus.NewRegistry()
	}
}

// Validate reports every problem of o in one error. Call it after
// EnsureDefaults.
func (o *Options) Validate() error {
	var errs []error
	if o.Config == nil {
		return errors.New("metering: Options.Config is nil (hint: pass the result of ParseConfig)")
	}
	if o.DataDir == "" && !filepath.IsAbs(o.Config.Spool.Dir) {
		errs = append(errs, errors.New("metering: Options.DataDir is empty (hint: pass the sidecar's data directory)"))
	}
	if o.Sink == nil {
		errs = append(errs, errors.New("metering: Options.Sink is nil (hint: pass the durable counter writer)"))
	}
	quotas, limits := false, false
	for _, p := range o.Config.Plans {
		quotas = quotas || len(p.Quotas) > 0
		limits = limits || len(p.RateLimits) > 0
	}
	if quotas && o.Counts == nil {
		errs = append(errs, errors.New("metering: Options.Counts is nil but plans have quotas (hint: pass the accurate counter reader)"))
	}
	if limits && o.RateLimiter == nil {
		errs = append(errs, errors.New("metering: Options.RateLimiter is nil but plans have rate_limits (hint: pass a ratelimit.Service built on Config.RateLimitConfig())"))
	}
	if o.CountTimeout < 0 || o.QuotaStaleAfter < 0 {
		errs = append(errs, errors.New("metering: Options.CountTimeout and QuotaStaleAfter must not be negative (hint: 0 for the defaults)"))
	}
	return errors.Join(errs...)
}

// Metering answers ext_authz Checks for tenants and plans and records
// metering events. All methods are safe for concurrent use.
type Metering struct {
	opts    Options
	cfg     *Config
	log     *slog.Logger
	metrics *metrics
	spool   *spool.Spool
	quotas  *quotaTracker

	// plans holds the runtime state of every (tenant, plan) pair.
	plans map[tenantPlanKey]*tenantPlan
	// bykey maps an API key hash to its (tenant, plan).
	bykey map[[32]byte]keyEntry
	// rules holds the runtime state of each identification rule.
	rules   []ruleState
	scratch sync.Pool
	// eventMeters lists the events meters by event type; rlqsMeters the
	// rlqs meters.
	eventMeters map[string][]*Meter
	rlqsMeters  []*Meter
	// windows bound the request starts of Checks and access log entries, by
	// the namespace of their events.
	windows map[string]startWindow

	stop      chan struct{}
	closeOnce sync.Once
	closeErr  error
}

// Open builds Metering: it opens the spool (events an earlier process left
// are shipped by Run) and reads the quota counts once.
func Open(ctx context.Context, opts Options) (*Metering, error) {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	cfg := opts.Config
	m := &Metering{opts: opts, cfg: cfg, log: opts.Logger.With("component", "metering"), stop: make(chan struct{})}
	var err error
	if m.metrics, err = newMetrics(opts.Registerer); err != nil {
		return nil, fmt.Errorf("metering: cannot register metrics: %w (hint: give each Metering its own Registerer)", err)
	}
	m.quotas = newQuotaTracker(opts.Counts, opts.CountTimeout, opts.QuotaStaleAfter)
	m.buildPlans()
	m.windows = m.newStartWindows()
	m.eventMeters = map[string][]*Meter{}
	for i := range cfg.Meters {
		switch mt := &cfg.Meters[i]; mt.Source {
		case SourceEvents:
			m.eventMeters[mt.EventType] = append(m.eventMeters[mt.EventType], mt)
		case SourceRLQS:
			m.rlqsMeters = append(m.rlqsMeters, mt)
		}
	}
	dir := cfg.Spool.Dir
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(opts.DataDir, dir)
	}
	m.spool, err = spool.Open(spool.Options{
		Dir: dir, FS: opts.SpoolFS, Sink: opts.Sink,
		BatchSize: cfg.Spool.BatchSize, FlushInterval: cfg.Spool.FlushInterval,
		RetryMinBackoff: cfg.Spool.RetryMinBackoff, RetryMaxBackoff: cfg.Spool.RetryMaxBackoff,
		OnAck: m.quotas.acked, Now: opts.Now, Logger: opts.Logger, Registerer: opts.Registerer, TracerProvider: opts.TracerProvider,
	})
	if err != nil {
		return nil, err
	}
	now := opts.Now()
	if err := m.spool.ForEach(func(ev counter.Event) { m.quotas.spooled(now, &ev) }); err != nil {
		_ = m.spool.Close()
		return nil, err
	}
	if err := m.RefreshQuotas(ctx); err != nil {
		m.log.Warn("cannot read quota counts; retrying in the background", "err", err)
	}
	return m, nil
}

// Spool returns the event spool, for its depth and for Flush in tests and
// shutdown.
func (m *Metering) Spool() *spool.Spool { return m.spool }

// Run ships spooled events and refreshes the quota counts every
// Config.QuotaRefresh until ctx is done or Close is called. The spool's
// final flush happens before Run returns. Run returns the spool's failure
// (spool.ErrFailed) as soon as the spool fails: the process should exit.
func (m *Metering) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	shipped := make(chan error, 1)
	go func() { shipped <- m.spool.Run(ctx) }()
	tick := time.NewTicker(m.cfg.QuotaRefresh)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return <-shipped
		case <-m.stop:
			cancel()
			return <-shipped
		case err := <-shipped: // the spool failed for good (spool.ErrFailed)
			return err
		case <-tick.C:
			if err := m.RefreshQuotas(ctx); err != nil && ctx.Err() == nil {
				m.log.Warn("cannot refresh quota counts", "err", err)
			}
		}
	}
}

// RefreshQuotas re-reads every cached quota count now; Run calls it every
// Config.QuotaRefresh. It returns the first error; counts that failed keep
// their last value.
func (m *Metering) RefreshQuotas(ctx context.Context) error {
	err := m.quotas.refresh(ctx, m.opts.Now())
	if err != nil {
		m.metrics.quotaRefreshErrors.Inc()
	}
	return err
}

// Close stops Run, flushes the spool within its close timeout (events not
// shipped stay on disk for the next Open) and closes it. It is safe to call
// more than once.
func (m *Metering) Close() error {
	m.closeOnce.Do(func() {
		close(m.stop)
		m.closeErr = m.spool.Close()
	})
	return m.closeErr
}
