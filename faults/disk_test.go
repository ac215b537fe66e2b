//go:build linux

package faults

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/sidecartest"
)

// smallDisk mounts a tmpfs of size bytes, fill of them taken by a filler
// file, and unmounts it (lazily) when the test ends. Skipped only where
// mounting is not permitted (EPERM).
func smallDisk(t *testing.T, size, fill int) string {
	t.Helper()
	disk := t.TempDir()
	if err := syscall.Mount("tmpfs", disk, "tmpfs", 0, fmt.Sprintf("size=%d", size)); err != nil {
		if err == syscall.EPERM {
			t.Skipf("cannot mount a tmpfs on %s (%v): needs root with CAP_SYS_ADMIN", disk, err)
		}
		t.Fatalf("mount tmpfs on %s: %v", disk, err)
	}
	t.Cleanup(func() { _ = syscall.Unmount(disk, syscall.MNT_DETACH) })
	if err := os.WriteFile(filepath.Join(disk, "filler"), make([]byte, fill), 0o600); err != nil {
		t.Fatal(err)
	}
	return disk
}

// TestDiskFull: counter adds on a data dir on a small tmpfs until it is
// full: the sidecar exits non-zero with a clear message, no panic; after
// space returns a restart counts every acknowledged add, none twice.
func TestDiskFull(t *testing.T) {
	disk := smallDisk(t, 24<<20, 20<<20)
	p := sidecartest.StartIn(t, sidecarBin, quickstart, filepath.Join(disk, "data"))
	var l ledger
	var maxRead int64
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		load(ctx, 8, func(w, i int) {
			l.sent.Add(1)
			if addCount(p, "accurate", "full", fmt.Sprintf("f-w%d-%d-%s", w, i, strings.Repeat("x", 200))) {
				l.acked.Add(1)
			}
		})
	}()
	start := time.Now()
	deadline := time.After(60 * time.Second)
	var exited time.Duration
wait:
	for {
		select {
		case <-deadline:
			cancel()
			<-done
			t.Fatalf("sidecar still running 60s into the load (%d adds acknowledged)", l.acked.Load())
		default:
		}
		if p.ExitCode() != -1 {
			exited = time.Since(start)
			break wait
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	code := p.ExitCode()
	if code == 0 {
		t.Errorf("exit code on a full disk = 0, want non-zero")
	}
	out := p.Output()
	for _, want := range []string{"no space left on device", "restart"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q", want)
		}
	}
	for _, bad := range []string{"panic:", "goroutine "} {
		if strings.Contains(out, bad) {
			t.Errorf("log has %q (a panic)", bad)
		}
	}
	if err := os.Remove(filepath.Join(disk, "filler")); err != nil {
		t.Fatal(err)
	}
	p.Restart(t)
	checkCount(t, "accurate count after space returned", p.Count(t, "accurate", "full"), &l, &maxRead)
	t.Logf("disk full: %d adds sent, %d acknowledged; exit %d %v after the load began; count after restart %d",
		l.sent.Load(), l.acked.Load(), code, exited.Round(time.Millisecond), maxRead)
}

// TestReadOnlyDataDir: a sidecar started on a data dir on a read-only
// tmpfs refuses to start: exit non-zero, a message naming the directory,
// the cause and a hint.
func TestReadOnlyDataDir(t *testing.T) {
	disk := smallDisk(t, 1<<20, 0)
	if err := syscall.Mount("", disk, "", syscall.MS_REMOUNT|syscall.MS_RDONLY, ""); err != nil {
		t.Fatalf("remount %s read-only: %v", disk, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, sidecarBin, "serve", "--config", filepath.Join(sidecartest.RepoRoot, quickstart),
		"--grpc-addr", sidecartest.FreeAddr(t), "--http-addr", sidecartest.FreeAddr(t), "--data-dir", disk)
	out, err := cmd.CombinedOutput()
	t.Logf("start on a read-only data dir: %v\n%s", err, out)
	if cmd.ProcessState == nil || cmd.ProcessState.ExitCode() <= 0 {
		t.Fatalf("exit %v, want a non-zero exit code", cmd.ProcessState)
	}
	for _, want := range []string{disk, "read-only file system", "is writable"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q", want)
		}
	}
}
