package ratelimit

// levelMatch records which config entry a request entry matched.
type levelMatch struct {
	n *node
	// wildcard is set when the entry matched through a wildcard pattern.
	wildcard bool
}

// match walks the domain's tree with the request entries, as
// envoyproxy/ratelimit does: at each level the exact key and value first,
// then the wildcard values of that key in config order, then the key's
// default entry. It returns the entry whose limits apply, or nil: limits apply
// only when the request has exactly as many entries as the depth of the
// config entry holding them. levels receives one match per matched entry.
func (d *domainConfig) match(entries []Entry, levels []levelMatch) (*node, []levelMatch) {
	cur := d.root
	for i, e := range entries {
		var next *node
		wild := false
		if e.Value != "" {
			next = cur.children[entryKey{e.Key, e.Value}]
		}
		if next == nil {
			for _, w := range cur.wildcards {
				if w.key == e.Key && matchWildcard(w.parts, e.Value) {
					next, wild = w, true
					break
				}
			}
		}
		if next == nil {
			next = cur.children[entryKey{e.Key, ""}]
		}
		if next == nil {
			return nil, levels
		}
		levels = append(levels, levelMatch{n: next, wildcard: wild})
		if i == len(entries)-1 {
			if len(next.limits) == 0 {
				return nil, levels
			}
			return next, levels
		}
		if len(next.children) == 0 {
			return nil, levels
		}
		cur = next
	}
	return nil, levels
}

// appendKey appends the counter key of a descriptor (without the limit
// suffix) to dst. levels, when given, marks the entries whose counter is
// shared by every value of a share_threshold wildcard.
func appendKey(dst []byte, domain string, entries []Entry, levels []levelMatch) []byte {
	dst = appendPart(dst, domain)
	for i, e := range entries {
		dst = appendPart(dst, e.Key)
		if i < len(levels) && levels[i].wildcard && levels[i].n.shareThreshold {
			dst = append(dst, '*')
			dst = appendPart(dst, levels[i].n.value)
			continue
		}
		dst = append(dst, '=')
		dst = appendPart(dst, e.Value)
	}
	return dst
}

// ruleLabel returns the rule label of a detailed_metric rule: its config
// path, with the request's value at levels that have value_to_metric and
// matched a wildcard or default entry (share_threshold keeps the pattern).
func ruleLabel(entries []Entry, levels []levelMatch) string {
	var b []byte
	for i, lm := range levels {
		if i > 0 {
			b = append(b, '.')
		}
		b = append(b, entries[i].Key...)
		v := lm.n.value
		if lm.n.valueToMetric && !(lm.wildcard && lm.n.shareThreshold) {
			v = entries[i].Value
		}
		if v != "" {
			b = append(b, '_')
			b = append(b, v...)
		}
	}
	return string(b)
}
