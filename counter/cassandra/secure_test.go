package cassandra

import (
	"context"
	"crypto/tls"
	"strings"
	"testing"
	"time"

	"github.com/gocql/gocql"

	"github.com/tollgate/tollgate/counter"
	"github.com/tollgate/tollgate/internal/settings"
	"github.com/tollgate/tollgate/internal/testcerts"
	"github.com/tollgate/tollgate/internal/testenv"
)

// TestSecure checks the cluster configuration Open builds from the login
// and TLS options.
func TestSecure(t *testing.T) {
	cfg := &tls.Config{ServerName: "cassandra.internal"}
	c := gocql.NewCluster("127.0.0.1")
	secure(c, &Options{Username: "tollgate", Password: "pw", TLS: cfg})
	auth, ok := c.Authenticator.(gocql.PasswordAuthenticator)
	if !ok || auth.Username != "tollgate" || auth.Password != "pw" {
		t.Errorf("Authenticator = %#v, want PasswordAuthenticator for tollgate", c.Authenticator)
	}
	if c.SslOpts == nil || c.SslOpts.Config != cfg || !c.SslOpts.EnableHostVerification {
		t.Errorf("SslOpts = %+v, want the TLS config with host verification", c.SslOpts)
	}
	c = gocql.NewCluster("127.0.0.1")
	secure(c, &Options{})
	if c.Authenticator != nil || c.SslOpts != nil {
		t.Errorf("without login and TLS: Authenticator %v, SslOpts %v; want none", c.Authenticator, c.SslOpts)
	}
}

func TestValidateSecure(t *testing.T) {
	o := Options{Hosts: []string{"127.0.0.1"}, Password: "s3cret", TLS: &tls.Config{InsecureSkipVerify: true}}
	o.EnsureDefaults()
	want := "counter/cassandra: invalid options: Password is set without Username: name the role to log in as\n" +
		"TLS.InsecureSkipVerify is set: the nodes' certificates must be verified (give the CA bundle in TLS.RootCAs)"
	if err := o.Validate(); err == nil || err.Error() != want {
		t.Fatalf("Validate() = %v\nwant %s", err, want)
	}
}

// authOptions are options for the single-auth node: its TLS from settings
// as the sidecar builds it, the right login, a keyspace of its own.
func authOptions(t *testing.T) Options {
	t.Helper()
	hosts := testenv.Addrs(t, testenv.CassandraAuth)
	c := settings.Cassandra{TLS: settings.ClientTLS{
		CAFile:   testenv.Path(t, testenv.CassandraAuthCA),
		CertFile: testenv.Path(t, testenv.CassandraAuthCert),
		KeyFile:  testenv.Path(t, testenv.CassandraAuthKey),
	}}
	cfg, err := c.TLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	return Options{Hosts: hosts, Keyspace: "tollgate_it_auth", TLS: cfg, Username: testenv.CassandraAuthUser,
		Password: testenv.CassandraAuthPassword, ConnectTimeout: 10 * time.Second, Timeout: 10 * time.Second}
}

// TestAuthTLS opens a store on the node with PasswordAuthenticator over TLS
// with a client certificate, appends and reads back.
func TestAuthTLS(t *testing.T) {
	s := openTest(t, authOptions(t))
	ctx := context.Background()
	ns := uniqueNS(t)
	at := time.Now().Add(-time.Minute).Truncate(time.Millisecond)
	if err := s.Append(ctx, []counter.Event{
		{Namespace: ns, Counter: "c", Time: at, ID: "a", Delta: 3},
		{Namespace: ns, Counter: "c", Time: at.Add(time.Millisecond), ID: "b", Delta: 4},
	}); err != nil {
		t.Fatal(err)
	}
	sum, err := s.Sum(ctx, ns, "c", at, at.Add(time.Second))
	if err != nil || sum != 7 {
		t.Fatalf("Sum = %d, %v; want 7", sum, err)
	}
}

// TestAuthRefused checks that a wrong password, no login, a wrong CA and a
// missing client certificate fail Open with the cause and a hint that
// names the fix, and never show the password.
func TestAuthRefused(t *testing.T) {
	good := authOptions(t)
	const wrong = "wrong-password-7f3a"
	f := func(name string, opts Options, cause, hint string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		s, err := Open(ctx, opts)
		if err == nil {
			_ = s.Close()
			t.Errorf("%s: Open succeeded, want an error", name)
			return
		}
		port := good.Hosts[0][strings.LastIndexByte(good.Hosts[0], ':')+1:]
		want := "counter/cassandra: cannot connect to [" + good.Hosts[0] + "] (port " + port + "): " +
			"gocql: unable to create session: unable to discover protocol version: " + cause + " (" + hint + ")"
		if err.Error() != want {
			t.Errorf("%s: Open() error\n got %v\nwant %s", name, err, want)
		}
		if strings.Contains(err.Error(), wrong) {
			t.Errorf("%s: the error shows the password", name)
		}
	}
	const loginHint = "check Options.Username and Password: the cluster refused them or needs them"
	opts := good
	opts.Password = wrong
	f("wrong password", opts, "Provided username cassandra and/or password are incorrect", loginHint)
	opts = good
	opts.Username, opts.Password = "", ""
	f("no login", opts, `authentication required (using "org.apache.cassandra.auth.PasswordAuthenticator")`, loginHint)
	opts = good
	opts.TLS = good.TLS.Clone()
	opts.TLS.RootCAs = testcerts.NewCA(t, "not the cassandra CA").Pool()
	f("wrong CA", opts, "tls: failed to verify certificate: x509: certificate signed by unknown authority",
		"the node's certificate does not verify: check the CA bundle and server name of Options.TLS")
	opts = good
	opts.TLS = good.TLS.Clone()
	opts.TLS.Certificates = nil
	f("no client certificate", opts, "remote error: tls: certificate required",
		"the TLS handshake failed: check the client certificate of Options.TLS and that the nodes take TLS on this port")
}
