package faults

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	commonrl "github.com/envoyproxy/go-control-plane/envoy/extensions/common/ratelimit/v3"
	rlsv3 "github.com/envoyproxy/go-control-plane/envoy/service/ratelimit/v3"

	"github.com/tollgate/tollgate/internal/sidecartest"
)

// redisTimeout is the sidecar's redis.timeout in these scenarios; the issue
// bounds a decision's p99 by it plus 5 ms.
const redisTimeout = 50 * time.Millisecond

// recoveryBound is how soon after Redis returns decisions must come from it again.
const recoveryBound = 2 * time.Second

// callers is how many RLS callers run concurrently, as Envoy workers would.
const callers = 8

// rlsRequest asks for a decision on one remote_address descriptor per
// value, in the quickstart domain (5 a minute per client).
func rlsRequest(values ...string) *rlsv3.RateLimitRequest {
	req := &rlsv3.RateLimitRequest{Domain: "quickstart"}
	for _, v := range values {
		req.Descriptors = append(req.Descriptors, &commonrl.RateLimitDescriptor{
			Entries: []*commonrl.RateLimitDescriptor_Entry{{Key: "remote_address", Value: v}}})
	}
	return req
}

// figures are the decisions of one load run.
type figures struct {
	lat   []time.Duration // sorted
	codes map[rlsv3.RateLimitResponse_Code]int
}

func (f figures) p99() time.Duration { return f.lat[len(f.lat)*99/100] }

func (f figures) String() string {
	return fmt.Sprintf("%d decisions, p50 %v, p99 %v, max %v, codes %v",
		len(f.lat), f.lat[len(f.lat)/2], f.p99(), f.lat[len(f.lat)-1], f.codes)
}

// underLoad has 8 callers ask for decisions for d, each on a client of its
// own (test/tag/caller/call), so the keys are fresh and spread over every
// slot of a cluster. A failed call fails the test.
func underLoad(t *testing.T, rls rlsv3.RateLimitServiceClient, tag string, d time.Duration) figures {
	t.Helper()
	f := figures{codes: map[rlsv3.RateLimitResponse_Code]int{}}
	var mu sync.Mutex
	var errs []error
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	load(ctx, callers, func(w, i int) {
		start := time.Now()
		resp, err := rls.ShouldRateLimit(context.Background(), rlsRequest(fmt.Sprintf("%s/%s/%d/%d", t.Name(), tag, w, i)))
		l := time.Since(start)
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			errs = append(errs, err)
			return
		}
		f.lat = append(f.lat, l)
		f.codes[resp.GetOverallCode()]++
	})
	if len(errs) > 0 {
		t.Fatalf("%d decisions failed, the first: %v", len(errs), errs[0])
	}
	if len(f.lat) == 0 {
		t.Fatalf("no decision in %v", d)
	}
	slices.Sort(f.lat)
	return f
}

// checkP99 fails the test when f's p99 is over redis.timeout + 5 ms.
func checkP99(t *testing.T, f figures) {
	t.Helper()
	if p99 := f.p99(); p99 > redisTimeout+5*time.Millisecond {
		t.Errorf("p99 %v over redis.timeout %v + 5 ms", p99, redisTimeout)
	}
}

// decisions returns the sidecar's count of decisions with code (ok,
// over_limit, fail_open, fail_closed).
func decisions(t *testing.T, p *sidecartest.Process, code string) int {
	t.Helper()
	return int(p.Metric(t, "tollgate_ratelimit_decisions_total", `code="`+code+`"`))
}

