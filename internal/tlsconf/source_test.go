package tlsconf

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/tollgate/tollgate/internal/testcerts"
)

// clientIdentities is what the test servers answer: the caller's
// PeerIdentities joined with commas.
const clientIdentities = testcerts.ClientURI + "," + testcerts.ClientDNS

// start returns a running Source for cfg, with a fresh registry.
func start(t *testing.T, cfg Config) (*Source, *prometheus.Registry) {
	t.Helper()
	return startOpts(t, Options{Config: cfg}, false)
}

// startOpts returns a running Source for opts as listener grpc, with a
// fresh registry and a 10ms debounce; pollOnly turns off notifications.
func startOpts(t *testing.T, opts Options, pollOnly bool) (*Source, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	opts.Listener, opts.Registerer, opts.Debounce = "grpc", reg, 10*time.Millisecond
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	s.pollOnly = pollOnly
	ran := make(chan error, 1)
	go func() { ran <- s.Run(context.Background()) }()
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
		if err := <-ran; err != nil {
			t.Error(err)
		}
	})
	return s, reg
}

// serveHTTP serves HTTPS with s on loopback, answering each request with
// the caller's identities.
func serveHTTP(t *testing.T, s *Source) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, strings.Join(PeerIdentities(r.TLS), ","))
		}),
		ReadHeaderTimeout: 5 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0), // refused handshakes are expected
	}
	go func() { _ = srv.Serve(tls.NewListener(l, s.TLSConfig())) }()
	t.Cleanup(func() { _ = srv.Close() })
	return l.Addr().String()
}

// client returns a client configuration trusting set.CA, presenting cert
// if it is not nil, even when the server names other CAs as acceptable.
func client(t *testing.T, set *testcerts.Set, cert *testcerts.Cert) *tls.Config {
	t.Helper()
	cfg := &tls.Config{RootCAs: set.CA.Pool()}
	if cert != nil {
		pair := cert.TLS(t)
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &pair, nil }
	}
	return cfg
}

// get makes one HTTPS request on a new connection and returns the body.
func get(addr string, cfg *tls.Config) (string, error) {
	tr := &http.Transport{TLSClientConfig: cfg, DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Get("https://" + addr + "/")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("status %d: %s", resp.StatusCode, body)
	}
	return string(body), err
}

// wantGet checks one request's answer, or its error when wantErr is set.
func wantGet(t *testing.T, addr string, cfg *tls.Config, want, wantErr string) {
	t.Helper()
	got, err := get(addr, cfg)
	switch {
	case wantErr == "" && err != nil:
		t.Errorf("GET: %v, want %q", err, want)
	case wantErr != "" && (err == nil || !strings.HasSuffix(err.Error(), wantErr)):
		t.Errorf("GET: (%q, %v), want error ending %q", got, err, wantErr)
	case wantErr == "" && got != want:
		t.Errorf("GET = %q, want %q", got, want)
	}
}

func mtls(set *testcerts.Set, auth string) Config {
	return Config{CertFile: set.Files.ServerCert, KeyFile: set.Files.ServerKey, ClientCAFile: set.Files.CA, ClientAuth: auth}
}

func TestHandshakes(t *testing.T) {
	set := testcerts.NewSet(t, t.TempDir())
	const (
		noCert    = "remote error: tls: certificate required"
		unknownCA = "remote error: tls: unknown certificate authority"
		expired   = "remote error: tls: expired certificate"
	)
	t.Run("require", func(t *testing.T) {
		s, _ := start(t, mtls(set, "require"))
		addr := serveHTTP(t, s)
		wantGet(t, addr, client(t, set, set.Client), clientIdentities, "")
		wantGet(t, addr, client(t, set, nil), "", noCert)
		wantGet(t, addr, client(t, set, set.OtherClient), "", unknownCA)
		wantGet(t, addr, client(t, set, set.ExpiredClient), "", expired)
		// A server certificate is not a client certificate.
		wantGet(t, addr, client(t, set, set.Server), "", "remote error: tls: bad certificate")
	})
	t.Run("request", func(t *testing.T) {
		s, _ := start(t, mtls(set, "request"))
		addr := serveHTTP(t, s)
		wantGet(t, addr, client(t, set, set.Client), clientIdentities, "")
		wantGet(t, addr, client(t, set, nil), "", "")
		wantGet(t, addr, client(t, set, set.OtherClient), "", unknownCA)
		wantGet(t, addr, client(t, set, set.ExpiredClient), "", expired)
	})
	t.Run("none", func(t *testing.T) {
		s, _ := start(t, Config{CertFile: set.Files.ServerCert, KeyFile: set.Files.ServerKey})
		addr := serveHTTP(t, s)
		// The certificate is not asked for, so not verified: no identity.
		wantGet(t, addr, client(t, set, set.Client), "", "")
		wantGet(t, addr, client(t, set, set.OtherClient), "", "")
	})
	t.Run("plaintext client", func(t *testing.T) {
		s, _ := start(t, mtls(set, "request"))
		addr := serveHTTP(t, s)
		resp, err := http.Get("http://" + addr + "/")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || string(body) != "Client sent an HTTP request to an HTTPS server.\n" {
			t.Errorf("plain HTTP to the TLS listener: %d %q, want 400 and net/http's refusal", resp.StatusCode, body)
		}
	})
	t.Run("min_version", func(t *testing.T) {
		tls12 := client(t, set, set.Client)
		tls12.MaxVersion = tls.VersionTLS12
		for _, tc := range []struct{ min, wantErr string }{
			{"", ""},
			{"1.2", ""},
			{"1.3", "remote error: tls: protocol version not supported"},
		} {
			cfg := mtls(set, "require")
			cfg.MinVersion = tc.min
			s, _ := start(t, cfg)
			addr := serveHTTP(t, s)
			wantGet(t, addr, tls12, clientIdentities, tc.wantErr)
			wantGet(t, addr, client(t, set, set.Client), clientIdentities, "")
		}
	})
}

