package faults

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	accesslogv3 "github.com/envoyproxy/go-control-plane/envoy/data/accesslog/v3"
	alsv3 "github.com/envoyproxy/go-control-plane/envoy/service/accesslog/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/tollgate/tollgate/internal/sidecartest"
	"github.com/tollgate/tollgate/metering"
)

var sidecarBin string

func TestMain(m *testing.M) { sidecartest.Main(m, &sidecarBin) }

const quickstart = "examples/quickstart/sidecar.yaml"

// trials is how many kill -9 trials each ingest path gets.
const trials = 20

// ledger counts what clients sent and what the sidecar acknowledged.
type ledger struct {
	sent, acked atomic.Int64
}

// inFlight is what was sent but not acknowledged: it may or may not count.
func (l *ledger) inFlight() int64 { return l.sent.Load() - l.acked.Load() }

// checkCount fails unless got counts every acknowledged event, none twice:
// acked ≤ got ≤ sent, and got never goes below the previous trial's.
func checkCount(t *testing.T, what string, got int64, l *ledger, prev *int64) {
	t.Helper()
	if got < l.acked.Load() || got > l.sent.Load() {
		t.Errorf("%s = %d: want between %d acknowledged and %d sent", what, got, l.acked.Load(), l.sent.Load())
	}
	if got < *prev {
		t.Errorf("%s went backwards: %d after %d", what, got, *prev)
	}
	*prev = got
}

// load runs workers calling do until ctx ends.
func load(ctx context.Context, workers int, do func(worker, i int)) {
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				do(w, i)
			}
		}()
	}
	wg.Wait()
}

// killDuringLoad runs load against p, kills it at a random moment (100 to
// 600 ms in), waits for the load to stop and restarts p.
func killDuringLoad(t *testing.T, p *sidecartest.Process, workers int, do func(worker, i int)) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); load(ctx, workers, do) }()
	time.Sleep(time.Duration(100+rand.IntN(500)) * time.Millisecond)
	p.Stop(t, syscall.SIGKILL)
	cancel()
	<-done
	p.Restart(t)
}

var httpc = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

// addCount sends one add of 1 with a unique token; true when acknowledged.
func addCount(p *sidecartest.Process, ns, name, token string) bool {
	body := fmt.Sprintf(`{"namespace":%q,"counter_name":%q,"delta":1,"idempotency_token":{"token":%q,"generation_time":%q}}`,
		ns, name, token, time.Now().UTC().Format(time.RFC3339Nano))
	resp, err := httpc.Post("http://"+p.HTTP+"/v1/counter/add", "application/json", bytes.NewReader([]byte(body)))
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// TestKill9CounterAdds: kill -9 during counter adds, 20 times: every
// acknowledged add is counted after the restart, none twice, and the count
// never goes backwards.
func TestKill9CounterAdds(t *testing.T) {
	p := sidecartest.Start(t, sidecarBin, quickstart)
	var l ledger
	var prev int64
	for trial := range trials {
		killDuringLoad(t, p, 16, func(w, i int) {
			l.sent.Add(1)
			if addCount(p, "accurate", "kills", fmt.Sprintf("t%d-w%d-%d", trial, w, i)) {
				l.acked.Add(1)
			}
		})
		checkCount(t, fmt.Sprintf("trial %d: accurate count", trial), p.Count(t, "accurate", "kills"), &l, &prev)
	}
	t.Logf("%d kill -9 trials: %d adds sent, %d acknowledged, %d in flight at the kills; count %d", trials, l.sent.Load(), l.acked.Load(), l.inFlight(), prev)
}

// grpcConn dials p's gRPC listener.
func grpcConn(t *testing.T, p *sidecartest.Process) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(p.GRPC, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	return conn
}

func checkRequest(id string) *authv3.CheckRequest {
	return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{Request: &authv3.AttributeContext_Request{
		Time: timestamppb.Now(),
		Http: &authv3.AttributeContext_HttpRequest{Id: id, Method: "GET", Path: "/v1/things",
			Headers: map[string]string{"x-api-key": "acme-demo-key", "x-request-id": id}},
	}}}
}

