package cassandra

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gocql/gocql"

	"github.com/tollgate/tollgate/counter"
)

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
