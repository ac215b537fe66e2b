package rlqs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tollgate/tollgate/counter"
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

// Stream is one Envoy's RLQS stream. Report and Take are called by the one
// goroutine that serves the stream; pushes from other streams' reports
// arrive through Ready.
type Stream struct {
	s      *Server
	name   string
	domain string
	// seq numbers the stream's reports.
	seq uint64
	// buckets by canonical key; guarded by s.mu like everything below.
	buckets map[string]*bucket
	// interval is the stream's reporting interval, learned from its
	// periodic reports; lastPeriodic is when the last one arrived.
	interval     time.Duration
	lastPeriodic time.Time
	pending      map[string]Action
	order        []string
	ready        chan struct{}
	closed       bool
}

// NewStream registers a stream.
func (s *Server) NewStream() *Stream {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	st := &Stream{
		s: s, name: s.instance + "-" + strconv.FormatUint(s.nextID, 36), buckets: map[string]*bucket{},
		interval: defaultInterval, pending: map[string]Action{}, ready: make(chan struct{}, 1),
	}
	s.streams[st] = struct{}{}
	s.metrics.streams.Inc()
	return st
}

// ErrDomainChanged is returned by Report when a stream's report names
// another domain than its first (Envoy opens a new stream for that).
var ErrDomainChanged = errors.New("rlqs: a stream's reports must keep the domain of its first report")

// Report takes one usage report: it counts each bucket's demand, publishes
// it (and admissions) to the backend, assigns every reported bucket and
// pushes changed assignments to the other streams of the same pools.
// Actions for this stream are queued for Take.
func (st *Stream) Report(ctx context.Context, domain string, usages []Usage) error {
	s := st.s
	now := s.opts.Now()
	if st.domain == "" {
		st.domain = domain
	} else if domain != "" && domain != st.domain {
		return ErrDomainChanged
	}
	st.seq++
	if s.opts.OnUsage != nil {
		var allowed []Allowed
		for _, u := range usages {
			if u.Allowed > 0 {
				allowed = append(allowed, Allowed{Domain: st.domain, Bucket: u.Bucket, Requests: u.Allowed, Stream: st.name, Seq: st.seq, Time: now})
			}
		}
		if len(allowed) > 0 {
			if err := s.opts.OnUsage(ctx, allowed); err != nil {
				s.metrics.usageErrors.Inc()
				s.log.Warn("cannot record RLQS usage", "err", err)
			}
		}
	}

	s.mu.Lock()
	if cfg := s.opts.Config(); cfg != s.cfg {
		s.reconfigure(cfg)
	}
	periodic := false
	reported := make([]*bucket, 0, len(usages))
	hits := map[string]*poolHit{}
	for _, u := range usages {
		key := bucketKey(u.Bucket)
		b := st.buckets[key]
		if b != nil {
			periodic = true
		} else {
			b = s.newBucket(st, key, u.Bucket, now)
		}
		b.observe(now, u.Allowed+u.Denied)
		s.metrics.requests(st.domain, b.match, u.Allowed, u.Denied)
		reported = append(reported, b)
		for _, p := range b.pools {
			h := hits[p.key]
			if h == nil {
				h = &poolHit{p: p}
				hits[p.key] = h
			}
			h.allowed += u.Allowed
			h.requests += u.Allowed + u.Denied
		}
	}
	if periodic {
		if !st.lastPeriodic.IsZero() {
			gap := now.Sub(st.lastPeriodic)
			s.metrics.reportInterval.Observe(gap.Seconds())
			// A long silence (a stalled Envoy) says little of the interval.
			st.interval = (st.interval + min(gap, maxInterval)) / 2
		}
		st.lastPeriodic = now
	}
	s.mu.Unlock()

	s.publish(ctx, now, hits)

	s.mu.Lock()
	touched := s.reassign(now, st, reported, hits)
	s.metrics.buckets.Set(float64(s.buckets))
	s.mu.Unlock()
	notify(touched)
	return nil
}

// Ready is signalled when Take has actions.
func (st *Stream) Ready() <-chan struct{} { return st.ready }

// Take returns the queued actions, in the order they were first queued.
func (st *Stream) Take() []Action {
	st.s.mu.Lock()
	defer st.s.mu.Unlock()
	out := make([]Action, 0, len(st.order))
	for _, k := range st.order {
		out = append(out, st.pending[k])
	}
	clear(st.pending)
	st.order = st.order[:0]
	return out
}

