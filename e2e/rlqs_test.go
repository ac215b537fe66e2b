package e2e

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/testenv"
)

// rlqsRules are the quickstart domain's rules for the RLQS tests: the
// buckets of examples/envoy/rlqs.yaml are {tenant, path}.
const rlqsRules = `domain: quickstart
descriptors:
  - key: tenant
    descriptors:
      - key: path
        value: /limited
        rate_limit: {unit: second, requests_per_unit: 100}
      - key: path
        value: /daily
        rate_limit: {unit: day, requests_per_unit: 300}
`

// startRLQSSidecar runs Tollgate on rlqsRules with extra flags.
func startRLQSSidecar(t *testing.T, extra ...string) *sidecar {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "rules.yaml"), []byte(rlqsRules), 0o644); err != nil {
		t.Fatal(err)
	}
	return startSidecar(t, append([]string{"--ratelimit-config", dir}, extra...)...)
}

// startRLQSEnvoy runs examples/envoy/rlqs.yaml as users copy it, ports
// changed, in front of up and s.
func startRLQSEnvoy(t *testing.T, up *upstream, s *sidecar) string {
	t.Helper()
	return startEnvoyFrom(t, "examples/envoy/rlqs.yaml", up, s)
}

// load is what an offered load got back.
type load struct {
	ok, limited, other atomic.Int64
	// dropped counts requests not sent because every worker was busy (the
	// box too loaded to offer the rate).
	dropped atomic.Int64
	// okAt records the time of each admitted request, for windows.
	mu   sync.Mutex
	okAt []time.Time
}

func (l *load) admittedBetween(from, to time.Time) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, at := range l.okAt {
		if !at.Before(from) && at.Before(to) {
			n++
		}
	}
	return n
}

// offer sends rate requests per second to base+path with x-tenant-id for
// dur, paced evenly, and counts the answers in l.
func offer(t *testing.T, base, tenant, path string, rate int, dur time.Duration, l *load) {
	t.Helper()
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	defer tr.CloseIdleConnections()
	cl := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), dur)
	defer cancel()
	jobs := make(chan struct{}, rate)
	var wg sync.WaitGroup
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range jobs {
				req, _ := http.NewRequest(http.MethodGet, base+path, nil)
				req.Header.Set("x-tenant-id", tenant)
				resp, err := cl.Do(req)
				if err != nil {
					l.other.Add(1)
					continue
				}
				resp.Body.Close()
				switch resp.StatusCode {
				case 200:
					l.ok.Add(1)
					l.mu.Lock()
					l.okAt = append(l.okAt, time.Now())
					l.mu.Unlock()
				case 429:
					l.limited.Add(1)
				default:
					l.other.Add(1)
				}
			}
		}()
	}
	interval := time.Second / time.Duration(rate)
	next := time.Now()
	for ctx.Err() == nil {
		select {
		case jobs <- struct{}{}:
		default: // the workers are behind: drop rather than queue
			l.dropped.Add(1)
		}
		next = next.Add(interval)
		if d := time.Until(next); d > 0 {
			time.Sleep(d)
		}
	}
	close(jobs)
	wg.Wait()
}

// within fails unless got is within frac of want.
func within(t *testing.T, what string, got, want int64, frac float64) {
	t.Helper()
	if math.Abs(float64(got-want)) > frac*float64(want) {
		t.Errorf("%s = %d, want %d ± %.0f%%", what, got, want, frac*100)
	} else {
		t.Logf("%s = %d (want %d ± %.0f%%)", what, got, want, frac*100)
	}
}

