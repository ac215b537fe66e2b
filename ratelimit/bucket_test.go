package ratelimit

import (
	"testing"
	"time"

	"github.com/tollgate/tollgate/counter"
)

const bucketConfig = `
domain: d
descriptors:
  - key: tenant
    descriptors:
      - key: path
        value: /slow
        rate_limit: {unit: second, requests_per_unit: 1}
      - key: path
        rate_limits:
          - {unit: second, requests_per_unit: 20, algorithm: token_bucket}
          - {unit: day, requests_per_unit: 1000}
  - key: tenant
    value: acme
    rate_limit: {unit: second, requests_per_unit: 100}
  - key: tenant
    value: "free-*"
    share_threshold: true
    rate_limit: {unit: minute, requests_per_unit: 10}
  - key: tenant
    value: vip
    rate_limit: {unlimited: true}
  - key: tenant
    value: test
    shadow_mode: true
    detailed_metric: true
    rate_limit: {unit: second, requests_per_unit: 5}
  - key: user
    rate_limit: {unit: hour, requests_per_unit: 50, algorithm: sliding_window}
`

func TestMatchBucket(t *testing.T) {
	cfg := mustLoad(t, bucketConfig)
	tests := []struct {
		name   string
		domain string
		bucket map[string]string
		want   BucketMatch
	}{
		{"exact value", "d", map[string]string{"tenant": "acme"}, BucketMatch{Found: true,
			Key: "1:d6:tenant=4:acme", Rule: "tenant_acme",
			Limits: []BucketLimit{{Requests: 100, Window: time.Second, Algorithm: counter.FixedWindow, Suffix: "|100/1s/fixed_window"}}}},
		{"order-free, nested exact", "d", map[string]string{"path": "/slow", "tenant": "x"}, BucketMatch{Found: true,
			Key: "1:d6:tenant=1:x4:path=5:/slow", Rule: "tenant.path_/slow",
			Limits: []BucketLimit{{Requests: 1, Window: time.Second, Algorithm: counter.FixedWindow, Suffix: "|1/1s/fixed_window"}}}},
		{"nested key alone, two limits", "d", map[string]string{"tenant": "x", "path": "/a"}, BucketMatch{Found: true,
			Key: "1:d6:tenant=1:x4:path=2:/a", Rule: "tenant.path",
			Limits: []BucketLimit{
				{Requests: 20, Window: time.Second, Algorithm: counter.TokenBucket, Suffix: "|20/1s/token_bucket"},
				{Requests: 1000, Window: 24 * time.Hour, Algorithm: counter.FixedWindow, Suffix: "|1000/86400s/fixed_window"},
			}}},
		{"share_threshold wildcard", "d", map[string]string{"tenant": "free-42"}, BucketMatch{Found: true,
			Key: "1:d6:tenant*6:free-*", Rule: "tenant_free-*",
			Limits: []BucketLimit{{Requests: 10, Window: time.Minute, Algorithm: counter.FixedWindow, Suffix: "|10/60s/fixed_window"}}}},
		{"unlimited", "d", map[string]string{"tenant": "vip"}, BucketMatch{Found: true,
			Key: "1:d6:tenant=3:vip", Rule: "tenant_vip", Unlimited: true}},
		{"shadow and detailed", "d", map[string]string{"tenant": "test"}, BucketMatch{Found: true,
			Key: "1:d6:tenant=4:test", Rule: "tenant_test", ShadowMode: true, DetailedMetric: true,
			Limits: []BucketLimit{{Requests: 5, Window: time.Second, Algorithm: counter.FixedWindow, Suffix: "|5/1s/fixed_window"}}}},
		{"key alone", "d", map[string]string{"user": "u1"}, BucketMatch{Found: true,
			Key: "1:d4:user=2:u1", Rule: "user",
			Limits: []BucketLimit{{Requests: 50, Window: time.Hour, Algorithm: counter.SlidingWindow, Suffix: "|50/3600s/sliding_window"}}}},
		{"tenant without limits of its own", "d", map[string]string{"tenant": "other"}, BucketMatch{}},
		{"an entry too many", "d", map[string]string{"tenant": "acme", "user": "u1"}, BucketMatch{}},
		{"unknown key", "d", map[string]string{"region": "eu"}, BucketMatch{}},
		{"unknown domain", "nope", map[string]string{"tenant": "acme"}, BucketMatch{}},
		{"empty bucket", "d", map[string]string{}, BucketMatch{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := cfg.MatchBucket(tc.domain, tc.bucket)
			if !equalMatch(got, tc.want) {
				t.Errorf("MatchBucket(%v)\n got %+v\nwant %+v", tc.bucket, got, tc.want)
			}
		})
	}
}

// TestMatchBucketSameAsRLS checks that a bucket names the same pool as the
// RLS descriptor with the same entries, so one YAML file means the same to
// both APIs.
func TestMatchBucketSameAsRLS(t *testing.T) {
	cfg := mustLoad(t, bucketConfig)
	d := cfg.domains["d"]
	for _, es := range [][]Entry{
		{{"tenant", "acme"}}, {{"tenant", "x"}, {"path", "/slow"}}, {{"tenant", "free-9"}}, {{"user", "u"}},
	} {
		leaf, levels := d.match(es, nil)
		bucket := map[string]string{}
		for _, e := range es {
			bucket[e.Key] = e.Value
		}
		m := cfg.MatchBucket("d", bucket)
		if leaf == nil || !m.Found || m.Key != string(appendKey(nil, "d", es, levels)) || m.Rule != ruleLabel(es, levels) {
			t.Errorf("%v: RLS key %q rule %q, bucket key %q rule %q", es,
				appendKey(nil, "d", es, levels), ruleLabel(es, levels), m.Key, m.Rule)
		}
	}
}

func equalMatch(a, b BucketMatch) bool {
	if a.Found != b.Found || a.Key != b.Key || a.Rule != b.Rule || a.Unlimited != b.Unlimited ||
		a.ShadowMode != b.ShadowMode || a.DetailedMetric != b.DetailedMetric || len(a.Limits) != len(b.Limits) {
		return false
	}
	for i := range a.Limits {
		if a.Limits[i] != b.Limits[i] {
			return false
		}
	}
	return true
}
