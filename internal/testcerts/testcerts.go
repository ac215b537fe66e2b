// Package testcerts issues X.509 certificates for tests, in memory with
// crypto/x509, and writes them as PEM files: certificate authorities, server
// certificates for loopback and client certificates with URI (SPIFFE) and DNS
// names. Keys are ECDSA P-256. It is a test helper: validity periods are
// taken from the wall clock, as crypto/tls checks them.
package testcerts

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// ClientURI is the URI SAN (a SPIFFE ID) of Set.Client.
const ClientURI = "spiffe://tollgate.test/envoy"

// ClientDNS is the DNS SAN of Set.Client.
const ClientDNS = "envoy.tollgate.test"

// CA is a self-signed certificate authority that issues leaf certificates.
type CA struct {
	// Cert is the CA certificate.
	Cert *x509.Certificate
	// PEM is Cert in PEM form, the content of a trust bundle file.
	PEM []byte
	key crypto.Signer
}

// Leaf describes a certificate for CA.Issue.
type Leaf struct {
	// CommonName is the subject's common name.
	CommonName string
	// DNSNames, IPs and URIs are the subject alternative names.
	DNSNames []string
	IPs      []net.IP
	URIs     []string
	// Client makes it a client certificate (ExtKeyUsageClientAuth) instead
	// of a server certificate (ExtKeyUsageServerAuth).
	Client bool
	// NotBefore and NotAfter bound the validity. Default: an hour ago to a
	// day from now.
	NotBefore, NotAfter time.Time
}

// Cert is an issued certificate and its private key.
type Cert struct {
	// Cert is the certificate.
	Cert *x509.Certificate
	// CertPEM and KeyPEM are the certificate and its PKCS #8 key in PEM form.
	CertPEM, KeyPEM []byte
}

// serials numbers every certificate of the process differently.
var serials atomic.Int64

// NewCA returns a new CA named name, valid from an hour ago for a day.
func NewCA(t testing.TB, name string) *CA {
	t.Helper()
	key := newKey(t)
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(serials.Add(1)),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatalf("testcerts: cannot create CA %q: %v", name, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &CA{Cert: cert, PEM: pemBlock("CERTIFICATE", der), key: key}
}

// Issue signs a certificate for l.
func (ca *CA) Issue(t testing.TB, l Leaf) *Cert {
	t.Helper()
	now := time.Now()
	if l.NotBefore.IsZero() {
		l.NotBefore = now.Add(-time.Hour)
	}
	if l.NotAfter.IsZero() {
		l.NotAfter = now.Add(24 * time.Hour)
	}
	usage := x509.ExtKeyUsageServerAuth
	if l.Client {
		usage = x509.ExtKeyUsageClientAuth
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serials.Add(1)),
		Subject:      pkix.Name{CommonName: l.CommonName},
		NotBefore:    l.NotBefore,
		NotAfter:     l.NotAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
		DNSNames:     l.DNSNames,
		IPAddresses:  l.IPs,
	}
	for _, s := range l.URIs {
		u, err := url.Parse(s)
		if err != nil {
			t.Fatalf("testcerts: URI SAN %q: %v", s, err)
		}
		tmpl.URIs = append(tmpl.URIs, u)
	}
	key := newKey(t)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.key)
	if err != nil {
		t.Fatalf("testcerts: cannot issue %q: %v", l.CommonName, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return &Cert{Cert: cert, CertPEM: pemBlock("CERTIFICATE", der), KeyPEM: pemBlock("PRIVATE KEY", pkcs8)}
}

// Server issues a server certificate for 127.0.0.1, ::1 and localhost.
func (ca *CA) Server(t testing.TB) *Cert {
	t.Helper()
	return ca.Issue(t, Leaf{
		CommonName: "localhost",
		DNSNames:   []string{"localhost"},
		IPs:        []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	})
}

// Pool returns a pool holding only ca, for clients' RootCAs.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

// TLS returns c as a certificate for tls.Config.Certificates.
func (c *Cert) TLS(t testing.TB) tls.Certificate {
	t.Helper()
	pair, err := tls.X509KeyPair(c.CertPEM, c.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return pair
}

// Write writes c to dir as name.crt and name.key (mode 0600), replacing
// existing files, and returns their paths.
func (c *Cert) Write(t testing.TB, dir, name string) (certFile, keyFile string) {
	t.Helper()
	certFile, keyFile = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	WriteFile(t, certFile, c.CertPEM)
	WriteFile(t, keyFile, c.KeyPEM)
	return certFile, keyFile
}

// WriteFile writes data to path (mode 0600) through a temporary file and a
// rename, so a reader never sees a half-written file.
func WriteFile(t testing.TB, path string, data []byte) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// Set is the usual cast of a mutual-TLS test, written to a directory.
type Set struct {
	// CA issued Server, Client and ExpiredClient; OtherCA issued
	// OtherClient.
	CA, OtherCA *CA
	// Server is CA.Server.
	Server *Cert
	// Client has the URI SAN ClientURI and the DNS SAN ClientDNS.
	Client *Cert
	// ExpiredClient is like Client but expired an hour ago.
	ExpiredClient *Cert
	// OtherClient is like Client but issued by OtherCA.
	OtherClient *Cert
	// Files are the paths of the written files.
	Files Files
}

// Files are the PEM files of a Set, in its directory: ca.crt,
// other-ca.crt, and name.crt/name.key for server, client, expired-client
// and other-client.
type Files struct {
	CA, OtherCA                         string
	ServerCert, ServerKey               string
	ClientCert, ClientKey               string
	ExpiredClientCert, ExpiredClientKey string
	OtherClientCert, OtherClientKey     string
}

// NewSet issues a Set and writes it to dir.
func NewSet(t testing.TB, dir string) *Set {
	t.Helper()
	s := &Set{CA: NewCA(t, "tollgate test CA"), OtherCA: NewCA(t, "other test CA")}
	client := Leaf{CommonName: "envoy", URIs: []string{ClientURI}, DNSNames: []string{ClientDNS}, Client: true}
	s.Server = s.CA.Server(t)
	s.Client = s.CA.Issue(t, client)
	expired := client
	expired.NotBefore, expired.NotAfter = time.Now().Add(-2*time.Hour), time.Now().Add(-time.Hour)
	s.ExpiredClient = s.CA.Issue(t, expired)
	s.OtherClient = s.OtherCA.Issue(t, client)

	f := &s.Files
	f.CA, f.OtherCA = filepath.Join(dir, "ca.crt"), filepath.Join(dir, "other-ca.crt")
	WriteFile(t, f.CA, s.CA.PEM)
	WriteFile(t, f.OtherCA, s.OtherCA.PEM)
	f.ServerCert, f.ServerKey = s.Server.Write(t, dir, "server")
	f.ClientCert, f.ClientKey = s.Client.Write(t, dir, "client")
	f.ExpiredClientCert, f.ExpiredClientKey = s.ExpiredClient.Write(t, dir, "expired-client")
	f.OtherClientCert, f.OtherClientKey = s.OtherClient.Write(t, dir, "other-client")
	return s
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}
