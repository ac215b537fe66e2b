package ratelimit

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/tollgate/tollgate/counter"
	"github.com/tollgate/tollgate/internal/configerr"
)

// ConfigError is one config problem: "file:line: message".
type ConfigError = configerr.Error

// ConfigErrors is every problem found, in file and line order; its Error
// returns one "file:line: message" per line.
type ConfigErrors = configerr.List

// LoadConfig loads envoyproxy/ratelimit YAML (plus Tollgate's extensions)
// from each path: a file, or a directory whose top-level *.yaml and *.yml
// entries are loaded in name order. In a directory, entries whose names start
// with '.' and subdirectories are skipped and symlinks are followed, so a
// Kubernetes ConfigMap mount (x.yaml -> ..data/x.yaml) loads each file once.
// An empty directory gives a Config with no domains.
//
// All problems are collected; the error is then a ConfigErrors. A path that
// cannot be read gives a plain error.
func LoadConfig(paths ...string) (*Config, error) {
	var files []string
	for _, p := range paths {
		fs, err := configFiles(p)
		if err != nil {
			return nil, err
		}
		files = append(files, fs...)
	}
	l := loader{cfg: &Config{domains: map[string]*domainConfig{}, files: files}}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("ratelimit: cannot read config file: %w", err)
		}
		l.loadFile(f, data)
	}
	if len(l.errs) > 0 {
		return nil, l.errs
	}
	return l.cfg, nil
}

// ParseConfig loads one domain's YAML from memory, as LoadConfig loads a
// file; errors name the given file name. Generated configs use it.
func ParseConfig(name string, data []byte) (*Config, error) {
	l := loader{cfg: &Config{domains: map[string]*domainConfig{}, files: []string{name}}}
	l.loadFile(name, data)
	if len(l.errs) > 0 {
		return nil, l.errs
	}
	return l.cfg, nil
}

// configFiles lists the files to load for one path.
func configFiles(path string) ([]string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("ratelimit: cannot load config: %w (hint: pass a YAML file or a directory of them)", err)
	}
	if !st.IsDir() {
		return []string{path}, nil
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return nil, fmt.Errorf("ratelimit: cannot list config directory: %w", err)
	}
	var files []string
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		ext := filepath.Ext(name)
		if ext != ".yaml" && ext != ".yml" {
			continue
		}
		full := filepath.Join(path, name)
		st, err := os.Stat(full)
		if err != nil {
			return nil, fmt.Errorf("ratelimit: cannot load config: %w", err)
		}
		if st.IsDir() {
			continue
		}
		files = append(files, full)
	}
	sort.Strings(files)
	return files, nil
}

// loader accumulates domains and errors over the files of one load.
type loader struct {
	cfg  *Config
	errs ConfigErrors
	file string
}

func (l *loader) errorf(line int, format string, args ...any) {
	l.errs = append(l.errs, ConfigError{File: l.file, Line: line, Msg: fmt.Sprintf(format, args...)})
}

// Allowed keys at each level, in the order the hints list them.
var (
	rootKeys       = []string{"domain", "descriptors"}
	descriptorKeys = []string{"key", "value", "rate_limit", "rate_limits", "descriptors", "shadow_mode", "quota_mode", "detailed_metric", "value_to_metric", "share_threshold", "metadata"}
	rateLimitKeys  = []string{"unit", "requests_per_unit", "unlimited", "name", "replaces", "algorithm", "window"}
	replacesKeys   = []string{"name"}
)

