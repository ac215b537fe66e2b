package cassandra

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gocql/gocql"

	"github.com/tollgate/tollgate/counter"
	"github.com/tollgate/tollgate/counter/groupcommit"
)

// Batch limits: one unlogged batch stays under Cassandra's default
// batch_size_warn_threshold (5 KiB).
const (
	maxBatchRows  = 64
	maxBatchBytes = 4 << 10
	// rowOverhead estimates the bytes of one event row besides its strings.
	rowOverhead = 48
	// maxMergedPartitions is the most partitions pack puts in one batch,
	// below Cassandra's unlogged_batch_across_partitions_warn_threshold (10).
	maxMergedPartitions = 8
	// appendCommitters is how many group commits of Append run at once, and
	// maxCommitEvents the most events one gathers from waiting Appends.
	appendCommitters = 4
	maxCommitEvents  = 4096
)

// Store is a counter.EventStore on Apache Cassandra. It is safe for
// concurrent use.
type Store struct {
	session     *gocql.Session
	opts        Options
	bucketNanos int64
	eventTTL    int
	indexTTL    int
	q           queries
	commits     *groupcommit.Group[counter.Event]
	closeOnce   sync.Once
}

var _ counter.EventStore = (*Store)(nil)

// ErrClosed is returned by Append on a closed Store.
var ErrClosed = errors.New("counter/cassandra: store is closed (open a new one)")

// queries are the CQL statements, qualified with the keyspace.
type queries struct {
	insertEvent, updateLastWrite, insertIndex, saveCheckpoint string
	selectRows, selectTimedRows, selectFold, selectSum        string
	selectIndex, selectCheckpoint, selectLastWrite            string
	countLate, selectLate                                     string
}

func newQueries(ks string) queries {
	const key = "namespace = ? AND counter = ?"
	const part = key + " AND time_bucket = ? AND event_bucket = ?"
	return queries{
		insertEvent: "INSERT INTO " + ks + ".events (namespace, counter, time_bucket, event_bucket, event_time, event_id, delta, kind) VALUES (?, ?, ?, ?, ?, ?, ?, ?) USING TTL ?",
		// Written with the event time as write timestamp: the latest event wins.
		updateLastWrite: "UPDATE " + ks + ".rollups USING TIMESTAMP ? SET last_write = ? WHERE " + key,
		insertIndex:     "INSERT INTO " + ks + ".rollups (namespace, counter, time_bucket) VALUES (?, ?, ?) USING TTL ?",
		// Written with the checkpoint time as write timestamp: the latest checkpoint wins.
		saveCheckpoint:   "UPDATE " + ks + ".rollups USING TIMESTAMP ? SET checkpoint = ? WHERE " + key,
		selectRows:       "SELECT delta, kind FROM " + ks + ".events WHERE " + part + " AND event_time > ? AND event_time <= ?",
		selectTimedRows:  "SELECT event_time, delta, kind FROM " + ks + ".events WHERE " + part + " AND event_time > ? AND event_time <= ?",
		selectFold:       "SELECT sum(delta), count(*), max(kind) FROM " + ks + ".events WHERE " + part + " AND event_time > ? AND event_time <= ?",
		selectSum:        "SELECT sum(delta) FROM " + ks + ".events WHERE " + part + " AND event_time >= ? AND event_time < ?",
		selectIndex:      "SELECT time_bucket FROM " + ks + ".rollups WHERE " + key + " AND time_bucket >= ? AND time_bucket <= ?",
		selectCheckpoint: "SELECT checkpoint FROM " + ks + ".rollups WHERE " + key + " LIMIT 1",
		selectLastWrite:  "SELECT last_write FROM " + ks + ".rollups WHERE " + key + " LIMIT 1",
		countLate:        "UPDATE " + ks + ".late_writes SET late = late + 1 WHERE " + key,
		selectLate:       "SELECT late FROM " + ks + ".late_writes WHERE " + key,
	}
}

