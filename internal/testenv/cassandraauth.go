package testenv

// Environment variables of the single-auth Cassandra node started by
// `scripts/cassandra.sh single-auth`: its own one-node cluster with
// PasswordAuthenticator, speaking CQL over TLS only and requiring a client
// certificate.
const (
	// CassandraAuth is the node's CQL address, "host:port".
	CassandraAuth = "TOLLGATE_TEST_CASSANDRA_AUTH"
	// CassandraAuthCA is the PEM file of the CA that signed the node's
	// certificate and CassandraAuthCert.
	CassandraAuthCA = "TOLLGATE_TEST_CASSANDRA_AUTH_CA"
	// CassandraAuthCert and CassandraAuthKey are the PEM client certificate
	// and key the node accepts.
	CassandraAuthCert = "TOLLGATE_TEST_CASSANDRA_AUTH_CERT"
	CassandraAuthKey  = "TOLLGATE_TEST_CASSANDRA_AUTH_KEY"
)

// The login of the single-auth node: Cassandra's default superuser, which
// the node creates at its first start.
const (
	// CassandraAuthUser is the role name.
	CassandraAuthUser = "cassandra"
	// CassandraAuthPassword is its password.
	CassandraAuthPassword = "cassandra"
)