func (l *loader) loadFile(file string, data []byte) {
	l.file = file
	first := len(l.errs)
	defer func() {
		own := l.errs[first:]
		sort.SliceStable(own, func(i, j int) bool { return own[i].Line < own[j].Line })
	}()
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			l.errorf(0, `missing domain: the file is empty (hint: start it with "domain: <name>")`)
			return
		}
		l.yamlError(err)
		return
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		l.errorf(extra.Line, "more than one YAML document (hint: put each domain in its own file)")
	} else if !errors.Is(err, io.EOF) {
		l.yamlError(err)
		return
	}
	if len(doc.Content) == 0 {
		l.errorf(0, `missing domain: the file is empty (hint: start it with "domain: <name>")`)
		return
	}
	root := doc.Content[0]
	fields, ok := l.mapping(root, "top level", rootKeys)
	if !ok {
		return
	}
	domainNode := fields["domain"]
	domain := ""
	if domainNode != nil {
		domain, _ = l.str(domainNode, "domain")
	}
	if domain == "" {
		line := root.Line
		if domainNode != nil {
			line = domainNode.Line
		}
		l.errorf(line, `missing domain (hint: add "domain: <name>" at the top level)`)
	}
	dc := &domainConfig{name: domain, file: file, line: root.Line, root: l.newNode()}
	if domainNode != nil {
		dc.line = domainNode.Line
	}
	l.descriptors(dc.root, fields["descriptors"], "")
	if domain == "" {
		return
	}
	if prev, dup := l.cfg.domains[domain]; dup {
		l.errorf(dc.line, "duplicate domain %q, also defined at %s:%d (hint: each domain must be defined in one file only)", domain, prev.file, prev.line)
		return
	}
	l.cfg.domains[domain] = dc
}

// yamlError records a YAML syntax error, taking its line from the message.
func (l *loader) yamlError(err error) {
	msg := err.Error()
	line := 0
	if rest, ok := strings.CutPrefix(msg, "yaml: line "); ok {
		if num, tail, ok := strings.Cut(rest, ": "); ok {
			if n, err := strconv.Atoi(num); err == nil {
				line, msg = n, tail
			}
		}
	} else {
		msg = strings.TrimPrefix(msg, "yaml: ")
	}
	l.errorf(line, "invalid YAML: %s", msg)
}

func (l *loader) newNode() *node {
	n := &node{id: l.cfg.nodes, children: map[entryKey]*node{}}
	l.cfg.nodes++
	return n
}

// mapping checks that n is a mapping with only allowed keys, each once, and
// returns its values by key. A null node is an empty mapping.
func (l *loader) mapping(n *yaml.Node, what string, allowed []string) (map[string]*yaml.Node, bool) {
	n = resolve(n)
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return map[string]*yaml.Node{}, true
	}
	if n.Kind != yaml.MappingNode {
		l.errorf(n.Line, "%s must be a mapping of keys to values, got %s", what, kindName(n))
		return nil, false
	}
	fields := make(map[string]*yaml.Node, len(n.Content)/2)
	lines := make(map[string]int, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			l.errorf(k.Line, "%s has a key that is not a string (hint: keys are plain names such as %q)", what, allowed[0])
			continue
		}
		if !contains(allowed, k.Value) {
			l.errorf(k.Line, "unknown key %q in %s (allowed: %s)", k.Value, what, strings.Join(allowed, ", "))
			continue
		}
		if first, dup := lines[k.Value]; dup {
			l.errorf(k.Line, "key %q repeated in %s, first at line %d (hint: keep one)", k.Value, what, first)
			continue
		}
		lines[k.Value] = k.Line
		fields[k.Value] = v
	}
	return fields, true
}

// list returns the items of a sequence node; null is an empty list.
func (l *loader) list(n *yaml.Node, what string) []*yaml.Node {
	n = resolve(n)
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		l.errorf(n.Line, "%s must be a list (items start with \"- \"), got %s", what, kindName(n))
		return nil
	}
	return n.Content
}

// str returns a scalar as a string; numbers and booleans are taken as
// written, as envoyproxy/ratelimit does.
func (l *loader) str(n *yaml.Node, what string) (string, bool) {
	n = resolve(n)
	if n.Kind != yaml.ScalarNode {
		l.errorf(n.Line, "%s must be a string, got %s", what, kindName(n))
		return "", false
	}
	if n.Tag == "!!null" {
		return "", true
	}
	return n.Value, true
}

