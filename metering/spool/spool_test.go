package spool

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tollgate/tollgate/counter"
)

// fakeSink records shipped events; it fails while fail is set.
type fakeSink struct {
	mu      sync.Mutex
	batches [][]counter.Event
	fail    int // fail this many more calls
	calls   int
}

func (f *fakeSink) Ship(_ context.Context, events []counter.Event) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.fail > 0 {
		f.fail--
		return errors.New("sink down")
	}
	f.batches = append(f.batches, append([]counter.Event(nil), events...))
	return nil
}

func (f *fakeSink) events() []counter.Event {
	f.mu.Lock()
	defer f.mu.Unlock()
	var all []counter.Event
	for _, b := range f.batches {
		all = append(all, b...)
	}
	return all
}

func event(i int) counter.Event {
	return counter.Event{Namespace: "ns", Counter: "acme", Time: time.Date(2024, 5, 1, 0, 0, i, 7, time.UTC), ID: fmt.Sprintf("m/r%d", i), Delta: int64(i + 1), Clear: i == 3}
}

func open(t *testing.T, dir string, sink Sink, reg prometheus.Registerer) *Spool {
	t.Helper()
	s, err := Open(Options{Dir: dir, Sink: sink, BatchSize: 2, RetryMinBackoff: time.Millisecond, RetryMaxBackoff: 4 * time.Millisecond, FlushInterval: time.Millisecond, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	sink := &fakeSink{fail: 1 << 30}
	s := open(t, dir, sink, nil)
	want := []counter.Event{event(0), event(1), event(2), event(3), event(4)}
	if err := s.Append(t.Context(), want[:2]); err != nil {
		t.Fatal(err)
	}
	if err := s.Append(t.Context(), want[2:]); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err == nil {
		t.Fatal("Close with the sink down: want an error saying events stay spooled")
	} else if got := err.Error(); got != "metering/spool: 5 events stay spooled for the next start: metering/spool: cannot ship 2 events: sink down" {
		t.Errorf("Close error = %q", got)
	}
	if err := s.Append(t.Context(), want[:1]); !errors.Is(err, ErrClosed) {
		t.Errorf("Append after Close = %v, want ErrClosed", err)
	}

	sink = &fakeSink{}
	s = open(t, dir, sink, nil)
	if s.Depth() != 5 {
		t.Fatalf("depth after reopen = %d, want 5", s.Depth())
	}
	var pending []counter.Event
	if err := s.ForEach(func(ev counter.Event) { pending = append(pending, ev) }); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(pending, want) {
		t.Errorf("ForEach = %v, want %v", pending, want)
	}
	if err := s.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := sink.events(); !reflect.DeepEqual(got, want) {
		t.Errorf("shipped %v, want %v", got, want)
	}
	if len(sink.batches) != 3 || s.Depth() != 0 {
		t.Errorf("batches = %d, depth = %d; want 3, 0", len(sink.batches), s.Depth())
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Acknowledged events are gone for good.
	s = open(t, dir, &fakeSink{}, nil)
	defer s.Close()
	if s.Depth() != 0 {
		t.Errorf("depth after ack and reopen = %d, want 0", s.Depth())
	}
}

func TestRunRetries(t *testing.T) {
	reg := prometheus.NewRegistry()
	sink := &fakeSink{fail: 3}
	s := open(t, t.TempDir(), sink, reg)
	var acked []counter.Event
	s.opts.OnAck = func(evs []counter.Event) { acked = append(acked, evs...) }
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- s.Run(ctx) }()
	want := []counter.Event{event(0), event(1), event(2)}
	if err := s.Append(t.Context(), want); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); s.Depth() > 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("spool depth %d after 10s, want 0", s.Depth())
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := sink.events(); !reflect.DeepEqual(got, want) {
		t.Errorf("shipped %v, want %v", got, want)
	}
	if !reflect.DeepEqual(acked, want) {
		t.Errorf("acked %v", acked)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(s.metrics.shipErrors); got != 3 {
		t.Errorf("ship errors = %v, want 3", got)
	}
	if got := testutil.ToFloat64(s.metrics.shipped); got != 3 {
		t.Errorf("shipped = %v, want 3", got)
	}
	if got := testutil.ToFloat64(s.metrics.depth); got != 0 {
		t.Errorf("depth gauge = %v, want 0", got)
	}
	if n, err := testutil.GatherAndCount(reg); err != nil || n != 6 {
		t.Errorf("metrics = %d, %v", n, err)
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
}

func TestConcurrentAppends(t *testing.T) {
	sink := &fakeSink{}
	s := open(t, t.TempDir(), sink, nil)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				if err := s.Append(context.Background(), []counter.Event{event(w*1000 + i)}); err != nil {
					t.Error(err)
				}
				if i%10 == 0 {
					if err := s.Flush(context.Background()); err != nil {
						t.Error(err)
					}
				}
			}
		}()
	}
	wg.Wait()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, ev := range sink.events() {
		seen[ev.ID]++
	}
	if len(seen) != 400 {
		t.Errorf("shipped %d distinct events, want 400", len(seen))
	}
}

func TestValidate(t *testing.T) {
	_, err := Open(Options{BatchSize: -1})
	want := "metering/spool: Options.Dir is empty (hint: a directory under the data directory)\n" +
		"metering/spool: Options.Sink is nil (hint: pass the durable counter writer)\n" +
		"metering/spool: Options.BatchSize -1 is negative (hint: 0 for the default 500)"
	if err == nil || err.Error() != want {
		t.Errorf("err = %v", err)
	}
}

// TestAppendRefusesTimesOutOfRange checks that an event time the codec
// cannot hold (UnixNano wraps outside 1677-2262) refuses the whole Append,
// and that the range's ends are held exactly.
func TestAppendRefusesTimesOutOfRange(t *testing.T) {
	sink := &fakeSink{}
	s := open(t, t.TempDir(), sink, nil)
	defer s.Close()
	for _, tc := range []struct {
		when time.Time
		want string
	}{
		{time.Date(2999, 1, 1, 0, 0, 0, 0, time.UTC), `metering/spool: cannot append 2 events: metering/spool: event time out of range: event 1 (namespace "ns", counter "acme") has time 2999-01-01T00:00:00Z, outside 1677-09-21T00:12:43.145224192Z to 2262-04-11T23:47:16.854775807Z (hint: give events the time they happened; metering records a request at its arrival time when its start is far off)`},
		{time.Time{}, `metering/spool: cannot append 2 events: metering/spool: event time out of range: event 1 (namespace "ns", counter "acme") has time 0001-01-01T00:00:00Z, outside 1677-09-21T00:12:43.145224192Z to 2262-04-11T23:47:16.854775807Z (hint: give events the time they happened; metering records a request at its arrival time when its start is far off)`},
	} {
		bad := event(1)
		bad.Time = tc.when
		err := s.Append(context.Background(), []counter.Event{event(0), bad})
		if !errors.Is(err, ErrTimeRange) || err.Error() != tc.want {
			t.Errorf("Append at %s: error %v, want %q", tc.when, err, tc.want)
		}
	}
	if d := s.Depth(); d != 0 {
		t.Fatalf("Depth after refused appends = %d, want 0", d)
	}
	ends := []counter.Event{event(0), event(1)}
	ends[0].Time, ends[1].Time = MinTime, MaxTime
	if err := s.Append(context.Background(), ends); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := sink.events(); !reflect.DeepEqual(got, ends) {
		t.Errorf("shipped %+v, want %+v", got, ends)
	}
}
