package ratelimit

import (
	"sort"
	"strings"
	"time"

	"github.com/tollgate/tollgate/counter"
)

// Config is a loaded, validated set of rate-limit domains. It is immutable
// after LoadConfig returns and safe for concurrent use; a reload builds a new
// Config and swaps it in with Service.SetConfig.
type Config struct {
	domains map[string]*domainConfig
	files   []string
	// nodes counts the rule nodes of all domains; node ids are 0..nodes-1.
	nodes int
}

// Domains returns the configured domain names, sorted.
func (c *Config) Domains() []string {
	names := make([]string, 0, len(c.domains))
	for name := range c.domains {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// Files returns the files the config was loaded from, in load order.
func (c *Config) Files() []string {
	return append([]string(nil), c.files...)
}

// domainConfig is one domain: the root of its descriptor tree.
type domainConfig struct {
	name string
	file string
	line int
	root *node
}

// entryKey identifies a child node by descriptor key and value; an empty
// value is the key's default entry.
type entryKey struct {
	key, value string
}

// node is one descriptor entry of the config tree.
type node struct {
	id    int
	key   string
	value string
	// path is the config path below the domain, "key_value.key2", used as the
	// rule label of detailed metrics.
	path string
	// children holds the nested entries that are not wildcards, including
	// the default (value-less) ones.
	children map[entryKey]*node
	// wildcards holds the nested entries whose value contains '*', in config
	// order; the first that matches wins.
	wildcards []*node
	// parts is the value split at '*' when the value is a wildcard pattern.
	parts []string

	// limits are the limits of this entry; an unlimited entry holds one
	// limit with unlimited set.
	limits         []*limit
	shadowMode     bool
	quotaMode      bool
	detailedMetric bool
	valueToMetric  bool
	shareThreshold bool
	// dynamicLabel is set when this entry or one above it has
	// value_to_metric, so its rule label depends on the request's values.
	dynamicLabel bool
}

// limit is one configured (or per-request override) limit.
type limit struct {
	info      LimitInfo
	algorithm counter.Algorithm
	unlimited bool
	name      string
	replaces  []string
	// keySuffix encodes requests, window and algorithm for the counter key.
	keySuffix string
}

// unitSeconds maps the Envoy units to their lengths, as envoyproxy/ratelimit
// counts them (a month is 30 days, a year 365 days).
var unitLengths = [...]time.Duration{
	UnitSecond: time.Second,
	UnitMinute: time.Minute,
	UnitHour:   time.Hour,
	UnitDay:    24 * time.Hour,
	UnitMonth:  30 * 24 * time.Hour,
	UnitYear:   365 * 24 * time.Hour,
	UnitWeek:   7 * 24 * time.Hour,
}

// unitNames are the YAML names of the units, in order of length.
var unitNames = []struct {
	name string
	unit Unit
}{
	{"second", UnitSecond},
	{"minute", UnitMinute},
	{"hour", UnitHour},
	{"day", UnitDay},
	{"week", UnitWeek},
	{"month", UnitMonth},
	{"year", UnitYear},
}

// unitList is the unit names in order of length, for messages.
var unitList = func() []string {
	names := make([]string, len(unitNames))
	for i, n := range unitNames {
		names[i] = n.name
	}
	return names
}()

// Duration returns the window length of u (a month is 30 days, a year 365
// days, as in envoyproxy/ratelimit), or 0 for an unknown unit.
func (u Unit) Duration() time.Duration {
	if u <= UnitUnknown || int(u) >= len(unitLengths) {
		return 0
	}
	return unitLengths[u]
}

// String returns the YAML name of u ("second" … "year"), or "unknown".
func (u Unit) String() string {
	for _, n := range unitNames {
		if n.unit == u {
			return n.name
		}
	}
	return "unknown"
}

// ParseUnit returns the unit named s ("second" … "year"),
// case-insensitively as envoyproxy does.
func ParseUnit(s string) (Unit, bool) { return parseUnit(s) }

// parseUnit returns the unit named s, case-insensitively as envoyproxy does.
func parseUnit(s string) (Unit, bool) {
	for _, n := range unitNames {
		if strings.EqualFold(n.name, s) {
			return n.unit, true
		}
	}
	return UnitUnknown, false
}

// unitFor returns the longest Envoy unit not longer than window (UnitSecond
// for windows under a second).
func unitFor(window time.Duration) Unit {
	best := UnitSecond
	for _, n := range unitNames {
		if d := n.unit.Duration(); d <= window && d > best.Duration() {
			best = n.unit
		}
	}
	return best
}

// isWildcard reports whether a config value is a wildcard pattern.
func isWildcard(value string) bool {
	return strings.IndexByte(value, '*') >= 0
}

// matchWildcard reports whether value matches the pattern split at '*' into
// parts; each '*' matches any run of bytes, including none.
func matchWildcard(parts []string, value string) bool {
	first, last := parts[0], parts[len(parts)-1]
	if len(value) < len(first)+len(last) ||
		!strings.HasPrefix(value, first) || !strings.HasSuffix(value, last) {
		return false
	}
	rest := value[len(first) : len(value)-len(last)]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(rest, p)
		if i < 0 {
			return false
		}
		rest = rest[i+len(p):]
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
