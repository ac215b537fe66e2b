package tlsconf_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/tollgate/tollgate/internal/tlsconf"
)

// Example wires the settings into a gRPC and an HTTP listener.
func Example() {
	ctx := context.Background()
	settings := tlsconf.Settings{TLS: tlsconf.Config{
		CertFile: "/etc/tollgate/tls/tollgate.crt", KeyFile: "/etc/tollgate/tls/tollgate.key",
		ClientCAFile: "/etc/tollgate/tls/ca.crt", ClientAuth: tlsconf.ClientAuthRequire,
	}}
	if err := settings.Validate(); err != nil {
		fmt.Println(err)
		return
	}
	reg, logger := prometheus.NewRegistry(), slog.New(slog.DiscardHandler)

	// gRPC: transport credentials from the Source.
	grpcCfg, grpcAddr := settings.GRPC(), "0.0.0.0:8081"
	if err := tlsconf.CheckExposure(grpcAddr, grpcCfg.Enabled(), settings.AllowInsecureListeners); err != nil {
		fmt.Println("grpc_addr:", err)
		return
	}
	var grpcOpts []grpc.ServerOption
	if grpcCfg.Enabled() {
		src, err := tlsconf.New(tlsconf.Options{Config: grpcCfg, Listener: "grpc", Logger: logger, Registerer: reg})
		if err != nil {
			fmt.Println(err)
			return
		}
		defer src.Close()
		go func() { _ = src.Run(ctx) }()
		grpcOpts = append(grpcOpts, grpc.Creds(credentials.NewTLS(src.TLSConfig())))
	}
	_ = grpc.NewServer(grpcOpts...)

	// HTTP: the listener wrapped by tls.NewListener.
	httpCfg, httpAddr := settings.HTTP(), "0.0.0.0:8080"
	if err := tlsconf.CheckExposure(httpAddr, httpCfg.Enabled(), settings.AllowInsecureListeners); err != nil {
		fmt.Println("http_addr:", err)
		return
	}
	l, err := net.Listen("tcp", httpAddr)
	if err != nil {
		fmt.Println(err)
		return
	}
	if httpCfg.Enabled() {
		src, err := tlsconf.New(tlsconf.Options{Config: httpCfg, Listener: "http", Logger: logger, Registerer: reg})
		if err != nil {
			fmt.Println(err)
			return
		}
		defer src.Close()
		go func() { _ = src.Run(ctx) }()
		l = tls.NewListener(l, src.TLSConfig())
	}
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, tlsconf.PeerIdentities(r.TLS)) // nil without TLS
	})}
	go func() { _ = srv.Serve(l) }()
}
