// Package tlsconf is the transport security of the sidecar's listeners: the
// settings model, the certificates served from files that are reloaded when
// they rotate, the identity of a verified client, and the rule that keeps a
// listener reachable from the network from serving plaintext.
//
// # Settings
//
// One shared block configures both listeners; a per-listener block
// overrides it field by field (an empty field inherits the shared value):
//
//	tls:                       # both listeners
//	  cert_file: /etc/tollgate/tls/tls.crt
//	  key_file: /etc/tollgate/tls/tls.key
//	  client_ca_file: /etc/tollgate/tls/ca.crt
//	  client_auth: require     # none | request | require; default none
//	  min_version: "1.2"       # 1.2 | 1.3; default 1.2
//	grpc_tls: {}               # overrides for the gRPC listener only
//	http_tls:                  # overrides for the HTTP listener only
//	  client_auth: none        # e.g. let Prometheus scrape without a client certificate
//	allow_insecure_listeners: false
//
// A listener serves TLS when its resolved block (Resolve) names a
// cert_file. To encrypt only one listener, leave tls out and set that
// listener's block.
//
// # Reloading
//
// A Source loads the key pair and the client CA bundle and serves them
// through tls.Config.GetConfigForClient, so every new handshake uses the
// files as last loaded while established connections keep the session they
// negotiated. Source.Run watches the files' directories (new, replaced or
// renamed files, a Kubernetes "..data" symlink swap) and re-reads them
// periodically in case an event is missed. A file that fails to load
// leaves the previous certificates in use, is logged and counted in
// tollgate_tls_reloads_total{listener,result="failure"}.
//
// # Exposure
//
// CheckExposure refuses a listener on a non-loopback address without TLS,
// unless allow_insecure_listeners is set.
package tlsconf
