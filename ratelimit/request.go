package ratelimit

import (
	"context"
	"errors"
	"time"

	"github.com/tollgate/tollgate/counter"
)

// ErrInvalidRequest marks requests Envoy's API rejects: an empty domain or no
// descriptors. The envoy adapter maps it to INVALID_ARGUMENT.
var ErrInvalidRequest = errors.New("ratelimit: invalid request")

// Counter is the best-effort counter backend the service decides with
// (counter/memory, counter/redis). Apply counts hits[i] and writes the state
// after it to out[i]; len(out) == len(hits). It is one round trip per call.
// Errors that mean the backend could not be reached wrap counter.ErrUnavailable.
type Counter interface {
	Apply(ctx context.Context, now time.Time, hits []counter.Hit, out []counter.Outcome) error
}

// Unit is a rate-limit unit, numbered as in Envoy's RateLimitResponse.RateLimit.Unit.
type Unit int32

// Units, with the values of envoy.service.ratelimit.v3.RateLimitResponse.RateLimit.Unit.
const (
	UnitUnknown Unit = 0
	UnitSecond  Unit = 1
	UnitMinute  Unit = 2
	UnitHour    Unit = 3
	UnitDay     Unit = 4
	UnitMonth   Unit = 5
	UnitYear    Unit = 6
	UnitWeek    Unit = 7
)

// Entry is one key/value pair of a descriptor.
type Entry struct {
	Key   string
	Value string
}

// LimitOverride is a per-request limit sent by Envoy in a descriptor.
type LimitOverride struct {
	RequestsPerUnit uint32
	Unit            Unit
}

// Descriptor is one rate-limit descriptor of a request.
type Descriptor struct {
	Entries []Entry
	// Limit, when set, replaces the configured limit for this descriptor.
	Limit *LimitOverride
	// HitsAddend, when set, overrides the request's hits_addend for this
	// descriptor; zero means check without consuming.
	HitsAddend *uint64
}

// Request is a ShouldRateLimit call.
type Request struct {
	Domain      string
	Descriptors []Descriptor
	// HitsAddend is the request-wide number of hits; 0 means 1.
	HitsAddend uint64
}

// Code is a decision code, numbered as in Envoy's RateLimitResponse.Code.
type Code int32

// Codes, with the values of envoy.service.ratelimit.v3.RateLimitResponse.Code.
const (
	CodeUnknown   Code = 0
	CodeOK        Code = 1
	CodeOverLimit Code = 2
)

// LimitInfo describes the limit a descriptor was checked against.
type LimitInfo struct {
	Name            string
	RequestsPerUnit uint32
	Unit            Unit
	// Window is the window length; for custom windows (e.g. 30 seconds) Unit
	// is the nearest Envoy unit and Window says the truth.
	Window time.Duration
}

// DescriptorStatus is the decision for one descriptor.
type DescriptorStatus struct {
	Code Code
	// CurrentLimit is nil when no limit applied (no match, or unlimited).
	CurrentLimit       *LimitInfo
	LimitRemaining     uint32
	DurationUntilReset time.Duration
	// QuotaMode reports that the matched rule is a quota: over its limit the
	// descriptor says OVER_LIMIT but the overall code is not affected.
	QuotaMode bool
}

// Response is the decision for a whole request. Statuses has one entry per
// request descriptor, in order.
type Response struct {
	OverallCode Code
	Statuses    []DescriptorStatus
	// BackendFailed says the counter backend failed: the statuses and the
	// overall code come from the failure mode, not from counts.
	BackendFailed bool
}
