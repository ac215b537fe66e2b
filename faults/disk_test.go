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

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc/codes"

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

// fillUntilExit runs load on p (whose data dir is on a small disk) until
// the sidecar exits, and checks the exit: non-zero, within 60 s, with
// ENOSPC and the restart hint in its log, no panic. It returns the exit
// code and how long after the load began the sidecar exited.
func fillUntilExit(t *testing.T, p *sidecartest.Process, l *ledger, workers int, do func(worker, i int)) (int, time.Duration) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); load(ctx, workers, do) }()
	defer func() { cancel(); <-done }()
	start := time.Now()
	for p.ExitCode() == -1 {
		if time.Since(start) > 60*time.Second {
			t.Fatalf("sidecar still running 60s into the load (%d acknowledged)", l.acked.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
	exited := time.Since(start)
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
	return code, exited
}

// TestDiskFull: counter adds on a data dir on a small tmpfs until it is
// full: the sidecar exits non-zero with a clear message, no panic; after
// space returns a restart counts every acknowledged add, none twice.
func TestDiskFull(t *testing.T) {
	disk := smallDisk(t, 24<<20, 20<<20)
	p := sidecartest.StartIn(t, sidecarBin, quickstart, filepath.Join(disk, "data"))
	var l ledger
	code, exited := fillUntilExit(t, p, &l, 8, func(w, i int) {
		l.sent.Add(1)
		if addCount(p, "accurate", "full", fmt.Sprintf("f-w%d-%d-%s", w, i, strings.Repeat("x", 200))) {
			l.acked.Add(1)
		}
	})
	if err := os.Remove(filepath.Join(disk, "filler")); err != nil {
		t.Fatal(err)
	}
	p.Restart(t)
	var count int64
	checkCount(t, "accurate count after space returned", p.Count(t, "accurate", "full"), &l, &count)
	t.Logf("disk full: %d adds sent, %d acknowledged; exit %d %v after the load began; count after restart %d",
		l.sent.Load(), l.acked.Load(), code, exited.Round(time.Millisecond), count)
}

// TestDiskFullChecks: ext_authz Checks, whose events go to the metering
// spool before the answer, on a data dir on a small tmpfs until it is
// full: the sidecar exits non-zero with a clear message, no panic; after
// space returns a restart ships and bills every allowed Check, none twice.
func TestDiskFullChecks(t *testing.T) {
	disk := smallDisk(t, 24<<20, 20<<20)
	p := sidecartest.StartIn(t, sidecarBin, writeConfig(t, bigPlan), filepath.Join(disk, "data"))
	conn := grpcConn(t, p)
	defer conn.Close()
	client := authv3.NewAuthorizationClient(conn)
	var l ledger
	code, exited := fillUntilExit(t, p, &l, 8, func(w, i int) {
		l.sent.Add(1)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		resp, err := client.Check(ctx, checkRequest(fmt.Sprintf("full-w%d-%d-%s", w, i, strings.Repeat("x", 200))))
		if err == nil && codes.Code(resp.GetStatus().GetCode()) == codes.OK {
			l.acked.Add(1)
		}
	})
	if err := os.Remove(filepath.Join(disk, "filler")); err != nil {
		t.Fatal(err)
	}
	p.Restart(t)
	var billed int64
	checkCount(t, "requests billed after space returned", drainedUsage(t, p, "requests"), &l, &billed)
	t.Logf("disk full under Checks: %d sent, %d allowed; exit %d %v after the load began; billed after restart %d",
		l.sent.Load(), l.acked.Load(), code, exited.Round(time.Millisecond), billed)
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
