package metering

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/tollgate/tollgate/counter"
	cpebble "github.com/tollgate/tollgate/counter/pebble"
	"github.com/tollgate/tollgate/internal/testkit"
	"github.com/tollgate/tollgate/ratelimit"
)

// storeAdapter makes a counter.EventStore a Sink, CountReader and
// UsageReader, as the durable counters will.
type storeAdapter struct {
	store counter.EventStore
	// fail, when set, fails Ship and GetCount.
	mu   sync.Mutex
	fail error
}

func (a *storeAdapter) setFail(err error) {
	a.mu.Lock()
	a.fail = err
	a.mu.Unlock()
}

func (a *storeAdapter) failing() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.fail
}

func (a *storeAdapter) Ship(ctx context.Context, events []counter.Event) error {
	if err := a.failing(); err != nil {
		return err
	}
	return a.store.Append(ctx, events)
}

func (a *storeAdapter) GetCount(ctx context.Context, namespace, counterName string) (int64, error) {
	if err := a.failing(); err != nil {
		return 0, err
	}
	return a.store.Sum(ctx, namespace, counterName, time.Unix(0, 0), time.Unix(1<<40, 0))
}

func (a *storeAdapter) Sum(ctx context.Context, namespace, counterName string, from, to time.Time) (int64, error) {
	return a.store.Sum(ctx, namespace, counterName, from, to)
}

var errDown = errors.New("store down")

// harness is a Metering on an in-memory spool and a real counter/pebble
// store (in memory too), with a fake clock.
type harness struct {
	m     *Metering
	clock *testkit.Clock
	store *storeAdapter
	cfg   *Config
}

func newHarness(t *testing.T, doc string, start time.Time, mutate ...func(*Options)) *harness {
	t.Helper()
	cfg := mustParse(t, doc)
	clk := testkit.NewClock(start)
	st, err := cpebble.Open(cpebble.Options{Dir: "/store", FS: vfs.NewMem(), Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	h := &harness{clock: clk, store: &storeAdapter{store: st}, cfg: cfg}
	rl, err := ratelimit.New(ratelimit.Options{Counter: testkit.NewCounter(), Now: clk.Now}, cfg.RateLimitConfig())
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{Config: cfg, DataDir: "/data", SpoolFS: vfs.NewMem(), Sink: h.store, Counts: h.store, RateLimiter: rl, Now: clk.Now}
	for _, f := range mutate {
		f(&opts)
	}
	h.m, err = Open(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.m.Close() })
	return h
}

// check runs one Check with the given headers.
func (h *harness) check(t *testing.T, method, path, requestID string, headers map[string]string) CheckResult {
	t.Helper()
	var res CheckResult
	h.m.Check(t.Context(), &CheckRequest{Method: method, Path: path, Headers: headers, RequestID: requestID, Start: h.clock.Now()}, &res)
	return res
}

// flush ships the spool and refreshes the quota counts.
func (h *harness) flush(t *testing.T) {
	t.Helper()
	if err := h.m.Spool().Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := h.m.RefreshQuotas(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// sum returns the stored total of a counter.
func (h *harness) sum(t *testing.T, namespace, counterName string) int64 {
	t.Helper()
	n, err := h.store.GetCount(t.Context(), namespace, counterName)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
