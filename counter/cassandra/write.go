package cassandra

import (
	"context"
	"errors"
	"fmt"
	"slices"
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