// Close releases the stream's buckets at once, so their shares go to the
// other streams. It is idempotent.
func (st *Stream) Close() {
	s := st.s
	now := s.opts.Now()
	s.mu.Lock()
	if st.closed {
		s.mu.Unlock()
		return
	}
	st.closed = true
	delete(s.streams, st)
	s.metrics.streams.Dec()
	pools := map[*pool]struct{}{}
	for _, b := range st.buckets {
		for _, p := range b.pools {
			pools[p] = struct{}{}
		}
		s.dropBucket(b)
	}
	clear(st.buckets)
	var touched []*Stream
	for p := range pools {
		if s.pools[p.key] != p {
			continue // st's buckets were its last members
		}
		for _, b := range s.assignPool(now, p) {
			if s.decide(now, b, false) {
				touched = append(touched, b.st)
			}
		}
	}
	s.metrics.buckets.Set(float64(s.buckets))
	s.mu.Unlock()
	notify(touched)
}

// queue adds an action for the stream, replacing a pending one of the same
// bucket. Called with s.mu held.
func (st *Stream) queue(a Action, m *metrics) {
	if st.closed {
		return
	}
	key := bucketKey(a.Bucket)
	if _, ok := st.pending[key]; !ok {
		st.order = append(st.order, key)
	}
	st.pending[key] = a
	m.actions(st.domain, a.Kind)
}

// defaultInterval is a new stream's reporting interval until its reports
// tell: Envoy 1.40 reports every 5 s whatever the filter's
// reporting_interval says.
const defaultInterval = 5 * time.Second

// maxInterval bounds the reporting interval a stream is taken to have.
const maxInterval = 20 * time.Second

// ttl is how long the stream's assignments live: three reporting
// intervals, 2 s to 60 s, in whole seconds (Envoy reads only seconds).
func (st *Stream) ttl() time.Duration {
	d := time.Duration(math.Ceil((3 * st.interval).Seconds())) * time.Second
	return min(max(d, 2*time.Second), time.Minute)
}

func notify(streams []*Stream) {
	for _, st := range streams {
		select {
		case st.ready <- struct{}{}:
		default:
		}
	}
}

// bucket is one stream's bucket.
type bucket struct {
	st    *Stream
	id    map[string]string
	key   string
	match ratelimit.BucketMatch
	pools []*pool
	// grants are the pools' latest grants to this bucket.
	grants map[*pool]grant
	// demand is requests per second, smoothed over reports; a bucket's
	// first report (Envoy's subscription, sent at its first request) says
	// nothing of its rate, so it starts as wanting everything: a new Envoy
	// gets an equal share at once, and its next report sets its demand.
	demand     float64
	measured   bool
	lastReport time.Time
	lastActive time.Time
	// sent is the last action queued for the bucket.
	sent    Action
	hasSent bool
	// untracked marks a bucket over MaxBuckets: answered, not kept.
	untracked bool
}

// observe counts n requests reported at now.
func (b *bucket) observe(now time.Time, n uint64) {
	first := b.lastReport.IsZero()
	switch {
	case first:
		b.demand = math.Inf(1)
	case !b.measured:
		b.demand, b.measured = float64(n)/max(now.Sub(b.lastReport), 100*time.Millisecond).Seconds(), true
	default:
		b.demand = (b.demand + float64(n)/max(now.Sub(b.lastReport), 100*time.Millisecond).Seconds()) / 2
	}
	b.lastReport = now
	if n > 0 || first {
		b.lastActive = now
	}
}

// newBucket matches a new bucket and joins its pools. Called with s.mu held.
func (s *Server) newBucket(st *Stream, key string, id map[string]string, now time.Time) *bucket {
	b := &bucket{st: st, id: id, key: key, lastActive: now, grants: map[*pool]grant{}}
	if s.cfg != nil {
		b.match = s.cfg.MatchBucket(st.domain, id)
	}
	if s.buckets >= s.opts.MaxBuckets {
		b.untracked = true
		s.metrics.overCapacity.Inc()
		return b
	}
	s.buckets++
	st.buckets[key] = b
	s.join(b)
	return b
}

// join adds b to the pools of its limits. Called with s.mu held.
func (s *Server) join(b *bucket) {
	b.pools = b.pools[:0]
	clear(b.grants)
	if !b.match.Found || b.match.Unlimited {
		return
	}
	for _, l := range b.match.Limits {
		key := b.match.Key + l.Suffix
		p := s.pools[key]
		if p == nil {
			p = &pool{key: key, domain: b.st.domain, limit: l, shadow: b.match.ShadowMode || s.opts.GlobalShadowMode, members: map[*bucket]struct{}{}, part: 1}
			s.pools[key] = p
		}
		p.members[b] = struct{}{}
		b.pools = append(b.pools, p)
	}
}

