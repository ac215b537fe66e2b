// Package envoy translates Envoy's gRPC APIs to Tollgate's domain types and
// back: rate limit v3 (RateLimitServer, and its /json HTTP handler) to
// ratelimit, ext_authz v3 (AuthorizationServer) and access log v3
// (AccessLogServer) to metering. It holds no decision logic and imports no
// backend; with counter/api it is where errors become gRPC codes.
package envoy
