package testenv

import "testing"

// Environment variables of the TLS and ACL Redis servers started by
// scripts/redis.sh (see its header for the layout).
const (
	// RedisTLS is a TLS-only redis-server that requires a client
	// certificate, "host:port".
	RedisTLS = "TOLLGATE_TEST_REDIS_TLS"
	// RedisTLSRing is two such servers for a ring, "host:port,host:port".
	RedisTLSRing = "TOLLGATE_TEST_REDIS_TLS_RING"
	// RedisTLSCluster is a three-master Redis Cluster over TLS (cluster bus
	// included), "host:port,host:port,host:port".
	RedisTLSCluster = "TOLLGATE_TEST_REDIS_TLS_CLUSTER"
	// RedisTLSCA is the PEM file of the CA that signed the TLS servers'
	// certificates and RedisTLSCert.
	RedisTLSCA = "TOLLGATE_TEST_REDIS_TLS_CA"
	// RedisTLSCert and RedisTLSKey are the PEM client certificate and key
	// the TLS servers accept.
	RedisTLSCert = "TOLLGATE_TEST_REDIS_TLS_CERT"
	RedisTLSKey  = "TOLLGATE_TEST_REDIS_TLS_KEY"
	// RedisACL is a plain-TCP redis-server whose default user is off: only
	// RedisACLUser may log in, "host:port".
	RedisACL = "TOLLGATE_TEST_REDIS_ACL"
)

// The ACL user every TLS and ACL test server has, with every permission;
// scripts/redis.sh sets the same.
const (
	// RedisACLUser is the ACL user name.
	RedisACLUser = "tollgate"
	// RedisACLPassword is RedisACLUser's password.
	RedisACLPassword = "tollgate-test-password"
)

// Path returns the file path in the environment variable name, failing or
// skipping the test like Addrs when it is unset.
func Path(t testing.TB, name string) string {
	t.Helper()
	v := Addrs(t, name)
	if len(v) != 1 {
		t.Fatalf("%s holds %d comma-separated values, want one file path", name, len(v))
	}
	return v[0]
}
