package cassandra

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"

	"github.com/gocql/gocql"
)

// secure sets the login and the TLS of o on cluster.
func secure(cluster *gocql.ClusterConfig, o *Options) {
	if o.Username != "" {
		cluster.Authenticator = gocql.PasswordAuthenticator{Username: o.Username, Password: o.Password}
	}
	if o.TLS != nil {
		// gocql verifies the node's certificate against its address when
		// ServerName is empty.
		cluster.SslOpts = &gocql.SslOptions{Config: o.TLS, EnableHostVerification: true}
	}
}

// connectError is Open's error when no session could be made, with a hint
// that fits the cause: the login, the TLS settings, or the hosts. The
// driver's error texts name the user, never the password.
func connectError(o *Options, err error) error {
	var verify *tls.CertificateVerificationError
	var unknown x509.UnknownAuthorityError
	var name x509.HostnameError
	msg := err.Error()
	hint := "check the hosts and that Cassandra's native transport is up"
	switch {
	case strings.Contains(msg, "username") || strings.Contains(msg, "authentication") || strings.Contains(msg, "Authenticator"):
		hint = "check Options.Username and Password: the cluster refused them or needs them"
	case errors.As(err, &verify), errors.As(err, &unknown), errors.As(err, &name), strings.Contains(msg, "x509: "): // gocql drops the type
		hint = "the node's certificate does not verify: check the CA bundle and server name of Options.TLS"
	case strings.Contains(msg, "tls: "):
		hint = "the TLS handshake failed: check the client certificate of Options.TLS and that the nodes take TLS on this port"
	}
	return fmt.Errorf("counter/cassandra: cannot connect to %v (port %d): %w (%s)", o.Hosts, o.Port, err, hint)
}
