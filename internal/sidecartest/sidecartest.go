// Package sidecartest runs the sidecar as a real process for end-to-end
// and fault tests: built once per test binary, started on free loopback
// ports with its own data directory, stopped by signal (SIGTERM, SIGKILL)
// and started again on the same addresses and data.
package sidecartest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
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
)

// RepoRoot is the repository's root directory.
var RepoRoot = func() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(filepath.Dir(file)))
}()

// Build compiles cmd/sidecar into a temporary directory, for TestMain; call
// the returned cleanup when the tests are done.
func Build() (bin string, cleanup func(), err error) {
	dir, err := os.MkdirTemp("", "tollgate-sidecar")
	if err != nil {
		return "", nil, err
	}
	bin = filepath.Join(dir, "sidecar")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/sidecar")
	cmd.Dir = RepoRoot
	if out, err := cmd.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return "", nil, fmt.Errorf("cannot build the sidecar: %w\n%s", err, out)
	}
	return bin, func() { os.RemoveAll(dir) }, nil
}

// Main is a TestMain for packages whose tests run the sidecar: it builds it
// (exiting 1 when it cannot), sets *bin to its path, runs the tests, removes
// the binary and exits with the tests' code.
func Main(m *testing.M, bin *string) {
	b, cleanup, err := Build()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	*bin = b
	code := m.Run()
	cleanup()
	os.Exit(code)
}

// FreeAddr returns a loopback address with a port free right now.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// Process is a sidecar process on fixed addresses and a fixed data
// directory, which Start after Stop keeps.
type Process struct {
	// GRPC and HTTP are the listeners' addresses.
	GRPC, HTTP string
	// DataDir is the process's data_dir.
	DataDir string
	bin     string
	args    []string
	cmd     *exec.Cmd
	done    chan struct{}
	mu      sync.Mutex
	log     bytes.Buffer
}

// Start runs `bin serve --config config` (absolute, or a path from the
// repository's root) plus extra flags, on free ports and a fresh data directory, waits
// until /readyz answers, and stops the process (SIGTERM) when the test
// ends, printing its log if the test failed.
func Start(t *testing.T, bin, config string, extra ...string) *Process {
	t.Helper()
	return StartIn(t, bin, config, t.TempDir(), extra...)
}

// StartIn is Start on the data directory dataDir, which a test may have
// filled beforehand.
func StartIn(t *testing.T, bin, config, dataDir string, extra ...string) *Process {
	t.Helper()
	p := &Process{GRPC: FreeAddr(t), HTTP: FreeAddr(t), DataDir: dataDir, bin: bin}
	if !filepath.IsAbs(config) {
		config = filepath.Join(RepoRoot, config)
	}
	p.args = append([]string{"serve", "--config", config,
		"--grpc-addr", p.GRPC, "--http-addr", p.HTTP, "--data-dir", p.DataDir}, extra...)
	t.Cleanup(func() {
		p.Stop(t, syscall.SIGTERM)
		if t.Failed() {
			t.Logf("sidecar log:\n%s", p.Output())
		}
	})
	p.Restart(t)
	return p
}

// Write collects the process's output.
func (p *Process) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.Write(b)
}

// Output returns what the process printed so far, over all its starts.
func (p *Process) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

// Restart starts the process again on the same addresses and data
// directory and waits until /readyz answers (20 s at most).
func (p *Process) Restart(t *testing.T) {
	t.Helper()
	p.cmd = exec.Command(p.bin, p.args...)
	p.cmd.Stdout, p.cmd.Stderr = p, p
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	p.done = done
	go func() { _ = p.cmd.Wait(); close(done) }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		select {
		case <-done:
			t.Fatalf("sidecar exited at start: %v\n%s", p.cmd.ProcessState, p.Output())
		default:
		}
		if resp, err := http.Get("http://" + p.HTTP + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("sidecar not ready after 20s:\n%s", p.Output())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop sends sig and waits for the process to exit (20 s at most, then
// SIGKILL and a test error); it does nothing when the process is not
// running.
func (p *Process) Stop(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if p.cmd == nil {
		return
	}
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
		t.Errorf("sidecar did not stop within 20s of %v", sig)
	}
}

// ExitCode returns the exit code of the last run, or -1 while it runs or
// when it was killed by a signal.
func (p *Process) ExitCode() int {
	select {
	case <-p.done:
		return p.cmd.ProcessState.ExitCode()
	default:
		return -1
	}
}

// Metric returns the sum of a metric's samples whose labels contain every
// label given (`result="recorded"`), from /metrics.
func (p *Process) Metric(t *testing.T, name string, labels ...string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + p.HTTP + "/metrics")
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

// Settled waits until the process has received n access log entries since
// it started and shipped every spooled event to the store.
func (p *Process) Settled(t *testing.T, n int) {
	t.Helper()
	Eventually(t, 15*time.Second, func() string {
		got := p.Metric(t, "tollgate_metering_access_log_entries_total")
		spooled := p.Metric(t, "tollgate_metering_spool_events")
		if got == float64(n) && spooled == 0 {
			return ""
		}
		return fmt.Sprintf("access log entries %v (want %d), spooled events %v (want 0)", got, n, spooled)
	})
}

// Usage returns a meter's total for tenant over the hours around now.
func (p *Process) Usage(t *testing.T, meter, tenant string) int64 {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Hour)
	q := fmt.Sprintf("http://%s/v1/usage?meter=%s&tenant=%s&window=hour&from=%s&to=%s", p.HTTP, meter, tenant,
		now.Add(-time.Hour).Format(time.RFC3339), now.Add(2*time.Hour).Format(time.RFC3339))
	var out struct {
		Rows []struct {
			Quantity int64 `json:"quantity"`
		} `json:"rows"`
	}
	GetJSON(t, q, &out)
	var sum int64
	for _, r := range out.Rows {
		sum += r.Quantity
	}
	return sum
}

// Count reads a counter through the counter API.
func (p *Process) Count(t *testing.T, namespace, name string) int64 {
	t.Helper()
	body := fmt.Sprintf(`{"namespace":%q,"counter_name":%q}`, namespace, name)
	resp, err := http.Post("http://"+p.HTTP+"/v1/counter/get", "application/json", strings.NewReader(body))
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

// GetJSON decodes the JSON answer of a GET that must answer 200.
func GetJSON(t *testing.T, url string, v any) {
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

// Eventually polls cond every 50 ms until it returns "" or within passes,
// then fails with cond's last message.
func Eventually(t *testing.T, within time.Duration, cond func() string) {
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
