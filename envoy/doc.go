// Package envoy translates Envoy's gRPC APIs (rate limit v3, and later
// ext_authz v3 and access log v3) to Tollgate's domain types and back. It holds
// no decision logic and imports no backend; it is the only package that maps
// errors to gRPC codes.
package envoy
