package cassandra

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/gocql/gocql"

	"github.com/tollgate/tollgate/counter"
	"github.com/tollgate/tollgate/counter/groupcommit"
	"github.com/tollgate/tollgate/internal/logadapt"
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
	cluster.Logger = logadapt.Gocql{L: opts.Logger.With("component", "counter/cassandra")}
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