// Open connects to the cluster, creates the keyspace and tables when they are
// missing and checks that the keyspace's TimeBucket and EventBuckets match opts.
func Open(ctx context.Context, opts Options) (*Store, error) {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	cluster := gocql.NewCluster(opts.Hosts...)
	cluster.Port = opts.Port
	cluster.Consistency = opts.Consistency
	cluster.SerialConsistency = gocql.LocalSerial
	cluster.Timeout = opts.Timeout
	cluster.WriteTimeout = opts.Timeout
	cluster.ConnectTimeout = opts.ConnectTimeout
	// gocql holds each frame up to 200 µs by default to write several at
	// once; its timer fires more than a millisecond late here, which made a
	// one-row read take 1.5 ms at the median instead of 0.33 ms. Appends are
	// batched already, so the coalescing saves nothing worth the latency.
	cluster.WriteCoalesceWaitTime = 0
	cluster.RetryPolicy = &gocql.SimpleRetryPolicy{NumRetries: 2}
	cluster.Logger = driverLogger{opts.Logger.With("component", "counter/cassandra")}
	fallback := gocql.RoundRobinHostPolicy()
	if opts.LocalDC != "" {
		fallback = gocql.DCAwareRoundRobinPolicy(opts.LocalDC)
	}
	cluster.PoolConfig.HostSelectionPolicy = gocql.TokenAwareHostPolicy(fallback)
	secure(cluster, &opts)
	session, err := cluster.CreateSession()
	if err != nil {
		return nil, connectError(&opts, err)
	}
	if err := ensureSchema(ctx, session, &opts); err != nil {
		session.Close()
		return nil, err
	}
	s := &Store{
		session:     session,
		opts:        opts,
		bucketNanos: int64(opts.TimeBucket),
		eventTTL:    int(opts.Retention / time.Second),
		indexTTL:    int((opts.Retention + opts.TimeBucket) / time.Second),
		q:           newQueries(opts.Keyspace),
	}
	s.commits = groupcommit.Start(appendCommitters, maxCommitEvents, s.write)
	return s, nil
}

// Close waits for the Appends in flight and closes the session. It is safe
// to call more than once; Append then returns ErrClosed.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.commits.Close()
		s.session.Close()
	})
	return nil
}

// partKey identifies an events partition.
type partKey struct {
	namespace, counter string
	timeBucket         int64
	eventBucket        int16
}

// counterKey identifies a counter.
type counterKey struct{ namespace, counter string }

// counterWrite is what one Append writes to a counter's rollup partition.
type counterWrite struct {
	lastWrite   int64
	timeBuckets []int64
}

// Append writes the events and, per counter, its last-write time and
// time-bucket index rows, in unlogged batches sent concurrently. Concurrent
// Appends are written together (group commit), so that their rows share
// batches and round trips. Rows are grouped by partition; small partition
// groups are packed together into one request of at most
// maxMergedPartitions partitions. A clear is also copied into the other
// event buckets of its time bucket. ctx is checked before queueing; once
// queued, Append waits for the write, which Options.Timeout bounds per
// request. Then it counts the late events (Options.LateAfter) per counter in
// the late_writes table.
func (s *Store) Append(ctx context.Context, events []counter.Event) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("counter/cassandra: cannot append %d events: %w", len(events), err)
	}
	if len(events) == 0 {
		return nil
	}
	// Checked here, so that one caller's bad event cannot fail the others'
	// in a shared write.
	for i := range events {
		if _, err := unixNanos(events[i].Time); err != nil {
			return fmt.Errorf("counter/cassandra: cannot append event %q of counter %q: %w", events[i].ID, events[i].Counter, err)
		}
	}
	err := s.commits.Submit(events)
	if errors.Is(err, groupcommit.ErrClosed) {
		return ErrClosed
	}
	if err == nil {
		err = s.countLate(ctx, events, s.opts.Now())
	}
	if err != nil {
		return fmt.Errorf("counter/cassandra: cannot append %d events to keyspace %q: %w (retry with the same events; check that the local data center's replicas are up)", len(events), s.opts.Keyspace, err)
	}
	return nil
}

// LateAfter returns the namespace's Options.LateAfter.
func (s *Store) LateAfter(namespace string) time.Duration { return s.opts.LateAfter.Of(namespace) }

