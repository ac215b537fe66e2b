package redis

import (
	"context"
	"errors"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tollgate/tollgate/counter"
)

// TestFrozenRedis: a redis-server frozen with SIGSTOP under 8 concurrent
// callers arriving 6 ms apart. Every call returns within Timeout (+5 ms), queueing included;
// after BreakerThreshold failures the breaker opens and calls fail at once,
// Ping says so; once the server runs again a probe closes the breaker
// within 2 s.
func TestFrozenRedis(t *testing.T) {
	srv := startServer(t)
	reg := prometheus.NewRegistry()
	const timeout = 50 * time.Millisecond
	// One pipeline: callers after the first queue behind it.
	s, err := New(Options{Addrs: []string{srv.addr()}, Timeout: timeout, Pipelines: 1, Registerer: reg, KeyPrefix: "frozen:"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	hit := func() (time.Duration, error) {
		out := make([]counter.Outcome, 1)
		start := time.Now()
		err := s.Apply(context.Background(), start, []counter.Hit{{Key: "k", Limit: 1 << 40, Window: time.Minute, Hits: 1}}, out)
		return time.Since(start), err
	}
	if _, err := hit(); err != nil {
		t.Fatalf("healthy Redis: %v", err)
	}

	if err := srv.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	resumed := false
	defer func() {
		if !resumed {
			_ = srv.cmd.Process.Signal(syscall.SIGCONT)
		}
	}()
	var mu sync.Mutex
	var lat []time.Duration
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Staggered, as traffic arrives: later callers find both
			// pipelines busy and queue behind them.
			time.Sleep(time.Duration(w) * 6 * time.Millisecond)
			for range 25 {
				d, err := hit()
				if !errors.Is(err, counter.ErrUnavailable) {
					t.Errorf("frozen Redis: %v, want ErrUnavailable", err)
				}
				mu.Lock()
				lat = append(lat, d)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	slices.Sort(lat)
	p99, maxLat := lat[len(lat)*99/100], lat[len(lat)-1]
	// The calls that went to Redis before the breaker opened waited in
	// line for a pipeline: the deadline must bound them too.
	var waited []time.Duration
	for _, d := range lat {
		if d > time.Millisecond {
			waited = append(waited, d)
		}
	}
	t.Logf("frozen Redis, 8 callers, %d calls: p50 %v, p99 %v, max %v; %d reached Redis: %v", len(lat), lat[len(lat)/2], p99, maxLat, len(waited), waited)
	// The bound is the timeout; the slack is the scheduler's on a loaded
	// 2-core box running other test binaries (faults/ measures the p99 of
	// many decisions through the sidecar against timeout + 5 ms).
	const slack = 25 * time.Millisecond
	if p99 > timeout+slack {
		t.Errorf("p99 %v over the timeout %v + %v", p99, timeout, slack)
	}
	if len(waited) < 8 || waited[len(waited)-1] > timeout+slack {
		t.Errorf("calls that reached Redis: %v; want the 8 first, each within the timeout %v + %v", waited, timeout, slack)
	}
	if fast := lat[len(lat)/2]; fast > time.Millisecond {
		t.Errorf("median %v: the open breaker should answer at once", fast)
	}
	if got := testutil.ToFloat64(s.m.breakerOpens); got < 1 {
		t.Errorf("tollgate_redis_breaker_opens_total = %v, want ≥ 1", got)
	}
	if err := s.Ping(context.Background()); err == nil || !errors.Is(err, counter.ErrUnavailable) {
		t.Errorf("Ping with the breaker open = %v, want ErrUnavailable", err)
	}

	if err := srv.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	resumed = true
	back := time.Now()
	deadline := back.Add(2 * time.Second)
	for {
		if _, err := hit(); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("calls still failing 2s after Redis resumed")
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("back to normal %v after Redis resumed", time.Since(back).Round(time.Millisecond))
	if got := testutil.ToFloat64(s.m.breakerState); got != breakerClosed {
		t.Errorf("tollgate_redis_breaker_state = %v, want 0 (closed)", got)
	}
	if err := s.Ping(context.Background()); err != nil {
		t.Errorf("Ping after recovery: %v", err)
	}
}

// TestBreakerTransitions: the breaker opens after threshold failures in a
// row (not after fewer, nor after failures broken by a success), lets one
// probe through after the cooldown, and closes or reopens on its outcome.
func TestBreakerTransitions(t *testing.T) {
	m, err := newMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	b := &breaker{threshold: 3, cooldown: time.Second, m: m}
	t0 := time.Unix(1000, 0)
	fail := func(at time.Time) {
		ok, probe := b.allow(at)
		if !ok {
			t.Fatalf("call refused at %v", at.Sub(t0))
		}
		b.done(at, probe, true)
	}
	fail(t0)
	fail(t0)
	b.done(t0, false, false) // a success breaks the run
	fail(t0)
	fail(t0)
	if ok, _ := b.allow(t0); !ok {
		t.Fatal("opened after 2 failures in a row, want 3")
	}
	fail(t0)
	if ok, _ := b.allow(t0.Add(999 * time.Millisecond)); ok {
		t.Fatal("call allowed within the cooldown")
	}
	ok, probe := b.allow(t0.Add(time.Second))
	if !ok || !probe {
		t.Fatalf("after the cooldown: allow = %v, probe = %v; want the probe", ok, probe)
	}
	if ok, _ := b.allow(t0.Add(time.Second)); ok {
		t.Fatal("a second call allowed while the probe is out")
	}
	b.done(t0.Add(time.Second), true, true) // probe failed: open again
	if ok, _ := b.allow(t0.Add(1500 * time.Millisecond)); ok {
		t.Fatal("allowed within the cooldown after a failed probe")
	}
	ok, probe = b.allow(t0.Add(2 * time.Second))
	if !ok || !probe {
		t.Fatal("no probe after the second cooldown")
	}
	b.done(t0.Add(2*time.Second), true, false)
	if ok, probe := b.allow(t0.Add(2 * time.Second)); !ok || probe {
		t.Fatal("not closed after a successful probe")
	}
	if got := testutil.ToFloat64(m.breakerOpens); got != 2 {
		t.Errorf("opens = %v, want 2", got)
	}
}

// TestNoGoroutinesBeforeUse: New starts nothing; the first Apply starts
// the pipeline flushers, Close stops them.
func TestNoGoroutinesBeforeUse(t *testing.T) {
	s, err := New(Options{Addrs: []string{"127.0.0.1:1"}, Timeout: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if s.b.started {
		t.Fatal("New started the flushers")
	}
	_ = s.Apply(context.Background(), time.Now(), []counter.Hit{{Key: "k", Limit: 1, Window: time.Second, Hits: 1}}, make([]counter.Outcome, 1))
	if !s.b.started {
		t.Fatal("Apply did not start the flushers")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}
