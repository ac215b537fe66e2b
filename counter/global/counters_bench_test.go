package global

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/tollgate/tollgate/counter"
	"github.com/tollgate/tollgate/counter/cassandra"
	"github.com/tollgate/tollgate/counter/pebble"
	"github.com/tollgate/tollgate/internal/benchload"
	"github.com/tollgate/tollgate/internal/testenv"
)

// benchCounters returns Counters over a Pebble store on the real filesystem,
// with the real clock.
func benchCounters(b *testing.B) *Counters {
	b.Helper()
	s, err := pebble.Open(pebble.Options{FS: vfs.Default, Dir: b.TempDir(), Now: time.Now, LateAfter: testLateAfters})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return benchCountersOn(b, s)
}

// benchCassandraCounters returns Counters over the test Cassandra node
// (internal/testenv), in a keyspace of the benchmarks, with the real clock.
func benchCassandraCounters(b *testing.B) *Counters {
	b.Helper()
	return benchCountersOn(b, openCassandra(b, "tollgate_it_global_bench"))
}

// openCassandra opens a store on the test Cassandra node (internal/testenv)
// in keyspace, replicated in dc1, with testLateAfters, and closes it at the
// end of the test.
func openCassandra(tb testing.TB, keyspace string) *cassandra.Store {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := cassandra.Open(ctx, cassandra.Options{
		Hosts: testenv.Addrs(tb, testenv.Cassandra), Keyspace: keyspace, LocalDC: "dc1",
		Replication: cassandra.Replication{DataCenters: map[string]int{"dc1": 1}}, LateAfter: testLateAfters,
	})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// benchCountersOn returns Counters over s with testNamespaces and the real
// clock.
func benchCountersOn(b *testing.B, s counter.EventStore) *Counters {
	b.Helper()
	c, err := New(Options{Store: s, Namespaces: testNamespaces, Now: time.Now})
	if err != nil {
		b.Fatal(err)
	}
	run(b, c)
	return c
}

// BenchmarkAddCount measures durably acknowledged adds per second with many
// goroutines calling AddCount (one event each) or BatchAdd (32 events), over
// 1,000 counters, and reports the p99 acknowledgement latency.
func BenchmarkAddCount(b *testing.B) {
	for _, bc := range []struct {
		ns             string
		workers, batch int
	}{{"ev", 64, 1}, {"ev", 128, 1}, {"ev", 256, 1}, {"acc", 256, 1}, {"ev", 16, 32}} {
		name := bc.ns + "/workers=" + strconv.Itoa(bc.workers) + "/batch=" + strconv.Itoa(bc.batch)
		b.Run(name, func(b *testing.B) {
			c := benchCounters(b)
			b.ReportAllocs()
			ctx := context.Background()
			reqs := make([][]AddRequest, bc.workers)
			for w := range reqs {
				reqs[w] = make([]AddRequest, bc.batch)
			}
			benchload.Throughput(b, bc.workers, bc.batch, func(w int, n int64) error {
				t := time.Now()
				if bc.batch == 1 {
					return c.AddCount(ctx, bc.ns, "c"+strconv.Itoa(int(n%1000)), 1, IdempotencyToken{Token: strconv.FormatInt(n, 36), GenerationTime: t})
				}
				for j := range reqs[w] {
					i := n - int64(j)
					reqs[w][j] = AddRequest{bc.ns, "c" + strconv.Itoa(int(i%1000)), 1, IdempotencyToken{Token: strconv.FormatInt(i, 36), GenerationTime: t}}
				}
				return c.BatchAdd(ctx, reqs[w])
			})
		})
	}
}

// BenchmarkAccurateGetCount measures GetCount of an Accurate counter in
// circulation on Pebble; see benchAccurateGetCount.
func BenchmarkAccurateGetCount(b *testing.B) {
	benchAccurateGetCount(b, benchCounters(b), "acc", 1000)
}

// BenchmarkAccurateGetCountCassandra measures GetCount of an Accurate
// counter in circulation on Cassandra (make bench BENCH_CASSANDRA=1), with
// the default options and with hotOptions; see benchAccurateGetCount.
func BenchmarkAccurateGetCountCassandra(b *testing.B) {
	for _, bc := range []struct {
		ns   string
		rate int
	}{{"acc", 100}, {"acc", 1000}, {"acc_hot", 1000}} {
		b.Run(bc.ns+"/adds/s="+strconv.Itoa(bc.rate), func(b *testing.B) {
			benchAccurateGetCount(b, benchCassandraCounters(b), bc.ns, bc.rate)
		})
	}
}

// benchAccurateGetCount measures GetCount of an Accurate counter of
// namespace ns in circulation: a writer adds to it about rate times a second
// while the rollup workers keep its checkpoint close to now. Each read scans
// the adds after the previous read's seal (min(LateAfter, AcceptLimit) +
// ClockSkew of them). Reports the p99 latency.
func benchAccurateGetCount(b *testing.B, c *Counters, ns string, rate int) {
	ctx := context.Background()
	name := "hot-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(time.Second / time.Duration(rate))
		defer t.Stop()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-t.C:
			}
			if err := c.AddCount(ctx, ns, name, 1, IdempotencyToken{Token: strconv.Itoa(i), GenerationTime: time.Now()}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	defer func() { close(stop); wg.Wait() }()
	// Reach the steady state, reading as the benchmark will: a fresh
	// Cassandra JVM compiles its read path meanwhile.
	for end := time.Now().Add(DefaultAcceptLimit + DefaultClockSkew + 2*DefaultCoalesceWindow); time.Now().Before(end); {
		if _, err := c.GetCount(ctx, ns, name); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		t := time.Now()
		if _, err := c.GetCount(ctx, ns, name); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t))
	}
	b.StopTimer()
	b.ReportMetric(benchload.Millis(benchload.P99(lat)), "p99-ms")
}

// BenchmarkEventualConvergence measures, with the default options and the
// real clock, the time from the last add to an Eventual counter until
// GetCount returns the true count. Run it with -benchtime=1x (each iteration
// takes about AcceptLimit + ClockSkew).
func BenchmarkEventualConvergence(b *testing.B) {
	c := benchCounters(b)
	ctx := context.Background()
	var total time.Duration
	for i := range b.N {
		name := "conv" + strconv.Itoa(i)
		for j := range 100 {
			if err := c.AddCount(ctx, "ev", name, 1, IdempotencyToken{Token: strconv.Itoa(j), GenerationTime: time.Now()}); err != nil {
				b.Fatal(err)
			}
		}
		last := time.Now()
		for deadline := last.Add(time.Minute); ; time.Sleep(10 * time.Millisecond) {
			n, err := c.GetCount(ctx, "ev", name)
			if err != nil {
				b.Fatal(err)
			}
			if n == 100 {
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("eventual count %d a minute after the last add, want 100", n)
			}
		}
		total += time.Since(last)
	}
	b.ReportMetric(total.Seconds()/float64(b.N), "convergence-s")
}
