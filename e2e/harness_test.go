package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/envoytest"
)

// sidecarBin is the sidecar built once for the package by TestMain.
var sidecarBin string

// repoRoot is the repository's root directory.
var repoRoot = func() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(file))
}()

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "tollgate-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	sidecarBin = filepath.Join(dir, "sidecar")
	build := exec.Command("go", "build", "-o", sidecarBin, "./cmd/sidecar")
	build.Dir = repoRoot
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "cannot build the sidecar: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// freeAddr returns a loopback address with a port free right now.
func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// sidecar is a Tollgate process on fixed addresses, which restart keeps.
type sidecar struct {
	GRPC, HTTP string
	args       []string
	cmd        *exec.Cmd
	done       chan struct{}
	log        *bytes.Buffer
	logMu      *sync.Mutex
}

// startSidecar runs `sidecar serve` on the quickstart config (plus extra
// flags) with its own data directory and waits until /readyz answers.
func startSidecar(t *testing.T, extra ...string) *sidecar {
	t.Helper()
	envoytest.Binary(t) // every test here runs behind Envoy: fail (or skip) before starting anything
	s := &sidecar{GRPC: freeAddr(t), HTTP: freeAddr(t), log: &bytes.Buffer{}, logMu: &sync.Mutex{}}
	s.args = append([]string{"serve", "--config", filepath.Join(repoRoot, "examples/quickstart/sidecar.yaml"),
		"--grpc-addr", s.GRPC, "--http-addr", s.HTTP, "--data-dir", t.TempDir()}, extra...)
	t.Cleanup(func() {
		s.stop(t, syscall.SIGTERM)
		if t.Failed() {
			t.Logf("sidecar log:\n%s", s.output())
		}
	})
	s.start(t)
	return s
}

func (s *sidecar) Write(p []byte) (int, error) {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	return s.log.Write(p)
}

func (s *sidecar) output() string {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	return s.log.String()
}

// start (re)starts the process on the same addresses and data directory.
func (s *sidecar) start(t *testing.T) {
	t.Helper()
	s.cmd = exec.Command(sidecarBin, s.args...)
	s.cmd.Stdout, s.cmd.Stderr = s, s
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	s.done = done
	go func() { _ = s.cmd.Wait(); close(done) }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		select {
		case <-done:
			t.Fatalf("sidecar exited at start: %v\n%s", s.cmd.ProcessState, s.output())
		default:
		}
		if resp, err := http.Get("http://" + s.HTTP + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("sidecar not ready after 20s:\n%s", s.output())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop sends sig and waits for the process to exit; it does nothing when
// the process is not running.
func (s *sidecar) stop(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if s.cmd == nil {
		return
	}
	select {
	case <-s.done:
		return
	default:
	}
	_ = s.cmd.Process.Signal(sig)
	select {
	case <-s.done:
	case <-time.After(20 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
		t.Errorf("sidecar did not stop within 20s of %v", sig)
	}
}

// metric returns the sum of a metric's samples whose labels contain every
// label given ("result=\"recorded\""), from /metrics.
func (s *sidecar) metric(t *testing.T, name string, labels ...string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + s.HTTP + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var sum float64
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
lines:
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		for _, l := range labels {
			if !strings.Contains(line, l) {
				continue lines
			}
		}
		v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err != nil {
			t.Fatalf("metric line %q: %v", line, err)
		}
		sum += v
	}
	return sum
}

// settled waits until the sidecar has received n access log entries since
// it started and shipped every spooled event to the store.
func (s *sidecar) settled(t *testing.T, n int) {
	t.Helper()
	eventually(t, 15*time.Second, func() string {
		got := s.metric(t, "tollgate_metering_access_log_entries_total")
		spooled := s.metric(t, "tollgate_metering_spool_events")
		if got == float64(n) && spooled == 0 {
			return ""
		}
		return fmt.Sprintf("access log entries %v (want %d), spooled events %v (want 0)", got, n, spooled)
	})
}

// usage returns a meter's total for tenant over the hours around now.
func (s *sidecar) usage(t *testing.T, meter, tenant string) int64 {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Hour)
	q := fmt.Sprintf("http://%s/v1/usage?meter=%s&tenant=%s&window=hour&from=%s&to=%s", s.HTTP, meter, tenant,
		now.Add(-time.Hour).Format(time.RFC3339), now.Add(2*time.Hour).Format(time.RFC3339))
	var out struct {
		Rows []struct {
			Quantity int64 `json:"quantity"`
		} `json:"rows"`
	}
	getJSON(t, q, &out)
	var sum int64
	for _, r := range out.Rows {
		sum += r.Quantity
	}
	return sum
}

// count reads a counter through the counter API.
func (s *sidecar) count(t *testing.T, namespace, name string) int64 {
	t.Helper()
	body := fmt.Sprintf(`{"namespace":%q,"counter_name":%q}`, namespace, name)
	resp, err := http.Post("http://"+s.HTTP+"/v1/counter/get", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Count int64 `json:"count"`
	}
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || json.Unmarshal(data, &out) != nil {
		t.Fatalf("counter get %s/%s: %d %s", namespace, name, resp.StatusCode, data)
	}
	return out.Count
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, data)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("GET %s: %v: %s", url, err, data)
	}
}

