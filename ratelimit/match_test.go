package ratelimit

import (
	"strings"
	"testing"
)

const matchConfig = `
domain: d
descriptors:
  - key: k
    value: v
    rate_limit: {unit: second, requests_per_unit: 1}
  - key: k
    value: "v*"
    rate_limit: {unit: second, requests_per_unit: 1}
  - key: k
    value: "*x"
  - key: k
    rate_limit: {unit: second, requests_per_unit: 1}
  - key: m
    value: "a*b*c"
    rate_limit: {unit: second, requests_per_unit: 1}
  - key: s
    value: "*bar"
    rate_limit: {unit: second, requests_per_unit: 1}
  - key: e
    value: "*"
    rate_limit: {unit: second, requests_per_unit: 1}
  - key: p
    descriptors:
      - key: q
        rate_limit: {unit: second, requests_per_unit: 1}
  - key: deep
    rate_limit: {unit: second, requests_per_unit: 1}
    descriptors:
      - key: q
        value: "1"
        rate_limit: {unit: second, requests_per_unit: 1}
  - key: a_b
    value: c
    rate_limit: {unit: second, requests_per_unit: 1}
`

// entries parses "k=v,k2=v2".
func entries(s string) []Entry {
	var es []Entry
	for _, kv := range strings.Split(s, ",") {
		k, v, _ := strings.Cut(kv, "=")
		es = append(es, Entry{Key: k, Value: v})
	}
	return es
}

func TestMatch(t *testing.T) {
	dc := mustLoad(t, matchConfig).domains["d"]
	tests := []struct {
		name    string
		entries string
		want    string // path of the entry whose limits apply, or "none"
	}{
		{"exact value before wildcard", "k=v", "k_v"},
		{"wildcard before default", "k=vv", "k_v*"},
		{"first wildcard in config order", "k=vx", "k_v*"},
		{"wildcard without limit stops the walk", "k=ax", "none"},
		{"default key", "k=zz", "k"},
		{"empty request value skips the exact lookup", "k=", "k"},
		{"star matches the empty value", "e=", "e_*"},
		{"star matches anything", "e=anything", "e_*"},
		{"suffix wildcard", "s=foobar", "s_*bar"},
		{"suffix wildcard mismatch", "s=barfoo", "none"},
		{"middle wildcards", "m=aXbYc", "m_a*b*c"},
		{"middle wildcards empty runs", "m=abc", "m_a*b*c"},
		{"middle wildcards out of order", "m=acb", "none"},
		{"wildcard parts may not overlap", "m=ac", "none"},
		{"nested", "p=1,q=2", "p.q"},
		{"request shallower than the limit", "p=1", "none"},
		{"request deeper than the config", "p=1,q=2,r=3", "none"},
		{"limit at a middle level applies to a short request", "deep=x", "deep"},
		{"nested exact under a limited entry", "deep=x,q=1", "deep.q_1"},
		{"nested miss under a limited entry", "deep=x,q=2", "none"},
		{"extra entry below a leaf", "k=v,x=1", "none"},
		{"unknown key", "zz=1", "none"},
		{"keys and values are not joined with _", "a=b_c", "none"},
		{"key with _", "a_b=c", "a_b_c"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			leaf, levels := dc.match(entries(tt.entries), nil)
			got := "none"
			if leaf != nil {
				got = leaf.path
				if len(levels) != len(entries(tt.entries)) {
					t.Errorf("levels %d, want %d", len(levels), len(entries(tt.entries)))
				}
			}
			if got != tt.want {
				t.Errorf("match(%s) = %s, want %s", tt.entries, got, tt.want)
			}
		})
	}
}

func TestAppendKey(t *testing.T) {
	cfg := mustLoad(t, `
domain: d
descriptors:
  - key: f
    value: "a*"
    share_threshold: true
    rate_limit: {unit: second, requests_per_unit: 1}
  - key: g
    value: "a*"
    rate_limit: {unit: second, requests_per_unit: 1}
`)
	dc := cfg.domains["d"]
	tests := []struct {
		entries string
		want    string
	}{
		{"f=abc", "1:d1:f*2:a*"},
		{"g=abc", "1:d1:g=3:abc"},
		{"a_b=c", "1:d3:a_b=1:c"},
		{"a=b_c", "1:d1:a=3:b_c"},
		{"x=1:y", "1:d1:x=3:1:y"},
	}
	for _, tt := range tests {
		es := entries(tt.entries)
		_, levels := dc.match(es, nil)
		if got := string(appendKey(nil, "d", es, levels)); got != tt.want {
			t.Errorf("key(%s) = %q, want %q", tt.entries, got, tt.want)
		}
	}
}

func TestRuleLabel(t *testing.T) {
	cfg := mustLoad(t, `
domain: d
descriptors:
  - key: route
    value: "api/*"
    value_to_metric: true
    descriptors:
      - key: method
        value_to_metric: true
        detailed_metric: true
        rate_limit: {unit: second, requests_per_unit: 1}
  - key: svc
    value: "s*"
    share_threshold: true
    value_to_metric: true
    descriptors:
      - key: user
        detailed_metric: true
        rate_limit: {unit: second, requests_per_unit: 1}
`)
	dc := cfg.domains["d"]
	tests := []struct{ entries, want string }{
		{"route=api/v1,method=GET", "route_api/v1.method_GET"},
		{"svc=s1,user=bob", "svc_s*.user"},
	}
	for _, tt := range tests {
		es := entries(tt.entries)
		leaf, levels := dc.match(es, nil)
		if leaf == nil {
			t.Fatalf("%s: no match", tt.entries)
		}
		if got := ruleLabel(es, levels); got != tt.want {
			t.Errorf("ruleLabel(%s) = %q, want %q", tt.entries, got, tt.want)
		}
	}
}
