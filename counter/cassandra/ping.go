package cassandra

import (
	"context"
	"fmt"
)

// Ping reports whether the cluster answers a query on the session within
// ctx (a read of system.local on a coordinator).
func (s *Store) Ping(ctx context.Context) error {
	var version string
	if err := s.session.Query("SELECT release_version FROM system.local").WithContext(ctx).Idempotent(true).Scan(&version); err != nil {
		return fmt.Errorf("counter/cassandra: the cluster does not answer: %w", err)
	}
	return nil
}