// boolean returns a scalar as a bool, accepting the YAML 1.1 spellings
// (yes/no, on/off) that envoyproxy/ratelimit's parser accepts.
func (l *loader) boolean(n *yaml.Node, what string) bool {
	if n == nil {
		return false
	}
	n = resolve(n)
	if n.Kind == yaml.ScalarNode {
		switch strings.ToLower(n.Value) {
		case "true", "yes", "on", "y":
			return true
		case "false", "no", "off", "n", "", "~", "null":
			return false
		}
	}
	l.errorf(n.Line, "%s must be true or false, got %s", what, describe(n))
	return false
}

func resolve(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	return describe(n)
}

func describe(n *yaml.Node) string {
	if n.Kind == yaml.ScalarNode {
		return strconv.Quote(n.Value)
	}
	return kindName(n)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// descriptors loads a descriptors list into parent's children.
func (l *loader) descriptors(parent *node, n *yaml.Node, parentPath string) {
	if n == nil {
		return
	}
	firstLine := map[entryKey]int{}
	for _, item := range l.list(n, "descriptors") {
		fields, ok := l.mapping(item, "descriptor", descriptorKeys)
		if !ok {
			continue
		}
		child := l.newNode()
		if kn := fields["key"]; kn != nil {
			child.key, _ = l.str(kn, "key")
		}
		if child.key == "" {
			l.errorf(item.Line, `descriptor has no key (hint: add "key: <descriptor key>")`)
		}
		if vn := fields["value"]; vn != nil {
			child.value, _ = l.str(vn, "value")
		}
		child.path = child.key
		if child.value != "" {
			child.path += "_" + child.value
		}
		if parentPath != "" {
			child.path = parentPath + "." + child.path
		}
		child.shadowMode = l.boolean(fields["shadow_mode"], "shadow_mode")
		child.quotaMode = l.boolean(fields["quota_mode"], "quota_mode")
		child.detailedMetric = l.boolean(fields["detailed_metric"], "detailed_metric")
		child.valueToMetric = l.boolean(fields["value_to_metric"], "value_to_metric")
		child.shareThreshold = l.boolean(fields["share_threshold"], "share_threshold")
		child.dynamicLabel = parent.dynamicLabel || child.valueToMetric
		if child.shareThreshold && !isWildcard(child.value) {
			l.errorf(fields["share_threshold"].Line, "share_threshold needs a wildcard value (containing '*'), but value is %q (hint: use a value such as \"prefix*\" or remove share_threshold)", child.value)
		}
		if mn := fields["metadata"]; mn != nil && resolve(mn).Kind != yaml.MappingNode {
			l.errorf(mn.Line, "metadata must be a mapping, got %s", kindName(resolve(mn)))
		}
		l.limits(child, fields)
		l.descriptors(child, fields["descriptors"], child.path)

		if child.key == "" {
			continue
		}
		ek := entryKey{child.key, child.value}
		if first, dup := firstLine[ek]; dup {
			if child.value == "" {
				l.errorf(item.Line, "duplicate descriptor key %q without value at this level, first at line %d (hint: merge the two entries)", child.key, first)
			} else {
				l.errorf(item.Line, "duplicate descriptor key %q value %q at this level, first at line %d (hint: merge the two entries)", child.key, child.value, first)
			}
			continue
		}
		firstLine[ek] = item.Line
		parent.children[ek] = child
		if isWildcard(child.value) {
			child.parts = strings.Split(child.value, "*")
			parent.wildcards = append(parent.wildcards, child)
		}
	}
}

// limits loads rate_limit and rate_limits of one descriptor.
func (l *loader) limits(child *node, fields map[string]*yaml.Node) {
	var items []*yaml.Node
	if rn := fields["rate_limit"]; rn != nil {
		items = append(items, rn)
	}
	if rn := fields["rate_limits"]; rn != nil {
		items = append(items, l.list(rn, "rate_limits")...)
	}
	for _, item := range items {
		lim := l.limit(item)
		if lim == nil {
			continue
		}
		if lim.unlimited && len(items) > 1 {
			l.errorf(item.Line, "unlimited: true cannot be combined with other limits on the same descriptor (hint: keep only the unlimited one)")
			continue
		}
		child.limits = append(child.limits, lim)
	}
}

// limit loads one rate_limit mapping; nil when it is invalid.
func (l *loader) limit(n *yaml.Node) *limit {
	fields, ok := l.mapping(n, "rate_limit", rateLimitKeys)
	if !ok {
		return nil
	}
	errs := len(l.errs)
	name := ""
	if nn := fields["name"]; nn != nil {
		name, _ = l.str(nn, "name")
	}
	var replaces []string
	if rn := fields["replaces"]; rn != nil {
		for _, item := range l.list(rn, "replaces") {
			rf, ok := l.mapping(item, "replaces entry", replacesKeys)
			if !ok {
				continue
			}
			r := ""
			if nn := rf["name"]; nn != nil {
				r, _ = l.str(nn, "name")
			}
			switch {
			case r == "":
				l.errorf(item.Line, `replaces entry has no name (hint: write "- name: <rate_limit name>")`)
			case r == name:
				l.errorf(item.Line, "rate_limit %q replaces itself (hint: remove %q from replaces)", name, name)
			default:
				replaces = append(replaces, r)
			}
		}
	}
	line := resolve(n).Line
	if l.boolean(fields["unlimited"], "unlimited") {
		for _, k := range []string{"unit", "requests_per_unit", "window", "algorithm"} {
			if f := fields[k]; f != nil {
				l.errorf(f.Line, "%s cannot be set when unlimited is true (hint: remove %s or unlimited)", k, k)
			}
		}
		if len(l.errs) > errs {
			return nil
		}
		return &limit{unlimited: true, name: name, replaces: replaces, info: LimitInfo{Name: name}}
	}

	unit, window := UnitUnknown, time.Duration(0)
	un, wn := fields["unit"], fields["window"]
	if un != nil {
		s, _ := l.str(un, "unit")
		u, ok := parseUnit(s)
		if ok {
			unit, window = u, u.Duration()
		} else {
			l.errorf(un.Line, "invalid unit %q (valid units: second, minute, hour, day, week, month, year)", s)
		}
	}
	if wn != nil {
		s, _ := l.str(wn, "window")
		d, err := time.ParseDuration(s)
		switch {
		case un != nil:
			l.errorf(wn.Line, "unit and window are both set (hint: keep window %q and drop unit; Envoy is told the nearest unit)", s)
		case err != nil || d < time.Second || d%time.Second != 0:
			l.errorf(wn.Line, "invalid window %q (hint: a whole number of seconds, at least 1s, written as a Go duration such as 30s, 5m or 36h)", s)
		default:
			unit, window = unitFor(d), d
		}
	}
	if un == nil && wn == nil {
		l.errorf(line, "rate_limit needs a unit (second, minute, hour, day, week, month, year) or a window such as 30s")
	}

	var requests uint32
	if rn := fields["requests_per_unit"]; rn == nil {
		l.errorf(line, "rate_limit needs requests_per_unit (hint: the number of requests allowed per unit, 0 blocks all)")
	} else {
		s, _ := l.str(rn, "requests_per_unit")
		v, err := strconv.ParseUint(s, 10, 32)
		if err != nil {
			l.errorf(rn.Line, "requests_per_unit must be a whole number from 0 to 4294967295, got %q", s)
		}
		requests = uint32(v)
	}

	alg := counter.FixedWindow
	if an := fields["algorithm"]; an != nil {
		s, _ := l.str(an, "algorithm")
		switch s {
		case "fixed_window":
		case "sliding_window":
			alg = counter.SlidingWindow
		case "token_bucket":
			alg = counter.TokenBucket
		default:
			l.errorf(an.Line, "invalid algorithm %q (valid: fixed_window, sliding_window, token_bucket)", s)
		}
	}
	if len(l.errs) > errs {
		return nil
	}
	lim := newLimit(requests, unit, window, alg)
	lim.info.Name = name
	lim.name = name
	lim.replaces = replaces
	return lim
}
