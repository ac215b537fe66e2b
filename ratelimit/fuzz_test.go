package ratelimit

import (
	"errors"
	"os"
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

// FuzzParseConfig loads arbitrary YAML as a rate-limit config file: it
// never panics, returns a config or an error naming the file, never both.
func FuzzParseConfig(f *testing.F) {
	for _, path := range []string{"../examples/bench/ratelimit.yaml", "../examples/ratelimit/quickstart.yaml"} {
		if data, err := os.ReadFile(path); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte("domain: d\ndescriptors:\n  - key: k\n    rate_limit: {unit: second, requests_per_unit: 5}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := ParseConfig("fuzz.yaml", data)
		if (cfg == nil) == (err == nil) {
			t.Fatalf("ParseConfig(%q) = %v, %v: want a config or an error", data, cfg, err)
		}
		if err != nil && !strings.Contains(err.Error(), "fuzz.yaml") {
			t.Fatalf("ParseConfig(%q): error %q does not name the file", data, err)
		}
	})
}
