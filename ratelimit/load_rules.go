package ratelimit

import (
	"errors"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/tollgate/tollgate/counter"
	"github.com/tollgate/tollgate/internal/yamlconf"
)

// descriptors loads the descriptors list n, at config path path, into
// parent's children; parentRule is parent's rule path ("key_value.key2").
func (l *loader) descriptors(parent *node, n *yaml.Node, path, parentRule string) {
	firstLine := map[entryKey]int{}
	for i, item := range l.d.List(n, path) {
		ipath := yamlconf.Index(path, i)
		fields, ok := l.d.Mapping(item, ipath, descriptorKeys...)
		if !ok {
			continue
		}
		child := l.newNode()
		child.key, _ = l.d.String(fields.Get("key"), ipath+".key")
		if child.key == "" {
			l.d.Errorf(item, ipath, `missing key (hint: add "key: <descriptor key>")`)
		}
		child.value, _ = l.d.String(fields.Get("value"), ipath+".value")
		child.path = child.key
		if child.value != "" {
			child.path += "_" + child.value
		}
		if parentRule != "" {
			child.path = parentRule + "." + child.path
		}
		child.shadowMode = l.d.Bool(fields.Get("shadow_mode"), ipath+".shadow_mode", false)
		child.quotaMode = l.d.Bool(fields.Get("quota_mode"), ipath+".quota_mode", false)
		child.detailedMetric = l.d.Bool(fields.Get("detailed_metric"), ipath+".detailed_metric", false)
		child.valueToMetric = l.d.Bool(fields.Get("value_to_metric"), ipath+".value_to_metric", false)
		child.shareThreshold = l.d.Bool(fields.Get("share_threshold"), ipath+".share_threshold", false)
		child.dynamicLabel = parent.dynamicLabel || child.valueToMetric
		if child.shareThreshold && !isWildcard(child.value) {
			l.d.Errorf(fields.Get("share_threshold"), ipath+".share_threshold", "needs a wildcard value (containing '*'), but value is %q (hint: use a value such as \"prefix*\" or remove share_threshold)", child.value)
		}
		l.d.Mapping(fields.Get("metadata"), ipath+".metadata")
		l.limits(child, fields, ipath)
		l.descriptors(child, fields.Get("descriptors"), ipath+".descriptors", child.path)

		if child.key == "" {
			continue
		}
		ek := entryKey{child.key, child.value}
		if first, dup := firstLine[ek]; dup {
			if child.value == "" {
				l.d.Errorf(item, ipath, "duplicate descriptor key %q without value at this level, first at line %d (hint: merge the two entries)", child.key, first)
			} else {
				l.d.Errorf(item, ipath, "duplicate descriptor key %q value %q at this level, first at line %d (hint: merge the two entries)", child.key, child.value, first)
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

// limits loads rate_limit and rate_limits of the descriptor at path.
func (l *loader) limits(child *node, fields yamlconf.Fields, path string) {
	type item struct {
		n    *yaml.Node
		path string
	}
	var items []item
	if rn := fields.Get("rate_limit"); rn != nil {
		items = append(items, item{rn, path + ".rate_limit"})
	}
	for i, rn := range l.d.List(fields.Get("rate_limits"), path+".rate_limits") {
		items = append(items, item{rn, yamlconf.Index(path+".rate_limits", i)})
	}
	for _, it := range items {
		lim := l.limit(it.n, it.path)
		if lim == nil {
			continue
		}
		if lim.unlimited && len(items) > 1 {
			l.d.Errorf(it.n, it.path, "unlimited: true cannot be combined with other limits on the same descriptor (hint: keep only the unlimited one)")
			continue
		}
		child.limits = append(child.limits, lim)
	}
}

// limit loads one rate_limit mapping; nil when it is invalid.
func (l *loader) limit(n *yaml.Node, path string) *limit {
	fields, ok := l.d.Mapping(n, path, rateLimitKeys...)
	if !ok {
		return nil
	}
	errs := l.d.Count()
	name, _ := l.d.String(fields.Get("name"), path+".name")
	var replaces []string
	for i, item := range l.d.List(fields.Get("replaces"), path+".replaces") {
		ipath := yamlconf.Index(path+".replaces", i)
		rf, ok := l.d.Mapping(item, ipath, replacesKeys...)
		if !ok {
			continue
		}
		r, _ := l.d.String(rf.Get("name"), ipath+".name")
		switch {
		case r == "":
			l.d.Errorf(item, ipath, `missing name (hint: write "- name: <rate_limit name>")`)
		case r == name:
			l.d.Errorf(item, ipath, "rate_limit %q replaces itself (hint: remove %q from replaces)", name, name)
		default:
			replaces = append(replaces, r)
		}
	}
	if l.d.Bool(fields.Get("unlimited"), path+".unlimited", false) {
		for _, k := range []string{"unit", "requests_per_unit", "window", "algorithm"} {
			if f := fields.Get(k); f != nil {
				l.d.Errorf(f, path+"."+k, "cannot be set when unlimited is true (hint: remove %s or unlimited)", k)
			}
		}
		if l.d.Count() > errs {
			return nil
		}
		return &limit{unlimited: true, name: name, replaces: replaces, info: LimitInfo{Name: name}}
	}

	unit, window := l.window(fields, path)
	var requests uint32
	if rn := fields.Get("requests_per_unit"); rn == nil {
		l.d.Errorf(n, path, "missing requests_per_unit (hint: the number of requests allowed per unit, 0 blocks all)")
	} else if v, ok := l.d.Int(rn, path+".requests_per_unit", 0, 1<<32-1); ok {
		requests = uint32(v)
	}
	alg := counter.FixedWindow
	if an := fields.Get("algorithm"); an != nil {
		switch s, _ := l.d.OneOf(an, path+".algorithm", "fixed_window", "sliding_window", "token_bucket"); s {
		case "sliding_window":
			alg = counter.SlidingWindow
		case "token_bucket":
			alg = counter.TokenBucket
		}
	}
	if l.d.Count() > errs {
		return nil
	}
	lim := newLimit(requests, unit, window, alg)
	lim.info.Name = name
	lim.name = name
	lim.replaces = replaces
	return lim
}

// window reads the unit or the window of a rate_limit: exactly one is set.
func (l *loader) window(fields yamlconf.Fields, path string) (Unit, time.Duration) {
	un, wn := fields.Get("unit"), fields.Get("window")
	switch {
	case un != nil && wn != nil:
		l.d.Errorf(wn, path+".window", "unit and window are both set (hint: keep window and drop unit; Envoy is told the nearest unit)")
	case un != nil:
		s, _ := l.d.String(un, path+".unit")
		if u, ok := parseUnit(s); ok {
			return u, u.Duration()
		}
		l.d.Errorf(un, path+".unit", "%s", yamlconf.NotOneOf(s, unitList...))
	case wn != nil:
		d, ok := l.d.Duration(wn, path+".window")
		if !ok {
			break
		}
		if err := CheckWindow(d); err != nil {
			l.d.Errorf(wn, path+".window", "%s", err)
			break
		}
		return unitFor(d), d
	default:
		l.d.Errorf(fields.Node, path, `missing unit or window (hint: add "unit: minute" or "window: 30s")`)
	}
	return UnitUnknown, 0
}

// CheckWindow reports a custom window that is not a whole number of
// seconds of at least 1s; metering's plans check theirs with it too.
func CheckWindow(d time.Duration) error {
	if d < time.Second || d%time.Second != 0 {
		return errors.New("must be a whole number of seconds, at least 1s, got " + d.String() + " (hint: such as 30s, 5m or 36h)")
	}
	return nil
}
