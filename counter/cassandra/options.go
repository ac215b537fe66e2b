package cassandra

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gocql/gocql"

	"github.com/tollgate/tollgate/counter"
)

// Defaults of Options.
const (
	// DefaultPort is the CQL port used when neither Options.Port nor the hosts name one.
	DefaultPort = 9042
	// DefaultKeyspace is the keyspace holding the tables.
	DefaultKeyspace = "tollgate"
	// DefaultConsistency is the consistency level of every read and write.
	DefaultConsistency = gocql.LocalQuorum
	// DefaultTimeout bounds one request to Cassandra.
	DefaultTimeout = 2 * time.Second
	// DefaultConnectTimeout bounds connecting to one host.
	DefaultConnectTimeout = 5 * time.Second
	// DefaultTimeBucket is the width of the time bucket in an event partition key.
	DefaultTimeBucket = 10 * time.Minute
	// DefaultEventBuckets is how many partitions share one time bucket of a counter.
	DefaultEventBuckets = 4
	// DefaultRetention is the TTL of stored events.
	DefaultRetention = 7 * 24 * time.Hour
	// DefaultMaxConcurrency bounds the requests one call has in flight.
	DefaultMaxConcurrency = 32
)

// Limits of Options.
const (
	// MaxEventBuckets is the largest EventBuckets: a read fans out over all of them.
	MaxEventBuckets = 64
	// maxTTL is Cassandra's largest TTL (20 years).
	maxTTL = 20 * 365 * 24 * time.Hour
)

