package metering

import (
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/tollgate/tollgate/internal/configerr"
)

// ConfigError is one config problem: "file:line: message".
type ConfigError = configerr.Error

// ConfigErrors is every problem found, in file and line order; its Error
// returns one "file:line: message" per line.
type ConfigErrors = configerr.List

// Allowed keys of each mapping, in the order hints list them.
var (
	rootKeys      = []string{"tenants", "identification", "strip_api_key", "plans", "meters", "spool", "quota_refresh", "failure_mode"}
	tenantKeys    = []string{"id", "plan", "api_keys"}
	apiKeyKeys    = []string{"hash", "plan"}
	identKeys     = []string{"path_prefix", "api_key_header", "trusted_header"}
	planKeys      = []string{"name", "rate_limits", "quotas"}
	rateLimitKeys = []string{"requests_per_unit", "unit", "window", "algorithm", "by"}
	quotaKeys     = []string{"name", "requests_per_month", "time_zone", "namespace"}
	meterKeys     = []string{"name", "source", "value", "filters", "group_by", "namespace", "type", "unit"}
	filterKeys    = []string{"methods", "path_prefixes", "status_classes"}
	spoolKeys     = []string{"dir", "batch_size", "flush_interval", "retry_min_backoff", "retry_max_backoff"}
)

// ParseConfig parses the value of the sidecar YAML's `metering:` key (node
// may be nil: nothing configured). file names the YAML file in errors.
// Every problem is collected; the error is then a ConfigErrors, one
// "file:line: setting: problem (hint)" each.
func ParseConfig(file string, node *yaml.Node) (*Config, error) {
	p := &parser{file: file}
	cfg := p.config(node)
	if len(p.errs) == 0 {
		p.buildRateLimits(cfg)
	}
	if len(p.errs) > 0 {
		sort.SliceStable(p.errs, func(i, j int) bool { return p.errs[i].Line < p.errs[j].Line })
		return nil, p.errs
	}
	return cfg, nil
}

// parser collects the errors of one ParseConfig call.
type parser struct {
	file string
	errs ConfigErrors
}

func (p *parser) errorf(n *yaml.Node, path, format string, args ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}
	p.errs = append(p.errs, ConfigError{File: p.file, Line: line, Msg: path + ": " + fmt.Sprintf(format, args...)})
}

// fields is a mapping's values by key, with the mapping node for positions.
type fields struct {
	node *yaml.Node
	m    map[string]*yaml.Node
}

func (f fields) get(k string) *yaml.Node { return f.m[k] }

func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	return strconv.Quote(n.Value)
}

// mapping checks that n is a mapping of allowed keys, each once. A nil or
// null node is an empty mapping.
func (p *parser) mapping(n *yaml.Node, path string, allowed []string) (fields, bool) {
	n = resolve(n)
	f := fields{node: n, m: map[string]*yaml.Node{}}
	if n == nil || isNull(n) {
		return f, true
	}
	if n.Kind != yaml.MappingNode {
		p.errorf(n, path, "must be a mapping of keys to values, got %s", kindName(n))
		return f, false
	}
	lines := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if !contains(allowed, k.Value) {
			p.errorf(k, path, "unknown key %q (allowed: %s)", k.Value, strings.Join(allowed, ", "))
			continue
		}
		if first, dup := lines[k.Value]; dup {
			p.errorf(k, path, "key %q repeated, first at line %d (hint: keep one)", k.Value, first)
			continue
		}
		lines[k.Value] = k.Line
		f.m[k.Value] = v
	}
	return f, true
}

// list returns a sequence's items; nil or null is an empty list.
func (p *parser) list(n *yaml.Node, path string) []*yaml.Node {
	n = resolve(n)
	if n == nil || isNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		p.errorf(n, path, "must be a list (items start with \"- \"), got %s", kindName(n))
		return nil
	}
	return n.Content
}

// str returns a scalar; numbers and booleans as written.
func (p *parser) str(n *yaml.Node, path string) (string, bool) {
	n = resolve(n)
	if n.Kind != yaml.ScalarNode {
		p.errorf(n, path, "must be a string, got %s", kindName(n))
		return "", false
	}
	if isNull(n) {
		return "", true
	}
	return n.Value, true
}

// strList returns a list of scalars.
func (p *parser) strList(n *yaml.Node, path string) []string {
	var out []string
	for i, item := range p.list(n, path) {
		if s, ok := p.str(item, fmt.Sprintf("%s[%d]", path, i)); ok {
			out = append(out, s)
		}
	}
	return out
}

