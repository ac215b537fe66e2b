package examples

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	// The type of the tollgate cluster's transport socket in envoy-mtls.yaml.
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"

	"github.com/tollgate/tollgate/internal/envoytest"
	"github.com/tollgate/tollgate/internal/testcerts"
	"github.com/tollgate/tollgate/internal/tlsconf"
)

// mtlsExample is the Envoy example with mutual TLS to Tollgate; its
// certificate files are under mtlsDir.
const (
	mtlsExample = "envoy/envoy-mtls.yaml"
	mtlsDir     = "/etc/tollgate/tls/"
)

// mtlsCopy writes the files envoy-mtls.yaml names into a temporary
// directory (Envoy's client certificate from set.Client, Tollgate's from
// set.Server) and returns a copy of the example reading them from there.
func mtlsCopy(t *testing.T) (string, *testcerts.Set) {
	t.Helper()
	dir := t.TempDir()
	set := testcerts.NewSet(t, dir)
	set.Client.Write(t, dir, "envoy")
	set.Server.Write(t, dir, "tollgate")
	data, err := os.ReadFile(mtlsExample)
	if err != nil {
		t.Fatal(err)
	}
	// Three files in the cluster, four in the comments.
	if n := strings.Count(string(data), mtlsDir); n != 7 {
		t.Fatalf("%s names %s %d times, want 7 (update this test with the example)", mtlsExample, mtlsDir, n)
	}
	out := filepath.Join(dir, "envoy-mtls.yaml")
	testcerts.WriteFile(t, out, []byte(strings.ReplaceAll(string(data), mtlsDir, dir+"/")))
	return out, set
}

// TestRealEnvoyValidatesMTLS runs `envoy --mode validate` on the mTLS
// example, which reads the certificate files it names: on a copy with the
// files present, and on one with a file missing to prove the check can fail.
func TestRealEnvoyValidatesMTLS(t *testing.T) {
	path, set := mtlsCopy(t)
	if out, err := envoytest.Validate(t, path); err != nil || !strings.Contains(out, "OK") {
		t.Errorf("envoy --mode validate %s: %v\n%s", mtlsExample, err, out)
	}
	if err := os.Remove(set.Files.CA); err != nil {
		t.Fatal(err)
	}
	out, err := envoytest.Validate(t, path)
	if want := "Invalid path: " + set.Files.CA; err == nil || !strings.Contains(out, want) {
		t.Errorf("validate without %s: %v, want output containing %q\n%s", set.Files.CA, err, want, out)
	}
}

// authz is an ext_authz server that allows every request and sends the
// caller's TLS identities of each Check to checks.
type authz struct {
	authv3.UnimplementedAuthorizationServer
	checks chan []string
}

func (a *authz) Check(ctx context.Context, _ *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	var ids []string
	if p, ok := peer.FromContext(ctx); ok {
		if info, ok := p.AuthInfo.(credentials.TLSInfo); ok {
			ids = tlsconf.PeerIdentities(&info.State)
		}
	}
	a.checks <- ids
	return &authv3.CheckResponse{
		Status:       &rpcstatus.Status{},
		HttpResponse: &authv3.CheckResponse_OkResponse{OkResponse: &authv3.OkHttpResponse{}},
	}, nil
}

// TestEnvoyMTLSToTollgateTLS runs the real Envoy on the mTLS example in
// front of a gRPC server using tlsconf with client_auth require, standing in
// for Tollgate: Envoy's ext_authz call arrives over mutual TLS and carries
// Envoy's certificate identities.
func TestEnvoyMTLSToTollgateTLS(t *testing.T) {
	path, set := mtlsCopy(t)
	src, err := tlsconf.New(tlsconf.Options{Listener: "grpc", Config: tlsconf.Config{
		CertFile: set.Files.ServerCert, KeyFile: set.Files.ServerKey,
		ClientCAFile: set.Files.CA, ClientAuth: tlsconf.ClientAuthRequire,
	}})
	if err != nil {
		t.Fatal(err)
	}
	az := &authz{checks: make(chan []string, 1)}
	srv := grpc.NewServer(grpc.Creds(credentials.NewTLS(src.TLSConfig())))
	authv3.RegisterAuthorizationServer(srv, az)
	gl := listen(t)
	go func() { _ = srv.Serve(gl) }()
	t.Cleanup(srv.Stop)

	app := &http.Server{
		Handler:           http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "app\n") }),
		ReadHeaderTimeout: 5 * time.Second,
	}
	al := listen(t)
	go func() { _ = app.Serve(al) }()
	t.Cleanup(func() { _ = app.Close() })

	b := envoytest.Load(t, path)
	b.SetListenerPort(t, "ingress", 0)
	b.SetClusterAddr(t, "app", al.Addr().String())
	b.SetClusterAddr(t, "tollgate", gl.Addr().String())
	e := envoytest.Start(t, b)

	resp, err := http.Get("http://" + e.ListenerAddr(t, "ingress") + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "app\n" {
		t.Fatalf("through Envoy: %d %q, want 200 \"app\\n\"", resp.StatusCode, body)
	}
	select {
	case ids := <-az.checks:
		if got, want := strings.Join(ids, ","), testcerts.ClientURI+","+testcerts.ClientDNS; got != want {
			t.Errorf("Check's peer identities = %q, want %q", got, want)
		}
	default:
		t.Fatal("the request went through without a Check")
	}
	if n := e.Stat(t, "cluster.tollgate.ssl.handshake"); n != 1 {
		t.Errorf("cluster.tollgate.ssl.handshake = %d, want 1", n)
	}
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return l
}
