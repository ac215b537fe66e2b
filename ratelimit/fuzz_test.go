package ratelimit

import (
	"errors"
	"strings"
	"testing"
)

// FuzzRequestValidate builds requests of fuzzed shape and checks that
// Validate refuses exactly those over a bound.
func FuzzRequestValidate(f *testing.F) {
	f.Add("d", uint8(1), uint8(1), uint16(1), uint16(1))
	f.Add("d", uint8(MaxDescriptors), uint8(MaxEntries), uint16(MaxKeyLen), uint16(MaxValueLen+1))
	f.Fuzz(func(t *testing.T, domain string, descs, entries uint8, keyLen, valueLen uint16) {
		key, value := strings.Repeat("k", int(keyLen)), strings.Repeat("v", int(valueLen))
		r := Request{Domain: domain, Descriptors: make([]Descriptor, descs)}
		for i := range r.Descriptors {
			r.Descriptors[i].Entries = make([]Entry, entries)
			for j := range r.Descriptors[i].Entries {
				r.Descriptors[i].Entries[j] = Entry{Key: key, Value: value}
			}
		}
		over := len(domain) > MaxDomainLen || int(descs) > MaxDescriptors ||
			(descs > 0 && (int(entries) > MaxEntries || (entries > 0 && (int(keyLen) > MaxKeyLen || int(valueLen) > MaxValueLen))))
		err := r.Validate()
		if over != (err != nil) || (err != nil && !errors.Is(err, ErrInvalidRequest)) {
			t.Fatalf("domain %d bytes, %d descriptors of %d entries, key %d, value %d bytes: Validate() = %v, want an error: %v", len(domain), descs, entries, keyLen, valueLen, err, over)
		}
	})
}
