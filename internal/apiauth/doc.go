// Package apiauth decides who may call the sidecar's APIs and what they may
// do: the api_auth settings, bearer-token and client-certificate
// authentication, scopes, the HTTP middleware and gRPC interceptors that
// enforce them, the counter API's billing guard and the audit log.
//
// # Credentials
//
// A bearer token is stored only as "sha256:<hex>" (Config.Validate refuses
// anything else); a presented token is hashed and compared with every
// stored hash in constant time. A client certificate's identities (URI and
// DNS SANs, verified by the TLS layer, handed in by Options.PeerIdentities)
// are matched exactly against api_auth.identities, or by prefix for a
// "spiffe://<trust domain>/…/*" form. A token, when sent, decides alone.
// The result is a Principal: a name for the audit log and its scopes.
//
// # Scopes
//
//	counters:read:<namespace|*>    get
//	counters:write:<namespace|*>   add, addAndGet, batchAdd
//	counters:clear:<namespace|*>   clear
//	counters:write-billing         also needed to write or clear a namespace a meter or quota owns
//	usage:read:<tenant|*>          usage of that tenant
//	export:<meter|*>[:<tenant|*>]  billing export of that meter (only that tenant's rows)
//	events:write                   post usage events (POST /v1/events), any tenant
//	admin                          every scope except counters:write-billing
//
// counters:write-billing is never implied: not by "*", not by admin, not by
// an open API. A tenant-restricted credential sees only its tenants: the
// usage and export handlers narrow rows with Principal.UsageTenants and
// Principal.ExportTenants.
//
// # Enforcement
//
// Every route and gRPC method gets a Need: Open, Credential (the handler
// checks scopes itself, as the counter API does through Guard.CheckCounter),
// EnvoyPeer (the Envoy-facing services, gated by envoy_identities) or
// Needs(scope). The zero Need refuses, so an unclassified method is closed.
// Guard.Require answers 401/403 with the JSON error body; the interceptors
// answer codes.Unauthenticated/PermissionDenied. With no credential
// configured every caller is the "anonymous" principal holding admin, which
// CheckOpen allows only while every listener is on loopback.
//
// # Audit
//
// Guard.Audit writes one slog line per counter clear, billing-namespace
// write and export: action, principal name, object, time. It never writes
// a token or a hash.
package apiauth
