package ratelimit

import (
	"errors"
	"strings"
	"testing"
)

func TestRequestValidate(t *testing.T) {
	long := func(n int) string { return strings.Repeat("x", n) }
	descs := func(n int) []Descriptor {
		d := make([]Descriptor, n)
		for i := range d {
			d[i] = Descriptor{Entries: []Entry{{Key: "k", Value: "v"}}}
		}
		return d
	}
	f := func(name string, r Request, want string) {
		t.Helper()
		err := r.Validate()
		if want == "" {
			if err != nil {
				t.Errorf("%s: Validate() = %v, want nil", name, err)
			}
			return
		}
		if !errors.Is(err, ErrInvalidRequest) || err.Error() != want {
			t.Errorf("%s: Validate() = %v\nwant %q (matching ErrInvalidRequest)", name, err, want)
		}
	}
	atLimit := Request{Domain: long(MaxDomainLen), Descriptors: descs(MaxDescriptors)}
	atLimit.Descriptors[3].Entries = make([]Entry, MaxEntries)
	atLimit.Descriptors[3].Entries[5] = Entry{Key: long(MaxKeyLen), Value: long(MaxValueLen)}
	f("at every limit", atLimit, "")
	f("long domain", Request{Domain: long(MaxDomainLen + 1), Descriptors: descs(1)},
		"ratelimit: invalid request: domain is 257 bytes, over the limit of 256 (use a shorter domain)")
	f("many descriptors", Request{Domain: "d", Descriptors: descs(MaxDescriptors + 1)},
		"ratelimit: invalid request: 65 descriptors, over the limit of 64 (send fewer rate_limit actions per request)")
	many := descs(2)
	many[1].Entries = make([]Entry, MaxEntries+1)
	f("many entries", Request{Domain: "d", Descriptors: many},
		"ratelimit: invalid request: descriptor 1 has 17 entries, over the limit of 16 (split it)")
	longKey := descs(3)
	longKey[2].Entries = []Entry{{Key: "a", Value: "b"}, {Key: long(MaxKeyLen + 1), Value: "v"}}
	f("long key", Request{Domain: "d", Descriptors: longKey},
		"ratelimit: invalid request: descriptor 2 entry 1: key is 257 bytes, over the limit of 256 (use a shorter key)")
	longValue := descs(1)
	longValue[0].Entries[0].Value = long(1 << 20)
	f("long value", Request{Domain: "d", Descriptors: longValue},
		`ratelimit: invalid request: descriptor 0 entry 0 (key "k"): value is 1048576 bytes, over the limit of 256 (rate-limit on a shorter value, such as a hash or a prefix of it)`)
}
