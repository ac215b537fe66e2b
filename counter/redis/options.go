package redis

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Mode says how the Addrs of Options are used.
type Mode string

// Modes.
const (
	// ModeSingle talks to one redis-server (Addrs has one address).
	ModeSingle Mode = "single"
	// ModeCluster talks to a Redis Cluster; Addrs are seed nodes.
	ModeCluster Mode = "cluster"
	// ModeRing spreads keys over independent servers by consistent hashing
	// on the client (go-redis Ring); each address is one shard.
	ModeRing Mode = "ring"
)

// Options configures a Store. Fields left zero take their defaults.
type Options struct {
	// Mode picks single, cluster or ring. Default: ModeSingle.
	Mode Mode
	// Addrs are "host:port" addresses: one for ModeSingle, seed nodes for
	// ModeCluster, the shards for ModeRing. Required.
	Addrs []string
	// Username and Password authenticate with AUTH when set: an ACL user
	// and its password, or Password alone for the default user. Default: none.
	Username, Password string
	// TLS, when set, makes every connection TLS with this configuration
	// (CA bundle, client certificate, server name), in every mode; a
	// cluster's nodes share it. Build it with settings.Redis.TLSConfig.
	// Default: nil, plain TCP.
	TLS *tls.Config
	// DB is the database number (single and ring; a cluster only has 0).
	// Default: 0.
	DB int
	// Timeout bounds each Apply, Ping and coalesced flush, including waiting
	// for a pooled connection and dialling. It also sets the socket read and
	// write deadlines. Default: 50ms.
	Timeout time.Duration
	// PoolSize is the number of connections per server. Default: go-redis'
	// default, 10 per GOMAXPROCS.
	PoolSize int
	// Pipelines is how many pipelines may be in flight at once. Concurrent
	// Apply calls share them: the commands that arrive while all are busy
	// go out together in the next one, in one write and one read, which
	// saves CPU and round trips under load. Default: 2.
	Pipelines int
	// BreakerThreshold is how many failed Apply calls in a row open the
	// circuit breaker: Apply then fails at once for BreakerCooldown, after
	// which one call probes Redis. Default: 3.
	BreakerThreshold int
	// BreakerCooldown is how long the open breaker refuses calls before a
	// probe. Default: 500ms.
	BreakerCooldown time.Duration
	// MaxRetries is how often go-redis retries a failed round trip within
	// Timeout. A retried INCRBY whose first reply was lost counts twice.
	// Default: 0 (no retries).
	MaxRetries int
	// KeyPrefix starts every Redis key the Store writes. Default: "tollgate:".
	KeyPrefix string
	// DisableCoalescing sends every fixed-window hit as its own INCRBY
	// instead of merging concurrent hits on one key. Default: false.
	DisableCoalescing bool
	// OverLimitCacheSize is how many over-limit fixed-window counters are
	// remembered locally; hits on them are answered without Redis until their
	// window ends. Negative disables the cache. Default: 65536.
	OverLimitCacheSize int
	// Logger receives throttled error logs. Default: discards.
	Logger *slog.Logger
	// Registerer receives the Store's metrics. Default: nil, metrics are kept
	// but not registered.
	Registerer prometheus.Registerer
	// Now is the clock for metrics and log throttling; counting uses the time
	// passed to Apply. Default: time.Now.
	Now func() time.Time
}

// EnsureDefaults fills unset fields with their defaults.
func (o *Options) EnsureDefaults() {
	if o.Mode == "" {
		o.Mode = ModeSingle
	}
	if o.Timeout == 0 {
		o.Timeout = 50 * time.Millisecond
	}
	if o.Pipelines == 0 {
		o.Pipelines = 2
	}
	if o.BreakerThreshold == 0 {
		o.BreakerThreshold = 3
	}
	if o.BreakerCooldown == 0 {
		o.BreakerCooldown = 500 * time.Millisecond
	}
	if o.KeyPrefix == "" {
		o.KeyPrefix = "tollgate:"
	}
	if o.OverLimitCacheSize == 0 {
		o.OverLimitCacheSize = 65536
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Validate reports every problem in o, joined into one error.
func (o *Options) Validate() error {
	var errs []error
	switch o.Mode {
	case ModeSingle:
		if len(o.Addrs) != 1 {
			errs = append(errs, fmt.Errorf("counter/redis: mode single needs exactly one address, got %d (set Addrs to one host:port, or use mode ring or cluster)", len(o.Addrs)))
		}
	case ModeCluster, ModeRing:
		if len(o.Addrs) == 0 {
			errs = append(errs, fmt.Errorf("counter/redis: mode %s needs at least one address (set Addrs)", o.Mode))
		}
	default:
		errs = append(errs, fmt.Errorf("counter/redis: unknown mode %q (use single, cluster or ring)", o.Mode))
	}
	for i, a := range o.Addrs {
		if a == "" {
			errs = append(errs, fmt.Errorf("counter/redis: address %d is empty (remove it or give host:port)", i))
		}
	}
	if o.Mode == ModeCluster && o.DB != 0 {
		errs = append(errs, fmt.Errorf("counter/redis: mode cluster has only database 0, got DB %d (set DB to 0)", o.DB))
	}
	if o.Timeout < 0 {
		errs = append(errs, fmt.Errorf("counter/redis: timeout %v is negative (use a positive duration such as 50ms)", o.Timeout))
	}
	if o.PoolSize < 0 {
		errs = append(errs, fmt.Errorf("counter/redis: pool size %d is negative (use 0 for the default)", o.PoolSize))
	}
	if o.Pipelines < 0 {
		errs = append(errs, fmt.Errorf("counter/redis: pipelines %d is negative (use 0 for the default, 2)", o.Pipelines))
	}
	if o.BreakerThreshold < 0 || o.BreakerCooldown < 0 {
		errs = append(errs, fmt.Errorf("counter/redis: breaker threshold %d and cooldown %v must not be negative (use 0 for the defaults, 3 and 500ms)", o.BreakerThreshold, o.BreakerCooldown))
	}
	if o.TLS != nil && o.TLS.InsecureSkipVerify {
		errs = append(errs, errors.New("counter/redis: TLS.InsecureSkipVerify is set: the server's certificate must be verified (give the CA bundle in TLS.RootCAs)"))
	}
	if o.MaxRetries < 0 {
		errs = append(errs, fmt.Errorf("counter/redis: max retries %d is negative (use 0 for none)", o.MaxRetries))
	}
	return errors.Join(errs...)
}
