package ratelimit

import (
	"strconv"
	"time"
)

// Tighter reports whether status a is tighter than status b, by the one rule
// every RateLimit-* header and every descriptor's reported limit follow:
//
//  1. a status with a limit (CurrentLimit set) beats one without;
//  2. OVER_LIMIT beats any other code;
//  3. fewer hits remaining beats more;
//  4. a longer wait until reset beats a shorter one.
//
// When all four tie, neither is tighter, so a caller scanning in order keeps
// the first it saw.
func Tighter(a, b *DescriptorStatus) bool {
	if (a.CurrentLimit != nil) != (b.CurrentLimit != nil) {
		return a.CurrentLimit != nil
	}
	if aOver, bOver := a.Code == CodeOverLimit, b.Code == CodeOverLimit; aOver != bOver {
		return aOver
	}
	if a.LimitRemaining != b.LimitRemaining {
		return a.LimitRemaining < b.LimitRemaining
	}
	return a.DurationUntilReset > b.DurationUntilReset
}

// Tightest returns the index of the tightest status with a limit by the rule
// of Tighter (the first one on a full tie), or -1 when no status has a limit.
func Tightest(sts []DescriptorStatus) int {
	best := -1
	for i := range sts {
		if sts[i].CurrentLimit == nil {
			continue
		}
		if best < 0 || Tighter(&sts[i], &sts[best]) {
			best = i
		}
	}
	return best
}

// FormatLimit returns the RateLimit-Limit header value for requests per
// window, in the quota-policy form of draft-ietf-httpapi-ratelimit-headers-03:
// "5, 5;w=60" (the limit, then the policy with its window in whole seconds).
// The rate-limit service's headers and ext_authz Check's use it, so one limit
// reads the same on both paths.
func FormatLimit(requests uint64, window time.Duration) string {
	var buf [64]byte
	b := strconv.AppendUint(buf[:0], requests, 10)
	b = append(b, ", "...)
	b = strconv.AppendUint(b, requests, 10)
	b = append(b, ";w="...)
	b = strconv.AppendInt(b, int64(window/time.Second), 10)
	return string(b)
}

// FormatSeconds returns d in whole seconds rounded up, the form of the
// RateLimit-Reset and Retry-After header values.
func FormatSeconds(d time.Duration) string {
	return strconv.FormatInt(int64((d+time.Second-1)/time.Second), 10)
}
