package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	rlv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/common/ratelimit/v3"
	rlsv3 "github.com/envoyproxy/go-control-plane/envoy/service/ratelimit/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"gopkg.in/yaml.v3"

	"github.com/tollgate/tollgate/internal/apiauth"
	"github.com/tollgate/tollgate/internal/settings"
	"github.com/tollgate/tollgate/internal/testcerts"
	"github.com/tollgate/tollgate/internal/testenv"
	"github.com/tollgate/tollgate/ratelimit"
)

const testRateLimitYAML = `domain: it
descriptors:
  - key: user
    rate_limit: { unit: minute, requests_per_unit: 5 }
  - key: sliding
    rate_limit: { unit: minute, requests_per_unit: 5, algorithm: sliding_window }
  - key: bucket
    rate_limit: { unit: minute, requests_per_unit: 5, algorithm: token_bucket }
  - key: quota
    quota_mode: true
    rate_limit: { unit: minute, requests_per_unit: 1 }
  - key: quota_big
    quota_mode: true
    rate_limit: { unit: minute, requests_per_unit: 100 }
`

// sidecar is a running sidecar for a test.
type sidecar struct {
	addrs  listeners
	client rlsv3.RateLimitServiceClient
	conn   *grpc.ClientConn
	dir    string
}

// startSidecar runs the sidecar with the given backend settings on ephemeral
// ports until the test ends.
func startSidecar(t *testing.T, mutate func(*settings.Settings)) *sidecar {
	t.Helper()
	return startSidecarLog(t, mutate, io.Discard)
}

// startSidecarLog is startSidecar with the sidecar's log written to log.
func startSidecarLog(t *testing.T, mutate func(*settings.Settings), log io.Writer) *sidecar {
	t.Helper()
	dir := t.TempDir()
	rlDir := filepath.Join(dir, "ratelimit")
	if err := os.MkdirAll(rlDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(rlDir, "it.yaml"), []byte(testRateLimitYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	s := &settings.Settings{GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", DataDir: filepath.Join(dir, "data")}
	s.RateLimit.Config = rlDir
	s.RateLimit.ResponseHeaders.Enabled = true
	if mutate != nil {
		mutate(s)
	}
	s.EnsureDefaults()
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan listeners, 1)
	done := make(chan error, 1)
	logger := slog.New(slog.NewTextHandler(log, nil))
	go func() { done <- runServer(ctx, s, logger, ready) }()
	var addrs listeners
	select {
	case addrs = <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("sidecar did not start: %v", err)
	}
	conn, err := grpc.NewClient(addrs.GRPC, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn.Close()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("sidecar stopped with %v", err)
		}
	})
	return &sidecar{addrs: addrs, client: rlsv3.NewRateLimitServiceClient(conn), conn: conn, dir: rlDir}
}

func request(domain string, kv ...string) *rlsv3.RateLimitRequest {
	req := &rlsv3.RateLimitRequest{Domain: domain}
	for i := 0; i+1 < len(kv); i += 2 {
		req.Descriptors = append(req.Descriptors, &rlv3.RateLimitDescriptor{
			Entries: []*rlv3.RateLimitDescriptor_Entry{{Key: kv[i], Value: kv[i+1]}},
		})
	}
	return req
}

// testBackends runs f against the memory backend and each Redis mode.
func testBackends(t *testing.T, f func(t *testing.T, mutate func(*settings.Settings))) {
	t.Run("memory", func(t *testing.T) { f(t, nil) })
	for _, mode := range []struct{ name, env string }{
		{"single", testenv.RedisSingle}, {"ring", testenv.RedisRing}, {"cluster", testenv.RedisCluster},
	} {
		t.Run("redis_"+mode.name, func(t *testing.T) {
			addrs := testenv.Addrs(t, mode.env)
			f(t, func(s *settings.Settings) {
				s.Backend = "redis"
				s.Redis.Mode = mode.name
				s.Redis.URL = strings.Join(addrs, ",")
				s.Redis.Timeout = 500 * time.Millisecond
			})
		})
	}
}

