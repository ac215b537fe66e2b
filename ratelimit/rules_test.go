package ratelimit

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/counter"
)

// TestNewConfigMatchesYAML: rules built in code give the config the same
// descriptors in YAML give: the same matches, keys, limits and rule labels.
func TestNewConfigMatchesYAML(t *testing.T) {
	built, err := NewConfig("d", []Rule{{Key: "plan", Value: "p", Rules: []Rule{{Key: "tenant",
		Limits: []Limit{{RequestsPerUnit: 100, Unit: UnitMinute}, {RequestsPerUnit: 5, Window: 30 * time.Second, Algorithm: counter.TokenBucket}},
		Rules:  []Rule{{Key: "method", Limits: []Limit{{RequestsPerUnit: 7, Unit: UnitSecond, Algorithm: counter.SlidingWindow}}}},
	}}}})
	if err != nil {
		t.Fatal(err)
	}
	parsed := mustLoad(t, `
domain: d
descriptors:
  - key: plan
    value: p
    descriptors:
      - key: tenant
        rate_limits:
          - {unit: minute, requests_per_unit: 100}
          - {window: 30s, requests_per_unit: 5, algorithm: token_bucket}
        descriptors:
          - key: method
            rate_limit: {unit: second, requests_per_unit: 7, algorithm: sliding_window}
`)
	for _, b := range []map[string]string{{"plan": "p", "tenant": "acme"}, {"plan": "p", "tenant": "acme", "method": "GET"}, {"plan": "q", "tenant": "acme"}} {
		if got, want := built.MatchBucket("d", b), parsed.MatchBucket("d", b); !reflect.DeepEqual(got, want) {
			t.Errorf("%v: built %+v, from YAML %+v", b, got, want)
		}
	}
}

func TestNewConfigErrors(t *testing.T) {
	_, err := NewConfig("d", []Rule{{Key: "a", Limits: []Limit{{RequestsPerUnit: 1, Window: 1500 * time.Millisecond}}}, {Key: "a"}})
	want := `ratelimit: cannot build domain "d": rule "a": limit window 1.5s: must be a whole number of seconds, at least 1s, got 1.5s (hint: such as 30s, 5m or 36h); rule "a": empty key, wildcard value or duplicate entry`
	if err == nil || err.Error() != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}
	if _, err := NewConfig("d", []Rule{{Key: "a", Value: "x*"}}); err == nil || !strings.Contains(err.Error(), "wildcard") {
		t.Fatalf("wildcard rule: %v", err)
	}
}