func (p *parser) boolean(n *yaml.Node, path string, def bool) bool {
	if n == nil {
		return def
	}
	s, _ := p.str(n, path)
	switch strings.ToLower(s) {
	case "true", "yes", "on":
		return true
	case "false", "no", "off":
		return false
	}
	p.errorf(n, path, "must be true or false, got %q", s)
	return def
}

// duration parses a positive Go duration; nil gives def.
func (p *parser) duration(n *yaml.Node, path string, def time.Duration) time.Duration {
	if n == nil {
		return def
	}
	s, _ := p.str(n, path)
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		p.errorf(n, path, "invalid duration %q (hint: a positive Go duration such as 500ms, 5s or 1m)", s)
		return def
	}
	return d
}

// integer parses a whole number in [lo, hi]; nil gives def.
func (p *parser) integer(n *yaml.Node, path string, lo, hi, def int64) int64 {
	if n == nil {
		return def
	}
	s, _ := p.str(n, path)
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < lo || v > hi {
		p.errorf(n, path, "must be a whole number from %d to %d, got %q", lo, hi, s)
		return def
	}
	return v
}

// name reads a required identifier: letters, digits, '.', '_', '-', at most
// 64 bytes.
func (p *parser) name(f fields, key, path, what string) string {
	n := f.get(key)
	if n == nil {
		p.errorf(f.node, path, "missing %s (hint: add \"%s: <%s>\")", key, key, what)
		return ""
	}
	s, _ := p.str(n, path+"."+key)
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

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
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
	root, _ := p.mapping(node, "metering", rootKeys)
	cfg.StripAPIKey = p.boolean(root.get("strip_api_key"), "metering.strip_api_key", true)
	cfg.QuotaRefresh = p.duration(root.get("quota_refresh"), "metering.quota_refresh", DefaultQuotaRefresh)
	if n := root.get("failure_mode"); n != nil {
		switch s, _ := p.str(n, "metering.failure_mode"); s {
		case "deny":
			cfg.FailureMode = FailDeny
		case "allow":
			cfg.FailureMode = FailAllow
		default:
			p.errorf(n, "metering.failure_mode", "invalid failure mode %q (valid: deny, allow)", s)
		}
	}
	p.identification(cfg, root.get("identification"))
	p.plans(cfg, root.get("plans"))
	p.tenants(cfg, root.get("tenants"))
	p.meters(cfg, root.get("meters"))
	p.spool(cfg, root.get("spool"))
	return cfg
}

func (p *parser) identification(cfg *Config, n *yaml.Node) {
	prefixes := seen{}
	for i, item := range p.list(n, "metering.identification") {
		path := fmt.Sprintf("metering.identification[%d]", i)
		f, ok := p.mapping(item, path, identKeys)
		if !ok {
			continue
		}
		var r RouteIdentification
		if pn := f.get("path_prefix"); pn == nil {
			p.errorf(f.node, path, `missing path_prefix (hint: add "path_prefix: /")`)
		} else if r.PathPrefix, _ = p.str(pn, path+".path_prefix"); !strings.HasPrefix(r.PathPrefix, "/") {
			p.errorf(pn, path+".path_prefix", "path prefix %q must start with \"/\"", r.PathPrefix)
		} else {
			p.dup(prefixes, r.PathPrefix, pn, path+".path_prefix", "path prefix")
		}
		header := func(key string) string {
			hn := f.get(key)
			if hn == nil {
				return ""
			}
			s, _ := p.str(hn, path+"."+key)
			s = strings.ToLower(s)
			if !validHeader(s) {
				p.errorf(hn, path+"."+key, "invalid header name %q (hint: letters, digits and '-', such as x-api-key)", s)
			}
			return s
		}
		r.APIKeyHeader, r.TrustedHeader = header("api_key_header"), header("trusted_header")
		switch {
		case f.get("api_key_header") != nil && f.get("trusted_header") != nil:
			p.errorf(f.node, path, "set api_key_header or trusted_header, not both")
		case f.get("trusted_header") == nil && r.APIKeyHeader == "":
			r.APIKeyHeader = DefaultAPIKeyHeader
		}
		cfg.Identification = append(cfg.Identification, r)
	}
	if len(cfg.Identification) == 0 {
		cfg.Identification = []RouteIdentification{{PathPrefix: "/", APIKeyHeader: DefaultAPIKeyHeader}}
	}
	sort.SliceStable(cfg.Identification, func(i, j int) bool {
		return len(cfg.Identification[i].PathPrefix) > len(cfg.Identification[j].PathPrefix)
	})
}

