// Package settings holds the sidecar's own configuration: listeners, the
// rate-limit backend and its failure mode, the data directory. It is read from
// the YAML file given by `--config`; flags set on the command line win over
// the file. The file is decoded with internal/yamlconf: unknown keys are
// errors, and every problem is reported at once as
// "file:line:col: path: message (hint)".
package settings

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/gocql/gocql"
	"gopkg.in/yaml.v3"

	"github.com/tollgate/tollgate/internal/apiauth"
	"github.com/tollgate/tollgate/internal/tlsconf"
	"github.com/tollgate/tollgate/internal/yamlconf"
	"github.com/tollgate/tollgate/ratelimit"
)

// Settings is the sidecar configuration. The zero value plus EnsureDefaults is
// the built-in default: memory backend, no servers needed.
type Settings struct {
	// GRPCAddr is the gRPC listener (rate limit, ext_authz, counters).
	// Default: 127.0.0.1:8081.
	GRPCAddr string `yaml:"grpc_addr"`
	// HTTPAddr is the HTTP listener (health, metrics, /json, counter API).
	// Default: 127.0.0.1:8080.
	HTTPAddr string `yaml:"http_addr"`
	// DataDir holds the embedded stores. Default: ./data.
	DataDir string `yaml:"data_dir"`
	// LogLevel is debug, info, warn or error. Default: info.
	LogLevel string `yaml:"log_level"`
	// LogFormat is text (key=value pairs, one line per record) or json (one
	// JSON object per line, for log collectors). Default: text.
	LogFormat string `yaml:"log_format"`
	// RateLimit configures the rate-limit service.
	RateLimit RateLimit `yaml:"ratelimit"`
	// Backend is the best-effort counter backend: memory or redis. Default: memory.
	Backend string `yaml:"backend"`
	// Redis configures the redis backend.
	Redis Redis `yaml:"redis"`
	// Counters configures the counter namespaces and their durable store.
	Counters Counters `yaml:"counters"`
	// TLS is the TLS block of both listeners (see internal/tlsconf).
	TLS tlsconf.Config `yaml:"tls"`
	// GRPCTLS overrides TLS field by field for the gRPC listener.
	GRPCTLS *tlsconf.Config `yaml:"grpc_tls"`
	// HTTPTLS overrides TLS field by field for the HTTP listener.
	HTTPTLS *tlsconf.Config `yaml:"http_tls"`
	// AllowInsecureListeners lets a listener on a non-loopback address
	// serve plaintext. Default: false.
	AllowInsecureListeners bool `yaml:"allow_insecure_listeners"`
	// APIAuth are the credentials of the sidecar's APIs and their scopes
	// (see internal/apiauth). Default: none, allowed only while both
	// listeners are on loopback.
	APIAuth apiauth.Config `yaml:"api_auth"`
	// Tracing configures the OpenTelemetry traces. Default: off.
	Tracing Tracing `yaml:"tracing"`
	// Metering is the metering section (tenants, plans, meters), kept as a
	// YAML node so its own parser can report positioned errors.
	Metering yaml.Node `yaml:"metering"`
	// File is the settings file these settings were loaded from, if any.
	File string `yaml:"-"`
}

// Counters configures the counter API's namespaces and the durable event
// store of the eventual and accurate ones.
type Counters struct {
	// Store is the event store: pebble (embedded, under data_dir/events) or
	// cassandra. Default: pebble.
	Store string `yaml:"store"`
	// Cassandra configures the cassandra store.
	Cassandra Cassandra `yaml:"cassandra"`
	// Namespaces maps each namespace name to its settings. Default: three
	// namespaces named best_effort, eventual and accurate, of those types.
	Namespaces map[string]Namespace `yaml:"namespaces"`
}

