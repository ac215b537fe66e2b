// Package envoy translates Envoy's gRPC APIs to Tollgate's domain types and
// back: rate limit v3 (RateLimitServer, and its /json HTTP handler) to
// ratelimit, ext_authz v3 (AuthorizationServer) and access log v3
// (AccessLogServer) to metering. It holds no decision logic and imports no
// backend; with counter/api it is where errors become gRPC codes.
//
// # Traces
//
// Given a trace.TracerProvider, each ShouldRateLimit (gRPC or /json),
// Check and access-log message makes a server span. A Check's span is a
// child of the span context in the checked request's headers
// (traceparent, or B3's x-b3-* or b3), so it joins the trace of the
// request Envoy checks; a ShouldRateLimit's, of the call's gRPC metadata
// (or the /json request's headers). Without a provider no span work is
// done: the calls allocate what they do without tracing.
package envoy
