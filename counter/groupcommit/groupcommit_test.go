package groupcommit

import (
	"errors"
	"sync"
	"testing"
	"time"
)

// blockingCommit records each commit's submissions; the first commit waits
// until release is closed, so later submissions queue up behind it.
type blockingCommit struct {
	mu      sync.Mutex
	commits [][][]int
	started chan struct{}
	release chan struct{}
	err     error
	// released is set once the first commit got past release.
	released bool
}

func newBlockingCommit() *blockingCommit {
	return &blockingCommit{started: make(chan struct{}), release: make(chan struct{})}
}

func (b *blockingCommit) commit(subs [][]int) error {
	b.mu.Lock()
	first := len(b.commits) == 0
	cp := make([][]int, len(subs))
	copy(cp, subs)
	b.commits = append(b.commits, cp)
	b.mu.Unlock()
	if first {
		close(b.started)
		<-b.release
		b.mu.Lock()
		b.released = true
		b.mu.Unlock()
	}
	return b.err
}

// waitQueued waits until n submissions wait in g's queue.
func waitQueued(t *testing.T, g *Group[int], n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for len(g.reqs) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d submissions queued after 5s, want %d", len(g.reqs), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// submitBehindFirst submits []int{0}, waits until its commit blocks in bc,
// submits n more of two items each concurrently, waits until they are all
// queued, releases the commit and returns the errors of the 1 + n Submits.
func submitBehindFirst(t *testing.T, g *Group[int], bc *blockingCommit, n int) []error {
	t.Helper()
	var wg sync.WaitGroup
	errs := make([]error, 1+n)
	wg.Go(func() { errs[0] = g.Submit([]int{0}) })
	<-bc.started
	for i := 1; i <= n; i++ {
		wg.Go(func() { errs[i] = g.Submit([]int{i, i}) })
	}
	waitQueued(t, g, n)
	close(bc.release)
	wg.Wait()
	return errs
}

func TestWaitingSubmissionsShareOneCommit(t *testing.T) {
	bc := newBlockingCommit()
	g := Start(1, 100, bc.commit)
	defer g.Close()
	errs := submitBehindFirst(t, g, bc, 5)
	for i, err := range errs {
		if err != nil {
			t.Errorf("Submit %d: %v", i, err)
		}
	}
	if len(bc.commits) != 2 || len(bc.commits[0]) != 1 || len(bc.commits[1]) != 5 {
		t.Fatalf("commits = %v, want one of 1 submission then one of the 5 that waited", bc.commits)
	}
	items := 0
	for _, s := range bc.commits[1] {
		items += len(s)
	}
	if items != 10 {
		t.Fatalf("second commit has %d items, want 10", items)
	}
}

func TestMaxItemsBoundsACommit(t *testing.T) {
	bc := newBlockingCommit()
	g := Start(1, 4, bc.commit)
	defer g.Close()
	submitBehindFirst(t, g, bc, 4)
	// 4 submissions of 2 items with at most 4 items a commit: 2 commits of 2.
	if len(bc.commits) != 3 || len(bc.commits[1]) != 2 || len(bc.commits[2]) != 2 {
		t.Fatalf("commits = %v, want 1 submission, then 2 and 2", bc.commits)
	}
}

func TestCommitErrorReachesEverySubmission(t *testing.T) {
	bc := newBlockingCommit()
	bc.err = errors.New("disk full")
	g := Start(2, 100, bc.commit)
	defer g.Close()
	var wg sync.WaitGroup
	errs := make([]error, 3)
	wg.Go(func() { errs[0] = g.Submit([]int{0}) })
	<-bc.started
	close(bc.release)
	for i := 1; i < 3; i++ {
		wg.Go(func() { errs[i] = g.Submit([]int{i}) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != bc.err {
			t.Errorf("Submit %d = %v, want %v", i, err, bc.err)
		}
	}
}

func TestCloseWaitsForCommitsThenRefuses(t *testing.T) {
	bc := newBlockingCommit()
	g := Start(1, 100, bc.commit)
	submitted := make(chan error, 1)
	go func() { submitted <- g.Submit([]int{1}) }()
	<-bc.started
	// closed receives, when Close returns, whether the in-flight commit had
	// finished by then.
	closed := make(chan bool, 1)
	go func() {
		g.Close()
		bc.mu.Lock()
		closed <- bc.released
		bc.mu.Unlock()
	}()
	// Once Close has refused new submissions, let the commit finish.
	refusing := func() bool {
		g.mu.RLock()
		defer g.mu.RUnlock()
		return g.closed
	}
	for deadline := time.Now().Add(5 * time.Second); !refusing(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("Close did not refuse submissions within 5s")
		}
	}
	close(bc.release)
	if !<-closed {
		t.Fatal("Close returned while a commit was in flight")
	}
	if err := <-submitted; err != nil {
		t.Fatalf("Submit in flight during Close = %v, want nil", err)
	}
	if err := g.Submit([]int{2}); err != ErrClosed {
		t.Fatalf("Submit after Close = %v, want ErrClosed", err)
	}
	g.Close() // a second Close does nothing
}
