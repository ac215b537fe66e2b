package ratelimit

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// watcher runs Watch on path and hands each loaded config's domains to loads.
type watcher struct {
	loads  chan string
	reg    *prometheus.Registry
	cancel context.CancelFunc
	done   chan error
}

func startWatch(t *testing.T, path string) *watcher {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w := &watcher{loads: make(chan string, 10), reg: prometheus.NewRegistry(), cancel: cancel, done: make(chan error, 1)}
	opts := WatchOptions{
		Registerer: w.reg,
		Debounce:   20 * time.Millisecond,
		Now:        func() time.Time { return t0 },
		OnLoad:     func(c *Config) { w.loads <- strings.Join(c.Domains(), ",") },
	}
	go func() { w.done <- Watch(ctx, path, opts) }()
	t.Cleanup(func() {
		cancel()
		if err := <-w.done; err != nil {
			t.Errorf("Watch: %v", err)
		}
	})
	// Watch loads once when its watches are in place: from then on the
	// test's changes are seen.
	select {
	case <-w.loads:
	case <-time.After(10 * time.Second):
		t.Fatal("Watch made no initial load within 10s")
	}
	return w
}

// waitFor waits for a load of the domains want, skipping earlier loads
// (one change may be seen as several events and so several reloads).
func (w *watcher) waitFor(t *testing.T, want string) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case d := <-w.loads:
			if d == want {
				return
			}
		case <-timeout:
			t.Fatalf("no reload with domains %s within 10s", want)
		}
	}
}

// metric returns the value of a reload metric ("" result for the gauge).
func (w *watcher) metric(t *testing.T, name, result string) float64 {
	t.Helper()
	mfs, err := w.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if result == "" {
				return m.GetGauge().GetValue()
			}
			for _, lp := range m.GetLabel() {
				if lp.GetName() == "result" && lp.GetValue() == result {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// waitFailures waits until the failure counter reaches n.
func (w *watcher) waitFailures(t *testing.T, n float64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for w.metric(t, "tollgate_config_reloads_total", "failure") < n {
		if time.Now().After(deadline) {
			t.Fatalf("failed reloads never reached %v", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestWatchDirectory(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"a.yaml": "domain: a\n"})
	w := startWatch(t, dir)

	writeFiles(t, dir, map[string]string{"b.yaml": "domain: b\n"})
	w.waitFor(t, "a,b")
	writeFiles(t, dir, map[string]string{"a.yaml": "domain: a2\n"})
	w.waitFor(t, "a2,b")
	writeFiles(t, dir, map[string]string{"bad.yaml": "domain: a2\n"})
	w.waitFailures(t, 1)
	for len(w.loads) > 0 {
		if d := <-w.loads; d != "a2,b" {
			t.Errorf("OnLoad called with %s while the config is bad", d)
		}
	}
	if err := os.Remove(filepath.Join(dir, "bad.yaml")); err != nil {
		t.Fatal(err)
	}
	w.waitFor(t, "a2,b")
	if got := w.metric(t, "tollgate_config_reloads_total", "success"); got < 3 {
		t.Errorf("successful reloads %v, want at least 3", got)
	}
	if got := w.metric(t, "tollgate_config_last_reload_success_timestamp_seconds", ""); got != float64(t0.Unix()) {
		t.Errorf("last success %v, want %v", got, t0.Unix())
	}
}

func TestWatchConfigMapSwap(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"..2026_01/x.yaml": "domain: one\n"})
	for _, l := range [][2]string{{"..2026_01", "..data"}, {"..data/x.yaml", "x.yaml"}} {
		if err := os.Symlink(l[0], filepath.Join(dir, l[1])); err != nil {
			t.Fatal(err)
		}
	}
	if cfg, err := LoadConfig(dir); err != nil || strings.Join(cfg.Domains(), ",") != "one" {
		t.Fatalf("initial load: %v", err)
	}
	w := startWatch(t, dir)

	// What the kubelet does: write a new timestamped dir, point a temporary
	// symlink at it, rename the symlink over ..data.
	writeFiles(t, dir, map[string]string{"..2026_02/x.yaml": "domain: two\n"})
	if err := os.Symlink("..2026_02", filepath.Join(dir, "..data_tmp")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(dir, "..2026_01")); err != nil {
		t.Fatal(err)
	}
	w.waitFor(t, "two")
}

func TestWatchFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "rl.yaml")
	writeFiles(t, dir, map[string]string{"rl.yaml": "domain: a\n"})
	w := startWatch(t, path)

	// Editors save by writing a new file and renaming it over the old one.
	writeFiles(t, dir, map[string]string{"rl.yaml.tmp": "domain: b\n"})
	if err := os.Rename(path+".tmp", path); err != nil {
		t.Fatal(err)
	}
	w.waitFor(t, "b")
}

func TestWatchNeedsOnLoad(t *testing.T) {
	err := Watch(context.Background(), t.TempDir(), WatchOptions{})
	if err == nil || err.Error() != "ratelimit: WatchOptions.OnLoad is nil (hint: pass Service.SetConfig)" {
		t.Errorf("error %v", err)
	}
}