func (p *parser) plans(cfg *Config, n *yaml.Node) {
	names := seen{}
	for i, item := range p.list(n, "metering.plans") {
		path := fmt.Sprintf("metering.plans[%d]", i)
		f, ok := p.mapping(item, path, planKeys)
		if !ok {
			continue
		}
		plan := &Plan{Name: p.name(f, "name", path, "plan name")}
		if p.dup(names, plan.Name, f.get("name"), path+".name", "plan") {
			plan.Name = ""
		}
		combos := map[byCombo]bool{}
		for j, rn := range p.list(f.get("rate_limits"), path+".rate_limits") {
			if rl, ok := p.rateLimit(rn, fmt.Sprintf("%s.rate_limits[%d]", path, j)); ok {
				plan.RateLimits = append(plan.RateLimits, rl)
				c := byCombo{rl.ByMethod, rl.ByPathPrefix}
				if !combos[c] {
					combos[c] = true
					plan.combos = append(plan.combos, c)
				}
			}
		}
		quotaNames := seen{}
		for j, qn := range p.list(f.get("quotas"), path+".quotas") {
			qpath := fmt.Sprintf("%s.quotas[%d]", path, j)
			if q, ok := p.quota(qn, qpath); ok && !p.dup(quotaNames, q.Name, qn, qpath, "quota") {
				plan.Quotas = append(plan.Quotas, q)
			}
		}
		cfg.Plans = append(cfg.Plans, *plan)
	}
	for i := range cfg.Plans {
		if cfg.Plans[i].Name != "" {
			cfg.plans[cfg.Plans[i].Name] = &cfg.Plans[i]
		}
	}
}

func (p *parser) rateLimit(n *yaml.Node, path string) (RateLimit, bool) {
	var rl RateLimit
	f, ok := p.mapping(n, path, rateLimitKeys)
	if !ok {
		return rl, false
	}
	errs := len(p.errs)
	if rn := f.get("requests_per_unit"); rn == nil {
		p.errorf(f.node, path, "missing requests_per_unit (hint: the number of requests allowed per unit)")
	} else {
		rl.RequestsPerUnit = uint32(p.integer(rn, path+".requests_per_unit", 0, 1<<32-1, 0))
	}
	un, wn := f.get("unit"), f.get("window")
	switch {
	case un != nil && wn != nil:
		p.errorf(wn, path, "unit and window are both set (hint: keep one)")
	case un != nil:
		rl.Unit, _ = p.str(un, path+".unit")
		if !contains([]string{"second", "minute", "hour", "day", "week", "month", "year"}, rl.Unit) {
			p.errorf(un, path+".unit", "invalid unit %q (valid: second, minute, hour, day, week, month, year)", rl.Unit)
		}
	case wn != nil:
		rl.Window = p.duration(wn, path+".window", 0)
		if rl.Window > 0 && (rl.Window < time.Second || rl.Window%time.Second != 0) {
			p.errorf(wn, path+".window", "window %s is not a whole number of seconds (hint: such as 30s or 5m)", rl.Window)
		}
	default:
		p.errorf(f.node, path, "missing unit or window (hint: add \"unit: minute\" or \"window: 30s\")")
	}
	rl.Algorithm = "fixed_window"
	if an := f.get("algorithm"); an != nil {
		rl.Algorithm, _ = p.str(an, path+".algorithm")
		if !contains([]string{"fixed_window", "sliding_window", "token_bucket"}, rl.Algorithm) {
			p.errorf(an, path+".algorithm", "invalid algorithm %q (valid: fixed_window, sliding_window, token_bucket)", rl.Algorithm)
		}
	}
	bn := f.get("by")
	for j, s := range p.strList(bn, path+".by") {
		item := resolve(bn).Content[j]
		switch {
		case s == "method" && !rl.ByMethod:
			rl.ByMethod = true
		case s == "path_prefix" && !rl.ByPathPrefix:
			rl.ByPathPrefix = true
		case s == "method" || s == "path_prefix":
			p.errorf(item, fmt.Sprintf("%s.by[%d]", path, j), "%q listed twice", s)
		default:
			p.errorf(item, fmt.Sprintf("%s.by[%d]", path, j), "invalid by %q (valid: method, path_prefix; every limit already counts per tenant)", s)
		}
	}
	return rl, len(p.errs) == errs
}