// countLate adds one to the late_writes of each counter with an event that
// is late at now, when the events are durable. Readers only compare the
// value, so an update counted twice (a driver retry after a timeout, or the
// caller's retry of a failed Append) only makes them read more.
func (s *Store) countLate(ctx context.Context, events []counter.Event, now time.Time) error {
	var counters []counterKey
	for i := range events {
		ck := counterKey{events[i].Namespace, events[i].Counter}
		if events[i].Time.Before(now.Add(-s.LateAfter(ck.namespace))) && !slices.Contains(counters, ck) {
			counters = append(counters, ck)
		}
	}
	return s.fanOut(ctx, len(counters), func(ctx context.Context, i int) error {
		err := s.session.Query(s.q.countLate, counters[i].namespace, counters[i].counter).WithContext(ctx).Exec()
		if err != nil {
			return fmt.Errorf("cannot count a late event: %w", err)
		}
		return nil
	})
}

// LateWrites returns how many Appends counted a late event of the counter.
func (s *Store) LateWrites(ctx context.Context, namespace, counterName string) (int64, error) {
	var n int64
	err := s.session.Query(s.q.selectLate, namespace, counterName).WithContext(ctx).Idempotent(true).Scan(&n)
	if errors.Is(err, gocql.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("counter/cassandra: cannot read the late writes of counter %q of namespace %q: %w", counterName, namespace, err)
	}
	return n, nil
}

// write writes the events of a group commit's Appends.
func (s *Store) write(appends [][]counter.Event) error {
	// No caller's context: the write is shared, and each request is bounded
	// by Options.Timeout.
	batches := s.pack(s.appendGroups(appends))
	return s.fanOut(context.Background(), len(batches), func(_ context.Context, i int) error {
		return s.session.ExecuteBatch(batches[i])
	})
}

// rowGroup is rows of one partition, at most maxBatchRows and about
// maxBatchBytes.
type rowGroup struct {
	entries []gocql.BatchEntry
	bytes   int
}

// appendGroups plans the rows of Appends, grouped by partition. Their event
// times have been checked.
func (s *Store) appendGroups(appends [][]counter.Event) []rowGroup {
	var (
		groups   []rowGroup
		open     = make(map[partKey]int, len(appends))
		counters = make(map[counterKey]*counterWrite, 1)
		order    []counterKey
	)
	addRow := func(k partKey, nanos int64, ev *counter.Event, delta int64, kind int8) {
		bytes := len(k.namespace) + len(k.counter) + len(ev.ID) + rowOverhead
		i, ok := open[k]
		if !ok || len(groups[i].entries) >= maxBatchRows || groups[i].bytes+bytes > maxBatchBytes {
			i = len(groups)
			groups = append(groups, rowGroup{})
			open[k] = i
		}
		groups[i].bytes += bytes
		groups[i].entries = append(groups[i].entries, gocql.BatchEntry{
			Stmt:       s.q.insertEvent,
			Args:       []any{k.namespace, k.counter, k.timeBucket, k.eventBucket, nanos, ev.ID, delta, kind, s.eventTTL},
			Idempotent: true,
		})
	}
	for _, events := range appends {
		for i := range events {
			ev := &events[i]
			nanos, _ := unixNanos(ev.Time)
			tb := nanos / s.bucketNanos
			home := eventBucket(ev.ID, s.opts.EventBuckets)
			k := partKey{ev.Namespace, ev.Counter, tb, home}
			if ev.Clear {
				for b := range s.opts.EventBuckets {
					kind := kindClearCopy
					if int16(b) == home {
						kind = kindClear
					}
					k.eventBucket = int16(b)
					addRow(k, nanos, ev, 0, kind)
				}
			} else {
				addRow(k, nanos, ev, ev.Delta, kindAdd)
			}
			ck := counterKey{ev.Namespace, ev.Counter}
			cw := counters[ck]
			if cw == nil {
				cw = &counterWrite{lastWrite: nanos}
				counters[ck] = cw
				order = append(order, ck)
			}
			cw.lastWrite = max(cw.lastWrite, nanos)
			if !containsBucket(cw.timeBuckets, tb) {
				cw.timeBuckets = append(cw.timeBuckets, tb)
			}
		}
	}
	for _, ck := range order {
		cw := counters[ck]
		rowBytes := len(ck.namespace) + len(ck.counter) + rowOverhead
		g := rowGroup{bytes: rowBytes * (1 + len(cw.timeBuckets))}
		g.entries = append(g.entries, gocql.BatchEntry{
			Stmt: s.q.updateLastWrite, Args: []any{micros(cw.lastWrite), cw.lastWrite, ck.namespace, ck.counter}, Idempotent: true,
		})
		for _, tb := range cw.timeBuckets {
			g.entries = append(g.entries, gocql.BatchEntry{
				Stmt: s.q.insertIndex, Args: []any{ck.namespace, ck.counter, tb, s.indexTTL}, Idempotent: true,
			})
		}
		groups = append(groups, g)
	}
	return groups
}

