package httpapi

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/tollgate/tollgate/counter"
	"github.com/tollgate/tollgate/metering"
)

const ingestBenchDoc = `metering:
  tenants: [{id: acme, plan: p, api_keys: ["sha256:8676d15d94dabdd1283e6c407e2bb08a7b5c13b4e3667d4795c17172e080a3d4"]}]
  plans: [{name: p}]
  meters:
    - {name: requests, source: authz, value: requests}
    - {name: tokens, source: events, event_type: com.example.llm, value: $.usage.total_tokens}
  spool: {batch_size: 1000, flush_interval: 100ms}
`

type discardSink struct{ n atomic.Int64 }

func (s *discardSink) Ship(_ context.Context, evs []counter.Event) error {
	s.n.Add(int64(len(evs)))
	return nil
}

// BenchmarkIngest compares, in one run, CloudEvents posted to /v1/events
// (batches of 100, 16 callers, through the handler with its JSON and
// CloudEvents parsing) with ext_authz Checks (one event each, 16 callers):
// events acknowledged durable per second, the spool on a real disk.
func BenchmarkIngest(b *testing.B) {
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(ingestBenchDoc), &n); err != nil {
		b.Fatal(err)
	}
	cfg, err := metering.ParseConfig("bench.yaml", n.Content[0].Content[1])
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	m, err := metering.Open(b.Context(), metering.Options{Config: cfg, DataDir: b.TempDir(), Sink: &discardSink{},
		AcceptWindow: func(string) (time.Duration, time.Duration) { return time.Hour, time.Hour }})
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
	const batch, callers = 100, 16
	var seq atomic.Int64
	b.Run("events_batch100", func(b *testing.B) {
		h := EventsHandler(m)
		// Bodies built before the timer: distinct events, cycled.
		bodies := make([]string, 512)
		for j := range bodies {
			var sb strings.Builder
			sb.WriteByte('[')
			for i := range batch {
				if i > 0 {
					sb.WriteByte(',')
				}
				fmt.Fprintf(&sb, `{"specversion":"1.0","id":"e%d-%d","source":"bench","type":"com.example.llm","subject":"acme","time":%q,"data":{"usage":{"total_tokens":7}}}`,
					j, i, now.Format(time.RFC3339Nano))
			}
			sb.WriteByte(']')
			bodies[j] = sb.String()
		}
		b.SetParallelism(callers / 2) // GOMAXPROCS 2 here
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				req := httptest.NewRequest("POST", "/v1/events", strings.NewReader(bodies[seq.Add(1)%int64(len(bodies))]))
				req.Header.Set("Content-Type", "application/cloudevents-batch+json")
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				if w.Code != 200 {
					b.Fatalf("POST /v1/events: %d %s", w.Code, w.Body)
				}
			}
		})
		b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "events/s")
	})
	b.Run("checks", func(b *testing.B) {
		headers := map[string]string{"x-api-key": "acme-demo-key"}
		b.SetParallelism(callers / 2)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			var res metering.CheckResult
			for pb.Next() {
				m.Check(ctx, &metering.CheckRequest{Method: "GET", Path: "/x", Headers: headers, RequestID: fmt.Sprint("c", seq.Add(1)), Start: now}, &res)
				if !res.Allowed {
					b.Fatalf("denied: %d %s", res.Status, res.Body)
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	})
}
