package global

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sort"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"

	"github.com/tollgate/tollgate/counter"
)

// Type is the counter type of a namespace.
type Type uint8

const (
	// BestEffort counts in process memory: fast, no idempotency, lost on
	// restart.
	BestEffort Type = iota + 1
	// Eventual counts durable, idempotent events and reads a background rollup:
	// the count lags the latest adds by about AcceptLimit + ClockSkew.
	Eventual
	// Accurate counts like Eventual but reads the last rollup plus the events
	// after it, so a read includes every acknowledged add.
	Accurate
)

// String returns the configuration name of t.
func (t Type) String() string {
	switch t {
	case BestEffort:
		return "best_effort"
	case Eventual:
		return "eventual"
	case Accurate:
		return "accurate"
	}
	return "unknown"
}

// durable reports whether t stores events: Eventual and Accurate.
func (t Type) durable() bool { return t == Eventual || t == Accurate }

// ParseType parses a configuration name ("best_effort", "eventual",
// "accurate").
func ParseType(s string) (Type, error) {
	for _, t := range []Type{BestEffort, Eventual, Accurate} {
		if s == t.String() {
			return t, nil
		}
	}
	return 0, fmt.Errorf("counter/global: unknown counter type %q (use best_effort, eventual or accurate)", s)
}

// Defaults of NamespaceOptions and Options.
const (
	DefaultAcceptLimit    = 5 * time.Second
	DefaultFutureLimit    = time.Second
	DefaultClockSkew      = time.Second
	DefaultCoalesceWindow = time.Second
	DefaultRetention      = 7 * 24 * time.Hour
	DefaultMaxReadGap     = time.Minute
	DefaultQueues         = 8
	DefaultBatchSize      = 32
	DefaultMaxQueued      = 100_000
	DefaultPollInterval   = 50 * time.Millisecond
	DefaultMaxCached      = 1 << 20
	DefaultRollupTimeout  = 5 * time.Second
	DefaultDrainTimeout   = 5 * time.Second
	// MaxNameLen is the longest counter name, and idempotency token, in bytes.
	MaxNameLen = 256
)

// NamespaceOptions configures one namespace. The zero value of a field means
// its default; only Type is required. Durations other than Type-specific
// ones are ignored for BestEffort.
type NamespaceOptions struct {
	// Type is the counter type. Required.
	Type Type
	// AcceptLimit is how old an add's generation time may be: adds older than
	// now - AcceptLimit are refused, which makes every rollup window ending
	// before now - AcceptLimit - ClockSkew immutable. Retries must happen
	// within it. Default: DefaultAcceptLimit (5s).
	AcceptLimit time.Duration
	// FutureLimit is how far an add's generation time may be ahead of now
	// (client clock skew). Default: DefaultFutureLimit (1s).
	FutureLimit time.Duration
	// ClockSkew is the margin for clock differences between the processes
	// sharing the store: rollups stop at now - AcceptLimit - ClockSkew.
	// Default: DefaultClockSkew (1s).
	ClockSkew time.Duration
	// LateAfter is how long after its generation time an add may become
	// durable and still be on time. An Accurate read re-reads only the last
	// LateAfter + ClockSkew of adds while no late add arrives; each late add
	// sends the counter's next reads back to its checkpoint. Shorter suits
	// hot counters whose adds arrive at once; it must stay above the metering
	// spool's flush interval for metered namespaces. The store judges
	// lateness: pass Options.LateAfters to it. Default: the shorter of
	// counter.DefaultLateAfter (1s) and AcceptLimit.
	LateAfter time.Duration
	// CoalesceWindow is how long a rollup request waits so repeated requests
	// for one counter coalesce into one rollup, and the rollup period of a
	// counter that keeps being written. Default: DefaultCoalesceWindow (1s).
	CoalesceWindow time.Duration
	// Retention is how long events are kept (they are also kept until rolled
	// up). Pass Options.Retentions to the store. Default: DefaultRetention
	// (7 days).
	Retention time.Duration
	// MaxReadGap bounds an Accurate read: when the counter's checkpoint is
	// older than this, GetCount rolls it up before reading the events after
	// it. Default: DefaultMaxReadGap (1 minute).
	MaxReadGap time.Duration
}