func (p *parser) quota(n *yaml.Node, path string) (Quota, bool) {
	q := Quota{Name: "monthly", Location: time.UTC, Namespace: DefaultQuotaNamespace}
	f, ok := p.mapping(n, path, quotaKeys)
	if !ok {
		return q, false
	}
	errs := len(p.errs)
	if f.get("name") != nil {
		q.Name = p.name(f, "name", path, "quota name")
	}
	if rn := f.get("requests_per_month"); rn == nil {
		p.errorf(f.node, path, "missing requests_per_month (hint: the number of requests allowed per calendar month)")
	} else {
		q.RequestsPerMonth = p.integer(rn, path+".requests_per_month", 1, 1<<53, 0)
	}
	if zn := f.get("time_zone"); zn != nil {
		s, _ := p.str(zn, path+".time_zone")
		if loc, err := time.LoadLocation(s); err != nil || s == "" || s == "Local" {
			p.errorf(zn, path+".time_zone", "unknown time zone %q (hint: an IANA name such as UTC or Europe/Berlin)", s)
		} else {
			q.Location = loc
		}
	}
	if f.get("namespace") != nil {
		q.Namespace = p.name(f, "namespace", path, "namespace")
	}
	return q, len(p.errs) == errs
}

func (p *parser) tenants(cfg *Config, n *yaml.Node) {
	ids := seen{}
	keyLines := map[[32]byte]string{}
	for i, item := range p.list(n, "metering.tenants") {
		path := fmt.Sprintf("metering.tenants[%d]", i)
		f, ok := p.mapping(item, path, tenantKeys)
		if !ok {
			continue
		}
		t := Tenant{ID: p.name(f, "id", path, "tenant id")}
		if p.dup(ids, t.ID, f.get("id"), path+".id", "tenant") {
			t.ID = ""
		}
		if pn := f.get("plan"); pn == nil {
			p.errorf(f.node, path, `missing plan (hint: add "plan: <plan name>")`)
		} else {
			t.Plan = p.planRef(cfg, pn, path+".plan")
		}
		for j, kn := range p.list(f.get("api_keys"), path+".api_keys") {
			kpath := fmt.Sprintf("%s.api_keys[%d]", path, j)
			k, ok := p.apiKey(cfg, kn, kpath)
			if !ok {
				continue
			}
			if first, dup := keyLines[k.Hash]; dup {
				p.errorf(kn, kpath, "API key hash also listed at %s (hint: each key belongs to one tenant)", first)
				continue
			}
			keyLines[k.Hash] = fmt.Sprintf("line %d", resolve(kn).Line)
			t.APIKeys = append(t.APIKeys, k)
		}
		cfg.Tenants = append(cfg.Tenants, t)
	}
	for i := range cfg.Tenants {
		t := &cfg.Tenants[i]
		if t.ID == "" || t.Plan == "" {
			continue
		}
		cfg.tenants[t.ID] = t
	}
}

// planRef reads the name of a configured plan.
func (p *parser) planRef(cfg *Config, n *yaml.Node, path string) string {
	s, _ := p.str(n, path)
	if cfg.plans[s] == nil {
		p.errorf(n, path, "unknown plan %q (hint: define it under metering.plans)", s)
		return ""
	}
	return s
}

// apiKey reads "sha256:<hex>" or {hash: "sha256:<hex>", plan: <plan>}.
func (p *parser) apiKey(cfg *Config, n *yaml.Node, path string) (APIKey, bool) {
	var k APIKey
	hn := resolve(n)
	hpath := path
	if hn.Kind == yaml.MappingNode {
		f, _ := p.mapping(hn, path, apiKeyKeys)
		if pn := f.get("plan"); pn != nil {
			if k.Plan = p.planRef(cfg, pn, path+".plan"); k.Plan == "" {
				return k, false
			}
		}
		if hn = f.get("hash"); hn == nil {
			p.errorf(f.node, path, `missing hash (hint: add "hash: sha256:<hex>")`)
			return k, false
		}
		hpath += ".hash"
	}
	s, ok := p.str(hn, hpath)
	if !ok {
		return k, false
	}
	hexPart, found := strings.CutPrefix(s, "sha256:")
	b, err := hex.DecodeString(hexPart)
	if !found || err != nil || len(b) != 32 {
		p.errorf(hn, hpath, "API key must be \"sha256:\" and 64 hex digits, the SHA-256 of the key (hint: printf %%s \"$KEY\" | sha256sum); never put the key itself in config")
		return k, false
	}
	copy(k.Hash[:], b)
	return k, true
}