// TestKill9Checks: kill -9 during ext_authz Checks, 20 times: every allowed
// Check is billed after the restart (its event was in the spool before the
// answer), none twice.
func TestKill9Checks(t *testing.T) {
	// The quickstart's plan allows 100 a minute: raise it for the load.
	kill9Checks(t, sidecartest.Start(t, sidecarBin, writeConfig(t, bigPlan)), trials)
}

// kill9Checks kills p with -9 at a random moment of a Check load, n times,
// and checks after each restart that every allowed Check is billed, none
// twice, and that the bill never goes backwards.
func kill9Checks(t *testing.T, p *sidecartest.Process, n int) {
	t.Helper()
	var l ledger
	var prev int64
	for trial := range n {
		conn := grpcConn(t, p)
		client := authv3.NewAuthorizationClient(conn)
		killDuringLoad(t, p, 16, func(w, i int) {
			l.sent.Add(1)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			resp, err := client.Check(ctx, checkRequest(fmt.Sprintf("c%d-w%d-%d", trial, w, i)))
			if err == nil && codes.Code(resp.GetStatus().GetCode()) == codes.OK {
				l.acked.Add(1)
			}
		})
		conn.Close()
		got := drainedUsage(t, p, "requests")
		checkCount(t, fmt.Sprintf("trial %d: requests usage", trial), got, &l, &prev)
	}
	t.Logf("%d kill -9 trials: %d Checks sent, %d allowed, %d in flight at the kills; billed %d", n, l.sent.Load(), l.acked.Load(), l.inFlight(), prev)
}

// drainedUsage waits until the spool has shipped every event and returns
// acme's usage of meter.
func drainedUsage(t *testing.T, p *sidecartest.Process, meter string) int64 {
	t.Helper()
	var got int64
	sidecartest.Eventually(t, 15*time.Second, func() string {
		if p.Metric(t, "tollgate_metering_spool_events") != 0 {
			return "spool not drained"
		}
		got = p.Usage(t, meter, "acme")
		return ""
	})
	return got
}

// TestKill9AccessLogs: kill -9 while Envoy-like clients stream access logs,
// 20 times: every entry of a stream that closed OK is metered, none twice.
func TestKill9AccessLogs(t *testing.T) {
	p := sidecartest.Start(t, sidecarBin, quickstart)
	var l ledger
	var prev int64
	const perStream = 10
	for trial := range trials {
		conn := grpcConn(t, p)
		client := alsv3.NewAccessLogServiceClient(conn)
		killDuringLoad(t, p, 8, func(w, i int) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			stream, err := client.StreamAccessLogs(ctx)
			if err != nil {
				return
			}
			msg := &alsv3.StreamAccessLogsMessage{Identifier: &alsv3.StreamAccessLogsMessage_Identifier{
				Node: &corev3.Node{Id: "faults"}, LogName: "tollgate"}}
			entries := make([]*accesslogv3.HTTPAccessLogEntry, perStream)
			for j := range entries {
				id := fmt.Sprintf("a%d-w%d-%d-%d", trial, w, i, j)
				entries[j] = &accesslogv3.HTTPAccessLogEntry{
					CommonProperties: &accesslogv3.AccessLogCommon{StartTime: timestamppb.Now()},
					Request: &accesslogv3.HTTPRequestProperties{RequestId: id, Path: "/v1/x",
						RequestHeaders: map[string]string{metering.HeaderTenantID: "acme"}},
					Response: &accesslogv3.HTTPResponseProperties{ResponseCode: wrapperspb.UInt32(200), ResponseBodyBytes: 1},
				}
			}
			msg.LogEntries = &alsv3.StreamAccessLogsMessage_HttpLogs{HttpLogs: &alsv3.StreamAccessLogsMessage_HTTPAccessLogEntries{LogEntry: entries}}
			l.sent.Add(perStream)
			if stream.Send(msg) != nil {
				return
			}
			if _, err := stream.CloseAndRecv(); err == nil {
				l.acked.Add(perStream)
			}
		})
		conn.Close()
		got := drainedUsage(t, p, "egress_bytes")
		checkCount(t, fmt.Sprintf("trial %d: egress_bytes", trial), got, &l, &prev)
	}
	t.Logf("%d kill -9 trials: %d entries sent, %d acknowledged, %d in flight at the kills; metered %d", trials, l.sent.Load(), l.acked.Load(), l.inFlight(), prev)
}

