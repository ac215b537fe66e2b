package pebble

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/tollgate/tollgate/counter"
)

// Defaults of Options.
const (
	// DefaultRetention is how long events are kept at least.
	DefaultRetention = 7 * 24 * time.Hour
	// DefaultRetentionInterval is how often Run deletes expired events.
	DefaultRetentionInterval = time.Hour
	// DefaultCacheSize is the block cache size in bytes.
	DefaultCacheSize = 64 << 20
	// DefaultMemTableSize is the memtable size in bytes.
	DefaultMemTableSize = 64 << 20
	// DefaultCommitters is the number of concurrent group commits.
	DefaultCommitters = 2
	// DefaultMaxCommitEvents is the most events a group commit gathers.
	DefaultMaxCommitEvents = 4096
)

// Options configures Open. The zero value of a field means its default.
type Options struct {
	// Dir is the directory holding the store. Required.
	Dir string
	// FS is the filesystem the store lives on; tests pass vfs.NewMem() or an
	// errorfs wrapper. Default: vfs.Default (the OS filesystem).
	FS vfs.FS
	// Logger receives Pebble's log lines and background errors.
	// Default: a logger that discards everything.
	Logger *slog.Logger
	// Now is the clock used to decide which events expired. Required (pass
	// time.Now in production).
	Now func() time.Time
	// Retention is how long events are kept at least: Run deletes an event
	// only when it is older than Retention and at or before its counter's
	// checkpoint. Default: DefaultRetention (7 days).
	Retention time.Duration
	// NamespaceRetention overrides Retention per namespace. Default: none.
	NamespaceRetention map[string]time.Duration
	// LateAfter is how long after its Time an event of a namespace may become
	// durable and still be on time (see counter.EventStore.LateAfter).
	// Default: counter.DefaultLateAfter for every namespace.
	LateAfter counter.LateAfters
	// RetentionInterval is how often Run deletes expired events.
	// Default: DefaultRetentionInterval (1 hour).
	RetentionInterval time.Duration
	// CacheSize is Pebble's block cache size in bytes.
	// Default: DefaultCacheSize (64 MiB).
	CacheSize int64
	// MemTableSize is Pebble's memtable size in bytes.
	// Default: DefaultMemTableSize (64 MiB).
	MemTableSize uint64
	// Committers is how many group commits run at once: while one waits for
	// its fsync, the next gathers the Appends that arrive meanwhile.
	// Default: DefaultCommitters (2).
	Committers int
	// MaxCommitEvents is the most events one group commit gathers from
	// waiting Appends (a single larger Append is committed alone).
	// Default: DefaultMaxCommitEvents (4096).
	MaxCommitEvents int
}

// EnsureDefaults fills the zero fields of o with their defaults.
func (o *Options) EnsureDefaults() {
	if o.FS == nil {
		o.FS = vfs.Default
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Retention == 0 {
		o.Retention = DefaultRetention
	}
	if o.RetentionInterval == 0 {
		o.RetentionInterval = DefaultRetentionInterval
	}
	if o.CacheSize == 0 {
		o.CacheSize = DefaultCacheSize
	}
	if o.MemTableSize == 0 {
		o.MemTableSize = DefaultMemTableSize
	}
	if o.Committers == 0 {
		o.Committers = DefaultCommitters
	}
	if o.MaxCommitEvents == 0 {
		o.MaxCommitEvents = DefaultMaxCommitEvents
	}
}

// Validate reports every problem of o in one error, or nil. Call it after
// EnsureDefaults.
func (o *Options) Validate() error {
	var errs []error
	if o.Dir == "" {
		errs = append(errs, errors.New("counter/pebble: Dir is required (set it to the store's directory)"))
	}
	if o.Now == nil {
		errs = append(errs, errors.New("counter/pebble: Now is required (pass time.Now)"))
	}
	if o.Retention < 0 {
		errs = append(errs, fmt.Errorf("counter/pebble: Retention %v is negative (use a positive duration, or 0 for the default)", o.Retention))
	}
	for ns, r := range o.NamespaceRetention {
		if r <= 0 {
			errs = append(errs, fmt.Errorf("counter/pebble: NamespaceRetention[%q] %v is not positive (use a positive duration or drop the entry)", ns, r))
		}
	}
	if err := o.LateAfter.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("counter/pebble: %w", err))
	}
	if o.RetentionInterval < 0 {
		errs = append(errs, fmt.Errorf("counter/pebble: RetentionInterval %v is negative (use a positive duration, or 0 for the default)", o.RetentionInterval))
	}
	if o.CacheSize < 0 {
		errs = append(errs, fmt.Errorf("counter/pebble: CacheSize %d is negative (use a size in bytes, or 0 for the default)", o.CacheSize))
	}
	if o.Committers < 0 {
		errs = append(errs, fmt.Errorf("counter/pebble: Committers %d is negative (use a small positive number, or 0 for the default)", o.Committers))
	}
	if o.MaxCommitEvents < 0 {
		errs = append(errs, fmt.Errorf("counter/pebble: MaxCommitEvents %d is negative (use a positive number, or 0 for the default)", o.MaxCommitEvents))
	}
	return errors.Join(errs...)
}

// retention returns the retention of namespace.
func (o *Options) retention(namespace string) time.Duration {
	if r, ok := o.NamespaceRetention[namespace]; ok {
		return r
	}
	return o.Retention
}
