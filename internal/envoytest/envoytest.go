// Package envoytest runs a real Envoy (the binary scripts/envoy.sh fetches)
// in tests: a bootstrap taken from a file users copy, with only its ports
// rewritten, started on loopback with its own base id and admin address,
// and stopped when the test ends.
package envoytest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/tollgate/tollgate/internal/testenv"
)

// Binary returns the Envoy binary's path; the test fails under `make test`
// (skips otherwise) when TOLLGATE_TEST_ENVOY is not set.
func Binary(t testing.TB) string {
	t.Helper()
	return testenv.Addrs(t, testenv.Envoy)[0]
}

// Bootstrap is an Envoy bootstrap as generic YAML data, to rewrite before
// it runs.
type Bootstrap map[string]any

// Load reads a bootstrap YAML file.
func Load(t testing.TB, path string) Bootstrap {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// A plain map: yaml.v3 decodes nested maps into the target's type.
	var m map[string]any
	if err := yaml.Unmarshal(data, &m); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return Bootstrap(m)
}

// SetListenerPort sets the port of the static listener name; 0 lets the
// kernel choose (see Envoy.ListenerAddr).
func (b Bootstrap) SetListenerPort(t testing.TB, name string, port int) {
	t.Helper()
	for _, l := range b.list(t, "listeners") {
		if l["name"] == name {
			sock := dig(t, l, "address", "socket_address")
			sock["address"], sock["port_value"] = "127.0.0.1", port
			return
		}
	}
	t.Fatalf("bootstrap has no listener %q", name)
}

// SetClusterAddr points every endpoint of the static cluster name at addr
// ("host:port").
func (b Bootstrap) SetClusterAddr(t testing.TB, name, addr string) {
	t.Helper()
	host, port := splitAddr(t, addr)
	for _, c := range b.list(t, "clusters") {
		if c["name"] != name {
			continue
		}
		for _, group := range asList(t, dig(t, c, "load_assignment")["endpoints"]) {
			for _, ep := range asList(t, group["lb_endpoints"]) {
				sock := dig(t, ep, "endpoint", "address", "socket_address")
				sock["address"], sock["port_value"] = host, port
			}
		}
		return
	}
	t.Fatalf("bootstrap has no cluster %q", name)
}

// Edit calls f on the bootstrap's map, for changes the setters do not cover.
func (b Bootstrap) Edit(f func(map[string]any)) { f(b) }

func (b Bootstrap) list(t testing.TB, key string) []map[string]any {
	t.Helper()
	return asList(t, dig(t, b, "static_resources")[key])
}

// dig walks nested maps by key.
func dig(t testing.TB, m map[string]any, keys ...string) map[string]any {
	t.Helper()
	for _, k := range keys {
		next, ok := m[k].(map[string]any)
		if !ok {
			t.Fatalf("bootstrap: %q is not a map", k)
		}
		m = next
	}
	return m
}

func asList(t testing.TB, v any) []map[string]any {
	t.Helper()
	items, ok := v.([]any)
	if !ok {
		t.Fatalf("bootstrap: %v is not a list", v)
	}
	out := make([]map[string]any, len(items))
	for i, it := range items {
		if out[i], ok = it.(map[string]any); !ok {
			t.Fatalf("bootstrap: list item %v is not a map", it)
		}
	}
	return out
}

func splitAddr(t testing.TB, addr string) (string, int) {
	t.Helper()
	i := strings.LastIndexByte(addr, ':')
	var port int
	if _, err := fmt.Sscan(addr[i+1:], &port); i < 0 || err != nil {
		t.Fatalf("address %q is not host:port", addr)
	}
	return addr[:i], port
}

// Envoy is a running Envoy process.
type Envoy struct {
	// Admin is the admin listener's address, "127.0.0.1:port".
	Admin string
	cmd   *exec.Cmd
	log   *syncBuffer
	done  chan struct{}
}

// baseIDs gives each Envoy of this process its own shared-memory base id.
var baseIDs atomic.Int64