// TestRetryStorm: 100,000 adds, each sent 3 times with the same token by
// concurrent callers in batches: exactly 100,000 counted.
func TestRetryStorm(t *testing.T) {
	p := sidecartest.Start(t, sidecarBin, quickstart)
	const events, copies, batch = 100_000, 3, 1000
	now := time.Now().UTC()
	type add struct {
		Namespace string `json:"namespace"`
		Counter   string `json:"counter_name"`
		Delta     int64  `json:"delta"`
		Token     struct {
			Token string `json:"token"`
			Time  string `json:"generation_time"`
		} `json:"idempotency_token"`
	}
	bodies := make([][]byte, 0, events/batch)
	for b := 0; b < events; b += batch {
		reqs := make([]add, batch)
		for i := range reqs {
			reqs[i] = add{Namespace: "accurate", Counter: "storm", Delta: 1}
			reqs[i].Token.Token = "s" + strconv.Itoa(b+i)
			reqs[i].Token.Time = now.Add(time.Duration(b+i) * time.Microsecond).Format(time.RFC3339Nano)
		}
		body, _ := json.Marshal(map[string]any{"requests": reqs})
		bodies = append(bodies, body)
	}
	start := time.Now()
	var wg sync.WaitGroup
	var failed atomic.Int64
	for c := range copies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range bodies {
				body := bodies[(j+c*len(bodies)/copies)%len(bodies)] // each copy starts elsewhere
				resp, err := httpc.Post("http://"+p.HTTP+"/v1/counter/batchAdd", "application/json", bytes.NewReader(body))
				if err != nil || resp.StatusCode != http.StatusOK {
					failed.Add(1)
				}
				if resp != nil {
					resp.Body.Close()
				}
			}
		}()
	}
	wg.Wait()
	took := time.Since(start)
	if failed.Load() != 0 {
		t.Fatalf("%d batches failed", failed.Load())
	}
	if got := p.Count(t, "accurate", "storm"); got != events {
		t.Fatalf("count = %d after %d events sent %d times each, want %d", got, events, copies, events)
	}
	t.Logf("retry storm: %d events × %d copies in %v (%.0f adds/s), counted %d", events, copies, took.Round(time.Millisecond),
		float64(events*copies)/took.Seconds(), events)
}

// TestSigtermUnderLoad: SIGTERM while adds flow: the sidecar drains and
// exits 0, and every acknowledged add is there after the restart.
func TestSigtermUnderLoad(t *testing.T) {
	p := sidecartest.Start(t, sidecarBin, quickstart)
	var l ledger
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		load(ctx, 16, func(w, i int) {
			l.sent.Add(1)
			if addCount(p, "accurate", "drain", fmt.Sprintf("d-w%d-%d", w, i)) {
				l.acked.Add(1)
			}
		})
	}()
	time.Sleep(time.Second)
	p.Stop(t, syscall.SIGTERM)
	cancel()
	<-done
	if code := p.ExitCode(); code != 0 {
		t.Errorf("exit code after SIGTERM = %d, want 0", code)
	}
	p.Restart(t)
	var prev int64
	checkCount(t, "count after SIGTERM", p.Count(t, "accurate", "drain"), &l, &prev)
	t.Logf("SIGTERM under load: %d adds sent, %d acknowledged, count %d", l.sent.Load(), l.acked.Load(), prev)
}

// bigPlan is the quickstart with limits the Check load does not reach.
const bigPlan = `grpc_addr: 127.0.0.1:8081
http_addr: 127.0.0.1:8080
metering:
  tenants:
    - id: acme
      plan: big
      api_keys: [sha256:8676d15d94dabdd1283e6c407e2bb08a7b5c13b4e3667d4795c17172e080a3d4]
  identification:
    - {path_prefix: /, api_key_header: x-api-key}
  plans:
    - name: big
      rate_limits: [{requests_per_unit: 100000000, unit: second}]
      quotas: [{name: monthly, requests_per_month: 1000000000, time_zone: UTC}]
  meters:
    - {name: requests, source: authz, value: requests, type: accurate, unit: request}
`

// writeConfig writes a settings file and returns its path.
func writeConfig(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sidecar.yaml")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