// pack puts consecutive row groups into batches of at most
// maxMergedPartitions partitions, maxBatchRows rows and about maxBatchBytes,
// so a small Append is one request; the coordinator splits a batch by
// partition.
func (s *Store) pack(groups []rowGroup) []*gocql.Batch {
	var (
		batches     []*gocql.Batch
		cur         *gocql.Batch
		parts, size int
	)
	for _, g := range groups {
		if cur == nil || parts == maxMergedPartitions || len(cur.Entries)+len(g.entries) > maxBatchRows || size+g.bytes > maxBatchBytes {
			cur = s.session.NewBatch(gocql.UnloggedBatch)
			batches = append(batches, cur)
			parts, size = 0, 0
		}
		cur.Entries = append(cur.Entries, g.entries...)
		parts++
		size += g.bytes
	}
	return batches
}

// containsBucket reports whether tbs holds tb; an Append spans few buckets.
func containsBucket(tbs []int64, tb int64) bool {
	for _, t := range tbs {
		if t == tb {
			return true
		}
	}
	return false
}

// Aggregate folds the counter's events with from < Time <= to, querying the
// event buckets of every time bucket of the range in parallel.
func (s *Store) Aggregate(ctx context.Context, namespace, counterName string, from, to time.Time) (counter.Aggregate, error) {
	fail := func(err error) (counter.Aggregate, error) {
		return counter.Aggregate{}, fmt.Errorf("counter/cassandra: cannot aggregate counter %q of namespace %q: %w", counterName, namespace, err)
	}
	lo, hi := openBound(from), openBound(to)
	parts, err := s.partitions(ctx, namespace, counterName, lo, hi)
	if err != nil {
		return fail(err)
	}
	folds := make([]partFold, len(parts))
	err = s.fanOut(ctx, len(parts), func(ctx context.Context, i int) (err error) {
		folds[i], err = s.foldPartition(ctx, parts[i], lo, hi)
		return err
	})
	if err != nil {
		return fail(err)
	}
	return foldTimeBuckets(folds, s.opts.EventBuckets), nil
}

// AggregateSplit folds the counter's events with from < Time <= to into head
// (Time <= cut) and tail. It reads the rows of every partition of the range
// in parallel, each once: it serves short ranges (an accurate read's), where
// that costs less than summing both sides in Cassandra.
func (s *Store) AggregateSplit(ctx context.Context, namespace, counterName string, from, cut, to time.Time) (head, tail counter.Aggregate, err error) {
	fail := func(err error) (counter.Aggregate, counter.Aggregate, error) {
		return counter.Aggregate{}, counter.Aggregate{}, fmt.Errorf("counter/cassandra: cannot aggregate counter %q of namespace %q: %w", counterName, namespace, err)
	}
	lo, mid, hi := openBound(from), openBound(cut), openBound(to)
	parts, err := s.partitions(ctx, namespace, counterName, lo, hi)
	if err != nil {
		return fail(err)
	}
	heads, tails := make([]partFold, len(parts)), make([]partFold, len(parts))
	err = s.fanOut(ctx, len(parts), func(ctx context.Context, i int) error {
		p := parts[i]
		iter := s.session.Query(s.q.selectTimedRows, p.namespace, p.counter, p.timeBucket, p.eventBucket, lo, hi).
			WithContext(ctx).Idempotent(true).Iter()
		var (
			t, delta int64
			kind     int8
		)
		for iter.Scan(&t, &delta, &kind) {
			if t <= mid {
				heads[i].add(delta, kind)
			} else {
				tails[i].add(delta, kind)
			}
		}
		return iter.Close()
	})
	if err != nil {
		return fail(err)
	}
	return foldTimeBuckets(heads, s.opts.EventBuckets), foldTimeBuckets(tails, s.opts.EventBuckets), nil
}