func (p *parser) meters(cfg *Config, n *yaml.Node) {
	names := seen{}
	namespaces := map[string]string{}
	for _, pl := range cfg.Plans {
		for _, q := range pl.Quotas {
			namespaces[q.Namespace] = "the quotas"
		}
	}
	for i, item := range p.list(n, "metering.meters") {
		path := fmt.Sprintf("metering.meters[%d]", i)
		f, ok := p.mapping(item, path, meterKeys)
		if !ok {
			continue
		}
		m := Meter{Name: p.name(f, "name", path, "meter name"), Type: Eventual}
		if p.dup(names, m.Name, f.get("name"), path+".name", "meter") {
			m.Name = ""
		}
		if sn := f.get("source"); sn == nil {
			p.errorf(f.node, path, "missing source (hint: authz or access_log)")
		} else {
			switch s, _ := p.str(sn, path+".source"); s {
			case "authz":
				m.Source = SourceAuthz
			case "access_log":
				m.Source = SourceAccessLog
			default:
				p.errorf(sn, path+".source", "invalid source %q (valid: authz, access_log)", s)
			}
		}
		p.meterValue(&m, f, path)
		p.filters(&m, f.get("filters"), path+".filters")
		p.groupBy(&m, f.get("group_by"), path+".group_by")
		m.Namespace = m.Name
		if f.get("namespace") != nil {
			m.Namespace = p.name(f, "namespace", path, "namespace")
		}
		if owner, dup := namespaces[m.Namespace]; dup && m.Namespace != "" {
			p.errorf(f.node, path, "namespace %q is also used by %s (hint: give each meter its own namespace)", m.Namespace, owner)
		} else if m.Namespace != "" {
			namespaces[m.Namespace] = "meter " + strconv.Quote(m.Name)
		}
		if tn := f.get("type"); tn != nil {
			switch s, _ := p.str(tn, path+".type"); s {
			case "eventual":
			case "accurate":
				m.Type = Accurate
			default:
				p.errorf(tn, path+".type", "invalid counter type %q (valid: eventual, accurate)", s)
			}
		}
		if un := f.get("unit"); un != nil {
			m.Unit, _ = p.str(un, path+".unit")
		}
		if m.Unit == "" {
			m.Unit = defaultUnit(m.Value)
		}
		cfg.Meters = append(cfg.Meters, m)
	}
	for i := range cfg.Meters {
		if cfg.Meters[i].Name != "" {
			cfg.meters[cfg.Meters[i].Name] = &cfg.Meters[i]
		}
	}
}

func defaultUnit(v ValueKind) string {
	switch v {
	case ValueRequests:
		return "request"
	case ValueRequestBytes, ValueResponseBytes:
		return "byte"
	case ValueDurationMS:
		return "millisecond"
	}
	return "unit"
}

func (p *parser) meterValue(m *Meter, f fields, path string) {
	vn := f.get("value")
	if vn == nil {
		p.errorf(f.node, path, "missing value (hint: requests, request_bytes, response_bytes, duration_ms or header:<name>)")
		return
	}
	s, _ := p.str(vn, path+".value")
	switch {
	case s == "requests":
		m.Value = ValueRequests
	case s == "request_bytes":
		m.Value = ValueRequestBytes
	case s == "response_bytes":
		m.Value = ValueResponseBytes
	case s == "duration_ms":
		m.Value = ValueDurationMS
	case strings.HasPrefix(s, "header:"):
		m.Value, m.Header = ValueHeader, strings.ToLower(strings.TrimPrefix(s, "header:"))
		if !validHeader(m.Header) {
			p.errorf(vn, path+".value", "invalid header name %q (hint: header:x-llm-tokens)", m.Header)
		}
	default:
		p.errorf(vn, path+".value", "invalid value %q (valid: requests, request_bytes, response_bytes, duration_ms, header:<name>)", s)
	}
	if (m.Value == ValueResponseBytes || m.Value == ValueDurationMS) && m.Source == SourceAuthz {
		p.errorf(vn, path+".value", "%s is known only after the response (hint: use source: access_log)", s)
	}
}

