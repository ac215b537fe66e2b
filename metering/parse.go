package metering

import (
	"time"

	"gopkg.in/yaml.v3"

	"github.com/tollgate/tollgate/internal/yamlconf"
)

// ConfigError is one config problem: "file:line:col: path: message (hint)".
type ConfigError = yamlconf.Error

// ConfigErrors is every problem found, in line order; its Error returns one
// ConfigError per line.
type ConfigErrors = yamlconf.Errors

// Allowed keys of each mapping, in the order hints list them.
var (
	rootKeys      = []string{"tenants", "identification", "strip_api_key", "plans", "meters", "spool", "quota_refresh", "failure_mode"}
	tenantKeys    = []string{"id", "plan", "api_keys"}
	apiKeyKeys    = []string{"hash", "plan"}
	identKeys     = []string{"path_prefix", "api_key_header", "trusted_header"}
	planKeys      = []string{"name", "rate_limits", "quotas"}
	rateLimitKeys = []string{"requests_per_unit", "unit", "window", "algorithm", "by"}
	quotaKeys     = []string{"name", "requests_per_month", "time_zone", "namespace"}
	meterKeys     = []string{"name", "source", "value", "filters", "group_by", "namespace", "type", "unit", "event_type", "bucket_key", "domain"}
	filterKeys    = []string{"methods", "path_prefixes", "status_classes"}
	spoolKeys     = []string{"dir", "batch_size", "flush_interval", "retry_min_backoff", "retry_max_backoff"}
)

// ParseConfig parses the value of the sidecar YAML's `metering:` key (node
// may be nil: nothing configured). file names the YAML file in errors.
// Every problem is collected; the error is then a ConfigErrors, one
// "file:line:col: path: problem (hint)" each.
func ParseConfig(file string, node *yaml.Node) (*Config, error) {
	p := &parser{d: yamlconf.NewDecoder(file)}
	cfg := p.config(node)
	if p.d.Count() == 0 {
		p.buildRateLimits(cfg)
	}
	if err := p.d.Err(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// parser collects the errors of one ParseConfig call.
type parser struct {
	d *yamlconf.Decoder
}

func (p *parser) errorf(n *yaml.Node, path, format string, args ...any) {
	p.d.Errorf(n, path, format, args...)
}

// duration reads a positive duration; nil gives def.
func (p *parser) duration(n *yaml.Node, path string, def time.Duration) time.Duration {
	if n == nil {
		return def
	}
	d, ok := p.d.Duration(n, path)
	if !ok {
		return def
	}
	if d <= 0 {
		p.errorf(n, path, "must be positive, got %s (hint: such as 500ms, 5s or 1m)", d)
		return def
	}
	return d
}

// integer reads a whole number in [lo, hi]; nil gives def.
func (p *parser) integer(n *yaml.Node, path string, lo, hi, def int64) int64 {
	if n == nil {
		return def
	}
	if v, ok := p.d.Int(n, path, lo, hi); ok {
		return v
	}
	return def
}

// name reads a required identifier: letters, digits, '.', '_', '-', at most
// 64 bytes.
func (p *parser) name(f yamlconf.Fields, key, path, what string) string {
	n := f.Get(key)
	if n == nil {
		p.errorf(f.Node, path, "missing %s (hint: add \"%s: <%s>\")", key, key, what)
		return ""
	}
	s, _ := p.d.String(n, path+"."+key)
	if !validName(s) {
		p.errorf(n, path+"."+key, "invalid %s %q (hint: use 1 to 64 letters, digits, '.', '_' or '-')", what, s)
		return ""
	}
	return s
}

func validName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// validHeader reports whether s is a lowercase HTTP header name.
func validHeader(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// seen remembers the first line of each name in a list, for duplicates.
type seen map[string]int

// dup reports a duplicate name and remembers first occurrences.
func (p *parser) dup(s seen, name string, n *yaml.Node, path, what string) bool {
	if name == "" {
		return false
	}
	if first, ok := s[name]; ok {
		p.errorf(n, path, "duplicate %s %q, first at line %d (hint: names must be unique)", what, name, first)
		return true
	}
	s[name] = n.Line
	return false
}

func (p *parser) config(node *yaml.Node) *Config {
	cfg := &Config{
		tenants: map[string]*Tenant{},
		plans:   map[string]*Plan{},
		meters:  map[string]*Meter{},
	}
	root, _ := p.d.Mapping(node, "metering", rootKeys...)
	cfg.StripAPIKey = p.d.Bool(root.Get("strip_api_key"), "metering.strip_api_key", true)
	cfg.QuotaRefresh = p.duration(root.Get("quota_refresh"), "metering.quota_refresh", DefaultQuotaRefresh)
	cfg.FailureMode = DefaultFailureMode
	p.d.Decode(root.Get("failure_mode"), "metering.failure_mode", &cfg.FailureMode)
	p.identification(cfg, root.Get("identification"))
	p.plans(cfg, root.Get("plans"))
	p.tenants(cfg, root.Get("tenants"))
	p.meters(cfg, root.Get("meters"))
	p.spool(cfg, root.Get("spool"))
	return cfg
}

func (p *parser) spool(cfg *Config, n *yaml.Node) {
	f, _ := p.d.Mapping(n, "metering.spool", spoolKeys...)
	cfg.Spool = SpoolConfig{Dir: DefaultSpoolDir}
	if dn := f.Get("dir"); dn != nil {
		cfg.Spool.Dir, _ = p.d.String(dn, "metering.spool.dir")
		if cfg.Spool.Dir == "" {
			p.errorf(dn, "metering.spool.dir", "empty directory (hint: omit it for %q under the data directory)", DefaultSpoolDir)
		}
	}
	cfg.Spool.BatchSize = int(p.integer(f.Get("batch_size"), "metering.spool.batch_size", 1, 100000, DefaultBatchSize))
	cfg.Spool.FlushInterval = p.duration(f.Get("flush_interval"), "metering.spool.flush_interval", DefaultFlushInterval)
	cfg.Spool.RetryMinBackoff = p.duration(f.Get("retry_min_backoff"), "metering.spool.retry_min_backoff", DefaultRetryMinBackoff)
	cfg.Spool.RetryMaxBackoff = p.duration(f.Get("retry_max_backoff"), "metering.spool.retry_max_backoff", DefaultRetryMaxBackoff)
	if cfg.Spool.RetryMaxBackoff < cfg.Spool.RetryMinBackoff {
		n := f.Get("retry_max_backoff")
		if n == nil {
			n = f.Get("retry_min_backoff")
		}
		p.errorf(n, "metering.spool.retry_max_backoff", "%s is below retry_min_backoff %s (hint: raise retry_max_backoff)", cfg.Spool.RetryMaxBackoff, cfg.Spool.RetryMinBackoff)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