// ensureDefaults fills the zero fields of o.
func (o *NamespaceOptions) ensureDefaults() {
	setDefault(&o.AcceptLimit, DefaultAcceptLimit)
	setDefault(&o.FutureLimit, DefaultFutureLimit)
	setDefault(&o.ClockSkew, DefaultClockSkew)
	if o.AcceptLimit > 0 {
		setDefault(&o.LateAfter, min(counter.DefaultLateAfter, o.AcceptLimit))
	}
	setDefault(&o.CoalesceWindow, DefaultCoalesceWindow)
	setDefault(&o.Retention, DefaultRetention)
	setDefault(&o.MaxReadGap, DefaultMaxReadGap)
}

// validate reports the problems of the namespace named ns.
func (o *NamespaceOptions) validate(ns string) []error {
	var errs []error
	if o.Type < BestEffort || o.Type > Accurate {
		errs = append(errs, fmt.Errorf("counter/global: namespace %q: type is not set (use best_effort, eventual or accurate)", ns))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"accept_limit", o.AcceptLimit}, {"future_limit", o.FutureLimit}, {"clock_skew", o.ClockSkew},
		{"late_after", o.LateAfter}, {"coalesce_window", o.CoalesceWindow}, {"retention", o.Retention}, {"max_read_gap", o.MaxReadGap},
	} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("counter/global: namespace %q: %s %v is negative (use a positive duration, or 0 for the default)", ns, d.name, d.v))
		}
	}
	if o.Retention > 0 && o.Retention <= o.AcceptLimit+o.ClockSkew {
		errs = append(errs, fmt.Errorf("counter/global: namespace %q: retention %v is not longer than accept_limit + clock_skew %v (use a longer retention)", ns, o.Retention, o.AcceptLimit+o.ClockSkew))
	}
	return errs
}

// Options configures New. The zero value of a field means its default.
type Options struct {
	// Store is the durable event store of the Eventual and Accurate
	// namespaces. Required when there is one. Counters does not close it.
	Store counter.EventStore
	// Namespaces maps each namespace name to its options. Requests for other
	// namespaces fail with ErrUnknownNamespace.
	Namespaces map[string]NamespaceOptions
	// Queues is the number of rollup queues, each with its own worker; a
	// counter always lands on the same queue. Default: DefaultQueues (8).
	Queues int
	// BatchSize is how many counters a worker rolls up in parallel.
	// Default: DefaultBatchSize (32).
	BatchSize int
	// MaxQueued is the most counters one queue holds; rollup requests beyond
	// it are dropped (counted in tollgate_counter_rollup_dropped_total) and
	// repaired by the next read. Default: DefaultMaxQueued (100,000).
	MaxQueued int
	// PollInterval is how often a worker looks for due rollups.
	// Default: DefaultPollInterval (50ms).
	PollInterval time.Duration
	// MaxCached is the most checkpoints cached in memory; beyond it random
	// entries are evicted. Default: DefaultMaxCached (1,048,576).
	MaxCached int
	// RollupTimeout bounds the store calls of one rollup.
	// Default: DefaultRollupTimeout (5s).
	RollupTimeout time.Duration
	// DrainTimeout bounds Close's final rollup of the queued counters.
	// Default: DefaultDrainTimeout (5s).
	DrainTimeout time.Duration
	// Now is the clock. Required (pass time.Now).
	Now func() time.Time
	// Logger receives rollup errors. Default: discard.
	Logger *slog.Logger
	// Registerer receives the metrics. Default: a private registry (metrics
	// are not exported).
	Registerer prometheus.Registerer
	// TracerProvider, when set, makes a span of each rollup
	// (tollgate.counter.rollup); the store's calls are its children when
	// the store is traced too. Default: nil, no spans.
	TracerProvider trace.TracerProvider
}

