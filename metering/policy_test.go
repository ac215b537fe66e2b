package metering

import (
	"reflect"
	"testing"
	"time"
)

// TestPolicy: the namespaces metering writes to, the export margin and the
// late-shipping warning (an accurate namespace whose late_after is not above
// the spool's flush interval, and no other).
func TestPolicy(t *testing.T) {
	c := &Config{
		Meters: []Meter{{Namespace: "fast", Type: Accurate}, {Namespace: "ok", Type: Eventual}, {Namespace: "eventual", Type: Eventual}},
		Plans:  []Plan{{Quotas: []Quota{{Namespace: "ok"}}}},
		Spool:  SpoolConfig{FlushInterval: 500 * time.Millisecond},
	}
	if got, want := c.Namespaces(), []Namespace{{"eventual", false}, {"fast", true}, {"ok", true}}; !reflect.DeepEqual(got, want) {
		t.Errorf("Namespaces = %v, want %v", got, want)
	}
	timing := map[string]NamespaceTiming{
		"fast":     {Accurate: true, LateAfter: 500 * time.Millisecond, AcceptLimit: 5 * time.Second, ClockSkew: time.Second},
		"ok":       {Accurate: true, LateAfter: time.Second, AcceptLimit: time.Hour, ClockSkew: time.Second},
		"eventual": {LateAfter: 100 * time.Millisecond, AcceptLimit: 5 * time.Second},
	}
	get := func(ns string) NamespaceTiming { return timing[ns] }
	if got := c.ClosedMargin(get); got != time.Hour+time.Second+500*time.Millisecond {
		t.Errorf("ClosedMargin = %v, want 1h0m1.5s", got)
	}
	want := []string{`metering ships events later than namespace "fast"'s late_after (500ms): raise late_after above the spool's flush_interval (500ms), or lower flush_interval`}
	if got := c.LateShipping(get); !reflect.DeepEqual(got, want) {
		t.Errorf("LateShipping = %q, want %q", got, want)
	}
}