// TestRLQSOneEnvoy: a limit of 100/s, 400/s offered for 10 s through one
// Envoy: Envoy admits the limit (plus the burst of the first assignment,
// one reporting interval of it) and answers the rest 429 itself.
func TestRLQSOneEnvoy(t *testing.T) {
	s := startRLQSSidecar(t)
	up := startUpstream(t)
	base := startRLQSEnvoy(t, up, s)
	var l load
	offer(t, base, "acme", "/limited", 400, 10*time.Second, &l)
	within(t, "admitted", l.ok.Load(), 100*10+100, 0.10)
	if l.other.Load() != 0 {
		t.Errorf("%d answers neither 200 nor 429", l.other.Load())
	}
	if n, _, _ := up.served(); int64(n) != l.ok.Load() {
		t.Errorf("upstream served %d, clients got %d × 200", n, l.ok.Load())
	}
	if got := s.metric(t, "tollgate_rlqs_assignments_total", `action="token_bucket"`); got < 1 {
		t.Errorf("no token bucket assigned (tollgate_rlqs_assignments_total %v)", got)
	}
}

// TestRLQSTwoEnvoys: two Envoys share one bucket's limit of 100/s, offered
// 1:1 and 1:4: together they admit the limit, and each at least its fair
// share (half, as both ask for more than half).
func TestRLQSTwoEnvoys(t *testing.T) {
	for _, c := range []struct{ a, b int }{{150, 150}, {80, 320}} {
		t.Run(fmt.Sprintf("%d:%d", c.a, c.b), func(t *testing.T) {
			s := startRLQSSidecar(t)
			up := startUpstream(t)
			baseA, baseB := startRLQSEnvoy(t, up, s), startRLQSEnvoy(t, up, s)
			const secs = 10
			var la, lb load
			var wg sync.WaitGroup
			wg.Add(2)
			go func() { defer wg.Done(); offer(t, baseA, "acme", "/limited", c.a, secs*time.Second, &la) }()
			go func() { defer wg.Done(); offer(t, baseB, "acme", "/limited", c.b, secs*time.Second, &lb) }()
			wg.Wait()
			for name, l := range map[string]*load{"A": &la, "B": &lb} {
				t.Logf("Envoy %s: %d admitted, %d limited, %d other, %d not offered (workers busy)", name, l.ok.Load(), l.limited.Load(), l.other.Load(), l.dropped.Load())
			}
			// Each Envoy's first assignment comes with a burst of one interval.
			within(t, "admitted by both", la.ok.Load()+lb.ok.Load(), 100*secs+100, 0.10)
			for name, got := range map[string]int64{"A": la.ok.Load(), "B": lb.ok.Load()} {
				if fair := int64(0.9 * 50 * secs); got < fair {
					t.Errorf("Envoy %s admitted %d, under its fair share %d", name, got, fair)
				}
			}
		})
	}
}

// TestRLQSTwoTollgatesOneRedis: two Tollgates share a Redis; one Envoy
// each, both on one bucket: together they stay within the global limit.
func TestRLQSTwoTollgatesOneRedis(t *testing.T) {
	redis := testenv.Addrs(t, testenv.RedisSingle)[0]
	flags := []string{"--backend", "redis", "--redis-url", "redis://" + redis}
	s1, s2 := startRLQSSidecar(t, flags...), startRLQSSidecar(t, flags...)
	up := startUpstream(t)
	baseA, baseB := startRLQSEnvoy(t, up, s1), startRLQSEnvoy(t, up, s2)
	tenant := fmt.Sprintf("redis-%d", time.Now().UnixNano()) // fresh pools in a shared Redis
	const secs = 20
	var la, lb load
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); offer(t, baseA, tenant, "/limited", 200, secs*time.Second, &la) }()
	go func() { defer wg.Done(); offer(t, baseB, tenant, "/limited", 200, secs*time.Second, &lb) }()
	wg.Wait()
	// Until a replica has seen the other's demand (its first report, 5 s)
	// it assigns its Envoy the whole limit: the first interval counts twice.
	within(t, "admitted through both Tollgates", la.ok.Load()+lb.ok.Load(), 100*secs+100*5, 0.10)
}

