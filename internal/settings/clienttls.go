package settings

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"

	"github.com/tollgate/tollgate/internal/yamlconf"
)

// ClientTLS is the TLS of Tollgate's connections to a backend: the CAs it
// trusts and the certificate it shows. Relative paths in a settings file are
// taken from the file's directory.
type ClientTLS struct {
	// CAFile is a PEM bundle of the CA certificates that may sign the
	// server's certificate. Default: the system's roots (Redis); Cassandra
	// turns TLS on only when it is set.
	CAFile string `yaml:"ca_file"`
	// CertFile and KeyFile are a PEM client certificate and its key, for
	// servers that require one. Default: none.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// ServerName is the name the server's certificate must carry. Default:
	// the host of each address.
	ServerName string `yaml:"server_name"`
}

// set reports whether any field is set.
func (c *ClientTLS) set() bool { return *c != ClientTLS{} }

// check reports the problems of c that need no file read, each by its
// setting path under prefix.
func (c *ClientTLS) check(prefix string, report func(path, msg string)) {
	switch {
	case c.CertFile != "" && c.KeyFile == "":
		report(prefix+".key_file", "missing while "+prefix+".cert_file is set (hint: the PEM private key of the client certificate)")
	case c.KeyFile != "" && c.CertFile == "":
		report(prefix+".cert_file", "missing while "+prefix+".key_file is set (hint: the PEM client certificate of that key)")
	}
}

// config loads the files into a client TLS configuration (TLS 1.2 at
// least, the server's certificate always verified). Errors name the
// setting under prefix and the file.
func (c *ClientTLS) config(prefix string) (*tls.Config, error) {
	var errs yamlconf.Errors
	c.check(prefix, func(path, msg string) { errs = append(errs, yamlconf.Error{Path: path, Msg: msg}) })
	if len(errs) > 0 {
		return nil, errs
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.ServerName}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("%s.ca_file: cannot read the CA bundle: %w (hint: a PEM file of the CA certificates that sign the server's certificate)", prefix, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s.ca_file: %s holds no PEM certificate (hint: a file of \"-----BEGIN CERTIFICATE-----\" blocks)", prefix, c.CAFile)
		}
		cfg.RootCAs = pool
	}
	if c.CertFile != "" || c.KeyFile != "" {
		pair, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("%s.cert_file, %s.key_file: cannot load the client certificate: %w (hint: a PEM certificate and the PEM private key it was issued for)", prefix, prefix, err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg, nil
}