// TestConcurrentCallsAdmitExactlyTheLimit sends 200 calls from 50 goroutines
// at once on a 5/minute key and expects exactly 5 OK, for each algorithm.
func TestConcurrentCallsAdmitExactlyTheLimit(t *testing.T) {
	testBackends(t, func(t *testing.T, mutate func(*settings.Settings)) {
		sc := startSidecar(t, mutate)
		for _, key := range []string{"user", "sliding", "bucket"} {
			t.Run(key, func(t *testing.T) {
				value := key + "-" + time.Now().Format("150405.000000000")
				var ok, over atomic.Int64
				var wg sync.WaitGroup
				start := make(chan struct{})
				for g := 0; g < 50; g++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						<-start
						for i := 0; i < 4; i++ {
							resp, err := sc.client.ShouldRateLimit(context.Background(), request("it", key, value))
							if err != nil {
								t.Error(err)
								return
							}
							switch resp.GetOverallCode() {
							case rlsv3.RateLimitResponse_OK:
								ok.Add(1)
							case rlsv3.RateLimitResponse_OVER_LIMIT:
								over.Add(1)
							}
						}
					}()
				}
				close(start)
				wg.Wait()
				if ok.Load() != 5 || over.Load() != 195 {
					t.Fatalf("ok=%d over=%d, want exactly 5 and 195", ok.Load(), over.Load())
				}
			})
		}
	})
}

func TestRateLimitAPI(t *testing.T) {
	sc := startSidecar(t, nil)
	ctx := context.Background()

	// Empty domain and no descriptors are INVALID_ARGUMENT, as in envoyproxy/ratelimit.
	for _, req := range []*rlsv3.RateLimitRequest{request("", "user", "a"), request("it")} {
		_, err := sc.client.ShouldRateLimit(ctx, req)
		if status.Code(err) != codes.InvalidArgument {
			t.Fatalf("ShouldRateLimit(%v) = %v, want InvalidArgument", req, err)
		}
	}
	// An unknown domain is allowed.
	resp, err := sc.client.ShouldRateLimit(ctx, request("nope", "user", "a"))
	if err != nil || resp.GetOverallCode() != rlsv3.RateLimitResponse_OK {
		t.Fatalf("unknown domain: %v, %v", resp, err)
	}
	// Limit, remaining and headers on the first hit of a 5/minute key.
	resp, err = sc.client.ShouldRateLimit(ctx, request("it", "user", "api"))
	if err != nil {
		t.Fatal(err)
	}
	st := resp.GetStatuses()[0]
	if st.GetCode() != rlsv3.RateLimitResponse_OK || st.GetLimitRemaining() != 4 ||
		st.GetCurrentLimit().GetRequestsPerUnit() != 5 || st.GetCurrentLimit().GetUnit() != rlsv3.RateLimitResponse_RateLimit_MINUTE {
		t.Fatalf("status = %v", st)
	}
	if d := st.GetDurationUntilReset().AsDuration(); d <= 0 || d > time.Minute {
		t.Fatalf("duration_until_reset = %v, want in (0, 1m]", d)
	}
	headers := map[string]string{}
	for _, h := range resp.GetResponseHeadersToAdd() {
		headers[h.GetKey()] = h.GetValue()
	}
	if headers["RateLimit-Limit"] != "5, 5;w=60" || headers["RateLimit-Remaining"] != "4" || headers["RateLimit-Reset"] == "" {
		t.Fatalf("headers = %v", headers)
	}
	// Quota mode as envoyproxy/ratelimit: a quota descriptor over its limit
	// makes the request over limit only when every quota descriptor is over.
	for i, want := range []struct{ first, overall rlsv3.RateLimitResponse_Code }{
		{rlsv3.RateLimitResponse_OK, rlsv3.RateLimitResponse_OK},
		{rlsv3.RateLimitResponse_OVER_LIMIT, rlsv3.RateLimitResponse_OK},
	} {
		resp, err = sc.client.ShouldRateLimit(ctx, request("it", "quota", "q", "quota_big", "q"))
		if err != nil {
			t.Fatal(err)
		}
		if resp.GetOverallCode() != want.overall || resp.GetStatuses()[0].GetCode() != want.first ||
			resp.GetStatuses()[1].GetCode() != rlsv3.RateLimitResponse_OK {
			t.Fatalf("quota call %d: %v", i, resp)
		}
	}
	resp, err = sc.client.ShouldRateLimit(ctx, request("it", "quota", "q"))
	if err != nil || resp.GetOverallCode() != rlsv3.RateLimitResponse_OVER_LIMIT {
		t.Fatalf("all quota descriptors over: %v, %v; want OVER_LIMIT", resp, err)
	}

	// gRPC health says SERVING.
	h, err := healthpb.NewHealthClient(sc.conn).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil || h.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health = %v, %v", h, err)
	}
}

