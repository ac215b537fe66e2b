package ratelimit

import (
	"strconv"
	"time"

	"github.com/tollgate/tollgate/counter"
)

// Counter keys are unambiguous: every variable part (domain, entry key, entry
// value) is written as its decimal byte length, ':', then the bytes, so no
// value can be mistaken for a separator. Each entry's value is preceded by '='
// (the request's value) or '*' (the shared wildcard pattern of a
// share_threshold rule). The limit suffix '|' requests '/' window '/'
// algorithm keeps two limits on the same descriptor on separate counters.
//
//	7:example3:key=5:value|100/60s/fixed_window

// appendPart appends one length-prefixed part to dst.
func appendPart(dst []byte, s string) []byte {
	dst = strconv.AppendInt(dst, int64(len(s)), 10)
	dst = append(dst, ':')
	return append(dst, s...)
}

// limitKeySuffix returns the key suffix of a limit.
func limitKeySuffix(requests uint32, window time.Duration, alg counter.Algorithm) string {
	b := []byte{'|'}
	b = strconv.AppendUint(b, uint64(requests), 10)
	b = append(b, '/')
	b = strconv.AppendInt(b, int64(window/time.Second), 10)
	b = append(b, 's', '/')
	b = append(b, alg.String()...)
	return string(b)
}

// newLimit builds a limit and its key suffix.
func newLimit(requests uint32, unit Unit, window time.Duration, alg counter.Algorithm) *limit {
	return &limit{
		info:      LimitInfo{RequestsPerUnit: requests, Unit: unit, Window: window},
		algorithm: alg,
		keySuffix: limitKeySuffix(requests, window, alg),
	}
}