// readyz returns /readyz's status code.
func readyz(t *testing.T, p *sidecartest.Process) int {
	t.Helper()
	resp, err := http.Get("http://" + p.HTTP + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// fromRedis returns "" when decisions come from Redis again: /readyz
// answers 200, the breaker is closed, and 64 fresh clients are allowed 5
// times and limited the 6th, which neither failure mode answers. Each call
// takes fresh clients (test/tag/n).
func fromRedis(t *testing.T, p *sidecartest.Process, rls rlsv3.RateLimitServiceClient, tag string, n *int) string {
	t.Helper()
	if code := readyz(t, p); code != http.StatusOK {
		return fmt.Sprintf("/readyz %d", code)
	}
	if s := p.Metric(t, "tollgate_redis_breaker_state"); s != 0 {
		return fmt.Sprintf("tollgate_redis_breaker_state %v", s)
	}
	*n++
	values := make([]string, 64)
	for i := range values {
		values[i] = fmt.Sprintf("%s/%s/%d/%d", t.Name(), tag, *n, i)
	}
	for call := 1; call <= 6; call++ {
		resp, err := rls.ShouldRateLimit(context.Background(), rlsRequest(values...))
		if err != nil {
			return err.Error()
		}
		want := rlsv3.RateLimitResponse_OK
		if call == 6 {
			want = rlsv3.RateLimitResponse_OVER_LIMIT
		}
		for i, st := range resp.GetStatuses() {
			if st.GetCode() != want {
				return fmt.Sprintf("call %d, client %s: %v, want %v", call, values[i], st.GetCode(), want)
			}
		}
	}
	return ""
}

// backWithin polls fromRedis for 10 s and returns how long after returned
// decisions came from Redis again.
func backWithin(t *testing.T, p *sidecartest.Process, rls rlsv3.RateLimitServiceClient, tag string, returned time.Time) time.Duration {
	t.Helper()
	var n int
	sidecartest.Eventually(t, 10*time.Second, func() string { return fromRedis(t, p, rls, tag, &n) })
	return time.Since(returned)
}

// checkFailClosed fails the test unless one decision with the backend down
// is the fail_closed answer: OVER_LIMIT overall and for the descriptor, at
// its limit (5 a minute) with none remaining.
func checkFailClosed(t *testing.T, rls rlsv3.RateLimitServiceClient) {
	t.Helper()
	resp, err := rls.ShouldRateLimit(context.Background(), rlsRequest("fail-closed-probe"))
	if err != nil {
		t.Fatal(err)
	}
	st := resp.GetStatuses()
	if resp.GetOverallCode() != rlsv3.RateLimitResponse_OVER_LIMIT || len(st) != 1 ||
		st[0].GetCode() != rlsv3.RateLimitResponse_OVER_LIMIT || st[0].GetLimitRemaining() != 0 ||
		st[0].GetCurrentLimit().GetRequestsPerUnit() != 5 || st[0].GetCurrentLimit().GetUnit() != rlsv3.RateLimitResponse_RateLimit_MINUTE {
		t.Errorf("fail_closed decision with Redis down: %v, want OVER_LIMIT, descriptor OVER_LIMIT at 5/MINUTE with 0 remaining", resp)
	}
}

// redisSidecar starts the sidecar on the quickstart with Redis at addrs in
// mode, redis.timeout 50 ms and the failure mode, and returns an RLS client.
func redisSidecar(t *testing.T, mode, failureMode string, addrs ...string) (*sidecartest.Process, rlsv3.RateLimitServiceClient) {
	t.Helper()
	p := sidecartest.Start(t, sidecarBin, quickstart, "--backend", "redis", "--redis-mode", mode,
		"--redis-url", strings.Join(addrs, ","), "--redis-timeout", redisTimeout.String(), "--failure-mode", failureMode)
	conn := grpcConn(t, p)
	t.Cleanup(func() { conn.Close() })
	return p, rlsv3.NewRateLimitServiceClient(conn)
}

// warmUp runs the load on a healthy Redis and fails unless every decision is OK.
func warmUp(t *testing.T, rls rlsv3.RateLimitServiceClient) {
	t.Helper()
	if f := underLoad(t, rls, "warm", 500*time.Millisecond); f.codes[rlsv3.RateLimitResponse_OK] != len(f.lat) {
		t.Fatalf("healthy Redis: %v", f)
	}
}

// TestRedisFrozenUnderLoad: Redis frozen (SIGSTOP) while 8 callers ask for
// rate-limit decisions: every decision comes within redis.timeout + 5 ms
// at p99, answered by the failure mode (fail_open: OK), /readyz says not
// ready; Redis resumed: decisions come from it again within 2 s.
func TestRedisFrozenUnderLoad(t *testing.T) {
	redis := newRedisNode(t)
	p, rls := redisSidecar(t, "single", "fail_open", redis.addr)
	warmUp(t, rls)
	redis.signal(t, syscall.SIGSTOP)
	failOpen := decisions(t, p, "fail_open")
	f := underLoad(t, rls, "frozen", 2*time.Second)
	t.Logf("Redis frozen, %d callers: %v", callers, f)
	checkP99(t, f)
	if got := decisions(t, p, "fail_open") - failOpen; f.codes[rlsv3.RateLimitResponse_OK] != len(f.lat) || got != len(f.lat) {
		t.Errorf("codes %v, %d counted fail_open: want all %d OK from fail_open", f.codes, got, len(f.lat))
	}
	if code := readyz(t, p); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz with Redis frozen: %d, want 503", code)
	}
	redis.signal(t, syscall.SIGCONT)
	back := backWithin(t, p, rls, "back", time.Now())
	t.Logf("decisions from Redis again %v after it resumed", back.Round(time.Millisecond))
	if back > recoveryBound {
		t.Errorf("back %v after Redis resumed, want within %v", back, recoveryBound)
	}
}

// TestRedisStoppedUnderLoad: Redis killed while 8 callers ask for
// decisions, in each failure mode: p99 within redis.timeout + 5 ms, every
// decision the failure mode's (fail_open: OK; fail_closed: OVER_LIMIT, so
// Envoy answers 429), /readyz 503; Redis restarted on its port: decisions
// come from it again within 2 s.
func TestRedisStoppedUnderLoad(t *testing.T) {
	for _, tc := range []struct {
		mode string
		code rlsv3.RateLimitResponse_Code
	}{{"fail_open", rlsv3.RateLimitResponse_OK}, {"fail_closed", rlsv3.RateLimitResponse_OVER_LIMIT}} {
		t.Run(tc.mode, func(t *testing.T) {
			redis := newRedisNode(t)
			p, rls := redisSidecar(t, "single", tc.mode, redis.addr)
			warmUp(t, rls)
			redis.stop()
			failed := decisions(t, p, tc.mode)
			f := underLoad(t, rls, "stopped", 2*time.Second)
			t.Logf("Redis stopped, %s, %d callers: %v", tc.mode, callers, f)
			checkP99(t, f)
			if got := decisions(t, p, tc.mode) - failed; f.codes[tc.code] != len(f.lat) || got != len(f.lat) {
				t.Errorf("codes %v, %d counted %s: want all %d %v from %s", f.codes, got, tc.mode, len(f.lat), tc.code, tc.mode)
			}
			if tc.mode == "fail_closed" {
				checkFailClosed(t, rls)
			}
			if code := readyz(t, p); code != http.StatusServiceUnavailable {
				t.Errorf("/readyz with Redis stopped: %d, want 503", code)
			}
			redis.start(t)
			back := backWithin(t, p, rls, "back", time.Now())
			t.Logf("decisions from Redis again %v after it answered PING", back.Round(time.Millisecond))
			if back > recoveryBound {
				t.Errorf("back %v after Redis restarted, want within %v", back, recoveryBound)
			}
		})
	}
}

// checkCluster checks a load run on a cluster with one master failed, under
// fail_closed: p99 within redis.timeout + 5 ms, every decision either OK
// from Redis (a healthy master) or OVER_LIMIT from fail_closed, and some
// OVER_LIMIT (the failed master's keys cannot be answered by Redis).
func checkCluster(t *testing.T, p *sidecartest.Process, f figures, ok, failClosed, opens int) {
	t.Helper()
	ok, failClosed = decisions(t, p, "ok")-ok, decisions(t, p, "fail_closed")-failClosed
	opens = int(p.Metric(t, "tollgate_redis_breaker_opens_total")) - opens
	t.Logf("%d from Redis (healthy masters), %d from fail_closed, breaker opened %d times", ok, failClosed, opens)
	checkP99(t, f)
	if ok != f.codes[rlsv3.RateLimitResponse_OK] || failClosed != f.codes[rlsv3.RateLimitResponse_OVER_LIMIT] ||
		ok+failClosed != len(f.lat) || failClosed == 0 {
		t.Errorf("codes %v, counted %d ok and %d fail_closed: want OK from Redis and OVER_LIMIT from fail_closed, some of them", f.codes, ok, failClosed)
	}
	if code := readyz(t, p); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz with a master down: %d, want 503", code)
	}
}