// eventually polls cond until it returns "" or the deadline passes, then
// fails with cond's last message.
func eventually(t *testing.T, within time.Duration, cond func() string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		msg := cond()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", within, msg)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// upstream is the app behind Envoy. It answers 200 with a body of ?size=N
// bytes (default 10) and status ?status=S, and records what it served.
type upstream struct {
	*httptest.Server
	mu      sync.Mutex
	headers []http.Header
	bytes   int64
}

func startUpstream(t *testing.T) *upstream {
	t.Helper()
	u := &upstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		size, status := 10, http.StatusOK
		if v := r.URL.Query().Get("size"); v != "" {
			size, _ = strconv.Atoi(v)
		}
		if v := r.URL.Query().Get("status"); v != "" {
			status, _ = strconv.Atoi(v)
		}
		u.mu.Lock()
		u.headers = append(u.headers, r.Header.Clone())
		if status < 500 {
			u.bytes += int64(size)
		}
		u.mu.Unlock()
		w.Header().Set("content-length", strconv.Itoa(size))
		w.WriteHeader(status)
		_, _ = w.Write(bytes.Repeat([]byte("x"), size))
	}))
	t.Cleanup(u.Close)
	return u
}

// served returns how many requests reached the upstream and the body bytes
// of those answered below 500.
func (u *upstream) served() (int, int64, []http.Header) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.headers), u.bytes, append([]http.Header(nil), u.headers...)
}

// startEnvoy runs examples/envoy/envoy.yaml as users copy it, with only its
// ports changed: the listener on a free port, the app cluster at up and the
// tollgate cluster at the sidecar's gRPC address. edit, when given, changes
// the bootstrap further (a variant of a filter setting). It returns Envoy
// and the listener's base URL.
func startEnvoy(t *testing.T, up *upstream, s *sidecar, edit ...func(map[string]any)) (*envoytest.Envoy, string) {
	t.Helper()
	return startEnvoyFile(t, "examples/envoy/envoy.yaml", up, s, edit...)
}

// startEnvoyFrom runs another example bootstrap (path from the repository
// root) the same way and returns its listener's base URL.
func startEnvoyFrom(t *testing.T, path string, up *upstream, s *sidecar) string {
	t.Helper()
	_, base := startEnvoyFile(t, path, up, s)
	return base
}

func startEnvoyFile(t *testing.T, path string, up *upstream, s *sidecar, edit ...func(map[string]any)) (*envoytest.Envoy, string) {
	t.Helper()
	b := envoytest.Load(t, filepath.Join(repoRoot, path))
	b.SetListenerPort(t, "ingress", 0)
	b.SetClusterAddr(t, "app", strings.TrimPrefix(up.URL, "http://"))
	b.SetClusterAddr(t, "tollgate", s.GRPC)
	for _, f := range edit {
		b.Edit(f)
	}
	e := envoytest.Start(t, b)
	return e, "http://" + e.ListenerAddr(t, "ingress")
}

// client sends requests through Envoy from one loopback source address, so
// Envoy's per-client limit sees a distinct client per address.
type client struct {
	base string
	http *http.Client
}

func newClient(base string, sourceIP string) *client {
	d := &net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(sourceIP)}}
	return &client{base: base, http: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return d.DialContext(ctx, network, addr)
		},
	}}}
}

// response is what a client got back.
type response struct {
	Status int
	Header http.Header
	Body   string
}

// get sends GET path with the given headers ("key: value").
func (c *client) get(t *testing.T, path string, headers ...string) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, c.base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Set(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	resp, err := c.http.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return response{Status: resp.StatusCode, Header: resp.Header, Body: string(body)}
}

// withMinuteRoom waits, when needed, until the current minute has at least
// need left, so a test's requests fall into one fixed per-minute window.
func withMinuteRoom(t *testing.T, need time.Duration) {
	t.Helper()
	now := time.Now()
	if left := now.Truncate(time.Minute).Add(time.Minute).Sub(now); left < need {
		t.Logf("waiting %v for a fresh rate-limit minute", left.Round(time.Millisecond))
		time.Sleep(left + 50*time.Millisecond)
	}
}

const apiKey = "x-api-key: acme-demo-key"
