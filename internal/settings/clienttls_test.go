package settings

import (
	"crypto/tls"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tollgate/tollgate/internal/testcerts"
)

// handshake runs one TLS handshake of cfg against a server with the
// set's server certificate that requires a client certificate of set.CA.
func handshake(t *testing.T, set *testcerts.Set, cfg *tls.Config) error {
	t.Helper()
	srv := &tls.Config{Certificates: []tls.Certificate{set.Server.TLS(t)}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: set.CA.Pool()}
	l, err := tls.Listen("tcp", "127.0.0.1:0", srv)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		_ = c.(*tls.Conn).Handshake()
		_ = c.Close()
	}()
	c, err := tls.Dial("tcp", l.Addr().String(), cfg)
	if err != nil {
		return err
	}
	defer c.Close()
	// TLS 1.3 reports a refused client certificate on the first read; the
	// server closes after its handshake, so a read ends in EOF otherwise.
	if _, err = c.Read(make([]byte, 1)); errors.Is(err, io.EOF) {
		return nil
	}
	return err
}

func TestRedisTLSConfig(t *testing.T) {
	set := testcerts.NewSet(t, t.TempDir())
	f := set.Files
	r := Redis{URL: "rediss://127.0.0.1:6380", TLS: ClientTLS{CAFile: f.CA, CertFile: f.ClientCert, KeyFile: f.ClientKey, ServerName: "localhost"}}
	cfg, err := r.TLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MinVersion != tls.VersionTLS12 || cfg.ServerName != "localhost" || len(cfg.Certificates) != 1 || cfg.RootCAs == nil || cfg.InsecureSkipVerify {
		t.Fatalf("TLSConfig() = %+v", cfg)
	}
	if err := handshake(t, set, cfg); err != nil {
		t.Fatalf("handshake with the right CA and client certificate: %v", err)
	}
	other := r
	other.TLS.CAFile = f.OtherCA
	cfg, err = other.TLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	if err := handshake(t, set, cfg); err == nil || !strings.Contains(err.Error(), "certificate signed by unknown authority") {
		t.Fatalf("handshake trusting another CA = %v, want certificate signed by unknown authority", err)
	}

	// Plain URLs have no TLS; a comma list turns it on for every address.
	for url, want := range map[string]bool{"redis://127.0.0.1:6379": false, "127.0.0.1:1,127.0.0.1:2": false, "rediss://127.0.0.1:1,127.0.0.1:2": true} {
		cfg, err := (&Redis{URL: url}).TLSConfig()
		if err != nil || (cfg != nil) != want {
			t.Errorf("TLSConfig() of %q = %v, %v; want TLS %v", url, cfg, err, want)
		}
	}
}

func TestClientTLSErrors(t *testing.T) {
	set := testcerts.NewSet(t, t.TempDir())
	f := set.Files
	notPEM := filepath.Join(t.TempDir(), "ca.txt")
	testcerts.WriteFile(t, notPEM, []byte("not a certificate\n"))
	missing := filepath.Join(t.TempDir(), "missing.pem")
	check := func(got error, want string) {
		t.Helper()
		if got == nil || got.Error() != want {
			t.Errorf("error\n got %v\nwant %s", got, want)
		}
	}
	redis := func(tl ClientTLS) error {
		_, err := (&Redis{URL: "rediss://127.0.0.1:6380", TLS: tl}).TLSConfig()
		return err
	}
	check(redis(ClientTLS{CAFile: missing}), "redis.tls.ca_file: cannot read the CA bundle: open "+missing+": no such file or directory (hint: a PEM file of the CA certificates that sign the server's certificate)")
	check(redis(ClientTLS{CAFile: notPEM}), "redis.tls.ca_file: "+notPEM+` holds no PEM certificate (hint: a file of "-----BEGIN CERTIFICATE-----" blocks)`)
	check(redis(ClientTLS{CertFile: f.ClientCert, KeyFile: f.OtherClientKey}), "redis.tls.cert_file, redis.tls.key_file: cannot load the client certificate: tls: private key does not match public key (hint: a PEM certificate and the PEM private key it was issued for)")
	check(redis(ClientTLS{CertFile: f.ClientCert}), "redis.tls.key_file: missing while redis.tls.cert_file is set (hint: the PEM private key of the client certificate)")
	_, err := (&Redis{URL: "redis://127.0.0.1:6380", TLS: ClientTLS{CAFile: f.CA}}).TLSConfig()
	check(err, "redis.tls: set while redis.url uses redis://, which is plain TCP (hint: write rediss://host:port in redis.url to turn TLS on, or remove redis.tls)")

	cass := func(tl ClientTLS) (*tls.Config, error) { return (&Cassandra{TLS: tl}).TLSConfig() }
	if cfg, err := cass(ClientTLS{}); cfg != nil || err != nil {
		t.Errorf("Cassandra TLSConfig() without tls settings = %v, %v; want nil, nil", cfg, err)
	}
	_, err = cass(ClientTLS{ServerName: "cassandra.internal"})
	check(err, "counters.cassandra.tls.ca_file: "+cassandraTLSWithoutCA)
	_, err = cass(ClientTLS{CAFile: missing})
	check(err, "counters.cassandra.tls.ca_file: cannot read the CA bundle: open "+missing+": no such file or directory (hint: a PEM file of the CA certificates that sign the server's certificate)")
	cfg, err := cass(ClientTLS{CAFile: f.CA, CertFile: f.ClientCert, KeyFile: f.ClientKey})
	if err != nil {
		t.Fatal(err)
	}
	if err := handshake(t, set, cfg); err != nil {
		t.Fatalf("Cassandra TLS config handshake: %v", err)
	}
}