// dropBucket removes b from its pools and the count. Called with s.mu held.
func (s *Server) dropBucket(b *bucket) {
	for _, p := range b.pools {
		delete(p.members, b)
		if len(p.members) == 0 {
			delete(s.pools, p.key)
		}
	}
	b.pools = nil
	s.buckets--
}

// reconfigure matches every bucket again with cfg. Called with s.mu held.
func (s *Server) reconfigure(cfg *ratelimit.Config) {
	s.cfg = cfg
	old := s.pools
	s.pools = map[string]*pool{}
	for st := range s.streams {
		for _, b := range st.buckets {
			b.match = cfg.MatchBucket(st.domain, b.id)
			s.join(b)
		}
	}
	// Keep what the backend told about pools that still exist.
	for key, p := range s.pools {
		if o := old[key]; o != nil {
			p.used, p.window, p.part, p.local = o.used, o.window, o.part, o.local
		}
	}
}

// reassignAll assigns every pool again and decides every bucket. Called
// with s.mu held.
func (s *Server) reassignAll(now time.Time) []*Stream {
	for _, p := range s.pools {
		s.assignPool(now, p)
	}
	var touched []*Stream
	for st := range s.streams {
		for _, b := range st.buckets {
			if s.decide(now, b, false) {
				touched = append(touched, st)
			}
		}
	}
	return touched
}

// reassign assigns the pools of the reported buckets, then decides the
// reported buckets of st (always queued, which refreshes their time to
// live) and the other buckets of those pools (queued when changed).
// Called with s.mu held.
func (s *Server) reassign(now time.Time, st *Stream, reported []*bucket, hits map[string]*poolHit) []*Stream {
	others := map[*bucket]struct{}{}
	for _, h := range hits {
		if s.pools[h.p.key] != h.p {
			continue // replaced by a reload meanwhile
		}
		for _, b := range s.assignPool(now, h.p) {
			others[b] = struct{}{}
		}
	}
	for _, b := range reported {
		delete(others, b)
		s.decide(now, b, true)
	}
	touched := []*Stream{st}
	for b := range others {
		if s.decide(now, b, false) {
			touched = append(touched, b.st)
		}
	}
	return touched
}

// poolHit is what one report adds to a pool.
type poolHit struct {
	p                 *pool
	allowed, requests uint64
}

// publish sends the report's admissions (quota pools) and, for shared
// backends, its demand to the backend, and keeps what comes back.
func (s *Server) publish(ctx context.Context, now time.Time, hits map[string]*poolHit) {
	if len(hits) == 0 {
		return
	}
	type target struct {
		p      *pool
		demand bool
	}
	var reqs []counter.Hit
	var targets []target
	for _, h := range hits {
		p := h.p
		if p.quota() {
			reqs = append(reqs, counter.Hit{Key: "rlqs|used|" + p.key, Algorithm: p.limit.Algorithm, Limit: math.MaxInt64, Window: p.limit.Window, Hits: h.allowed})
			targets = append(targets, target{p, false})
		}
		if s.opts.Shared {
			reqs = append(reqs, counter.Hit{Key: "rlqs|demand|" + p.key, Algorithm: counter.SlidingWindow, Limit: math.MaxInt64, Window: demandWindow, Hits: h.requests})
			targets = append(targets, target{p, true})
		}
	}
	if len(reqs) == 0 {
		return
	}
	out := make([]counter.Outcome, len(reqs))
	bctx, cancel := context.WithTimeout(ctx, s.opts.BackendTimeout)
	err := s.opts.Counter.Apply(bctx, now, reqs, out)
	cancel()
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.metrics.backendErrors.Inc()
		s.log.Warn("cannot publish RLQS usage; assigning from this replica's own counts", "err", err)
	}
	for i, t := range targets {
		p := t.p
		h := hits[p.key]
		if t.demand {
			p.local.add(now, float64(h.requests))
			if err == nil {
				p.part = replicaPart(p.local.estimate(now, demandWindow), float64(out[i].Used), float64(h.requests))
			}
			continue
		}
		w := windowOf(now, p.limit.Window)
		if err == nil {
			p.used, p.window = out[i].Used, w
			continue
		}
		if p.window != w {
			p.used, p.window = 0, w
		}
		p.used += h.allowed
	}
}