// partitions returns the event partitions that may hold events of the
// counter with lo < event_time <= hi, by ascending time bucket, then event
// bucket; none for an empty range.
func (s *Store) partitions(ctx context.Context, namespace, counterName string, lo, hi int64) ([]partKey, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if hi <= lo || hi < 0 {
		return nil, nil
	}
	tbs, err := s.timeBuckets(ctx, namespace, counterName, (lo+1)/s.bucketNanos, hi/s.bucketNanos)
	if err != nil {
		return nil, err
	}
	n := s.opts.EventBuckets
	parts := make([]partKey, 0, len(tbs)*n)
	for _, tb := range tbs {
		for eb := range n {
			parts = append(parts, partKey{namespace, counterName, tb, int16(eb)})
		}
	}
	return parts, nil
}

// foldPartition folds the events of partition p with lo < event_time <= hi.
// Cassandra sums the partition; only a partition with a clear in the range is
// read row by row, since a clear discards the rows before it.
func (s *Store) foldPartition(ctx context.Context, p partKey, lo, hi int64) (partFold, error) {
	var (
		f       partFold
		maxKind *int8 // null when the range has no rows
	)
	err := s.session.Query(s.q.selectFold, p.namespace, p.counter, p.timeBucket, p.eventBucket, lo, hi).
		WithContext(ctx).Idempotent(true).Scan(&f.sum, &f.events, &maxKind)
	if errors.Is(err, gocql.ErrNotFound) {
		return partFold{}, nil // no rows
	}
	if err != nil || maxKind == nil || *maxKind == kindAdd {
		return f, err
	}
	f = partFold{}
	iter := s.session.Query(s.q.selectRows, p.namespace, p.counter, p.timeBucket, p.eventBucket, lo, hi).
		WithContext(ctx).Idempotent(true).Iter()
	var (
		delta int64
		kind  int8
	)
	for iter.Scan(&delta, &kind) {
		f.add(delta, kind)
	}
	return f, iter.Close()
}