// Namespace configures one counter namespace; zero durations take the
// counter package's defaults.
type Namespace struct {
	// Type is best_effort, eventual or accurate. Required.
	Type string `yaml:"type"`
	// AcceptLimit is how old an add's idempotency token may be. Default: 5s.
	AcceptLimit time.Duration `yaml:"accept_limit"`
	// FutureLimit is how far ahead of now a token may be. Default: 1s.
	FutureLimit time.Duration `yaml:"future_limit"`
	// ClockSkew is the rollup's margin for clock differences. Default: 1s.
	ClockSkew time.Duration `yaml:"clock_skew"`
	// LateAfter is how long after its token's generation time an add may
	// become durable and still be on time for accurate reads. Default: the
	// shorter of 1s and accept_limit.
	LateAfter time.Duration `yaml:"late_after"`
	// CoalesceWindow coalesces rollup requests of one counter. Default: 1s.
	CoalesceWindow time.Duration `yaml:"coalesce_window"`
	// Retention is how long events are kept. Default: 7 days.
	Retention time.Duration `yaml:"retention"`
	// MaxReadGap bounds an accurate read's live scan. Default: 1m.
	MaxReadGap time.Duration `yaml:"max_read_gap"`
}

// Cassandra configures the cassandra event store.
type Cassandra struct {
	// Hosts are contact points, host or host:port. Default: 127.0.0.1:9042.
	Hosts []string `yaml:"hosts"`
	// Keyspace is created when missing. Default: tollgate.
	Keyspace string `yaml:"keyspace"`
	// ReplicationFactor selects SimpleStrategy with that factor. Default: 1
	// when DataCenters is empty.
	ReplicationFactor int `yaml:"replication_factor"`
	// DataCenters selects NetworkTopologyStrategy: data center -> factor.
	DataCenters map[string]int `yaml:"datacenters"`
	// LocalDC routes queries to that data center (LOCAL_* consistency).
	LocalDC string `yaml:"local_dc"`
	// Consistency is the read and write consistency, a gocql level name in
	// any case (ONE, QUORUM, LOCAL_QUORUM, ...). Default: LOCAL_QUORUM.
	Consistency string `yaml:"consistency"`
	// Timeout bounds one query. Default: 2s.
	Timeout time.Duration `yaml:"timeout"`
	// Username and Password log in with Cassandra's PasswordAuthenticator
	// when Username is set. Default: no login.
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	// TLS encrypts the connections to the nodes when TLS.CAFile is set.
	// Default: plain connections.
	TLS ClientTLS `yaml:"tls"`
}

// RateLimit configures the rate-limit service.
type RateLimit struct {
	// Config is an envoyproxy/ratelimit YAML file or a directory of them.
	// Empty: no limits (every request is allowed).
	Config string `yaml:"config"`
	// ShadowMode reports would-be denials in metrics but allows everything.
	ShadowMode bool `yaml:"shadow_mode"`
	// FailureMode is fail_open (allow when the backend is unavailable) or
	// fail_closed (deny). Default: fail_open (the zero value).
	FailureMode ratelimit.FailureMode `yaml:"failure_mode"`
	// ResponseHeaders configures the RateLimit-* headers.
	ResponseHeaders ResponseHeaders `yaml:"response_headers"`
}

// ResponseHeaders configures the RateLimit-* response headers.
type ResponseHeaders struct {
	// Enabled turns them on. Default: false.
	Enabled bool `yaml:"enabled"`
	// Limit, Remaining and Reset rename the headers. Defaults:
	// RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset.
	Limit     string `yaml:"limit"`
	Remaining string `yaml:"remaining"`
	Reset     string `yaml:"reset"`
}

// Redis configures the redis backend.
type Redis struct {
	// URL is redis://host:port, or for cluster and ring a comma-separated list
	// of host:port (each may carry redis://). rediss:// turns TLS on for
	// every address (written schemes must agree; bare host:port take
	// theirs). It carries no credentials.
	// Default: redis://127.0.0.1:6379.
	URL string `yaml:"url"`
	// Mode is single, cluster or ring. Default: single.
	Mode string `yaml:"mode"`
	// Timeout bounds one backend round trip. Default: 50ms.
	Timeout time.Duration `yaml:"timeout"`
	// PoolSize is the connections per Redis server. Default: 10 per CPU.
	PoolSize int `yaml:"pool_size"`
	// Username is the ACL user to log in as. Default: none, the default
	// user (with Password, AUTH password).
	Username string `yaml:"username"`
	// Password authenticates to Redis. Default: none.
	Password string `yaml:"password"`
	// TLS configures the connections of a rediss:// URL. Default: the
	// system's roots, no client certificate.
	TLS ClientTLS `yaml:"tls"`
}

