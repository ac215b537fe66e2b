package pebble

import (
	"context"
	"fmt"
)

// Ping reports whether the store can serve: it fails when the store is
// closed, when a write failed fatally (ErrFailed: every call is refused
// until a restart), or when a read fails.
func (s *Store) Ping(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.usable(); err != nil {
		return err
	}
	if _, err := s.lastWrite("_tollgate", "ping"); err != nil {
		return fmt.Errorf("counter/pebble: cannot read %q: %w", s.opts.Dir, err)
	}
	return nil
}
