package redis

import (
	"context"
	"crypto/tls"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tollgate/tollgate/counter"
	"github.com/tollgate/tollgate/counter/bestefforttest"
	"github.com/tollgate/tollgate/ratelimit"
)

func TestConformance(t *testing.T) {
	for _, m := range modes {
		t.Run(string(m.mode), func(t *testing.T) {
			bestefforttest.Run(t, func(t *testing.T) bestefforttest.Backend {
				// The over-limit cache answers with a lower bound, so the exact
				// sequences run without it; it has its own tests.
				return newStore(t, m.mode, m.env, Options{OverLimitCacheSize: -1})
			})
		})
	}
	t.Run("single_without_coalescing", func(t *testing.T) {
		bestefforttest.Run(t, func(t *testing.T) bestefforttest.Backend {
			return newStore(t, ModeSingle, modes[0].env, Options{OverLimitCacheSize: -1, DisableCoalescing: true})
		})
	})
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
		want string
	}{
		{"single_two_addrs", Options{Addrs: []string{"a:1", "b:1"}},
			"counter/redis: mode single needs exactly one address, got 2 (set Addrs to one host:port, or use mode ring or cluster)"},
		{"unknown_mode_and_empty_addr", Options{Mode: "sentinel", Addrs: []string{""}, Timeout: -1},
			"counter/redis: unknown mode \"sentinel\" (use single, cluster or ring)\n" +
				"counter/redis: address 0 is empty (remove it or give host:port)\n" +
				"counter/redis: timeout -1ns is negative (use a positive duration such as 50ms)"},
		{"cluster_db", Options{Mode: ModeCluster, Addrs: []string{"a:1"}, DB: 2, PoolSize: -1, Pipelines: -3, MaxRetries: -2},
			"counter/redis: mode cluster has only database 0, got DB 2 (set DB to 0)\n" +
				"counter/redis: pool size -1 is negative (use 0 for the default)\n" +
				"counter/redis: pipelines -3 is negative (use 0 for the default, 2)\n" +
				"counter/redis: max retries -2 is negative (use 0 for none)"},
		{"ring_no_addrs", Options{Mode: ModeRing}, "counter/redis: mode ring needs at least one address (set Addrs)"},
		{"tls_insecure", Options{Addrs: []string{"a:1"}, TLS: &tls.Config{InsecureSkipVerify: true}},
			"counter/redis: TLS.InsecureSkipVerify is set: the server's certificate must be verified (give the CA bundle in TLS.RootCAs)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.opts)
			if err == nil || err.Error() != tc.want {
				t.Fatalf("got %v\nwant %s", err, tc.want)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	o := Options{Addrs: []string{"127.0.0.1:1"}}
	o.EnsureDefaults()
	if o.Mode != ModeSingle || o.Timeout != 50*time.Millisecond || o.KeyPrefix != "tollgate:" || o.OverLimitCacheSize != 65536 || o.Pipelines != 2 || o.Logger == nil || o.Now == nil {
		t.Fatalf("defaults not applied: %+v", o)
	}
}

// TestOverLimitCacheKeyedByLimit is the regression test for
// envoyproxy/ratelimit#1077: an entry cached for one limit must not answer a
// hit checked against another limit of the same key.
func TestOverLimitCacheKeyedByLimit(t *testing.T) {
	srv := startServer(t)
	reg := prometheus.NewRegistry()
	s, err := New(Options{Addrs: []string{srv.addr()}, Timeout: 2 * time.Second, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := bestefforttest.T0.Add(10 * time.Second)
	apply := func(limit, hits uint64) counter.Outcome {
		t.Helper()
		out := make([]counter.Outcome, 1)
		if err := s.Apply(context.Background(), now, []counter.Hit{{Key: "desc", Limit: limit, Window: time.Minute, Hits: hits}}, out); err != nil {
			t.Fatal(err)
		}
		return out[0]
	}
	for i, tc := range []struct {
		limit, hits uint64
		want        counter.Outcome
	}{
		{2, 2, counter.Outcome{Used: 2, Allowed: true, ResetAfter: 50 * time.Second}},
		{2, 1, counter.Outcome{Used: 3, ResetAfter: 50 * time.Second}},                 // over: cached
		{2, 4, counter.Outcome{Used: 6, ResetAfter: 50 * time.Second}},                 // from cache: Limit+Hits, not counted
		{2, 0, counter.Outcome{Used: 3, ResetAfter: 50 * time.Second}},                 // from cache: Limit+1
		{10, 1, counter.Outcome{Used: 4, Allowed: true, ResetAfter: 50 * time.Second}}, // another limit goes to Redis
	} {
		if got := apply(tc.limit, tc.hits); got != tc.want {
			t.Fatalf("call %d (limit %d, %d hits): got %+v, want %+v", i, tc.limit, tc.hits, got, tc.want)
		}
	}
	if got := testutil.ToFloat64(s.m.cacheHits); got != 2 {
		t.Fatalf("over-limit cache hits = %v, want 2", got)
	}
	// The next window starts fresh: the entry expired with its window.
	now = bestefforttest.T0.Add(time.Minute)
	if got, want := apply(2, 1), (counter.Outcome{Used: 1, Allowed: true, ResetAfter: time.Minute}); got != want {
		t.Fatalf("next window: got %+v, want %+v", got, want)
	}
}

// TestCoalescingExact holds the first increment of a hot key in flight (the
// server is paused), lets ten more callers pile up behind it, and checks they
// are merged into one INCRBY yet each gets its own exact count.
func TestCoalescingExact(t *testing.T) {
	srv := startServer(t)
	ctl := srv.client()
	s, err := New(Options{Addrs: []string{srv.addr()}, Timeout: 5 * time.Second, KeyPrefix: "c:"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := bestefforttest.T0
	hitsOf := func(n int) uint64 { return uint64(n%3 + 1) } // 1, 2 or 3 hits
	if err := ctl.Do(context.Background(), "client", "pause", 300000, "write").Err(); err != nil {
		t.Fatal(err)
	}
	const callers = 11
	outs := make([]counter.Outcome, callers)
	errs := make([]error, callers)
	var wg sync.WaitGroup
	call := func(n int) {
		wg.Go(func() {
			errs[n] = s.Apply(context.Background(), now, []counter.Hit{{Key: "hot", Limit: 100, Window: time.Minute, Hits: hitsOf(n)}}, outs[n:n+1])
		})
	}
	key := fixedKey("c:", "hot", floorDiv(now.UnixNano(), int64(time.Minute)))
	sh := s.co.shard(key)
	waitFor := func(what string, cond func(p *pending) bool) {
		t.Helper()
		for start := time.Now(); time.Since(start) < 5*time.Second; time.Sleep(time.Millisecond) {
			sh.mu.Lock()
			p := sh.m[key]
			ok := p != nil && cond(p)
			sh.mu.Unlock()
			if ok {
				return
			}
		}
		t.Fatalf("timed out waiting for %s", what)
	}
	call(0)
	waitFor("the first increment in flight", func(*pending) bool { return true })
	var want uint64
	for n := 1; n < callers; n++ {
		call(n)
		want += hitsOf(n)
	}
	waitFor("ten merged callers", func(p *pending) bool { return p.next != nil && p.next.sum == want })
	if err := ctl.Do(context.Background(), "client", "unpause").Err(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	type span struct{ lo, hi uint64 }
	var spans []span
	var total uint64
	for n := range callers {
		if errs[n] != nil {
			t.Fatalf("caller %d: %v", n, errs[n])
		}
		spans = append(spans, span{outs[n].Used - hitsOf(n) + 1, outs[n].Used})
		total += hitsOf(n)
	}
	// Every caller's hits occupy their own slice of 1..total, with no gap
	// and no overlap.
	slices.SortFunc(spans, func(a, b span) int { return int(a.lo) - int(b.lo) })
	next := uint64(1)
	for _, sp := range spans {
		if sp.lo != next {
			t.Fatalf("counts %v: caller slices overlap or leave a gap at %d", spans, next)
		}
		next = sp.hi + 1
	}
	if next != total+1 {
		t.Fatalf("counts %v end at %d, want %d", spans, next-1, total)
	}
	if got, err := ctl.Get(context.Background(), key).Uint64(); err != nil || got != total {
		t.Fatalf("redis holds %d (err %v), want %d", got, err, total)
	}
	if got := testutil.ToFloat64(s.m.coalesced); got != callers-1 {
		t.Fatalf("coalesced hits = %v, want %d", got, callers-1)
	}
	if ttl, err := ctl.PTTL(context.Background(), key).Result(); err != nil || ttl <= 0 || ttl > time.Minute {
		t.Fatalf("key TTL %v (err %v), want within (0, 1m]", ttl, err)
	}
}

// TestUnavailableClosedPort checks that a server that is not there fails fast
// with counter.ErrUnavailable, and that Ping says so too.
func TestUnavailableClosedPort(t *testing.T) {
	srv := startServer(t)
	srv.stop() // nothing listens on its port now
	s, err := New(Options{Addrs: []string{srv.addr()}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, alg := range []counter.Algorithm{counter.FixedWindow, counter.SlidingWindow, counter.TokenBucket} {
		start := time.Now()
		err := s.Apply(context.Background(), bestefforttest.T0, []counter.Hit{{Key: "k", Algorithm: alg, Limit: 1, Window: time.Minute, Hits: 1}}, make([]counter.Outcome, 1))
		if !errors.Is(err, counter.ErrUnavailable) {
			t.Fatalf("%v: got %v, want an error wrapping counter.ErrUnavailable", alg, err)
		}
		if !strings.HasPrefix(err.Error(), "counter/redis: cannot apply 1 hits on single "+srv.addr()+": counter: backend unavailable: ") {
			t.Fatalf("%v: error text %q", alg, err)
		}
		// A stall would take seconds (go-redis' default dial retries alone
		// take 500ms); the bound is loose on purpose.
		if d := time.Since(start); d > time.Second {
			t.Fatalf("%v: failing took %v, want about the 50ms timeout", alg, d)
		}
	}
	if err := s.Ping(context.Background()); !errors.Is(err, counter.ErrUnavailable) {
		t.Fatalf("Ping: got %v, want an error wrapping counter.ErrUnavailable", err)
	}
}

// TestUnavailableSlowServer pauses the server and checks Apply gives up
// after its timeout, then works again once the server answers.
func TestUnavailableSlowServer(t *testing.T) {
	srv := startServer(t)
	ctl := srv.client()
	s, err := New(Options{Addrs: []string{srv.addr()}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	hit := []counter.Hit{{Key: "slow", Limit: 10, Window: time.Minute, Hits: 1}}
	out := make([]counter.Outcome, 1)
	if err := s.Apply(context.Background(), bestefforttest.T0, hit, out); err != nil {
		t.Fatal(err)
	}
	if err := ctl.Do(context.Background(), "client", "pause", 2000, "all").Err(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = s.Apply(context.Background(), bestefforttest.T0, hit, out)
	if !errors.Is(err, counter.ErrUnavailable) {
		t.Fatalf("paused server: got %v, want an error wrapping counter.ErrUnavailable", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("paused server: failing took %v, want about the 50ms timeout", d)
	}
	if err := ctl.Do(context.Background(), "client", "unpause").Err(); err != nil {
		t.Fatal(err)
	}
	waitApply(t, s, hit)
}

// TestRecoversAfterRestart kills the server, checks Apply fails, restarts it
// on the same port and checks the same Store works again by itself.
func TestRecoversAfterRestart(t *testing.T) {
	srv := startServer(t)
	for _, m := range []Mode{ModeSingle, ModeRing} {
		s, err := New(Options{Mode: m, Addrs: []string{srv.addr()}})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		hits := []counter.Hit{
			{Key: "r", Limit: 10, Window: time.Minute, Hits: 1},
			{Key: "r", Algorithm: counter.TokenBucket, Limit: 10, Window: time.Minute, Hits: 1},
		}
		waitApply(t, s, hits)
		srv.stop()
		if err := s.Apply(context.Background(), bestefforttest.T0, hits, make([]counter.Outcome, 2)); !errors.Is(err, counter.ErrUnavailable) {
			t.Fatalf("%s, server down: got %v, want an error wrapping counter.ErrUnavailable", m, err)
		}
		srv.start() // scripts are no longer cached: EVALSHA falls back to EVAL
		waitApply(t, s, hits)
	}
}

// waitApply retries Apply for up to 10s until it succeeds.
func waitApply(t *testing.T, s *Store, hits []counter.Hit) {
	t.Helper()
	var err error
	for start := time.Now(); time.Since(start) < 10*time.Second; time.Sleep(20 * time.Millisecond) {
		if err = s.Apply(context.Background(), bestefforttest.T0, hits, make([]counter.Outcome, len(hits))); err == nil {
			return
		}
	}
	t.Fatalf("Apply did not recover within 10s: %v", err)
}

// TestCancelledCallersKeepConnections cancels callers while their commands
// wait on a paused server and checks no connection is dropped for it: the
// calls still succeed and the server sees no new connections beyond the
// pool's size.
func TestCancelledCallersKeepConnections(t *testing.T) {
	srv := startServer(t)
	ctl := srv.client()
	const pool = 4
	s, err := New(Options{Addrs: []string{srv.addr()}, PoolSize: pool, Timeout: 2 * time.Second, DisableCoalescing: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	before := connectionsReceived(t, ctl)
	for round := range 10 {
		if err := ctl.Do(context.Background(), "client", "pause", 30, "write").Err(); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make([]error, pool)
		for g := range pool {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(5*time.Millisecond, cancel)
			wg.Go(func() {
				hit := []counter.Hit{{Key: "cancel", Limit: 1000, Window: time.Minute, Hits: 1}}
				errs[g] = s.Apply(ctx, bestefforttest.T0, hit, make([]counter.Outcome, 1))
			})
		}
		wg.Wait()
		for g, err := range errs {
			if err != nil {
				t.Fatalf("round %d caller %d: %v", round, g, err)
			}
		}
	}
	if got := connectionsReceived(t, ctl) - before; got > pool+1 { // +1: the INFO connection itself
		t.Fatalf("server received %d new connections over 40 cancelled calls, want at most %d", got, pool+1)
	}
	if st := s.client.PoolStats(); st.TotalConns > pool {
		t.Fatalf("pool holds %d connections, want at most %d", st.TotalConns, pool)
	}
}

func TestApplyCancelledContext(t *testing.T) {
	s, err := New(Options{Addrs: []string{"127.0.0.1:1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err = s.Apply(ctx, bestefforttest.T0, []counter.Hit{{Key: "k", Limit: 1, Window: time.Minute, Hits: 1}}, make([]counter.Outcome, 1))
	if !errors.Is(err, context.Canceled) || errors.Is(err, counter.ErrUnavailable) || err.Error() != "counter/redis: cannot apply 1 hits: context canceled" {
		t.Fatalf("got %v, want context.Canceled without ErrUnavailable", err)
	}
}

func TestPing(t *testing.T) {
	for _, m := range modes {
		t.Run(string(m.mode), func(t *testing.T) {
			if err := newStore(t, m.mode, m.env, Options{}).Ping(context.Background()); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// newClosed returns a Store, closed, for an address nothing listens on.
func newClosed(t *testing.T) *Store {
	t.Helper()
	s, err := New(Options{Addrs: []string{"127.0.0.1:1"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestCloseTwice(t *testing.T) {
	s := newClosed(t)
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// TestApplyAfterClose checks that a closed Store refuses hits at once.
func TestApplyAfterClose(t *testing.T) {
	s := newClosed(t)
	err := s.Apply(context.Background(), bestefforttest.T0, []counter.Hit{{Key: "k", Limit: 1, Window: time.Minute, Hits: 1}}, make([]counter.Outcome, 1))
	want := "counter/redis: cannot apply 1 hits on single 127.0.0.1:1: counter: backend unavailable: counter/redis: store is closed (do not call Apply after Close) (check that redis is reachable; raise Options.Timeout if it is slow)"
	if !errors.Is(err, counter.ErrUnavailable) || err.Error() != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}
}

// TestSharedPipelinesExact sends many concurrent calls through one pipeline
// slot, while the server is paused so that they pile up into shared
// pipelines, and checks every caller gets its own exact count.
func TestSharedPipelinesExact(t *testing.T) {
	srv := startServer(t)
	ctl := srv.client()
	s, err := New(Options{Addrs: []string{srv.addr()}, Timeout: 5 * time.Second, Pipelines: 1, DisableCoalescing: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := ctl.Do(context.Background(), "client", "pause", 100, "write").Err(); err != nil {
		t.Fatal(err)
	}
	const callers = 64
	outs := make([][]counter.Outcome, callers)
	errs := make([]error, callers)
	var wg sync.WaitGroup
	for c := range callers {
		wg.Go(func() {
			hits := []counter.Hit{
				{Key: "shared", Limit: callers / 2, Window: time.Minute, Hits: 1},
				{Key: "own" + strconv.Itoa(c), Limit: 10, Window: time.Minute, Hits: uint64(c + 1)},
			}
			outs[c] = make([]counter.Outcome, len(hits))
			errs[c] = s.Apply(context.Background(), bestefforttest.T0, hits, outs[c])
		})
	}
	wg.Wait()
	seen := make([]bool, callers+1)
	allowed := 0
	for c := range callers {
		if errs[c] != nil {
			t.Fatalf("caller %d: %v", c, errs[c])
		}
		shared, own := outs[c][0], outs[c][1]
		if shared.Used < 1 || shared.Used > callers || seen[shared.Used] {
			t.Fatalf("caller %d: shared counter used %d, want a distinct count in 1..%d", c, shared.Used, callers)
		}
		seen[shared.Used] = true
		if shared.Allowed {
			allowed++
		}
		if want := uint64(c + 1); own.Used != want || own.Allowed != (want <= 10) {
			t.Fatalf("caller %d: own counter %+v, want used %d", c, own, want)
		}
	}
	if allowed != callers/2 {
		t.Fatalf("%d callers allowed on the shared counter, want %d", allowed, callers/2)
	}
}

func TestMetricsLint(t *testing.T) {
	reg := prometheus.NewRegistry()
	s, err := New(Options{Addrs: []string{"127.0.0.1:1"}, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_ = s.Apply(context.Background(), bestefforttest.T0, []counter.Hit{{Key: "k", Limit: 1, Window: time.Minute, Hits: 1}}, make([]counter.Outcome, 1))
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		// "counter" is Tollgate's subsystem name (tollgate_counter_*), not the
		// metric type promlint takes it for.
		if p.Text != "metric name should not include type 'counter'" {
			t.Errorf("lint %s: %s", p.Metric, p.Text)
		}
	}
	names := []string{}
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		names = append(names, mf.GetName())
	}
	want := []string{"tollgate_counter_coalesced_hits_total", "tollgate_counter_errors_total", "tollgate_counter_op_duration_seconds", "tollgate_counter_overlimit_cache_hits_total", "tollgate_redis_breaker_opens_total", "tollgate_redis_breaker_state"}
	if !slices.Equal(names, want) {
		t.Fatalf("metrics %v, want %v", names, want)
	}
	if got := testutil.ToFloat64(s.m.errors); got != 1 {
		t.Fatalf("errors_total = %v, want 1", got)
	}
	if _, err := New(Options{Addrs: []string{"127.0.0.1:1"}, Registerer: reg}); err == nil {
		t.Fatal("registering twice on one registry: got no error")
	}
}

// The Store is the counter the rate-limit service calls.
var _ ratelimit.Counter = (*Store)(nil)