// identityRecorder is a gRPC interceptor that sends each call's peer
// identities to calls.
type identityRecorder struct{ calls chan []string }

func (r identityRecorder) intercept(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	var ids []string
	if p, ok := peer.FromContext(ctx); ok {
		if info, ok := p.AuthInfo.(credentials.TLSInfo); ok {
			ids = PeerIdentities(&info.State)
		}
	}
	r.calls <- ids
	return h(ctx, req)
}

func TestGRPC(t *testing.T) {
	set := testcerts.NewSet(t, t.TempDir())
	s, _ := start(t, mtls(set, "require"))
	rec := identityRecorder{calls: make(chan []string, 1)}
	srv := grpc.NewServer(grpc.Creds(credentials.NewTLS(s.TLSConfig())), grpc.UnaryInterceptor(rec.intercept))
	healthpb.RegisterHealthServer(srv, health.NewServer())
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(srv.Stop)

	check := func(creds credentials.TransportCredentials) error {
		t.Helper()
		conn, err := grpc.NewClient(l.Addr().String(), grpc.WithTransportCredentials(creds))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err = healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
		return err
	}
	if err := check(credentials.NewTLS(client(t, set, set.Client))); err != nil {
		t.Fatalf("mTLS call: %v", err)
	}
	if got := strings.Join(<-rec.calls, ","); got != clientIdentities {
		t.Errorf("identities = %q, want %q", got, clientIdentities)
	}
	for name, creds := range map[string]credentials.TransportCredentials{
		"plaintext":      insecure.NewCredentials(),
		"no certificate": credentials.NewTLS(client(t, set, nil)),
		"other CA":       credentials.NewTLS(client(t, set, set.OtherClient)),
		"expired":        credentials.NewTLS(client(t, set, set.ExpiredClient)),
	} {
		if err := check(creds); status.Code(err) != codes.Unavailable {
			t.Errorf("%s: %v, want code Unavailable", name, err)
		}
	}
	select {
	case ids := <-rec.calls:
		t.Errorf("a refused client reached the service with identities %q", ids)
	default:
	}
}