// Start runs Envoy on b with one worker thread and an admin listener on a
// free loopback port, waits until it is live, and stops it at the end of
// the test (its log is printed when the test failed). Extra args go to
// Envoy's command line.
func Start(t testing.TB, b Bootstrap, args ...string) *Envoy {
	t.Helper()
	bin := Binary(t)
	b["admin"] = map[string]any{"address": map[string]any{"socket_address": map[string]any{"address": "127.0.0.1", "port_value": 0}}}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "envoy.yaml")
	data, err := yaml.Marshal(map[string]any(b))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg, data, 0o644); err != nil {
		t.Fatal(err)
	}
	adminPath := filepath.Join(dir, "admin-address")
	// Base ids 1000+ keep clear of a developer's Envoy on the default 0.
	baseID := 1000 + (int64(os.Getpid())%1000)*100 + baseIDs.Add(1)
	full := append([]string{"-c", cfg, "--base-id", fmt.Sprint(baseID), "--admin-address-path", adminPath,
		"--concurrency", "1", "--log-level", "warn", "--drain-time-s", "1"}, args...)
	e := &Envoy{cmd: exec.Command(bin, full...), log: &syncBuffer{}, done: make(chan struct{})}
	e.cmd.Stdout, e.cmd.Stderr = e.log, e.log
	if err := e.cmd.Start(); err != nil {
		t.Fatalf("cannot start envoy: %v", err)
	}
	go func() { _ = e.cmd.Wait(); close(e.done) }()
	t.Cleanup(func() {
		e.Stop()
		if t.Failed() {
			t.Logf("envoy log:\n%s", e.Log())
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-e.done:
			t.Fatalf("envoy exited at start: %v\n%s", e.cmd.ProcessState, e.Log())
		default:
		}
		if a, err := os.ReadFile(adminPath); err == nil && len(a) > 0 {
			e.Admin = strings.TrimSpace(string(a))
			if resp, err := http.Get("http://" + e.Admin + "/ready"); err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return e
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("envoy not live after 30s:\n%s", e.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ListenerAddr returns the bound address of the listener name, as Envoy's
// admin reports it.
func (e *Envoy) ListenerAddr(t testing.TB, name string) string {
	t.Helper()
	var out struct {
		ListenerStatuses []struct {
			Name         string `json:"name"`
			LocalAddress struct {
				SocketAddress struct {
					Address   string `json:"address"`
					PortValue int    `json:"port_value"`
				} `json:"socket_address"`
			} `json:"local_address"`
		} `json:"listener_statuses"`
	}
	e.adminJSON(t, "/listeners?format=json", &out)
	for _, l := range out.ListenerStatuses {
		if l.Name == name {
			sa := l.LocalAddress.SocketAddress
			return fmt.Sprintf("%s:%d", sa.Address, sa.PortValue)
		}
	}
	t.Fatalf("envoy has no listener %q", name)
	return ""
}

// Stat returns the value of one counter or gauge from the admin's /stats
// (0 when Envoy has not created it yet).
func (e *Envoy) Stat(t testing.TB, name string) int64 {
	t.Helper()
	var out struct {
		Stats []struct {
			Name  string `json:"name"`
			Value int64  `json:"value"`
		} `json:"stats"`
	}
	e.adminJSON(t, "/stats?format=json&filter=^"+strings.ReplaceAll(name, ".", `\.`)+"$", &out)
	for _, s := range out.Stats {
		if s.Name == name {
			return s.Value
		}
	}
	return 0
}

func (e *Envoy) adminJSON(t testing.TB, path string, v any) {
	t.Helper()
	resp, err := http.Get("http://" + e.Admin + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("envoy admin %s: %d %v %s", path, resp.StatusCode, err, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("envoy admin %s: %v", path, err)
	}
}

// Stop ends Envoy (SIGTERM, then SIGKILL after 5 s) and waits for it. It is
// idempotent.
func (e *Envoy) Stop() {
	select {
	case <-e.done:
		return
	default:
	}
	_ = e.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-e.done:
	case <-time.After(5 * time.Second):
		_ = e.cmd.Process.Kill()
		<-e.done
	}
}

// Log returns what Envoy printed so far.
func (e *Envoy) Log() string {
	return e.log.String()
}

// Validate runs `envoy --mode validate` on the bootstrap file path and
// returns its output and whether Envoy accepted it.
func Validate(t testing.TB, path string) (string, error) {
	t.Helper()
	out, err := exec.Command(Binary(t), "--mode", "validate", "-c", path, "--log-level", "error").CombinedOutput()
	return string(out), err
}

// syncBuffer is Envoy's output, written by exec's copier and read by Log.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
