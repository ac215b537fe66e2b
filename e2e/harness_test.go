package e2e

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/envoytest"
	"github.com/tollgate/tollgate/internal/sidecartest"
)

// sidecarBin is the sidecar built once for the package by TestMain.
var sidecarBin string

func TestMain(m *testing.M) { sidecartest.Main(m, &sidecarBin) }

// sidecar is a Tollgate process (see sidecartest.Process).
type sidecar struct{ *sidecartest.Process }

// startSidecar runs `sidecar serve` on the quickstart config (plus extra
// flags) with its own data directory and waits until /readyz answers.
func startSidecar(t *testing.T, extra ...string) *sidecar {
	t.Helper()
	envoytest.Binary(t) // every test here runs behind Envoy: fail (or skip) before starting anything
	return &sidecar{sidecartest.Start(t, sidecarBin, "examples/quickstart/sidecar.yaml", extra...)}
}

func (s *sidecar) start(t *testing.T)                    { s.Restart(t) }
func (s *sidecar) stop(t *testing.T, sig syscall.Signal) { s.Stop(t, sig) }
func (s *sidecar) metric(t *testing.T, name string, labels ...string) float64 {
	return s.Metric(t, name, labels...)
}
func (s *sidecar) settled(t *testing.T, n int)                    { s.Settled(t, n) }
func (s *sidecar) usage(t *testing.T, meter, tenant string) int64 { return s.Usage(t, meter, tenant) }
func (s *sidecar) count(t *testing.T, namespace, name string) int64 {
	return s.Count(t, namespace, name)
}

// eventually is sidecartest.Eventually.
var eventually = sidecartest.Eventually

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
	b := envoytest.Load(t, filepath.Join(sidecartest.RepoRoot, path))
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
