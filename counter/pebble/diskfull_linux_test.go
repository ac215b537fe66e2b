//go:build linux

package pebble

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tollgate/tollgate/counter"
)

// diskFullChildEnv makes the test binary run as the filling child of
// TestRealDiskFull, on the small disk mounted at the named directory.
const diskFullChildEnv = "TOLLGATE_PEBBLE_DISKFULL_CHILD_DIR"

// diskFullExit is the child's exit code once the store failed as it must:
// the code a sidecar exits with on Fatal, for its supervisor to restart it.
const diskFullExit = 3

// diskFullBatch is the number of events of each Append of the child.
const diskFullBatch = 100

// diskFullOptions are the store options of the test: small memtable and
// cache for an 8 MiB disk.
func diskFullOptions(disk string) Options {
	return Options{Dir: filepath.Join(disk, "db"), Now: func() time.Time { return t0 }, MemTableSize: 1 << 20, CacheSize: 1 << 20}
}

// TestRealDiskFull mounts an 8 MiB tmpfs, half taken by a filler file, and
// re-executes the test binary as a child that appends to a store on it until
// the disk is full: the store fails with ENOSPC, keeps failing after the
// filler is deleted, and the child exits as a sidecar would on Fatal. The
// store reopened holds the acknowledged events (and the failed Append's, if
// its write reached the log after all). Skipped where
// mounting is not permitted (not root, a container without CAP_SYS_ADMIN);
// TestDiskFullFailsStore covers the same with injected ENOSPC.
func TestRealDiskFull(t *testing.T) {
	if disk := os.Getenv(diskFullChildEnv); disk != "" {
		runDiskFullChild(t, disk)
		return
	}
	if testing.Short() {
		t.Skip("starts a child process; skipped with -short")
	}
	disk := t.TempDir()
	if err := syscall.Mount("tmpfs", disk, "tmpfs", 0, "size=8m"); err != nil {
		t.Skipf("cannot mount a small tmpfs on %s (%v): needs root with CAP_SYS_ADMIN", disk, err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(disk, 0); err != nil {
			t.Errorf("unmount %s: %v", disk, err)
		}
	})
	if err := os.WriteFile(filepath.Join(disk, "filler"), make([]byte, 4<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestRealDiskFull$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), diskFullChildEnv+"="+disk)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != diskFullExit {
		t.Fatalf("child: %v, want exit status %d; output:\n%s", err, diskFullExit, out)
	}
	_, after, ok := strings.Cut(string(out), "acknowledged ")
	acked, err := strconv.ParseInt(strings.Fields(after + " ")[0], 10, 64)
	if !ok || err != nil {
		t.Fatalf("child printed no acknowledged count; output:\n%s", out)
	}
	s, err := Open(diskFullOptions(disk))
	if err != nil {
		t.Fatalf("reopen after space returned: %v", err)
	}
	defer s.Close()
	// The failed Append's outcome is unknown: its write may have reached the
	// log before the flush failure failed the store, or after the filler was
	// deleted; a retry with the same identities counts its events once.
	got, err := s.Sum(context.Background(), "n", "c", t0, t0.Add(time.Second))
	if err != nil || (got != acked && got != acked+diskFullBatch) {
		t.Errorf("Sum after reopen = %d, %v; want the %d acknowledged events, or %d with the failed Append's", got, err, acked, acked+diskFullBatch)
	}
	t.Logf("disk full after %d acknowledged events; reopened with %d", acked, got)
}

// runDiskFullChild fills the disk, checks the failure and exits with
// diskFullExit, printing the number of acknowledged events.
func runDiskFullChild(t *testing.T, disk string) {
	s, err := Open(diskFullOptions(disk))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	batch := make([]counter.Event, diskFullBatch)
	acked := 0
	var appendErr error
	for i := 0; appendErr == nil; i++ {
		if i == 100_000 {
			t.Fatal("the disk did not fill after 10,000,000 events")
		}
		for j := range batch {
			batch[j] = counter.Event{Namespace: "n", Counter: "c", Time: t0, ID: strconv.Itoa(i) + "-" + strconv.Itoa(j), Delta: 1}
		}
		if appendErr = s.Append(ctx, batch); appendErr == nil {
			acked += len(batch)
		}
	}
	if !errors.Is(appendErr, ErrFailed) || !errors.Is(appendErr, syscall.ENOSPC) {
		t.Fatalf("Append on a full disk: error %v, want ErrFailed with ENOSPC", appendErr)
	}
	if err := os.Remove(filepath.Join(disk, "filler")); err != nil {
		t.Fatal(err)
	}
	if err := s.Append(ctx, batch[:1]); !errors.Is(err, ErrFailed) {
		t.Fatalf("Append after space returned: error %v, want ErrFailed until a restart", err)
	}
	if _, err := s.Sum(ctx, "n", "c", t0, t0.Add(time.Second)); !errors.Is(err, ErrFailed) {
		t.Fatalf("Sum after the failure: error %v, want ErrFailed", err)
	}
	select {
	case err := <-s.Fatal():
		fmt.Printf("acknowledged %d\nfatal: %v\n", acked, err)
		os.Exit(diskFullExit)
	default:
		t.Fatal("Fatal() has not fired after the failure")
	}
}
