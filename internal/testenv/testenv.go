// Package testenv tells integration tests where the real backends started by
// `make test` listen, and makes a missing backend fail the test under
// `make test` (TOLLGATE_REQUIRE_BACKENDS=1) instead of skipping it.
package testenv

import (
	"os"
	"strings"
	"testing"
)

// Environment variables `make test` sets: scripts/test.sh exports what
// scripts/redis.sh env and scripts/cassandra.sh env print.
const (
	// RedisSingle is one redis-server, "host:port".
	RedisSingle = "TOLLGATE_TEST_REDIS_SINGLE"
	// RedisRing is three independent redis-servers, "host:port,host:port,host:port".
	RedisRing = "TOLLGATE_TEST_REDIS_RING"
	// RedisCluster is a three-master Redis Cluster, "host:port,host:port,host:port".
	RedisCluster = "TOLLGATE_TEST_REDIS_CLUSTER"
	// Cassandra is the CQL address of node 1 (dc1), "host:port".
	Cassandra = "TOLLGATE_TEST_CASSANDRA"
	// CassandraDC2 is the CQL address of node 2 (dc2) of the same cluster, "host:port".
	CassandraDC2 = "TOLLGATE_TEST_CASSANDRA_DC2"
	// Require makes a missing backend a test failure instead of a skip.
	Require = "TOLLGATE_REQUIRE_BACKENDS"
)

// Addrs returns the comma-separated addresses in the environment variable
// name. When it is unset the test fails if TOLLGATE_REQUIRE_BACKENDS=1 and is
// skipped otherwise.
func Addrs(t testing.TB, name string) []string {
	t.Helper()
	v := strings.TrimSpace(os.Getenv(name))
	if v == "" {
		if os.Getenv(Require) == "1" {
			t.Fatalf("%s is not set: the backend this test needs was not started (run `make test`, which starts it)", name)
		}
		t.Skipf("%s is not set; run `make test` to start the real backend", name)
	}
	return strings.Split(v, ",")
}