// TestTLSPathsRelativeToFile checks that the TLS files of a settings file
// are read from its directory.
func TestTLSPathsRelativeToFile(t *testing.T) {
	p := writeFile(t, "backend: redis\nredis:\n  url: rediss://127.0.0.1:6380\n  tls: {ca_file: ca.crt, cert_file: c.crt, key_file: c.key}\n"+
		"counters:\n  cassandra:\n    tls: {ca_file: /abs/ca.crt, cert_file: tls/c.crt, key_file: tls/c.key}\n")
	s, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Dir(p)
	want := ClientTLS{CAFile: filepath.Join(dir, "ca.crt"), CertFile: filepath.Join(dir, "c.crt"), KeyFile: filepath.Join(dir, "c.key")}
	if s.Redis.TLS != want {
		t.Errorf("redis.tls = %+v, want %+v", s.Redis.TLS, want)
	}
	want = ClientTLS{CAFile: "/abs/ca.crt", CertFile: filepath.Join(dir, "tls/c.crt"), KeyFile: filepath.Join(dir, "tls/c.key")}
	if s.Counters.Cassandra.TLS != want {
		t.Errorf("counters.cassandra.tls = %+v, want %+v", s.Counters.Cassandra.TLS, want)
	}
}

// TestPasswordsNotInErrors checks that no error about the Redis URL or the
// credentials quotes a password.
func TestPasswordsNotInErrors(t *testing.T) {
	const pw = "s3cret-pw"
	for _, url := range []string{
		"rediss://tollgate:" + pw + "@10.0.0.5:6380",
		"redis://:" + pw + "@10.0.0.5",
		"redis://u:" + pw + "@10.0.0.5:6380/0",
		"10.0.0.5:1,http://u:" + pw + "@x:1",
		"redis://u:" + pw + "@[::1",
	} {
		s := Settings{Backend: "redis", Redis: Redis{URL: url, Password: pw, Mode: "ring"}, Counters: Counters{Cassandra: Cassandra{Password: pw}}}
		err := s.Validate()
		if err == nil {
			t.Errorf("Validate() with url %q succeeded, want an error", url)
			continue
		}
		_, err2 := s.Redis.Addrs()
		_, err3 := s.Redis.TLSConfig()
		for _, e := range []error{err, err2, err3} {
			if e == nil || strings.Contains(e.Error(), pw) {
				t.Errorf("url %q: error %v quotes the password or is missing", url, e)
			}
		}
	}
	p := writeFile(t, "backend: redis\nredis:\n  url: redis://u:"+pw+"@127.0.0.1:1\n  password: "+pw+"\n")
	if _, err := Load(p); err == nil || strings.Contains(err.Error(), pw) || !strings.Contains(err.Error(), "xxxxx@127.0.0.1:1") {
		t.Errorf("Load() = %v, want an error naming the url without its password", err)
	}
}

func TestRedactUserinfo(t *testing.T) {
	f := func(in, want string) {
		t.Helper()
		if got := redactUserinfo(in); got != want {
			t.Errorf("redactUserinfo(%q) = %q, want %q", in, got, want)
		}
	}
	f("redis://127.0.0.1:1", "redis://127.0.0.1:1")
	f("redis://u:p@h:1", "redis://xxxxx@h:1")
	f("redis://u:p@w@h:1/0", "redis://xxxxx@h:1/0")
	f("u:p@h:1", "xxxxx@h:1")
	f("redis://h:1/a@b", "redis://h:1/a@b")
}
