package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tollgate/tollgate/counter"
	"github.com/tollgate/tollgate/internal/yamlconf"
)

// FailureMode says how requests are decided when a backend they need fails.
// It is the one failure-mode vocabulary of Tollgate: the rate-limit service
// and metering both take it, written fail_open or fail_closed in config. The
// zero value is FailOpen; each Options or Config field says its own default.
type FailureMode uint8

const (
	// FailOpen lets requests through when the backend fails: OK for every
	// descriptor.
	FailOpen FailureMode = iota
	// FailClosed refuses requests when the backend fails: OVER_LIMIT for
	// every limited descriptor.
	FailClosed
)

// String returns "fail_open" or "fail_closed".
func (m FailureMode) String() string {
	if m == FailClosed {
		return "fail_closed"
	}
	return "fail_open"
}

// MarshalText returns the config word of m: fail_open or fail_closed.
func (m FailureMode) MarshalText() ([]byte, error) {
	return []byte(m.String()), nil
}

// UnmarshalText reads fail_open or fail_closed. The words metering used
// before (allow, deny) are an error whose hint names the new word.
func (m *FailureMode) UnmarshalText(text []byte) error {
	switch s := string(text); s {
	case "fail_open":
		*m = FailOpen
	case "fail_closed":
		*m = FailClosed
	case "allow":
		return errors.New(yamlconf.NotOneOf(s, "fail_open", "fail_closed") + " (hint: allow is now written fail_open)")
	case "deny":
		return errors.New(yamlconf.NotOneOf(s, "fail_open", "fail_closed") + " (hint: deny is now written fail_closed)")
	default:
		return errors.New(yamlconf.NotOneOf(s, "fail_open", "fail_closed"))
	}
	return nil
}

// Options configures a Service.
type Options struct {
	// Counter counts hits. Required.
	Counter Counter
	// Now is the clock. Default: time.Now.
	Now func() time.Time
	// Logger receives backend errors (at most one a second) and config swaps.
	// Default: a logger that discards.
	Logger *slog.Logger
	// Registerer receives the service's metrics. Default: a private registry,
	// so the metrics are not exported.
	Registerer prometheus.Registerer
	// GlobalShadowMode turns an OVER_LIMIT overall code into OK (descriptor
	// statuses still say OVER_LIMIT), as envoyproxy's SHADOW_MODE setting.
	// Default: false.
	GlobalShadowMode bool
	// FailureMode decides requests when the counter backend fails.
	// Default: FailOpen (the zero value).
	FailureMode FailureMode
}

// EnsureDefaults fills the zero fields of o with their defaults.
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
}

// Validate reports every problem with o.
func (o *Options) Validate() error {
	var errs []error
	if o.Counter == nil {
		errs = append(errs, errors.New("ratelimit: Options.Counter is nil (hint: pass a counter/memory or counter/redis backend)"))
	}
	if o.FailureMode != FailOpen && o.FailureMode != FailClosed {
		errs = append(errs, fmt.Errorf("ratelimit: Options.FailureMode is %d (hint: use FailOpen or FailClosed)", o.FailureMode))
	}
	return errors.Join(errs...)
}

// Service decides ShouldRateLimit requests against a Config. It is safe for
// concurrent use; SetConfig swaps the config atomically under load.
type Service struct {
	opts    Options
	log     *slog.Logger
	metrics *metrics
	state   atomic.Pointer[state]
	// lastErrLog is the Unix nanosecond time backend errors were last logged.
	lastErrLog atomic.Int64
	scratch    sync.Pool
}

// state is a config with its metric children resolved.
type state struct {
	cfg     *Config
	domains map[string]*domainState
	unknown *decisionCounters
}

type domainState struct {
	dc        *domainConfig
	decisions *decisionCounters
	// rules holds, by node id, the counters of detailed_metric rules whose
	// label does not depend on the request.
	rules map[int]*ruleCounters
}