// EnsureDefaults fills the zero fields of o and of its namespaces.
func (o *Options) EnsureDefaults() {
	setDefault(&o.Queues, DefaultQueues)
	setDefault(&o.BatchSize, DefaultBatchSize)
	setDefault(&o.MaxQueued, DefaultMaxQueued)
	setDefault(&o.PollInterval, DefaultPollInterval)
	setDefault(&o.MaxCached, DefaultMaxCached)
	setDefault(&o.RollupTimeout, DefaultRollupTimeout)
	setDefault(&o.DrainTimeout, DefaultDrainTimeout)
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Registerer == nil {
		o.Registerer = prometheus.NewRegistry()
	}
	ns := make(map[string]NamespaceOptions, len(o.Namespaces))
	for name, n := range o.Namespaces {
		n.ensureDefaults()
		ns[name] = n
	}
	o.Namespaces = ns
}

// Validate reports every problem of o in one error, or nil. Call it after
// EnsureDefaults.
func (o *Options) Validate() error {
	errs := []error{o.Check()}
	for _, name := range slices.Sorted(maps.Keys(o.Namespaces)) {
		n := o.Namespaces[name]
		if n.Type.durable() && o.Store != nil && n.LateAfter > 0 && o.Store.LateAfter(name) != n.LateAfter {
			errs = append(errs, fmt.Errorf("counter/global: namespace %q: late_after is %v, but the store judges its events late after %v (open the store with Options.LateAfters)", name, n.LateAfter, o.Store.LateAfter(name)))
		}
		if n.Type.durable() && o.Store == nil {
			errs = append(errs, errors.New("counter/global: Store is required by the eventual and accurate namespaces (open counter/pebble or counter/cassandra)"))
			break
		}
	}
	return errors.Join(errs...)
}

// Check reports every problem of the options themselves, without the store:
// what settings can get wrong. Validate adds the checks that need Store.
func (o *Options) Check() error {
	var errs []error
	if o.Now == nil {
		errs = append(errs, errors.New("counter/global: Now is required (pass time.Now)"))
	}
	names := make([]string, 0, len(o.Namespaces))
	for name := range o.Namespaces {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		n := o.Namespaces[name]
		if name == "" || len(name) > MaxNameLen {
			errs = append(errs, fmt.Errorf("counter/global: namespace name %q must be 1 to %d bytes (rename it)", name, MaxNameLen))
		}
		errs = append(errs, n.validate(name)...)
	}
	for _, c := range []struct {
		name string
		v    int
	}{{"Queues", o.Queues}, {"BatchSize", o.BatchSize}, {"MaxQueued", o.MaxQueued}, {"MaxCached", o.MaxCached}} {
		if c.v < 0 {
			errs = append(errs, fmt.Errorf("counter/global: %s %d is negative (use a positive number, or 0 for the default)", c.name, c.v))
		}
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"PollInterval", o.PollInterval}, {"RollupTimeout", o.RollupTimeout}, {"DrainTimeout", o.DrainTimeout}} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("counter/global: %s %v is negative (use a positive duration, or 0 for the default)", d.name, d.v))
		}
	}
	return errors.Join(errs...)
}

// Retentions returns the event retention of each Eventual and Accurate
// namespace, for the store's per-namespace retention (for example
// pebble.Options.NamespaceRetention). Call it after EnsureDefaults.
func (o *Options) Retentions() map[string]time.Duration {
	return o.durableDurations(func(n NamespaceOptions) time.Duration { return n.Retention })
}

// LateAfters returns the LateAfter of each Eventual and Accurate namespace,
// for the store's option of that name (for example pebble.Options.LateAfter).
// Call it after EnsureDefaults.
func (o *Options) LateAfters() counter.LateAfters {
	return o.durableDurations(func(n NamespaceOptions) time.Duration { return n.LateAfter })
}

// durableDurations maps each Eventual and Accurate namespace to the duration
// of its options that get returns.
func (o *Options) durableDurations(get func(NamespaceOptions) time.Duration) map[string]time.Duration {
	d := make(map[string]time.Duration)
	for name, n := range o.Namespaces {
		if n.Type.durable() {
			d[name] = get(n)
		}
	}
	return d
}

// setDefault sets *v to def when it is zero.
func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}