func httpDo(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestHTTPEndpoints(t *testing.T) {
	sc := startSidecar(t, nil)
	base := "http://" + sc.addrs.HTTP
	if _, err := sc.client.ShouldRateLimit(context.Background(), request("nope", "k", "v")); err != nil {
		t.Fatal(err)
	}
	if code, body := httpDo(t, "GET", base+"/healthz", ""); code != 200 || body != "ok\n" {
		t.Fatalf("/healthz = %d %q", code, body)
	}
	if code, body := httpDo(t, "GET", base+"/readyz", ""); code != 200 || body != "ready\n" {
		t.Fatalf("/readyz = %d %q", code, body)
	}
	req := `{"domain":"it","descriptors":[{"entries":[{"key":"user","value":"json"}]}]}`
	for i := 1; i <= 6; i++ {
		code, body := httpDo(t, "POST", base+"/json", req)
		want := 200
		if i == 6 {
			want = 429
		}
		if code != want || !strings.Contains(body, `"overallCode"`) {
			t.Fatalf("/json call %d = %d %s, want %d", i, code, body, want)
		}
	}
	if code, body := httpDo(t, "POST", base+"/json", `{"domain":`); code != 400 || !strings.Contains(body, `"invalid_json"`) {
		t.Fatalf("/json malformed = %d %s", code, body)
	}
	if code, body := httpDo(t, "POST", base+"/json", `{"domain":"it"}`); code != 400 || !strings.Contains(body, "InvalidArgument") {
		t.Fatalf("/json no descriptors = %d %s", code, body)
	}
	code, body := httpDo(t, "GET", base+"/metrics", "")
	if code != 200 {
		t.Fatalf("/metrics = %d", code)
	}
	for _, want := range []string{
		`tollgate_ratelimit_decisions_total{code="over_limit",domain="it"} 1`,
		`tollgate_grpc_request_duration_seconds_bucket{method="/envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit",le="5e-05"}`,
		"go_goroutines ",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

// TestReloadKeepsServing edits the config directory under a running sidecar.
func TestReloadKeepsServing(t *testing.T) {
	sc := startSidecar(t, nil)
	ctx := context.Background()
	code := func() rlsv3.RateLimitResponse_Code {
		resp, err := sc.client.ShouldRateLimit(ctx, request("reloaded", "k", "v"))
		if err != nil {
			t.Fatal(err)
		}
		return resp.GetStatuses()[0].GetCode()
	}
	// write replaces reloaded.yaml in one rename, so the watcher never reads
	// a half-written file and each write makes exactly one reload.
	staging := t.TempDir()
	write := func(body string) {
		tmp := filepath.Join(staging, "reloaded.yaml")
		if err := os.WriteFile(tmp, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(sc.dir, "reloaded.yaml")); err != nil {
			t.Fatal(err)
		}
	}
	metrics := func() string {
		_, body := httpDo(t, "GET", "http://"+sc.addrs.HTTP+"/metrics", "")
		return body
	}
	const noFailure, oneFailure = "tollgate_config_reloads_total{result=\"failure\"} 0\n", "tollgate_config_reloads_total{result=\"failure\"} 1\n"
	eventually := func(what string, f func() bool) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for !f() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	write("domain: reloaded\ndescriptors:\n  - key: k\n    rate_limit: { unit: hour, requests_per_unit: 1 }\n")
	eventually("the new domain to apply", func() bool { return code() == rlsv3.RateLimitResponse_OVER_LIMIT })
	if m := metrics(); !strings.Contains(m, noFailure) {
		t.Fatalf("before the bad file, /metrics lacks %q", noFailure)
	}
	write("domain: reloaded\ndescriptors:\n  - key: k\n    rate_limit: { unit: fortnight }\n")
	eventually("the bad file's reload to fail", func() bool { return strings.Contains(metrics(), oneFailure) })
	if got := code(); got != rlsv3.RateLimitResponse_OVER_LIMIT {
		t.Fatalf("a bad file replaced the serving config: code %v", got)
	}
	if err := os.Remove(filepath.Join(sc.dir, "reloaded.yaml")); err != nil {
		t.Fatal(err)
	}
	eventually("the removed domain to go", func() bool { return code() == rlsv3.RateLimitResponse_OK })
}

func TestCheckConfig(t *testing.T) {
	f := func(args []string, wantCode int, wantOut string) {
		t.Helper()
		got, out := captureRun(t, append([]string{"check-config"}, args...))
		if got != wantCode || !strings.Contains(out, wantOut) {
			t.Fatalf("check-config %v = %d, %q; want %d with %q", args, got, out, wantCode, wantOut)
		}
	}
	f([]string{"--config", "../../examples/quickstart/sidecar.yaml"}, 0, "config ok")
	f([]string{"--config", "../../examples/bench/sidecar.yaml"}, 0, "config ok: 1 rate-limit domains, 3 counter namespaces, 1 tenants")
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("domain: d\ndescriptors:\n  - key: k\n    rate_limit: { unit: fortnight, requests_per_unit: 1 }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f([]string{"--ratelimit-config", bad}, 1, bad+":4:")
	f([]string{"--backend", "memcached"}, 1, `backend: "memcached" is not one of memory, redis`)
}

// captureRun runs the command line with stdout and stderr captured.
func captureRun(t *testing.T, args []string) (int, string) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	oldOut, oldErr := os.Stdout, os.Stderr
	os.Stdout, os.Stderr = w, w
	code := run(args)
	os.Stdout, os.Stderr = oldOut, oldErr
	w.Close()
	var buf bytes.Buffer
	_, _ = io.Copy(&buf, r)
	return code, buf.String()
}

// TestKubernetesExample checks the Kubernetes example: the Pod runs the app,
// Envoy and Tollgate, and Tollgate's ConfigMaps pass check-config.
func TestKubernetesExample(t *testing.T) {
	data, err := os.ReadFile("../../examples/kubernetes/tollgate.yaml")
	if err != nil {
		t.Fatal(err)
	}
	configMaps := map[string]map[string]string{}
	var containers []string
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc struct {
			Kind     string
			Metadata struct{ Name string }
			Data     map[string]string
			Spec     struct {
				Template struct {
					Spec struct{ Containers []struct{ Name string } }
				}
			}
		}
		if err := dec.Decode(&doc); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		switch doc.Kind {
		case "ConfigMap":
			configMaps[doc.Metadata.Name] = doc.Data
		case "Deployment":
			for _, c := range doc.Spec.Template.Spec.Containers {
				containers = append(containers, c.Name)
			}
		}
	}
	if got := strings.Join(containers, ","); got != "app,envoy,tollgate" {
		t.Fatalf("containers = %s, want app,envoy,tollgate", got)
	}
	dir := t.TempDir()
	rlDir := filepath.Join(dir, "ratelimit")
	if err := os.Mkdir(rlDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range configMaps["tollgate-ratelimit"] {
		if err := os.WriteFile(filepath.Join(rlDir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The Secret tollgate-tls mounted at /etc/tollgate/tls: a generated
	// certificate, so check-config can load it.
	sidecarYAML := configMaps["tollgate"]["sidecar.yaml"]
	if !strings.Contains(sidecarYAML, "/etc/tollgate/tls/tls.crt") {
		t.Fatal("the example's settings do not name /etc/tollgate/tls/tls.crt (update this test with the example)")
	}
	testcerts.NewCA(t, "kubernetes example CA").Server(t).Write(t, dir, "tls")
	sidecarYAML = strings.ReplaceAll(sidecarYAML, "/etc/tollgate/tls/", dir+"/")
	settingsFile := filepath.Join(dir, "sidecar.yaml")
	if err := os.WriteFile(settingsFile, []byte(sidecarYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out := captureRun(t, []string{"check-config", "--config", settingsFile, "--ratelimit-config", rlDir})
	if code != 0 || !strings.Contains(out, "config ok: 1 rate-limit domains") || !strings.Contains(out, "1 tenants") {
		t.Fatalf("check-config of the Kubernetes example = %d %q", code, out)
	}
}

func TestCheckConfigMetering(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "sidecar.yaml")
	body := "metering:\n  tenants:\n    - id: acme\n      plan: nope\n"
	if err := os.WriteFile(bad, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out := captureRun(t, []string{"check-config", "--config", bad})
	if code != 1 || !strings.HasPrefix(out, bad+":4:13: metering.") || !strings.Contains(out, "nope") {
		t.Fatalf("check-config = %d %q, want exit 1 and %s:4:13: metering.…", code, out, bad)
	}
}

// TestRedisDownFailureModes points the sidecar at a Redis that is not there:
// decisions follow the failure mode within the Redis timeout, and /readyz
// says why the sidecar is not ready.
func TestRedisDownFailureModes(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := l.Addr().String()
	l.Close()
	for _, c := range []struct {
		mode ratelimit.FailureMode
		want rlsv3.RateLimitResponse_Code
	}{{ratelimit.FailOpen, rlsv3.RateLimitResponse_OK}, {ratelimit.FailClosed, rlsv3.RateLimitResponse_OVER_LIMIT}} {
		t.Run(c.mode.String(), func(t *testing.T) {
			sc := startSidecar(t, func(s *settings.Settings) {
				s.Backend = "redis"
				s.Redis.URL = "redis://" + closedAddr
				s.Redis.Timeout = 50 * time.Millisecond
				s.RateLimit.FailureMode = c.mode
			})
			start := time.Now()
			resp, err := sc.client.ShouldRateLimit(context.Background(), request("it", "user", "down"))
			if err != nil || resp.GetOverallCode() != c.want {
				t.Fatalf("ShouldRateLimit = %v, %v; want %v", resp, err, c.want)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Fatalf("decision took %v with Redis down", d)
			}
			code, body := httpDo(t, "GET", "http://"+sc.addrs.HTTP+"/readyz", "")
			if code != 503 || !strings.Contains(body, "not ready: redis backend") {
				t.Fatalf("/readyz = %d %q", code, body)
			}
			_, metrics := httpDo(t, "GET", "http://"+sc.addrs.HTTP+"/metrics", "")
			if !strings.Contains(metrics, `tollgate_ratelimit_decisions_total{code="`+c.mode.String()+`",domain="it"} 1`) {
				t.Fatalf("metrics lack the %s decision", c.mode)
			}
		})
	}
}

// TestBadSettingsFailBothCommands: each bad setting makes check-config and
// serve fail, with the same message (serve plans exactly what check-config
// checks).
func TestBadSettingsFailBothCommands(t *testing.T) {
	adminToken := "api_auth:\n  tokens:\n    - {name: a, hash: " + apiauth.HashToken("t") + ", scopes: [admin]}\n"
	dir := t.TempDir()
	write := func(name, body string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	for _, c := range []struct {
		name, file, want string
	}{
		{"cassandra consistency", "counters:\n  store: cassandra\n  cassandra:\n    consistency: LOCAL_QUROUM\n", `counters.cassandra.consistency: "LOCAL_QUROUM" is not one of`},
		{"metering plan", "metering:\n  tenants:\n    - id: acme\n      plan: nope\n", `unknown plan "nope"`},
		{"namespace type", "counters:\n  namespaces:\n    n: {type: exact}\n", "counters.namespaces.n.type"},
		{"namespace name", "counters:\n  namespaces:\n    " + strings.Repeat("n", 300) + ": {type: accurate}\n", "must be 1 to 256 bytes"},
		{"rate-limit rules", "ratelimit:\n  config: " + write("rules.yaml", "domain: d\ndescriptors:\n  - key: k\n    rate_limit: {unit: fortnight, requests_per_unit: 1}\n") + "\n", "fortnight"},
		{"redis mode", "backend: redis\nredis:\n  mode: sentinel\n", "sentinel"},
		{"redis CA file", "backend: redis\nredis:\n  url: rediss://127.0.0.1:6380\n  tls:\n    ca_file: /nonexistent/ca.pem\n", "redis.tls.ca_file"},
		{"cassandra CA file", "counters:\n  store: cassandra\n  cassandra:\n    tls:\n      ca_file: /nonexistent/ca.pem\n", "counters.cassandra.tls.ca_file"},
		{"tls client_auth", "tls:\n  cert_file: a.crt\n  key_file: a.key\n  client_auth: always\n", `tls.client_auth: "always" is not one of none, request, require`},
		{"plaintext off loopback", "grpc_addr: 0.0.0.0:8081\n" + adminToken, `grpc_addr: tlsconf: listener address "0.0.0.0:8081" is not loopback and TLS is off`},
		{"open APIs off loopback", "http_addr: 0.0.0.0:8080\nallow_insecure_listeners: true\n", `api_auth: api_auth configures no credential, so anyone who reaches "0.0.0.0:8080" could clear counters`},
		{"missing certificate", "tls:\n  cert_file: " + dir + "/none.crt\n  key_file: " + dir + "/none.key\n", "tlsconf: grpc listener: "},
		{"clear-text token", "api_auth:\n  tokens:\n    - {name: a, token: s3cr3t-clear, scopes: [admin]}\n", "api_auth.tokens[0].token: clear-text tokens are not accepted"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := write(strings.ReplaceAll(c.name, " ", "_")+".yaml", c.file)
			code, checkOut := captureRun(t, []string{"check-config", "--config", cfg})
			if code != 1 || !strings.Contains(checkOut, c.want) {
				t.Fatalf("check-config = %d %q, want 1 and %q", code, checkOut, c.want)
			}
			s, err := settings.Load(cfg)
			if err != nil {
				t.Logf("refused by the settings decoder: %v", err)
				// The settings decoder refused the file: serve's flag parsing
				// loads it the same way, so both fail on this message.
				if !strings.Contains(err.Error(), c.want) {
					t.Fatalf("settings.Load = %v, want %q", err, c.want)
				}
				return
			}
			s.EnsureDefaults() // as serve's flag parsing does
			err = runServer(t.Context(), s, slog.New(slog.DiscardHandler), nil)
			if err == nil || !strings.Contains(err.Error(), strings.TrimSpace(checkOut)) {
				t.Fatalf("serve = %v\nwant the check-config message %q", err, checkOut)
			}
		})
	}
}