// EnsureDefaults fills unset fields with their defaults.
func (s *Settings) EnsureDefaults() {
	def := func(p *string, v string) {
		if *p == "" {
			*p = v
		}
	}
	def(&s.GRPCAddr, "127.0.0.1:8081")
	def(&s.HTTPAddr, "127.0.0.1:8080")
	def(&s.DataDir, "./data")
	def(&s.LogLevel, "info")
	def(&s.LogFormat, "text")
	def(&s.Backend, "memory")
	def(&s.Redis.URL, "redis://127.0.0.1:6379")
	def(&s.Redis.Mode, "single")
	if s.Redis.Timeout == 0 {
		s.Redis.Timeout = 50 * time.Millisecond
	}
	def(&s.Counters.Store, "pebble")
	if len(s.Counters.Cassandra.Hosts) == 0 {
		s.Counters.Cassandra.Hosts = []string{"127.0.0.1:9042"}
	}
	if s.Counters.Namespaces == nil {
		s.Counters.Namespaces = map[string]Namespace{
			"best_effort": {Type: "best_effort"},
			"eventual":    {Type: "eventual"},
			"accurate":    {Type: "accurate"},
		}
	}
}

// Validate reports every problem at once, each naming the setting and a
// fix, as yamlconf.Errors without positions: Load has already reported the
// file's own values at their lines, so what is left came from flags or from
// several settings together.
func (s *Settings) Validate() error {
	var errs yamlconf.Errors
	s.check(func(path, msg string) { errs = append(errs, yamlconf.Error{Path: path, Msg: msg}) })
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// check reports each problem of s by its setting path. An empty value
// stands for its default and passes.
func (s *Settings) check(report func(path, msg string)) {
	oneOf := func(path, v string, valid ...string) {
		if v != "" && !slices.Contains(valid, v) {
			report(path, yamlconf.NotOneOf(v, valid...))
		}
	}
	oneOf("backend", s.Backend, "memory", "redis")
	oneOf("log_level", s.LogLevel, "debug", "info", "warn", "error")
	oneOf("log_format", s.LogFormat, "text", "json")
	oneOf("redis.mode", s.Redis.Mode, "single", "cluster", "ring")
	oneOf("counters.store", s.Counters.Store, "pebble", "cassandra")
	for _, name := range slices.Sorted(maps.Keys(s.Counters.Namespaces)) {
		path := "counters.namespaces." + name + ".type"
		if typ := s.Counters.Namespaces[name].Type; typ == "" {
			report(path, `missing (hint: add "type: best_effort", eventual or accurate)`)
		} else {
			oneOf(path, typ, "best_effort", "eventual", "accurate")
		}
	}
	if c := s.Counters.Cassandra.Consistency; c != "" {
		if _, err := gocql.ParseConsistencyWrapper(c); err != nil {
			report("counters.cassandra.consistency", yamlconf.NotOneOf(c, consistencyLevels()...)+" (hint: a Cassandra consistency level, in any case)")
		}
	}
	transport := s.Transport()
	reportAll(report, transport.Validate())
	reportAll(report, s.APIAuth.Validate())
	if s.Redis.Timeout < 0 {
		report("redis.timeout", "must not be negative, got "+s.Redis.Timeout.String()+" (hint: such as 50ms)")
	}
	if s.Backend == "redis" && s.Redis.URL != "" {
		addrs, useTLS, problem := parseAddrs(s.Redis.URL)
		switch {
		case problem != "":
			report("redis.url", problem)
		case (s.Redis.Mode == "" || s.Redis.Mode == "single") && len(addrs) != 1:
			report("redis.url", fmt.Sprintf("single mode takes one address, got %d (hint: set redis.mode to cluster or ring for several)", len(addrs)))
		case !useTLS && s.Redis.TLS.set():
			report("redis.tls", tlsWithoutRediss)
		}
	}
	s.Redis.TLS.check("redis.tls", report)
	c := &s.Counters.Cassandra
	c.TLS.check("counters.cassandra.tls", report)
	if c.TLS.CAFile == "" && c.TLS.set() {
		report("counters.cassandra.tls.ca_file", cassandraTLSWithoutCA)
	}
	if c.Password != "" && c.Username == "" {
		report("counters.cassandra.username", "missing while counters.cassandra.password is set (hint: the Cassandra role to log in as)")
	}
	s.Tracing.check(report)
}

// cassandraTLSWithoutCA is the problem of counters.cassandra.tls settings
// without a CA file, which is what turns TLS on.
const cassandraTLSWithoutCA = "missing while other counters.cassandra.tls settings are set: TLS is on only with a CA bundle (hint: the PEM CA certificates that sign the nodes' certificates; /etc/ssl/certs/ca-certificates.crt for a public CA)"

// tlsWithoutRediss is the problem of redis.tls settings on a redis:// URL.
const tlsWithoutRediss = "set while redis.url uses redis://, which is plain TCP (hint: write rediss://host:port in redis.url to turn TLS on, or remove redis.tls)"

// reportAll reports each problem of err, a join of "path: message" errors.
func reportAll(report func(path, msg string), err error) {
	if err == nil {
		return
	}
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	for _, e := range errs {
		path, msg, _ := strings.Cut(e.Error(), ": ")
		report(path, msg)
	}
}

// Transport returns the TLS settings of the listeners.
func (s *Settings) Transport() tlsconf.Settings {
	return tlsconf.Settings{TLS: s.TLS, GRPCTLS: s.GRPCTLS, HTTPTLS: s.HTTPTLS, AllowInsecureListeners: s.AllowInsecureListeners}
}

// Load reads the settings file at path. Unknown keys and bad values are
// errors, all reported at once as yamlconf.Errors, each at its
// file:line:col. Relative paths in the file are taken from the file's
// directory.
func Load(path string) (*Settings, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("settings: cannot read %s: %w", path, err)
	}
	var s Settings
	d := yamlconf.NewDecoder(path)
	root := d.Document(data)
	d.Decode(root, "", &s)
	s.check(func(p, msg string) { d.Errorf(nodeOf(d, p, root), p, "%s", msg) })
	if err := d.Err(); err != nil {
		return nil, err
	}
	s.resolvePaths(filepath.Dir(path))
	s.File = path
	return &s, nil
}

