package cassandra

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gocql/gocql"

	"github.com/tollgate/tollgate/counter"
)

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