func (p *parser) filters(m *Meter, n *yaml.Node, path string) {
	f, ok := p.mapping(n, path, filterKeys)
	if !ok {
		return
	}
	for _, s := range p.strList(f.get("methods"), path+".methods") {
		m.Filters.Methods = append(m.Filters.Methods, strings.ToUpper(s))
	}
	pn := f.get("path_prefixes")
	for j, s := range p.strList(pn, path+".path_prefixes") {
		if !strings.HasPrefix(s, "/") {
			p.errorf(resolve(pn).Content[j], fmt.Sprintf("%s.path_prefixes[%d]", path, j), "path prefix %q must start with \"/\"", s)
			continue
		}
		m.Filters.PathPrefixes = append(m.Filters.PathPrefixes, s)
	}
	sn := f.get("status_classes")
	if sn != nil && m.Source == SourceAuthz {
		p.errorf(sn, path+".status_classes", "the status is known only after the response (hint: use source: access_log)")
		return
	}
	for j, s := range p.strList(sn, path+".status_classes") {
		r, ok := parseStatusRange(s)
		if !ok {
			p.errorf(resolve(sn).Content[j], fmt.Sprintf("%s.status_classes[%d]", path, j), "invalid status class %q (valid: a class such as 2xx, a code such as 404, or a comparison such as <500 or >=400)", s)
			continue
		}
		m.Filters.Statuses = append(m.Filters.Statuses, r)
	}
}

// parseStatusRange parses "2xx", "404", "<500", "<=499", ">399", ">=400".
func parseStatusRange(s string) (StatusRange, bool) {
	code := func(s string) (int, bool) {
		v, err := strconv.Atoi(s)
		return v, err == nil && len(s) == 3 && v >= 100 && v <= maxStatus
	}
	switch {
	case len(s) == 3 && s[1:] == "xx" && s[0] >= '1' && s[0] <= '5':
		lo := int(s[0]-'0') * 100
		return StatusRange{lo, lo + 99}, true
	case strings.HasPrefix(s, "<="):
		v, ok := code(s[2:])
		return StatusRange{0, v}, ok
	case strings.HasPrefix(s, "<"):
		v, ok := code(s[1:])
		return StatusRange{0, v - 1}, ok
	case strings.HasPrefix(s, ">="):
		v, ok := code(s[2:])
		return StatusRange{v, maxStatus}, ok
	case strings.HasPrefix(s, ">"):
		v, ok := code(s[1:])
		return StatusRange{v + 1, maxStatus}, ok && v < maxStatus
	}
	v, ok := code(s)
	return StatusRange{v, v}, ok
}

func (p *parser) groupBy(m *Meter, n *yaml.Node, path string) {
	if n == nil {
		return
	}
	items := p.strList(n, path)
	if !contains(items, "tenant") {
		p.errorf(n, path, "must include tenant (hint: [tenant] or [tenant, route])")
	}
	for j, s := range items {
		switch s {
		case "tenant":
		case "route":
			m.GroupByRoute = true
		default:
			p.errorf(resolve(n).Content[j], fmt.Sprintf("%s[%d]", path, j), "invalid group_by %q (valid: tenant, route)", s)
		}
	}
}

func (p *parser) spool(cfg *Config, n *yaml.Node) {
	f, _ := p.mapping(n, "metering.spool", spoolKeys)
	cfg.Spool = SpoolConfig{Dir: DefaultSpoolDir}
	if dn := f.get("dir"); dn != nil {
		cfg.Spool.Dir, _ = p.str(dn, "metering.spool.dir")
		if cfg.Spool.Dir == "" {
			p.errorf(dn, "metering.spool.dir", "empty directory (hint: omit it for %q under the data directory)", DefaultSpoolDir)
		}
	}
	cfg.Spool.BatchSize = int(p.integer(f.get("batch_size"), "metering.spool.batch_size", 1, 100000, DefaultBatchSize))
	cfg.Spool.FlushInterval = p.duration(f.get("flush_interval"), "metering.spool.flush_interval", DefaultFlushInterval)
	cfg.Spool.RetryMinBackoff = p.duration(f.get("retry_min_backoff"), "metering.spool.retry_min_backoff", DefaultRetryMinBackoff)
	cfg.Spool.RetryMaxBackoff = p.duration(f.get("retry_max_backoff"), "metering.spool.retry_max_backoff", DefaultRetryMaxBackoff)
	if cfg.Spool.RetryMaxBackoff < cfg.Spool.RetryMinBackoff {
		n := f.get("retry_max_backoff")
		if n == nil {
			n = f.get("retry_min_backoff")
		}
		p.errorf(n, "metering.spool.retry_max_backoff", "%s is below retry_min_backoff %s (hint: raise retry_max_backoff)", cfg.Spool.RetryMaxBackoff, cfg.Spool.RetryMinBackoff)
	}
}