// TestRedisClusterUnderLoad: a three-master Redis Cluster, one master
// frozen (SIGSTOP), then one killed and restarted on its port and
// directory, while 8 callers ask for decisions on clients spread over
// every slot, under fail_closed: p99 within redis.timeout + 5 ms, the
// failed master's decisions OVER_LIMIT (fail_closed), /readyz 503; the
// master back: decisions come from Redis again within 2 s of it serving.
// The breaker is the sidecar's, not a node's: while it is open, decisions
// on the healthy masters get the failure mode too.
func TestRedisClusterUnderLoad(t *testing.T) {
	nodes := redisCluster(t)
	addrs := []string{nodes[0].addr, nodes[1].addr, nodes[2].addr}
	failed := nodes[1]

	t.Run("frozen", func(t *testing.T) {
		p, rls := redisSidecar(t, "cluster", "fail_closed", addrs...)
		warmUp(t, rls)
		ok, fc, opens := decisions(t, p, "ok"), decisions(t, p, "fail_closed"), int(p.Metric(t, "tollgate_redis_breaker_opens_total"))
		failed.signal(t, syscall.SIGSTOP)
		f := underLoad(t, rls, "frozen", 2*time.Second)
		t.Logf("one master of 3 frozen, %d callers: %v", callers, f)
		checkCluster(t, p, f, ok, fc, opens)
		failed.signal(t, syscall.SIGCONT)
		back := backWithin(t, p, rls, "back", time.Now())
		t.Logf("decisions from Redis again %v after the master resumed", back.Round(time.Millisecond))
		if back > recoveryBound {
			t.Errorf("back %v after the master resumed, want within %v", back, recoveryBound)
		}
	})

	t.Run("stopped", func(t *testing.T) {
		p, rls := redisSidecar(t, "cluster", "fail_closed", addrs...)
		warmUp(t, rls)
		ok, fc, opens := decisions(t, p, "ok"), decisions(t, p, "fail_closed"), int(p.Metric(t, "tollgate_redis_breaker_opens_total"))
		failed.stop()
		f := underLoad(t, rls, "stopped", 2*time.Second)
		t.Logf("one master of 3 stopped, %d callers: %v", callers, f)
		checkCluster(t, p, f, ok, fc, opens)
		failed.start(t)
		started := time.Now()
		sidecartest.Eventually(t, 10*time.Second, func() string { return clusterOK(failed) })
		serving := time.Now()
		back := backWithin(t, p, rls, "back", serving)
		t.Logf("master restarted: cluster_state:ok on it %v after it answered PING; decisions from Redis again %v after that",
			serving.Sub(started).Round(time.Millisecond), back.Round(time.Millisecond))
		if back > recoveryBound {
			t.Errorf("back %v after the master served again, want within %v", back, recoveryBound)
		}
		// It lost its keys (no persistence): those it holds now are the
		// probes', so decisions on its slots came from it.
		if out, err := redisCLI(failed.addr, "dbsize"); err != nil || out == "0" {
			t.Errorf("restarted master holds %q keys (%v), want some of the probes'", out, err)
		}
	})
}
