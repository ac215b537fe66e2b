package ratelimit

import "fmt"

// Bounds of one request, checked by Request.Validate. They keep a request
// from planting arbitrarily large keys in a counter backend.
const (
	// MaxDomainLen is the longest domain, in bytes.
	MaxDomainLen = 256
	// MaxDescriptors is the most descriptors in one request.
	MaxDescriptors = 64
	// MaxEntries is the most entries in one descriptor.
	MaxEntries = 16
	// MaxKeyLen is the longest entry key, in bytes.
	MaxKeyLen = 256
	// MaxValueLen is the longest entry value, in bytes.
	MaxValueLen = 256
)

// Validate checks r against the request bounds above and returns an error
// wrapping ErrInvalidRequest that names the first bound r exceeds and where.
// It does not allocate unless r is invalid. Every transport calls it before
// deciding.
func (r *Request) Validate() error {
	if len(r.Domain) > MaxDomainLen {
		return fmt.Errorf("%w: domain is %d bytes, over the limit of %d (use a shorter domain)", ErrInvalidRequest, len(r.Domain), MaxDomainLen)
	}
	if len(r.Descriptors) > MaxDescriptors {
		return fmt.Errorf("%w: %d descriptors, over the limit of %d (send fewer rate_limit actions per request)", ErrInvalidRequest, len(r.Descriptors), MaxDescriptors)
	}
	for i := range r.Descriptors {
		entries := r.Descriptors[i].Entries
		if len(entries) > MaxEntries {
			return fmt.Errorf("%w: descriptor %d has %d entries, over the limit of %d (split it)", ErrInvalidRequest, i, len(entries), MaxEntries)
		}
		for j := range entries {
			e := &entries[j]
			if len(e.Key) > MaxKeyLen {
				return fmt.Errorf("%w: descriptor %d entry %d: key is %d bytes, over the limit of %d (use a shorter key)", ErrInvalidRequest, i, j, len(e.Key), MaxKeyLen)
			}
			if len(e.Value) > MaxValueLen {
				return fmt.Errorf("%w: descriptor %d entry %d (key %q): value is %d bytes, over the limit of %d (rate-limit on a shorter value, such as a hash or a prefix of it)", ErrInvalidRequest, i, j, e.Key, len(e.Value), MaxValueLen)
			}
		}
	}
	return nil
}
