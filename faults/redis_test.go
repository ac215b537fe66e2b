package faults

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	commonrl "github.com/envoyproxy/go-control-plane/envoy/extensions/common/ratelimit/v3"
	rlsv3 "github.com/envoyproxy/go-control-plane/envoy/service/ratelimit/v3"

	"github.com/tollgate/tollgate/internal/sidecartest"
	"github.com/tollgate/tollgate/internal/testenv"
)

// redisServer starts a private redis-server on a free port.
func redisServer(t *testing.T) (*exec.Cmd, string) {
	t.Helper()
	testenv.Addrs(t, testenv.RedisSingle) // make test starts Redis (and installs it)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command("redis-server", "--bind", "127.0.0.1", "--port", strconv.Itoa(port), "--save", "", "--appendonly", "no", "--dir", t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Fatalf("redis-server: %v", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Signal(syscall.SIGCONT); _ = cmd.Process.Kill(); _ = cmd.Wait() })
	addr := "127.0.0.1:" + strconv.Itoa(port)
	sidecartest.Eventually(t, 5*time.Second, func() string {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return err.Error()
		}
		c.Close()
		return ""
	})
	return cmd, addr
}

// TestRedisFrozenUnderLoad: Redis frozen (SIGSTOP) while 8 callers ask for
// rate-limit decisions: every decision comes within redis.timeout + 5 ms
// at p99, answered by the failure mode (fail_open: OK), /readyz says not
// ready; Redis resumed: decisions and /readyz are back within 2 s.
func TestRedisFrozenUnderLoad(t *testing.T) {
	redis, addr := redisServer(t)
	const timeout = 50 * time.Millisecond
	p := sidecartest.Start(t, sidecarBin, quickstart, "--backend", "redis", "--redis-url", "redis://"+addr,
		"--redis-timeout", timeout.String(), "--failure-mode", "fail_open")
	conn := grpcConn(t, p)
	defer conn.Close()
	client := rlsv3.NewRateLimitServiceClient(conn)
	decide := func(i int) (time.Duration, rlsv3.RateLimitResponse_Code, error) {
		start := time.Now()
		resp, err := client.ShouldRateLimit(context.Background(), &rlsv3.RateLimitRequest{Domain: "quickstart",
			Descriptors: []*commonrl.RateLimitDescriptor{{Entries: []*commonrl.RateLimitDescriptor_Entry{{Key: "remote_address", Value: fmt.Sprint("10.0.", i/250, ".", i%250)}}}}})
		return time.Since(start), resp.GetOverallCode(), err
	}
	run := func(d time.Duration) (lat []time.Duration, codes map[rlsv3.RateLimitResponse_Code]int) {
		var mu sync.Mutex
		codes = map[rlsv3.RateLimitResponse_Code]int{}
		var wg sync.WaitGroup
		end := time.Now().Add(d)
		for w := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; time.Now().Before(end); i++ {
					l, code, err := decide(w*100000 + i)
					if err != nil {
						t.Errorf("decision failed: %v", err)
						return
					}
					mu.Lock()
					lat, codes[code] = append(lat, l), codes[code]+1
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		slices.Sort(lat)
		return lat, codes
	}
	if _, codes := run(500 * time.Millisecond); codes[rlsv3.RateLimitResponse_OK] == 0 {
		t.Fatalf("healthy Redis: %v", codes)
	}
	if err := redis.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	lat, codes := run(2 * time.Second)
	p99 := lat[len(lat)*99/100]
	t.Logf("Redis frozen, 8 callers: %d decisions, p50 %v, p99 %v, max %v, codes %v", len(lat), lat[len(lat)/2], p99, lat[len(lat)-1], codes)
	if p99 > timeout+5*time.Millisecond {
		t.Errorf("p99 %v over redis.timeout %v + 5 ms", p99, timeout)
	}
	if codes[rlsv3.RateLimitResponse_OK] != len(lat) {
		t.Errorf("codes %v, want every decision OK (fail_open)", codes)
	}
	if resp, err := http.Get("http://" + p.HTTP + "/readyz"); err != nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("/readyz with Redis frozen: %v %v, want 503", resp.StatusCode, err)
	} else {
		resp.Body.Close()
	}
	if err := redis.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	resumed := time.Now()
	sidecartest.Eventually(t, 2*time.Second, func() string {
		resp, err := http.Get("http://" + p.HTTP + "/readyz")
		if err != nil {
			return err.Error()
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Sprintf("/readyz %d", resp.StatusCode)
		}
		if p.Metric(t, "tollgate_redis_breaker_state") != 0 {
			return "breaker not closed"
		}
		return ""
	})
	t.Logf("back to normal %v after Redis resumed", time.Since(resumed).Round(time.Millisecond))
}