// TestRLQSDailyQuotaRunsOut: a quota of 300 a day shared by two Envoys:
// once spent, both answer 429 within two reporting intervals.
func TestRLQSDailyQuotaRunsOut(t *testing.T) {
	s := startRLQSSidecar(t)
	up := startUpstream(t)
	baseA, baseB := startRLQSEnvoy(t, up, s), startRLQSEnvoy(t, up, s)
	start := time.Now()
	var la, lb load
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); offer(t, baseA, "acme", "/daily", 100, 14*time.Second, &la) }()
	go func() { defer wg.Done(); offer(t, baseB, "acme", "/daily", 100, 14*time.Second, &lb) }()
	wg.Wait()
	within(t, "admitted of a quota of 300", la.ok.Load()+lb.ok.Load(), 300, 0.10)
	// Two reports (10 s) after the start the quota is known spent.
	cut := start.Add(11 * time.Second)
	if late := la.admittedBetween(cut, start.Add(time.Hour)) + lb.admittedBetween(cut, start.Add(time.Hour)); late != 0 {
		t.Errorf("%d requests admitted more than two reporting intervals after the quota ran out", late)
	}
	if got := s.metric(t, "tollgate_rlqs_assignments_total", `action="deny_all"`); got < 2 {
		t.Errorf("deny_all sent %v times, want every Envoy told (≥ 2)", got)
	}
}

// TestRLQSTollgateKilled: Tollgate killed mid-run: Envoy keeps enforcing the
// last assignment for its time to live (15 s), then falls back as the
// example says (ALLOW_ALL) and serves; Tollgate back on the same address:
// Envoy reconnects at its next report and assignments resume.
func TestRLQSTollgateKilled(t *testing.T) {
	s := startRLQSSidecar(t)
	up := startUpstream(t)
	base := startRLQSEnvoy(t, up, s)
	var l load
	done := make(chan struct{})
	go func() { defer close(done); offer(t, base, "acme", "/limited", 300, 40*time.Second, &l) }()
	time.Sleep(3 * time.Second)
	killed := time.Now()
	s.stop(t, syscall.SIGKILL)
	time.Sleep(22 * time.Second)
	restarted := time.Now()
	s.start(t)
	<-done
	rate := func(from, to time.Time) int64 {
		return int64(float64(l.admittedBetween(from, to)) / to.Sub(from).Seconds())
	}
	within(t, "admitted/s while the last assignment lived", rate(killed.Add(time.Second), killed.Add(12*time.Second)), 100, 0.15)
	within(t, "admitted/s after it expired (fallback ALLOW_ALL)", rate(killed.Add(17*time.Second), restarted), 300, 0.15)
	// Envoy reconnects at its next report (≤ 5 s), then the assignment holds.
	within(t, "admitted/s after Tollgate came back", rate(restarted.Add(7*time.Second), restarted.Add(14*time.Second)), 100, 0.15)
	if got := s.metric(t, "tollgate_rlqs_streams"); got != 1 {
		t.Errorf("tollgate_rlqs_streams = %v after the restart, want 1 (Envoy reconnected)", got)
	}
}

// TestRLQSMeter: the quickstart's mesh_requests meter, fed by the reports
// of an Envoy enforcing RLQS, equals the requests the app served, exactly.
func TestRLQSMeter(t *testing.T) {
	s := startRLQSSidecar(t)
	up := startUpstream(t)
	base := startRLQSEnvoy(t, up, s)
	var l load
	offer(t, base, "acme", "/limited", 200, 6*time.Second, &l)
	served, _, _ := up.served()
	if served == 0 || int64(served) != l.ok.Load() {
		t.Fatalf("upstream served %d, clients got %d × 200", served, l.ok.Load())
	}
	// Envoy reports every 5 s: the last requests arrive with its next report.
	eventually(t, 15*time.Second, func() string {
		if got := s.usage(t, "mesh_requests", "acme"); got != int64(served) {
			return fmt.Sprintf("mesh_requests = %d, want %d (the requests the app served)", got, served)
		}
		return ""
	})
}
