package tracing

// Attribute keys of Tollgate's spans, shared by every traced package so
// one thing has one name. Keys in the tollgate. namespace are Tollgate's;
// the others are OpenTelemetry semantic conventions.
const (
	// AttrRPCSystem is "grpc" on the spans of gRPC calls.
	AttrRPCSystem = "rpc.system"
	// AttrDomain is a rate-limit request's domain.
	AttrDomain = "tollgate.ratelimit.domain"
	// AttrDescriptors is the number of descriptors of a rate-limit request.
	AttrDescriptors = "tollgate.ratelimit.descriptors"
	// AttrCode is a rate-limit decision's overall code (OK, OVER_LIMIT).
	AttrCode = "tollgate.ratelimit.code"
	// AttrHits is the number of counter hits of one backend call.
	AttrHits = "tollgate.ratelimit.hits"
	// AttrRequestID is the x-request-id of the request Envoy checks.
	AttrRequestID = "tollgate.request_id"
	// AttrMethod is the HTTP method of the request Envoy checks.
	AttrMethod = "http.request.method"
	// AttrStatus is the HTTP status of a Check's answer (200 allowed).
	AttrStatus = "http.response.status_code"
	// AttrTenant and AttrPlan are the tenant and plan a Check identified.
	AttrTenant = "tollgate.tenant"
	AttrPlan   = "tollgate.plan"
	// AttrBuckets is the number of buckets of one RLQS usage report.
	AttrBuckets = "tollgate.rlqs.buckets"
	// AttrEntries is the number of access-log entries of one message.
	AttrEntries = "tollgate.accesslog.entries"
	// AttrNamespace and AttrCounter name a counter.
	AttrNamespace = "tollgate.counter.namespace"
	AttrCounter   = "tollgate.counter.name"
	// AttrEvents is the number of counter events of a batch (an append, a
	// spool shipment, a batch add).
	AttrEvents = "tollgate.counter.events"
	// AttrDBSystem is the backend of a store call: redis, memory, pebble
	// or cassandra.
	AttrDBSystem = "db.system.name"
)