// demandWindow is the sliding window over which replicas' demand is summed:
// six of Envoy's 5 s reports.
const demandWindow = 30 * time.Second

// replicaPart is this replica's part of a pool's demand, from its own and
// every replica's requests over demandWindow just after adding its latest
// report of added requests. Right after its own report a replica's count
// holds one report more than the others' (whose next ones are still to
// come), and right before it one fewer; the mean of both is taken, so that
// replicas reporting in turn do not each take more than their part.
func replicaPart(local, global, added float64) float64 {
	if den := 2*global - added; den > 0 {
		return min(1, max(0, (2*local-added)/den))
	}
	return 1
}

// windowOf returns the start of the epoch-aligned window of length w that
// holds now.
func windowOf(now time.Time, w time.Duration) time.Time {
	return time.Unix(0, now.UnixNano()-now.UnixNano()%int64(w))
}

// pool is one limit of one matched entry, shared by every bucket that
// matches it.
type pool struct {
	key    string
	domain string
	limit  ratelimit.BucketLimit
	shadow bool
	// members are the buckets of this replica's streams in the pool.
	members map[*bucket]struct{}
	// used is the pool's admissions in the window starting at window
	// (quota pools), as the backend last said.
	used   uint64
	window time.Time
	// part is this replica's part of the pool's demand (shared backends),
	// as of its last report; 1 until then.
	part float64
	// local is this replica's requests in the last demandWindow, estimated
	// as the backend estimates every replica's.
	local sliding
}

// quotaAfter is the shortest window treated as a quota: a pool whose
// fixed or sliding window is at least this long lets streams spend what is
// left of it at any pace; shorter windows and token buckets are enforced
// as rates.
const quotaAfter = time.Hour

// quota reports whether the pool is a quota (see quotaAfter).
func (p *pool) quota() bool {
	return p.limit.Algorithm != counter.TokenBucket && p.limit.Window >= quotaAfter
}

// localPart is the part of the pool this replica's streams may take.
func (p *pool) localPart(shared bool) float64 {
	if !shared {
		return 1
	}
	return p.part
}

// grant is a pool's assignment to one member.
type grant struct {
	kind        ActionKind
	rate, burst float64
	tokens      float64
}

// assignPool computes every member's grant (see decide for how a bucket's
// grants become its action) and returns the members. Called with s.mu held.
func (s *Server) assignPool(now time.Time, p *pool) []*bucket {
	members := make([]*bucket, 0, len(p.members))
	for b := range p.members {
		members = append(members, b)
	}
	slices.SortFunc(members, func(a, b *bucket) int {
		if a.st.name != b.st.name {
			if a.st.name < b.st.name {
				return -1
			}
			return 1
		}
		if a.key < b.key {
			return -1
		}
		if a.key > b.key {
			return 1
		}
		return 0
	})
	part := p.localPart(s.opts.Shared)
	demands := make([]float64, len(members))
	limit := float64(p.limit.Requests)
	if p.quota() {
		used := p.used
		if p.limit.Algorithm == counter.FixedWindow && p.window != windowOf(now, p.limit.Window) {
			used = 0 // the window turned since the backend last said
		}
		left := (limit - float64(used)) * part
		for i, b := range members {
			demands[i] = b.demand * b.st.interval.Seconds() * 2
		}
		shares := fairShares(left, demands, nil)
		want := 0.0
		for _, d := range demands {
			want += d
		}
		for i, b := range members {
			switch {
			case left < 1:
				b.grants[p] = grant{kind: DenyAll}
			case want*10 <= left:
				b.grants[p] = grant{kind: AllowAll}
			default:
				b.grants[p] = grant{kind: Limit, tokens: math.Floor(shares[i])}
			}
		}
	} else {
		rate := limit / p.limit.Window.Seconds() * part
		for i, b := range members {
			demands[i] = b.demand
		}
		shares := fairShares(rate, demands, nil)
		for i, b := range members {
			// One second of the share: enough for traffic that is not
			// perfectly even, and Envoy starts every new bucket full, so a
			// longer burst would be admitted on top of the limit at each
			// change. A token_bucket limit keeps its own capacity, shared.
			burst := shares[i]
			if p.limit.Algorithm == counter.TokenBucket && rate > 0 {
				burst = shares[i] / rate * limit * part
			}
			b.grants[p] = grant{kind: Limit, rate: shares[i], burst: burst}
		}
	}
	return members
}