// nodeOf returns the node of path, or of the nearest enclosing setting the
// file has (the root for none).
func nodeOf(d *yamlconf.Decoder, path string, root *yaml.Node) *yaml.Node {
	for path != "" {
		if n := d.Node(path); n != nil {
			return n
		}
		i := strings.LastIndexByte(path, '.')
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return root
}

// resolvePaths makes the file's relative paths relative to dir, the
// directory of the settings file, so it works from any working directory.
func (s *Settings) resolvePaths(dir string) {
	paths := []*string{
		&s.DataDir, &s.RateLimit.Config,
		&s.Redis.TLS.CAFile, &s.Redis.TLS.CertFile, &s.Redis.TLS.KeyFile,
		&s.Counters.Cassandra.TLS.CAFile, &s.Counters.Cassandra.TLS.CertFile, &s.Counters.Cassandra.TLS.KeyFile,
		&s.Tracing.TLS.CAFile, &s.Tracing.TLS.CertFile, &s.Tracing.TLS.KeyFile,
	}
	for _, c := range []*tlsconf.Config{&s.TLS, s.GRPCTLS, s.HTTPTLS} {
		if c != nil {
			paths = append(paths, &c.CertFile, &c.KeyFile, &c.ClientCAFile)
		}
	}
	for _, p := range paths {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
}