// New returns a Service deciding with cfg (nil means no domains).
func New(opts Options, cfg *Config) (*Service, error) {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, fmt.Errorf("ratelimit: cannot register metrics: %w (hint: a collector of the same name but another kind is registered)", err)
	}
	s := &Service{opts: opts, log: opts.Logger.With("component", "ratelimit"), metrics: m}
	s.scratch.New = func() any { return new(scratch) }
	s.SetConfig(cfg)
	return s, nil
}

// SetConfig swaps in cfg (nil means no domains). Requests already running
// finish with the config they started with.
func (s *Service) SetConfig(cfg *Config) {
	if cfg == nil {
		cfg = &Config{domains: map[string]*domainConfig{}}
	}
	st := &state{cfg: cfg, domains: make(map[string]*domainState, len(cfg.domains)), unknown: s.metrics.decisionCounters(unknownDomain)}
	for name, dc := range cfg.domains {
		ds := &domainState{dc: dc, decisions: s.metrics.decisionCounters(name), rules: map[int]*ruleCounters{}}
		s.resolveRules(ds, dc.root)
		st.domains[name] = ds
	}
	s.state.Store(st)
	s.log.Info("rate-limit config loaded", "domains", len(cfg.domains), "files", len(cfg.files))
}

func (s *Service) resolveRules(ds *domainState, n *node) {
	for _, c := range n.children {
		if c.detailedMetric && len(c.limits) > 0 && !c.dynamicLabel {
			ds.rules[c.id] = s.metrics.ruleCounters(ds.dc.name, c.path)
		}
		s.resolveRules(ds, c)
	}
}

// Config returns the config in use.
func (s *Service) Config() *Config {
	return s.state.Load().cfg
}

// scratch is the per-request working memory, pooled.
type scratch struct {
	descs     []descState
	levels    []levelMatch
	replacing []string
	hits      []counter.Hit
	outs      []counter.Outcome
	hitLimits []*limit
	keyEnds   []int
	key       []byte
}

// descState is the matching result of one request descriptor.
type descState struct {
	leaf      *node
	limits    []*limit
	levels    [2]int // range in scratch.levels
	hits      [2]int // range in scratch.hits
	addend    uint64
	unlimited bool
}

func (sc *scratch) reset() {
	clear(sc.descs)
	clear(sc.levels)
	clear(sc.replacing)
	clear(sc.hits)
	clear(sc.hitLimits)
	sc.descs, sc.levels, sc.replacing = sc.descs[:0], sc.levels[:0], sc.replacing[:0]
	sc.hits, sc.outs, sc.hitLimits = sc.hits[:0], sc.outs[:0], sc.hitLimits[:0]
	sc.keyEnds, sc.key = sc.keyEnds[:0], sc.key[:0]
}

// ShouldRateLimit decides req into resp, reusing resp.Statuses' capacity.
// An empty domain or no descriptors gives an error wrapping
// ErrInvalidRequest, as does a limit override with an unknown unit. An
// unknown domain is not limited. A failing counter backend is decided by the
// failure mode and does not return an error. CurrentLimit in resp points at
// data shared with the config; do not modify it.
func (s *Service) ShouldRateLimit(ctx context.Context, req *Request, resp *Response) error {
	if req.Domain == "" {
		return fmt.Errorf("%w: empty domain (hint: set the domain in Envoy's rate_limit filter)", ErrInvalidRequest)
	}
	if len(req.Descriptors) == 0 {
		return fmt.Errorf("%w: no descriptors (hint: Envoy's rate_limit actions produced none)", ErrInvalidRequest)
	}
	st := s.state.Load()
	ds := st.domains[req.Domain]
	resp.Statuses = resp.Statuses[:0]
	resp.BackendFailed = false
	if ds == nil {
		for range req.Descriptors {
			resp.Statuses = append(resp.Statuses, DescriptorStatus{Code: CodeOK})
		}
		resp.OverallCode = CodeOK
		st.unknown[decisionOK].Inc()
		return nil
	}

	sc := s.scratch.Get().(*scratch)
	defer func() {
		sc.reset()
		s.scratch.Put(sc)
	}()
	if err := s.matchAll(ds, req, sc); err != nil {
		return err
	}
	s.buildHits(req, sc)

	d := decisionOK
	if len(sc.hits) > 0 {
		now := s.opts.Now()
		sc.outs = append(sc.outs[:0], make([]counter.Outcome, len(sc.hits))...)
		if err := s.opts.Counter.Apply(ctx, now, sc.hits, sc.outs); err != nil {
			d = s.backendFailed(now, req.Domain, s.opts.FailureMode, err, sc)
			resp.BackendFailed = true
		}
	}
	d = s.decide(ds, req, sc, resp, d)
	ds.decisions[d].Inc()
	return nil
}

