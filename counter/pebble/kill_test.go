package pebble

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/tollgate/tollgate/counter"
)

// killChildEnv makes the test binary run as the appending child of
// TestKill9KeepsAcknowledgedEvents, with the store in the named directory.
const killChildEnv = "TOLLGATE_PEBBLE_KILL_CHILD_DIR"

// killWorkers is how many goroutines of the child append concurrently.
const killWorkers = 16

// killEvent is the event worker w appends as its i-th.
func killEvent(w, i int) counter.Event {
	return counter.Event{
		Namespace: "kill",
		Counter:   "c",
		Time:      t0.Add(time.Duration(w*10_000_000 + i)),
		ID:        fmt.Sprintf("%d-%d", w, i),
		Delta:     1,
	}
}

// TestKill9KeepsAcknowledgedEvents re-executes the test binary as a child
// that appends events from many goroutines and prints each acknowledgement,
// kills it with SIGKILL mid-stream, reopens the store and checks that every
// acknowledged event is there.
func TestKill9KeepsAcknowledgedEvents(t *testing.T) {
	if dir := os.Getenv(killChildEnv); dir != "" {
		runKillChild(t, dir)
		return
	}
	if testing.Short() {
		t.Skip("starts a child process; skipped with -short")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKill9KeepsAcknowledgedEvents$", "-test.count=1")
	cmd.Env = append(os.Environ(), killChildEnv+"="+dir)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	const killAfter = 3000
	var acked [][2]int
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		var w, i int
		if _, err := fmt.Sscanf(sc.Text(), "ack %d %d", &w, &i); err != nil {
			continue
		}
		acked = append(acked, [2]int{w, i})
		if len(acked) == killAfter {
			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
		}
	}
	// The pipe may hold acknowledgements printed before the kill; the loop
	// above read them all up to EOF.
	if err := cmd.Wait(); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("child exited with %v, want killed", err)
	}
	if len(acked) < killAfter {
		t.Fatalf("child acknowledged %d events before exiting, want at least %d", len(acked), killAfter)
	}

	s := openMem(t, Options{FS: vfs.Default, Dir: dir})
	ctx := context.Background()
	for _, a := range acked {
		ev := killEvent(a[0], a[1])
		sum, err := s.Sum(ctx, ev.Namespace, ev.Counter, ev.Time, ev.Time.Add(time.Nanosecond))
		if err != nil {
			t.Fatal(err)
		}
		if sum != 1 {
			t.Fatalf("acknowledged event %s lost after kill -9", ev.ID)
		}
	}
	agg, err := s.Aggregate(ctx, "kill", "c", time.Time{}, t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if agg.Events < int64(len(acked)) {
		t.Errorf("store holds %d events, want at least the %d acknowledged", agg.Events, len(acked))
	}
	t.Logf("%d events acknowledged before SIGKILL, %d stored after reopen", len(acked), agg.Events)
}

// runKillChild appends events until killed (or for at most a minute),
// printing "ack <worker> <seq>" after each Append returns.
func runKillChild(t *testing.T, dir string) {
	s, err := Open(Options{Dir: dir, Now: time.Now})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	deadline := time.Now().Add(time.Minute)
	for w := range killWorkers {
		wg.Go(func() {
			for i := 0; time.Now().Before(deadline); i++ {
				if err := s.Append(context.Background(), []counter.Event{killEvent(w, i)}); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				fmt.Fprintf(os.Stdout, "ack %d %d\n", w, i)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	t.Error("child was not killed within a minute")
}