// k8sSecret lays files out as a Kubernetes secret volume does: each name
// is a symlink to ..data/name, and ..data a symlink to the directory of
// the current version. Each call publishes a new version by an atomic
// rename of ..data.
func k8sSecret(t *testing.T, dir, version string, files map[string][]byte) {
	t.Helper()
	vdir := filepath.Join(dir, "..2026_12_03_"+version)
	if err := os.Mkdir(vdir, 0o700); err != nil {
		t.Fatal(err)
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(vdir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
		link := filepath.Join(dir, name)
		if _, err := os.Lstat(link); os.IsNotExist(err) {
			if err := os.Symlink(filepath.Join("..data", name), link); err != nil {
				t.Fatal(err)
			}
		}
	}
	tmp := filepath.Join(dir, "..data_tmp")
	if err := os.Symlink(filepath.Base(vdir), tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
}

// waitFor polls cond until it holds, failing the test after 5s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// servedSerial returns the serial of the certificate a new connection to
// addr is served.
func servedSerial(t *testing.T, addr string, cfg *tls.Config) *big.Int {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber
}

// reloads returns the reload counters of listener grpc.
func reloads(t *testing.T, reg *prometheus.Registry) string {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, mf := range mfs {
		if mf.GetName() != "tollgate_tls_reloads_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			out = append(out, fmt.Sprintf("%s=%g", m.GetLabel()[1].GetValue(), m.GetCounter().GetValue()))
		}
	}
	return strings.Join(out, " ")
}

func TestRotationBySymlinkSwap(t *testing.T) {
	set := testcerts.NewSet(t, t.TempDir())
	dir := t.TempDir()
	k8sSecret(t, dir, "1", map[string][]byte{"tls.crt": set.Server.CertPEM, "tls.key": set.Server.KeyPEM, "ca.crt": set.CA.PEM})
	s, reg := start(t, Config{
		CertFile: filepath.Join(dir, "tls.crt"), KeyFile: filepath.Join(dir, "tls.key"),
		ClientCAFile: filepath.Join(dir, "ca.crt"), ClientAuth: "require",
	})
	addr := serveHTTP(t, s)
	cfg := client(t, set, set.Client)

	// An open connection, served the first certificate.
	old, err := tls.Dial("tcp", addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	if got := old.ConnectionState().PeerCertificates[0].SerialNumber; got.Cmp(set.Server.Cert.SerialNumber) != 0 {
		t.Fatalf("served serial %v, want %v", got, set.Server.Cert.SerialNumber)
	}

	next := set.CA.Server(t)
	k8sSecret(t, dir, "2", map[string][]byte{"tls.crt": next.CertPEM, "tls.key": next.KeyPEM, "ca.crt": set.CA.PEM})
	waitFor(t, "the new certificate on new connections", func() bool {
		return servedSerial(t, addr, cfg).Cmp(next.Cert.SerialNumber) == 0
	})
	if got := reloads(t, reg); got != "failure=0 success=1" {
		t.Errorf("reloads: %s, want failure=0 success=1", got)
	}
	if got := testutil.ToFloat64(s.expiry); got != float64(next.Cert.NotAfter.Unix()) {
		t.Errorf("expiry gauge = %v, want %v", got, next.Cert.NotAfter.Unix())
	}

	// The open connection still works, on its first certificate.
	if _, err := io.WriteString(old, "GET / HTTP/1.1\r\nHost: tollgate\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(old), nil)
	if err != nil {
		t.Fatalf("request on the connection opened before the rotation: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || string(body) != clientIdentities {
		t.Errorf("old connection: %d %q, want 200 %q", resp.StatusCode, body, clientIdentities)
	}
}

// TestClientCARotation replaces the CA bundle file (rename over it, as
// cert-manager's csi driver and most tools do), once noticed by the watch
// and once by the periodic re-read alone.
func TestClientCARotation(t *testing.T) {
	for _, pollOnly := range []bool{false, true} {
		t.Run(fmt.Sprintf("pollOnly=%v", pollOnly), func(t *testing.T) {
			set := testcerts.NewSet(t, t.TempDir())
			opts := Options{Config: mtls(set, "require")}
			if pollOnly {
				opts.Interval = 20 * time.Millisecond
			}
			s, reg := startOpts(t, opts, pollOnly)
			addr := serveHTTP(t, s)
			wantGet(t, addr, client(t, set, set.OtherClient), "", "remote error: tls: unknown certificate authority")

			both := append(append([]byte{}, set.CA.PEM...), set.OtherCA.PEM...)
			testcerts.WriteFile(t, set.Files.CA, both)
			waitFor(t, "the other CA's client accepted", func() bool {
				_, err := get(addr, client(t, set, set.OtherClient))
				return err == nil
			})
			wantGet(t, addr, client(t, set, set.Client), clientIdentities, "")
			if got := reloads(t, reg); got != "failure=0 success=1" {
				t.Errorf("reloads: %s, want failure=0 success=1", got)
			}
		})
	}
}

func TestBadFileKeepsOldCertificate(t *testing.T) {
	set := testcerts.NewSet(t, t.TempDir())
	s, reg := start(t, mtls(set, "require"))
	addr := serveHTTP(t, s)
	cfg := client(t, set, set.Client)

	testcerts.WriteFile(t, set.Files.ServerCert, []byte("-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n"))
	waitFor(t, "the failed reload", func() bool { return reloads(t, reg) == "failure=1 success=0" })
	if got := servedSerial(t, addr, cfg); got.Cmp(set.Server.Cert.SerialNumber) != 0 {
		t.Errorf("after a bad file: served serial %v, want the old %v", got, set.Server.Cert.SerialNumber)
	}
	wantGet(t, addr, cfg, clientIdentities, "")

	// A key that does not match the certificate is a failure too.
	next := set.CA.Server(t)
	testcerts.WriteFile(t, set.Files.ServerCert, next.CertPEM)
	waitFor(t, "the second failed reload", func() bool { return reloads(t, reg) == "failure=2 success=0" })

	testcerts.WriteFile(t, set.Files.ServerKey, next.KeyPEM)
	waitFor(t, "the good files", func() bool { return reloads(t, reg) == "failure=2 success=1" })
	if got := servedSerial(t, addr, cfg); got.Cmp(next.Cert.SerialNumber) != 0 {
		t.Errorf("after good files: served serial %v, want %v", got, next.Cert.SerialNumber)
	}
}

func TestNewErrors(t *testing.T) {
	set := testcerts.NewSet(t, t.TempDir())
	missing := filepath.Join(t.TempDir(), "missing.crt")
	reg := prometheus.NewRegistry()
	f := func(opts Options, want string) {
		t.Helper()
		opts.Registerer = reg
		_, err := New(opts)
		if err == nil || err.Error() != want {
			t.Errorf("New: %v\nwant %s", err, want)
		}
	}
	good := mtls(set, "require")
	f(Options{Config: good}, "tlsconf: Options.Listener is empty (hint: grpc or http)")
	f(Options{Listener: "http"}, "tlsconf: http listener: cert_file is empty; a Source serves TLS only")
	f(Options{Listener: "http", Config: Config{CertFile: "a.crt", KeyFile: "a.key", ClientAuth: "require"}},
		"tlsconf: http listener: client_ca_file: empty but client_auth is require; set the CA bundle client certificates are verified against")
	bad := good
	bad.CertFile = missing
	f(Options{Listener: "grpc", Config: bad},
		fmt.Sprintf("tlsconf: grpc listener: cannot read %s: open %[1]s: no such file or directory", missing))
	bad = good
	bad.KeyFile = set.Files.ClientKey
	f(Options{Listener: "grpc", Config: bad},
		fmt.Sprintf("tlsconf: grpc listener: cannot use cert_file %s with key_file %s: tls: private key does not match public key (hint: both PEM, the key matching the first certificate)", good.CertFile, bad.KeyFile))
	bad = good
	bad.ClientCAFile = set.Files.ServerKey
	f(Options{Listener: "grpc", Config: bad},
		fmt.Sprintf("tlsconf: grpc listener: client_ca_file %s holds no PEM certificate (hint: the CA bundle client certificates are issued by)", bad.ClientCAFile))
	// A Source that failed exports nothing.
	if mfs, err := reg.Gather(); err != nil || len(mfs) != 0 {
		t.Errorf("after failed New calls the registry holds %d metric families (%v), want none", len(mfs), err)
	}
	// With client_auth none the CA bundle is not read.
	bad.ClientAuth = "none"
	if _, err := New(Options{Listener: "grpc", Config: bad}); err != nil {
		t.Errorf("client_auth none with an unusable CA file: %v", err)
	}
}

func TestMetricsSharedRegistry(t *testing.T) {
	set := testcerts.NewSet(t, t.TempDir())
	reg := prometheus.NewRegistry()
	for _, l := range []string{"grpc", "http"} {
		if _, err := New(Options{Config: mtls(set, "require"), Listener: l, Registerer: reg}); err != nil {
			t.Fatalf("%s: %v", l, err)
		}
	}
	want := fmt.Sprintf(`
# HELP tollgate_tls_certificate_expiry_timestamp_seconds Unix time at which the certificate a listener serves expires.
# TYPE tollgate_tls_certificate_expiry_timestamp_seconds gauge
tollgate_tls_certificate_expiry_timestamp_seconds{listener="grpc"} %[1]d
tollgate_tls_certificate_expiry_timestamp_seconds{listener="http"} %[1]d
# HELP tollgate_tls_reloads_total Reloads of a listener's TLS certificate, key or client CA files after they changed, by result (success, failure).
# TYPE tollgate_tls_reloads_total counter
tollgate_tls_reloads_total{listener="grpc",result="failure"} 0
tollgate_tls_reloads_total{listener="grpc",result="success"} 0
tollgate_tls_reloads_total{listener="http",result="failure"} 0
tollgate_tls_reloads_total{listener="http",result="success"} 0
`, set.Server.Cert.NotAfter.Unix())
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
	problems, err := testutil.GatherAndLint(reg)
	if err != nil || len(problems) != 0 {
		t.Errorf("promlint: %v %v", problems, err)
	}
}

func TestRunAndClose(t *testing.T) {
	set := testcerts.NewSet(t, t.TempDir())
	s, err := New(Options{Config: mtls(set, "require"), Listener: "grpc"})
	if err != nil {
		t.Fatal(err)
	}
	// Close before Run: Run returns at once.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Run(context.Background()); err != nil {
		t.Errorf("Run after Close: %v", err)
	}
	if err := s.Run(context.Background()); err == nil || err.Error() != "tlsconf: Source.Run called twice" {
		t.Errorf("second Run: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}

	// A cancelled context ends Run.
	s2, err := New(Options{Config: mtls(set, "require"), Listener: "grpc", Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s2.Run(ctx); err != nil {
		t.Errorf("Run with a done context: %v", err)
	}
}

func TestPeerIdentities(t *testing.T) {
	set := testcerts.NewSet(t, t.TempDir())
	leaf := set.Client.Cert
	f := func(cs *tls.ConnectionState, want string) {
		t.Helper()
		if got := strings.Join(PeerIdentities(cs), ","); got != want {
			t.Errorf("PeerIdentities = %q, want %q", got, want)
		}
	}
	f(nil, "")
	f(&tls.ConnectionState{}, "")
	// Sent but not verified (e.g. client_auth none): no identity.
	f(&tls.ConnectionState{PeerCertificates: []*x509.Certificate{leaf}}, "")
	f(&tls.ConnectionState{PeerCertificates: []*x509.Certificate{leaf}, VerifiedChains: [][]*x509.Certificate{{leaf, set.CA.Cert}}}, clientIdentities)
	f(&tls.ConnectionState{VerifiedChains: [][]*x509.Certificate{{set.Server.Cert}}}, "localhost")
}

// TestReloadCountsOnce calls reload directly: files that failed are
// reported once however often they are re-read, and files equal to those
// in use are no reload.
func TestReloadCountsOnce(t *testing.T) {
	set := testcerts.NewSet(t, t.TempDir())
	reg := prometheus.NewRegistry()
	s, err := New(Options{Config: mtls(set, "require"), Listener: "grpc", Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	f := func(want string) {
		t.Helper()
		s.reload()
		if got := reloads(t, reg); got != want {
			t.Errorf("reloads: %s, want %s", got, want)
		}
	}
	f("failure=0 success=0") // unchanged
	testcerts.WriteFile(t, set.Files.CA, []byte("garbage"))
	f("failure=1 success=0")
	f("failure=1 success=0") // the same bad file again
	testcerts.WriteFile(t, set.Files.CA, set.CA.PEM)
	f("failure=1 success=0") // back to the files in use
	testcerts.WriteFile(t, set.Files.CA, []byte("garbage"))
	f("failure=2 success=0") // bad again: reported again
	if err := os.Remove(set.Files.CA); err != nil {
		t.Fatal(err)
	}
	f("failure=3 success=0")
	f("failure=3 success=0")
	testcerts.WriteFile(t, set.Files.CA, set.OtherCA.PEM)
	f("failure=3 success=1")
}

// TestResumptionAfterCARotation: a client resuming a session skips
// sending its certificate; once the CA bundle no longer holds its CA, it
// must not get in that way.
func TestResumptionAfterCARotation(t *testing.T) {
	set := testcerts.NewSet(t, t.TempDir())
	s, _ := start(t, mtls(set, "require"))
	addr := serveHTTP(t, s)
	cfg := client(t, set, set.Client)
	cfg.ClientSessionCache = tls.NewLRUClientSessionCache(4)
	// roundTrip makes one request on a new connection.
	roundTrip := func() (resumed bool, err error) {
		conn, err := tls.Dial("tcp", addr, cfg)
		if err != nil {
			return false, err
		}
		defer conn.Close()
		if _, err := io.WriteString(conn, "GET / HTTP/1.1\r\nHost: tollgate\r\nConnection: close\r\n\r\n"); err != nil {
			return false, err
		}
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			return false, err
		}
		_, err = io.Copy(io.Discard, resp.Body) // reads the session ticket too
		return conn.ConnectionState().DidResume, err
	}
	for i, want := range []bool{false, true} {
		if resumed, err := roundTrip(); err != nil || resumed != want {
			t.Fatalf("connection %d: resumed %v, %v; want resumed %v", i, resumed, err, want)
		}
	}

	testcerts.WriteFile(t, set.Files.CA, set.OtherCA.PEM)
	waitFor(t, "the CA rotation", func() bool {
		_, err := get(addr, client(t, set, set.OtherClient))
		return err == nil
	})
	const want = "remote error: tls: unknown certificate authority"
	if resumed, err := roundTrip(); err == nil || !strings.HasSuffix(err.Error(), want) {
		t.Errorf("after the rotation: resumed %v, %v; want an error ending %q", resumed, err, want)
	}
}
