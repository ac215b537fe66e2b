package tlsconf

import (
	"errors"
	"io"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestConfigValidate(t *testing.T) {
	f := func(c Config, want string) {
		t.Helper()
		got := ""
		if err := c.Validate(); err != nil {
			got = err.Error()
		}
		if got != want {
			t.Errorf("Validate(%+v):\n got %q\nwant %q", c, got, want)
		}
	}
	pair := Config{CertFile: "tls.crt", KeyFile: "tls.key"}
	with := func(mod func(*Config)) Config { c := pair; mod(&c); return c }

	f(Config{}, "")
	f(pair, "")
	f(with(func(c *Config) { c.ClientAuth, c.ClientCAFile, c.MinVersion = "require", "ca.crt", "1.3" }), "")
	f(with(func(c *Config) { c.ClientAuth, c.ClientCAFile = "request", "ca.crt" }), "")
	f(with(func(c *Config) { c.ClientAuth, c.ClientCAFile = "none", "ca.crt" }), "")
	f(with(func(c *Config) { c.ClientAuth, c.MinVersion = "always", "1.1" }),
		`client_auth: "always" is not one of none, request, require`+"\n"+
			`min_version: "1.1" is not one of 1.2, 1.3`)
	f(with(func(c *Config) { c.ClientAuth = "require" }),
		"client_ca_file: empty but client_auth is require; set the CA bundle client certificates are verified against")
	f(with(func(c *Config) { c.ClientAuth = "request" }),
		"client_ca_file: empty but client_auth is request; set the CA bundle client certificates are verified against")
	f(Config{CertFile: "tls.crt"}, "key_file: empty but cert_file is set; set both to turn TLS on")
	f(Config{KeyFile: "tls.key", ClientAuth: "require"}, "cert_file: empty but key_file is set; set both to turn TLS on\n"+
		"client_ca_file: empty but client_auth is require; set the CA bundle client certificates are verified against")
	f(Config{ClientCAFile: "ca.crt", ClientAuth: "none", MinVersion: "1.3"},
		"client_ca_file: set but TLS is off; set cert_file and key_file, or remove client_ca_file\n"+
			"client_auth: set but TLS is off; set cert_file and key_file, or remove client_auth\n"+
			"min_version: set but TLS is off; set cert_file and key_file, or remove min_version")
}

func TestResolve(t *testing.T) {
	shared := &Config{CertFile: "a.crt", KeyFile: "a.key", ClientCAFile: "ca.crt", ClientAuth: "require", MinVersion: "1.2"}
	f := func(shared, override *Config, want Config) {
		t.Helper()
		if got := Resolve(shared, override); got != want {
			t.Errorf("Resolve(%+v, %+v) = %+v, want %+v", shared, override, got, want)
		}
	}
	f(nil, nil, Config{})
	f(shared, nil, *shared)
	f(nil, shared, *shared)
	f(shared, &Config{}, *shared)
	f(shared, &Config{ClientAuth: "none"},
		Config{CertFile: "a.crt", KeyFile: "a.key", ClientCAFile: "ca.crt", ClientAuth: "none", MinVersion: "1.2"})
	f(shared, &Config{CertFile: "b.crt", KeyFile: "b.key", ClientCAFile: "ca2.crt", ClientAuth: "request", MinVersion: "1.3"},
		Config{CertFile: "b.crt", KeyFile: "b.key", ClientCAFile: "ca2.crt", ClientAuth: "request", MinVersion: "1.3"})
	if shared.ClientAuth != "require" {
		t.Errorf("Resolve changed shared: %+v", shared)
	}
}

// settingsYAML decodes the transport-security keys as the sidecar's
// settings embed them.
func settingsYAML(t *testing.T, doc string) Settings {
	t.Helper()
	var top struct {
		Settings `yaml:",inline"`
		GRPCAddr string `yaml:"grpc_addr"`
	}
	dec := yaml.NewDecoder(strings.NewReader(doc))
	dec.KnownFields(true)
	if err := dec.Decode(&top); err != nil && !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	return top.Settings
}

func TestSettings(t *testing.T) {
	s := settingsYAML(t, `
grpc_addr: 0.0.0.0:8081
tls:
  cert_file: /etc/tollgate/tls/tls.crt
  key_file: /etc/tollgate/tls/tls.key
  client_ca_file: /etc/tollgate/tls/ca.crt
  client_auth: require
http_tls:
  client_auth: none
  min_version: "1.3"
allow_insecure_listeners: true
`)
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	wantGRPC := Config{CertFile: "/etc/tollgate/tls/tls.crt", KeyFile: "/etc/tollgate/tls/tls.key", ClientCAFile: "/etc/tollgate/tls/ca.crt", ClientAuth: "require"}
	if got := s.GRPC(); got != wantGRPC {
		t.Errorf("GRPC() = %+v, want %+v", got, wantGRPC)
	}
	wantHTTP := wantGRPC
	wantHTTP.ClientAuth, wantHTTP.MinVersion = "none", "1.3"
	if got := s.HTTP(); got != wantHTTP {
		t.Errorf("HTTP() = %+v, want %+v", got, wantHTTP)
	}
	if !s.AllowInsecureListeners {
		t.Error("allow_insecure_listeners not decoded")
	}
}

func TestSettingsValidate(t *testing.T) {
	f := func(doc, want string) {
		t.Helper()
		got := ""
		s := settingsYAML(t, doc)
		if err := s.Validate(); err != nil {
			got = err.Error()
		}
		if got != want {
			t.Errorf("Validate of\n%s\n got %q\nwant %q", doc, got, want)
		}
	}
	f(``, "")
	f(`grpc_tls: {cert_file: g.crt, key_file: g.key}`, "")
	// Both listeners inherit one problem of tls: reported once.
	f(`tls: {cert_file: a.crt, key_file: a.key, client_auth: require, min_version: "1.0"}`,
		`tls.min_version: "1.0" is not one of 1.2, 1.3`+"\n"+
			"tls.client_ca_file: empty but client_auth is require; set the CA bundle client certificates are verified against")
	// An override's problem is reported under the override.
	f(`
tls: {cert_file: a.crt, key_file: a.key}
grpc_tls: {client_auth: require, cert_file: g.crt}
http_tls: {client_auth: sometimes}`,
		"grpc_tls.key_file: empty but cert_file is set; set both to turn TLS on\n"+
			"grpc_tls.client_ca_file: empty but client_auth is require; set the CA bundle client certificates are verified against\n"+
			`http_tls.client_auth: "sometimes" is not one of none, request, require`)
	// An override needing what tls does not have.
	f(`http_tls: {client_auth: require, client_ca_file: ca.crt}`,
		"http_tls.client_ca_file: set but TLS is off; set cert_file and key_file, or remove client_ca_file\n"+
			"http_tls.client_auth: set but TLS is off; set cert_file and key_file, or remove client_auth")
}