// matchAll matches every descriptor and applies replaces.
func (s *Service) matchAll(ds *domainState, req *Request, sc *scratch) error {
	for i := range req.Descriptors {
		rd := &req.Descriptors[i]
		st := descState{addend: hitsAddend(req, rd)}
		start := len(sc.levels)
		if rd.Limit != nil {
			w := rd.Limit.Unit.Duration()
			if w == 0 {
				return fmt.Errorf("%w: descriptor %d: limit override has unknown unit %d (hint: use SECOND to YEAR)", ErrInvalidRequest, i, rd.Limit.Unit)
			}
			st.limits = []*limit{newLimit(rd.Limit.RequestsPerUnit, rd.Limit.Unit, w, counter.FixedWindow)}
		} else {
			st.leaf, sc.levels = ds.dc.match(rd.Entries, sc.levels)
			if st.leaf != nil {
				st.limits = st.leaf.limits
				st.unlimited = st.limits[0].unlimited
			}
		}
		st.levels = [2]int{start, len(sc.levels)}
		for _, l := range st.limits {
			sc.replacing = append(sc.replacing, l.replaces...)
		}
		sc.descs = append(sc.descs, st)
	}
	return nil
}

// hitsAddend returns the hits a descriptor adds: its own addend when set
// (zero only checks), else the request's (zero means one).
func hitsAddend(req *Request, d *Descriptor) uint64 {
	if d.HitsAddend != nil {
		return *d.HitsAddend
	}
	return max(req.HitsAddend, 1)
}

// buildHits makes one counter hit per applicable limit, with all keys in
// one string allocation.
func (s *Service) buildHits(req *Request, sc *scratch) {
	for i := range sc.descs {
		st := &sc.descs[i]
		st.hits[0] = len(sc.hits)
		if !st.unlimited {
			rd := &req.Descriptors[i]
			base, baseEnd := -1, 0
			for _, l := range st.limits {
				if l.name != "" && contains(sc.replacing, l.name) {
					continue
				}
				if base < 0 {
					base = len(sc.key)
					sc.key = appendKey(sc.key, req.Domain, rd.Entries, sc.levels[st.levels[0]:st.levels[1]])
					baseEnd = len(sc.key)
				} else {
					// A further limit on the same descriptor: repeat its key.
					sc.key = append(sc.key, sc.key[base:baseEnd]...)
				}
				sc.key = append(sc.key, l.keySuffix...)
				sc.keyEnds = append(sc.keyEnds, len(sc.key))
				sc.hitLimits = append(sc.hitLimits, l)
				sc.hits = append(sc.hits, counter.Hit{
					Algorithm: l.algorithm,
					Limit:     uint64(l.info.RequestsPerUnit),
					Window:    l.info.Window,
					Hits:      st.addend,
				})
			}
		}
		st.hits[1] = len(sc.hits)
	}
	if len(sc.hits) == 0 {
		return
	}
	keys := string(sc.key)
	start := 0
	for j, end := range sc.keyEnds {
		sc.hits[j].Key = keys[start:end]
		start = end
	}
}
