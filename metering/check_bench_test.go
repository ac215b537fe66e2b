package metering

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/tollgate/tollgate/counter"
	"github.com/tollgate/tollgate/counter/memory"
	"github.com/tollgate/tollgate/ratelimit"
)

const benchDoc = `metering:
  tenants: [{id: acme, plan: demo, api_keys: ["sha256:8676d15d94dabdd1283e6c407e2bb08a7b5c13b4e3667d4795c17172e080a3d4"]}]
  plans:
    - name: demo
      rate_limits: [{requests_per_unit: 4000000000, unit: minute}]
      quotas: [{requests_per_month: 9000000000000}]
  meters: [{name: requests, source: authz, value: requests, type: accurate}]
  spool: {batch_size: 1000, flush_interval: 100ms}
`

type nopSink struct{ n atomic.Int64 }

func (s *nopSink) Ship(_ context.Context, evs []counter.Event) error {
	s.n.Add(int64(len(evs)))
	return nil
}

func (s *nopSink) GetCount(context.Context, string, string) (int64, error) { return 0, nil }

// BenchmarkCheck measures an allowed Check with a rate limit, a monthly
// quota and one authz meter, its events synced to a spool in a real temp
// directory and shipped in the background.
func BenchmarkCheck(b *testing.B) {
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(benchDoc), &n); err != nil {
		b.Fatal(err)
	}
	cfg, err := ParseConfig("bench.yaml", n.Content[0].Content[1])
	if err != nil {
		b.Fatal(err)
	}
	mem := memory.New(memory.Options{})
	rl, err := ratelimit.New(ratelimit.Options{Counter: mem}, cfg.RateLimitConfig())
	if err != nil {
		b.Fatal(err)
	}
	sink := &nopSink{}
	m, err := Open(b.Context(), Options{Config: cfg, DataDir: b.TempDir(), Sink: sink, Counts: sink, RateLimiter: rl})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- m.Run(ctx) }()
	defer func() {
		cancel()
		<-done
		m.Close()
	}()
	headers := map[string]string{"x-api-key": "acme-demo-key", "user-agent": "bench"}
	var seq atomic.Int64
	run := func(next func() bool) {
		var res CheckResult
		ids := make([]string, 1024)
		base := seq.Add(1) << 32
		for i := range ids {
			ids[i] = "req-" + strconv.FormatInt(base+int64(i), 16)
		}
		i := 0
		for next() {
			m.Check(ctx, &CheckRequest{Method: "GET", Path: "/v1/things", Headers: headers, RequestID: ids[i%len(ids)], Start: time.Unix(0, base+int64(i))}, &res)
			if !res.Allowed {
				b.Fatalf("denied: %d %s", res.Status, res.Body)
			}
			i++
		}
	}
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		run(b.Loop)
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.SetParallelism(25) // 50 concurrent Checks on 2 cores, as ghz c=50
		b.RunParallel(func(pb *testing.PB) { run(pb.Next) })
	})
}
