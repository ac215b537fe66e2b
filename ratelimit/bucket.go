package ratelimit

import (
	"slices"
	"time"

	"github.com/tollgate/tollgate/counter"
)

// BucketMatch is what a domain's rules say about one RLQS bucket (a map of
// entries, see Config.MatchBucket).
type BucketMatch struct {
	// Found says a config entry with limits matched; the other fields are
	// set only then.
	Found bool
	// Key names the pool the bucket draws from: the domain and the matched
	// entries, in the config's order, with share_threshold wildcards
	// standing for every value they match (as RLS counter keys are built).
	Key string
	// Rule is the matched entry's config path ("tenant.path_/api"), the
	// label of detailed metrics.
	Rule string
	// Limits are the entry's limits; an unlimited entry has none and
	// Unlimited set.
	Limits    []BucketLimit
	Unlimited bool
	// ShadowMode and DetailedMetric are the matched entry's settings.
	ShadowMode, DetailedMetric bool
}

// BucketLimit is one limit of a matched bucket.
type BucketLimit struct {
	// Requests is the number of requests allowed per Window.
	Requests uint64
	// Window is the limit's window (its unit's length, or a custom window).
	Window time.Duration
	// Algorithm is how the limit counts.
	Algorithm counter.Algorithm
	// Suffix tells this limit's pool apart from the entry's other limits;
	// Key + Suffix names one pool.
	Suffix string
}

// MatchBucket matches an RLQS bucket id against the descriptors of domain,
// with the rules of ShouldRateLimit but taking the bucket's entries as a set:
// a config entry of depth n matches a bucket of n entries when its path
// uses each of them once, in any order. At each level the bucket's entries
// are tried with their exact key and value first (in key order), then
// wildcard values (in config order), then the key alone; the first complete
// path wins. An unknown domain or a bucket that matches no entry with limits
// answers Found false.
func (c *Config) MatchBucket(domain string, bucket map[string]string) BucketMatch {
	d := c.domains[domain]
	if d == nil || len(bucket) == 0 {
		return BucketMatch{}
	}
	keys := make([]string, 0, len(bucket))
	for k := range bucket {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	entries := make([]Entry, 0, len(keys))
	levels := make([]levelMatch, 0, len(keys))
	used := make([]bool, len(keys))
	leaf, entries, levels := matchSet(d.root, bucket, keys, used, entries, levels)
	if leaf == nil {
		return BucketMatch{}
	}
	m := BucketMatch{
		Found:          true,
		Key:            string(appendKey(nil, domain, entries, levels)),
		Rule:           ruleLabel(entries, levels),
		ShadowMode:     leaf.shadowMode,
		DetailedMetric: leaf.detailedMetric,
	}
	for _, l := range leaf.limits {
		if l.unlimited {
			m.Unlimited = true
			m.Limits = nil
			break
		}
		m.Limits = append(m.Limits, BucketLimit{
			Requests: uint64(l.info.RequestsPerUnit), Window: l.info.Window, Algorithm: l.algorithm, Suffix: l.keySuffix,
		})
	}
	return m
}

// matchSet finds a path below n that uses every unused bucket entry once and
// ends on an entry with limits, trying candidates in MatchBucket's order. It
// returns the leaf and the path's entries and levels, or nil.
func matchSet(n *node, bucket map[string]string, keys []string, used []bool, entries []Entry, levels []levelMatch) (*node, []Entry, []levelMatch) {
	depth := len(entries)
	if depth == len(keys) {
		if depth > 0 && len(levels[depth-1].n.limits) > 0 {
			return levels[depth-1].n, entries, levels
		}
		return nil, entries, levels
	}
	try := func(i int, next *node, wild bool) (*node, []Entry, []levelMatch) {
		used[i] = true
		leaf, e, l := matchSet(next, bucket, keys, used, append(entries, Entry{Key: keys[i], Value: bucket[keys[i]]}),
			append(levels, levelMatch{n: next, wildcard: wild}))
		used[i] = false
		if leaf == nil {
			return nil, e[:depth], l[:depth]
		}
		return leaf, e, l
	}
	for i, k := range keys {
		if v := bucket[k]; !used[i] && v != "" {
			if next := n.children[entryKey{k, v}]; next != nil {
				if leaf, e, l := try(i, next, false); leaf != nil {
					return leaf, e, l
				}
			}
		}
	}
	for _, w := range n.wildcards {
		for i, k := range keys {
			if !used[i] && w.key == k && matchWildcard(w.parts, bucket[k]) {
				if leaf, e, l := try(i, w, true); leaf != nil {
					return leaf, e, l
				}
			}
		}
	}
	for i, k := range keys {
		if !used[i] {
			if next := n.children[entryKey{k, ""}]; next != nil {
				if leaf, e, l := try(i, next, false); leaf != nil {
					return leaf, e, l
				}
			}
		}
	}
	return nil, entries, levels
}
