package redis

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/tollgate/tollgate/internal/testenv"
)

// modes maps each mode to the environment variable naming its servers.
var modes = []struct {
	mode Mode
	env  string
}{
	{ModeSingle, testenv.RedisSingle},
	{ModeRing, testenv.RedisRing},
	{ModeCluster, testenv.RedisCluster},
}

// newStore returns a Store on the test servers of mode, closed at cleanup.
// The key prefix is unique to the run so earlier runs never interfere.
func newStore(t testing.TB, mode Mode, env string, opts Options) *Store {
	t.Helper()
	opts.Mode, opts.Addrs = mode, testenv.Addrs(t, env)
	if opts.KeyPrefix == "" {
		opts.KeyPrefix = fmt.Sprintf("tollgate-test:%d:", time.Now().UnixNano())
	}
	if opts.Timeout == 0 {
		opts.Timeout = 2 * time.Second // generous: a loaded CI box must not flake
	}
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// server is a redis-server a test started on its own port.
type server struct {
	t    testing.TB
	port int
	dir  string
	cmd  *exec.Cmd
}

// freePort returns a loopback port nothing listens on right now.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	return port
}

// startServer runs a private redis-server on a free loopback port; it is
// killed at cleanup. It needs the same environment as the shared servers.
func startServer(t testing.TB) *server {
	t.Helper()
	testenv.Addrs(t, testenv.RedisSingle)
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatalf("redis-server is not installed: %v (run `bash scripts/redis.sh up`, which installs it)", err)
	}
	s := &server{t: t, port: freePort(t), dir: t.TempDir()}
	s.start()
	t.Cleanup(s.stop)
	return s
}

func (s *server) addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

func (s *server) start() {
	s.t.Helper()
	s.cmd = exec.Command("redis-server", "--bind", "127.0.0.1", "--port", strconv.Itoa(s.port),
		"--save", "", "--appendonly", "no", "--dir", s.dir, "--loglevel", "warning")
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	for range 200 {
		if s.ping() == nil {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.t.Fatalf("redis-server on %s did not answer PING within 2s", s.addr())
}

func (s *server) ping() error {
	c, err := net.DialTimeout("tcp", s.addr(), 100*time.Millisecond)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+PONG") {
		return fmt.Errorf("got %q", line)
	}
	return nil
}

func (s *server) stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

// client returns a plain go-redis client to the server, for test control
// commands (CLIENT PAUSE, INFO, GET).
func (s *server) client() *goredis.Client {
	c := goredis.NewClient(&goredis.Options{Addr: s.addr()})
	s.t.Cleanup(func() { _ = c.Close() })
	return c
}

// connectionsReceived reads total_connections_received from INFO stats.
func connectionsReceived(t testing.TB, c *goredis.Client) int {
	t.Helper()
	info, err := c.Info(context.Background(), "stats").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, "total_connections_received:"); ok {
			n, err := strconv.Atoi(v)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("INFO stats has no total_connections_received:\n%s", info)
	return 0
}
