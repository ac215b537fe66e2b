package faults

import (
	"fmt"
	"net"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/sidecartest"
	"github.com/tollgate/tollgate/internal/testenv"
)

// redisNode is a private redis-server on a fixed port and directory, which
// start after stop keeps (a cluster node finds its nodes.conf there again).
type redisNode struct {
	addr string
	args []string
	cmd  *exec.Cmd
}

// newRedisNode starts a redis-server on a free port and a fresh directory,
// with extra arguments, and kills it when the test ends.
func newRedisNode(t *testing.T, extra ...string) *redisNode {
	t.Helper()
	testenv.Addrs(t, testenv.RedisSingle) // make test starts Redis (and installs it)
	addr := sidecartest.FreeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	n := &redisNode{addr: addr, args: append([]string{"--bind", "127.0.0.1", "--port", port,
		"--save", "", "--appendonly", "no", "--dir", t.TempDir()}, extra...)}
	t.Cleanup(n.stop)
	n.start(t)
	return n
}

// start runs the server and waits until it answers PING.
func (n *redisNode) start(t *testing.T) {
	t.Helper()
	n.cmd = exec.Command("redis-server", n.args...)
	if err := n.cmd.Start(); err != nil {
		t.Fatalf("redis-server: %v", err)
	}
	sidecartest.Eventually(t, 5*time.Second, func() string {
		if out, err := redisCLI(n.addr, "ping"); out != "PONG" {
			return fmt.Sprintf("redis-server %s: ping: %q %v", n.addr, out, err)
		}
		return ""
	})
}

// stop kills the server (resuming it first if it was frozen) and waits for
// it to exit; it does nothing when the server is not running.
func (n *redisNode) stop() {
	if n.cmd == nil {
		return
	}
	_ = n.cmd.Process.Signal(syscall.SIGCONT)
	_ = n.cmd.Process.Kill()
	_ = n.cmd.Wait()
	n.cmd = nil
}

// signal sends sig to the running server.
func (n *redisNode) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := n.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
}

// redisCLI runs redis-cli against addr and returns its trimmed output.
func redisCLI(addr string, args ...string) (string, error) {
	host, port, _ := net.SplitHostPort(addr)
	out, err := exec.Command("redis-cli", append([]string{"-h", host, "-p", port}, args...)...).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// redisCluster starts three private masters with no replicas and joins
// them into a Redis Cluster whose every node reports cluster_state:ok.
func redisCluster(t *testing.T) []*redisNode {
	t.Helper()
	nodes := make([]*redisNode, 3)
	addrs := make([]string, len(nodes))
	for i := range nodes {
		nodes[i] = newRedisNode(t, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf")
		addrs[i] = nodes[i].addr
	}
	host, port, _ := net.SplitHostPort(addrs[0])
	create := append([]string{"-h", host, "-p", port, "--cluster", "create"}, addrs...)
	if out, err := exec.Command("redis-cli", append(create, "--cluster-replicas", "0", "--cluster-yes")...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	for _, n := range nodes {
		sidecartest.Eventually(t, 10*time.Second, func() string { return clusterOK(n) })
	}
	return nodes
}

// clusterOK returns "" when n reports cluster_state:ok, which a restarted
// master does only once it has rejoined the cluster and serves its slots.
func clusterOK(n *redisNode) string {
	out, err := redisCLI(n.addr, "cluster", "info")
	if !strings.Contains(out, "cluster_state:ok") {
		return fmt.Sprintf("%s: cluster info: %.40q %v", n.addr, out, err)
	}
	return ""
}