// keyspaceName matches the names Cassandra accepts unquoted.
var keyspaceName = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9_]{0,47}$`)

// Replication is how Open creates the keyspace when it does not exist; an
// existing keyspace is used as it is.
type Replication struct {
	// DataCenters maps a data center name to its replica count and selects
	// NetworkTopologyStrategy, e.g. {"dc1": 3, "dc2": 3}. Default: none, which
	// selects SimpleStrategy with Factor.
	DataCenters map[string]int
	// Factor is the SimpleStrategy replication factor, used when DataCenters
	// is empty. Default: 1.
	Factor int
}

// Options configures Open. The zero value of a field means its default.
type Options struct {
	// Hosts are the contact points, "host" or "host:port"; the driver finds
	// the other nodes itself. Required.
	Hosts []string
	// Port is the CQL port of the hosts without one and of the nodes the driver
	// discovers. Default: the port the hosts name when they all name the same
	// one, else DefaultPort (9042).
	Port int
	// Keyspace holds the tables; Open creates it and the tables when missing.
	// Default: DefaultKeyspace ("tollgate").
	Keyspace string
	// Replication is used only when Open creates the keyspace. A cluster
	// with more than one data center needs DataCenters: with SimpleStrategy
	// a LOCAL_QUORUM request fails when the replicas sit in another data
	// center. Default: SimpleStrategy with factor 1 (one-node development).
	Replication Replication
	// Username and Password log in with Cassandra's PasswordAuthenticator
	// when Username is set. Errors never show Password. Default: no login.
	Username, Password string
	// TLS, when set, makes every connection TLS with this configuration (CA
	// bundle, client certificate); the node's certificate is always
	// verified, against ServerName or else the address dialled. Build it
	// with settings.Cassandra.TLSConfig. Default: nil, plain TCP.
	TLS *tls.Config
	// LocalDC routes requests to this data center's nodes first (DC-aware,
	// token-aware host selection); LOCAL_QUORUM then never waits for another
	// data center. Default: none (token-aware round robin over all nodes).
	LocalDC string
	// Consistency is the consistency level of reads and writes.
	// Default: DefaultConsistency (LOCAL_QUORUM).
	Consistency gocql.Consistency
	// Timeout bounds one request; a context deadline bounds a whole call.
	// Default: DefaultTimeout (2 s).
	Timeout time.Duration
	// ConnectTimeout bounds connecting to one host.
	// Default: DefaultConnectTimeout (5 s).
	ConnectTimeout time.Duration
	// TimeBucket is the width of the time bucket in an event partition key.
	// It is fixed when Open creates the keyspace's tables; Open fails when it
	// differs from the stored one. Default: DefaultTimeBucket (10 min).
	TimeBucket time.Duration
	// EventBuckets is how many partitions share one time bucket of a counter
	// (an event goes to the one its ID hashes to), bounding the write rate of
	// a hot partition. Fixed like TimeBucket. Default: DefaultEventBuckets (4).
	EventBuckets int
	// Retention is the TTL of stored events, counted from the write. Rollups
	// must have checkpointed a counter within it. Default: DefaultRetention (7 days).
	Retention time.Duration
	// MaxConcurrency bounds the requests one call has in flight.
	// Default: DefaultMaxConcurrency (32).
	MaxConcurrency int
	// Logger receives the driver's log lines. Default: discard.
	Logger *slog.Logger
	// LateAfter is how long after its Time an event of a namespace may become
	// durable and still be on time (see counter.EventStore.LateAfter).
	// Default: counter.DefaultLateAfter for every namespace.
	LateAfter counter.LateAfters
	// Now is the clock Append judges late events by. Default: time.Now.
	Now func() time.Time
}

// EnsureDefaults fills the zero fields of o with their defaults.
func (o *Options) EnsureDefaults() {
	if o.Port == 0 {
		o.Port = hostsPort(o.Hosts)
	}
	if o.Keyspace == "" {
		o.Keyspace = DefaultKeyspace
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if len(o.Replication.DataCenters) == 0 && o.Replication.Factor == 0 {
		o.Replication.Factor = 1
	}
	if o.Consistency == 0 {
		o.Consistency = DefaultConsistency
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.ConnectTimeout == 0 {
		o.ConnectTimeout = DefaultConnectTimeout
	}
	if o.TimeBucket == 0 {
		o.TimeBucket = DefaultTimeBucket
	}
	if o.EventBuckets == 0 {
		o.EventBuckets = DefaultEventBuckets
	}
	if o.Retention == 0 {
		o.Retention = DefaultRetention
	}
	if o.MaxConcurrency == 0 {
		o.MaxConcurrency = DefaultMaxConcurrency
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// hostsPort returns the port all hosts name, else DefaultPort.
func hostsPort(hosts []string) int {
	port := 0
	for _, h := range hosts {
		_, p, err := net.SplitHostPort(h)
		if err != nil {
			return DefaultPort
		}
		n, err := strconv.Atoi(p)
		if err != nil || (port != 0 && n != port) {
			return DefaultPort
		}
		port = n
	}
	if port == 0 {
		return DefaultPort
	}
	return port
}

// Validate reports every problem of o (after EnsureDefaults) in one error.
func (o *Options) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if len(o.Hosts) == 0 {
		add("Hosts is empty: name at least one node, e.g. 127.0.0.1:9042")
	}
	for _, h := range o.Hosts {
		if strings.TrimSpace(h) == "" {
			add("Hosts holds an empty host")
		}
	}
	if o.Port < 1 || o.Port > 65535 {
		add("Port %d is not a TCP port", o.Port)
	}
	if !keyspaceName.MatchString(o.Keyspace) {
		add("Keyspace %q is not a valid keyspace name (a letter, then up to 47 letters, digits or _)", o.Keyspace)
	}
	if o.Replication.Factor < 0 {
		add("Replication.Factor %d is negative", o.Replication.Factor)
	}
	for _, dc := range sortedDCs(o.Replication.DataCenters) {
		if strings.ContainsAny(dc, "'\\") || dc == "" {
			add("Replication.DataCenters: data center name %q is empty or holds a quote or backslash", dc)
		}
		if n := o.Replication.DataCenters[dc]; n < 0 {
			add("Replication.DataCenters[%q] = %d is negative", dc, n)
		}
	}
	if dcs := o.Replication.DataCenters; len(dcs) > 0 && o.LocalDC != "" && dcs[o.LocalDC] == 0 {
		add("LocalDC %q has no replicas in Replication.DataCenters: LOCAL_QUORUM could never succeed", o.LocalDC)
	}
	if o.Password != "" && o.Username == "" {
		add("Password is set without Username: name the role to log in as")
	}
	if o.TLS != nil && o.TLS.InsecureSkipVerify {
		add("TLS.InsecureSkipVerify is set: the nodes' certificates must be verified (give the CA bundle in TLS.RootCAs)")
	}
	if o.Timeout < 0 {
		add("Timeout %v is negative", o.Timeout)
	}
	if o.ConnectTimeout < 0 {
		add("ConnectTimeout %v is negative", o.ConnectTimeout)
	}
	if o.TimeBucket < time.Second || o.TimeBucket%time.Second != 0 {
		add("TimeBucket %v is not a whole number of seconds >= 1s", o.TimeBucket)
	}
	if o.EventBuckets < 1 || o.EventBuckets > MaxEventBuckets {
		add("EventBuckets %d is outside 1..%d", o.EventBuckets, MaxEventBuckets)
	}
	if o.Retention < time.Second || o.Retention > maxTTL {
		add("Retention %v is outside 1s..%v (Cassandra's TTL range)", o.Retention, maxTTL)
	}
	if o.MaxConcurrency < 1 {
		add("MaxConcurrency %d is below 1", o.MaxConcurrency)
	}
	if err := o.LateAfter.Validate(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("counter/cassandra: invalid options: %w", errors.Join(errs...))
}

// replicationCQL renders the keyspace replication map.
func (r Replication) replicationCQL() string {
	if len(r.DataCenters) == 0 {
		return fmt.Sprintf("{'class': 'SimpleStrategy', 'replication_factor': %d}", r.Factor)
	}
	var b strings.Builder
	b.WriteString("{'class': 'NetworkTopologyStrategy'")
	for _, dc := range sortedDCs(r.DataCenters) {
		fmt.Fprintf(&b, ", '%s': %d", dc, r.DataCenters[dc])
	}
	b.WriteString("}")
	return b.String()
}

// sortedDCs returns the data center names in order.
func sortedDCs(m map[string]int) []string {
	dcs := make([]string, 0, len(m))
	for dc := range m {
		dcs = append(dcs, dc)
	}
	sort.Strings(dcs)
	return dcs
}
