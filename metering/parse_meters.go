package metering

// This file parses metering.meters: what each meter counts, its filters and grouping.

import (
	"fmt"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/tollgate/tollgate/internal/yamlconf"
)

func (p *parser) meters(cfg *Config, n *yaml.Node) {
	names := seen{}
	namespaces := map[string]string{}
	for _, pl := range cfg.Plans {
		for _, q := range pl.Quotas {
			namespaces[q.Namespace] = "the quotas"
		}
	}
	for i, item := range p.d.List(n, "metering.meters") {
		path := fmt.Sprintf("metering.meters[%d]", i)
		f, ok := p.d.Mapping(item, path, meterKeys...)
		if !ok {
			continue
		}
		m := Meter{Name: p.name(f, "name", path, "meter name"), Type: Eventual}
		if p.dup(names, m.Name, f.Get("name"), path+".name", "meter") {
			m.Name = ""
		}
		if sn := f.Get("source"); sn == nil {
			p.errorf(f.Node, path, "missing source (hint: authz, access_log, events or rlqs)")
		} else {
			switch s, _ := p.d.OneOf(sn, path+".source", "authz", "access_log", "events", "rlqs"); s {
			case "authz":
				m.Source = SourceAuthz
			case "access_log":
				m.Source = SourceAccessLog
			case "events":
				m.Source = SourceEvents
			case "rlqs":
				m.Source = SourceRLQS
			}
		}
		p.meterValue(&m, f, path)
		p.sourceFields(&m, f, path)
		p.filters(&m, f.Get("filters"), path+".filters")
		p.groupBy(&m, f.Get("group_by"), path+".group_by")
		m.Namespace = m.Name
		if f.Get("namespace") != nil {
			m.Namespace = p.name(f, "namespace", path, "namespace")
		}
		if owner, dup := namespaces[m.Namespace]; dup && m.Namespace != "" {
			p.errorf(f.Node, path, "namespace %q is also used by %s (hint: give each meter its own namespace)", m.Namespace, owner)
		} else if m.Namespace != "" {
			namespaces[m.Namespace] = "meter " + strconv.Quote(m.Name)
		}
		if tn := f.Get("type"); tn != nil {
			if s, _ := p.d.OneOf(tn, path+".type", "eventual", "accurate"); s == "accurate" {
				m.Type = Accurate
			}
		}
		if un := f.Get("unit"); un != nil {
			m.Unit, _ = p.d.String(un, path+".unit")
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

func (p *parser) meterValue(m *Meter, f yamlconf.Fields, path string) {
	vn := f.Get("value")
	if vn == nil {
		switch m.Source {
		case SourceEvents:
			p.errorf(f.Node, path, "missing value (hint: requests, or the path of a number in the event's data such as $.tokens)")
		case SourceRLQS:
			p.errorf(f.Node, path, "missing value (hint: requests)")
		default:
			p.errorf(f.Node, path, "missing value (hint: requests, request_bytes, response_bytes, duration_ms or header:<name>)")
		}
		return
	}
	s, _ := p.d.String(vn, path+".value")
	switch m.Source {
	case SourceEvents:
		if s == "requests" {
			m.Value = ValueRequests
			return
		}
		if vp, ok := parseValuePath(s); ok {
			m.Value, m.ValuePath = ValueEventData, vp
			return
		}
		p.errorf(vn, path+".value", "invalid value %q for an events meter (valid: requests, or a path such as $.tokens or $.usage.output_tokens)", s)
		return
	case SourceRLQS:
		if s != "requests" {
			p.errorf(vn, path+".value", "invalid value %q for an rlqs meter (valid: requests: RLQS reports count requests)", s)
		}
		m.Value = ValueRequests
		return
	}
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

// parseValuePath parses "$.a.b" into [a b]: a dotted path of JSON object
// keys from the event's data.
func parseValuePath(s string) ([]string, bool) {
	rest, ok := strings.CutPrefix(s, "$.")
	if !ok || rest == "" {
		return nil, false
	}
	parts := strings.Split(rest, ".")
	for _, part := range parts {
		if part == "" || strings.ContainsAny(part, "[]*$ ") {
			return nil, false
		}
	}
	return parts, true
}

// sourceFields reads the keys that belong to one source and refuses those
// that do not apply to the meter's source.
func (p *parser) sourceFields(m *Meter, f yamlconf.Fields, path string) {
	onlyFor := func(key string, src Source) {
		if n := f.Get(key); n != nil && m.Source != src {
			p.errorf(n, path+"."+key, "%s applies only to source %s", key, src)
		}
	}
	onlyFor("event_type", SourceEvents)
	onlyFor("bucket_key", SourceRLQS)
	onlyFor("domain", SourceRLQS)
	switch m.Source {
	case SourceEvents:
		if n := f.Get("event_type"); n == nil {
			p.errorf(f.Node, path, "missing event_type (hint: the CloudEvents type this meter counts, such as com.example.llm.completion)")
		} else {
			m.EventType, _ = p.d.String(n, path+".event_type")
		}
	case SourceRLQS:
		m.BucketKey = "tenant"
		if n := f.Get("bucket_key"); n != nil {
			m.BucketKey, _ = p.d.String(n, path+".bucket_key")
		}
		if n := f.Get("domain"); n != nil {
			m.Domain, _ = p.d.String(n, path+".domain")
		}
	}
	if m.Source == SourceEvents || m.Source == SourceRLQS {
		for _, key := range []string{"filters", "group_by"} {
			if n := f.Get(key); n != nil {
				p.errorf(n, path+"."+key, "%s applies only to sources authz and access_log (hint: an %s meter counts every event of its tenant)", key, m.Source)
			}
		}
	}
}

func (p *parser) filters(m *Meter, n *yaml.Node, path string) {
	f, ok := p.d.Mapping(n, path, filterKeys...)
	if !ok {
		return
	}
	for _, s := range p.d.Strings(f.Get("methods"), path+".methods") {
		m.Filters.Methods = append(m.Filters.Methods, strings.ToUpper(s))
	}
	pn := f.Get("path_prefixes")
	for j, s := range p.d.Strings(pn, path+".path_prefixes") {
		if !strings.HasPrefix(s, "/") {
			p.errorf(yamlconf.Resolve(pn).Content[j], fmt.Sprintf("%s.path_prefixes[%d]", path, j), "path prefix %q must start with \"/\"", s)
			continue
		}
		m.Filters.PathPrefixes = append(m.Filters.PathPrefixes, s)
	}
	sn := f.Get("status_classes")
	if sn != nil && m.Source == SourceAuthz {
		p.errorf(sn, path+".status_classes", "the status is known only after the response (hint: use source: access_log)")
		return
	}
	for j, s := range p.d.Strings(sn, path+".status_classes") {
		r, ok := parseStatusRange(s)
		if !ok {
			p.errorf(yamlconf.Resolve(sn).Content[j], fmt.Sprintf("%s.status_classes[%d]", path, j), "invalid status class %q (valid: a class such as 2xx, a code such as 404, or a comparison such as <500 or >=400)", s)
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
	items := p.d.Strings(n, path)
	if !contains(items, "tenant") {
		p.errorf(n, path, "must include tenant (hint: [tenant] or [tenant, route])")
	}
	for j, s := range items {
		switch s {
		case "tenant":
		case "route":
			m.GroupByRoute = true
		default:
			p.errorf(yamlconf.Resolve(n).Content[j], fmt.Sprintf("%s[%d]", path, j), "invalid group_by %q (valid: tenant, route)", s)
		}
	}
}