// Sum returns the sum of the deltas of the counter's non-clear events with
// from <= Time < to, summed by Cassandra per partition.
func (s *Store) Sum(ctx context.Context, namespace, counterName string, from, to time.Time) (int64, error) {
	fail := func(err error) (int64, error) {
		return 0, fmt.Errorf("counter/cassandra: cannot sum counter %q of namespace %q: %w", counterName, namespace, err)
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	lo, hi := closedBound(from), closedBound(to)
	if hi <= lo {
		return 0, nil
	}
	tbs, err := s.timeBuckets(ctx, namespace, counterName, lo/s.bucketNanos, (hi-1)/s.bucketNanos)
	if err != nil {
		return fail(err)
	}
	n := s.opts.EventBuckets
	sums := make([]int64, len(tbs)*n)
	err = s.fanOut(ctx, len(sums), func(ctx context.Context, i int) error {
		// Clears are stored with delta 0, so they add nothing.
		return s.session.Query(s.q.selectSum, namespace, counterName, tbs[i/n], int16(i%n), lo, hi).
			WithContext(ctx).Idempotent(true).Scan(&sums[i])
	})
	if err != nil {
		return fail(err)
	}
	var sum int64
	for _, v := range sums {
		sum += v
	}
	return sum, nil
}

// timeBuckets returns the time buckets in [first, last] that may hold events
// of the counter, ascending: all of them for a short range, else those the
// counter's time-bucket index lists.
func (s *Store) timeBuckets(ctx context.Context, namespace, counterName string, first, last int64) ([]int64, error) {
	if last-first < directTimeBuckets {
		tbs := make([]int64, 0, last-first+1)
		for tb := first; tb <= last; tb++ {
			tbs = append(tbs, tb)
		}
		return tbs, nil
	}
	iter := s.session.Query(s.q.selectIndex, namespace, counterName, first, last).WithContext(ctx).Idempotent(true).Iter()
	var (
		tbs []int64
		tb  int64
	)
	for iter.Scan(&tb) {
		tbs = append(tbs, tb)
	}
	if err := iter.Close(); err != nil {
		return nil, fmt.Errorf("cannot list time buckets: %w", err)
	}
	return tbs, nil
}

// Checkpoint returns the counter's stored checkpoint, or the zero Checkpoint.
func (s *Store) Checkpoint(ctx context.Context, namespace, counterName string) (counter.Checkpoint, error) {
	fail := func(err error) (counter.Checkpoint, error) {
		return counter.Checkpoint{}, fmt.Errorf("counter/cassandra: cannot read the checkpoint of counter %q of namespace %q: %w", counterName, namespace, err)
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	var b []byte
	err := s.session.Query(s.q.selectCheckpoint, namespace, counterName).WithContext(ctx).Idempotent(true).Scan(&b)
	if errors.Is(err, gocql.ErrNotFound) || (err == nil && b == nil) {
		return counter.Checkpoint{}, nil
	}
	if err != nil {
		return fail(err)
	}
	at, count, err := decodeCheckpoint(b)
	if err != nil {
		return fail(err)
	}
	return counter.Checkpoint{Count: count, At: time.Unix(0, at).UTC()}, nil
}

// SaveCheckpoint stores cp as one cell written with cp.At as its timestamp,
// so Cassandra keeps the checkpoint with the latest At whatever the order in
// which saves arrive.
func (s *Store) SaveCheckpoint(ctx context.Context, namespace, counterName string, cp counter.Checkpoint) error {
	fail := func(err error) error {
		return fmt.Errorf("counter/cassandra: cannot save the checkpoint of counter %q of namespace %q: %w", counterName, namespace, err)
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	at, err := unixNanos(cp.At)
	if err != nil {
		return fail(err)
	}
	err = s.session.Query(s.q.saveCheckpoint, micros(at), encodeCheckpoint(at, cp.Count), namespace, counterName).
		WithContext(ctx).Idempotent(true).Exec()
	if err != nil {
		return fail(err)
	}
	return nil
}

// LastWrite returns the greatest event Time appended for the counter, or the
// zero time.
func (s *Store) LastWrite(ctx context.Context, namespace, counterName string) (time.Time, error) {
	fail := func(err error) (time.Time, error) {
		return time.Time{}, fmt.Errorf("counter/cassandra: cannot read the last write of counter %q of namespace %q: %w", counterName, namespace, err)
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	var nanos *int64
	err := s.session.Query(s.q.selectLastWrite, namespace, counterName).WithContext(ctx).Idempotent(true).Scan(&nanos)
	if errors.Is(err, gocql.ErrNotFound) || (err == nil && nanos == nil) {
		return time.Time{}, nil
	}
	if err != nil {
		return fail(err)
	}
	return time.Unix(0, *nanos).UTC(), nil
}

// fanOut runs fn(ctx, i) for i in [0, n) with at most MaxConcurrency at once
// and returns the first error; after it the remaining calls are skipped and
// the running ones see a canceled context.
func (s *Store) fanOut(ctx context.Context, n int, fn func(ctx context.Context, i int) error) error {
	switch n {
	case 0:
		return nil
	case 1:
		return fn(ctx, 0)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	workers := min(n, s.opts.MaxConcurrency)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		next int
	)
	for range workers {
		wg.Go(func() {
			for {
				mu.Lock()
				i := next
				next++
				mu.Unlock()
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := fn(ctx, i); err != nil {
					cancel(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return err
	}
	return nil
}

// driverLogger passes the driver's log lines to slog at info level.
type driverLogger struct{ l *slog.Logger }

func (d driverLogger) Print(v ...any) { d.l.Info(strings.TrimSpace(fmt.Sprint(v...))) }
func (d driverLogger) Printf(format string, v ...any) {
	d.l.Info(strings.TrimSpace(fmt.Sprintf(format, v...)))
}
func (d driverLogger) Println(v ...any) { d.l.Info(strings.TrimSpace(fmt.Sprintln(v...))) }
