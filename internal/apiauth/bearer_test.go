package apiauth

import (
	"errors"
	"strings"
	"testing"
)

func TestHashToken(t *testing.T) {
	// SHA-256 of "test", a published test vector.
	if got := HashToken("test"); got != "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08" {
		t.Fatalf("HashToken = %s", got)
	}
}

func TestParseAuthorization(t *testing.T) {
	f := func(h, wantTok string, wantErr error) {
		t.Helper()
		tok, err := ParseAuthorization(h)
		if tok != wantTok || !errors.Is(err, wantErr) || (wantErr == nil) != (err == nil) {
			t.Errorf("ParseAuthorization(%q) = %q, %v; want %q, %v", h, tok, err, wantTok, wantErr)
		}
	}
	f("", "", ErrNoCredentials)
	f("Bearer abc", "abc", nil)
	f("bearer abc", "abc", nil)
	f("BEARER a.b-c_d~e+f/g==", "a.b-c_d~e+f/g==", nil)
	f("Bearer !#$%&'()*,:;<>?@[]^`{|}", "!#$%&'()*,:;<>?@[]^`{|}", nil)
	f("Bearer", "", ErrMalformedAuthorization)
	f("Bearer ", "", ErrMalformedAuthorization)
	f("Bearer  abc", "", ErrMalformedAuthorization)
	f("Bearer abc ", "", ErrMalformedAuthorization)
	f("Bearer abc def", "", ErrMalformedAuthorization)
	f("Bearer\tabc", "", ErrMalformedAuthorization)
	f(" Bearer abc", "", ErrMalformedAuthorization)
	f("Basic dXNlcjpwYXNz", "", ErrMalformedAuthorization)
	f("Bearerabc", "", ErrMalformedAuthorization)
	f("abc", "", ErrMalformedAuthorization)
	f("Bearer ab\x00c", "", ErrMalformedAuthorization)
	f("Bearer ab\x7fc", "", ErrMalformedAuthorization)
	f("Bearer abc\u00e9", "", ErrMalformedAuthorization)
	f("Bearer abc\n", "", ErrMalformedAuthorization)
}

func FuzzParseAuthorization(f *testing.F) {
	// The seed corpus is testdata/fuzz/FuzzParseAuthorization.
	f.Fuzz(func(t *testing.T, h string) {
		tok, err := ParseAuthorization(h)
		if err != nil {
			if tok != "" {
				t.Fatalf("token %q with error %v", tok, err)
			}
			if err != ErrNoCredentials && err != ErrMalformedAuthorization {
				t.Fatalf("unexpected error %v", err)
			}
			if (h == "") != (err == ErrNoCredentials) {
				t.Fatalf("%q: error %v", h, err)
			}
			return
		}
		if tok == "" || len(h) != len("Bearer ")+len(tok) || !strings.EqualFold(h[:7], "Bearer ") || h[7:] != tok {
			t.Fatalf("%q: token %q is not what follows \"Bearer \"", h, tok)
		}
		for i := 0; i < len(tok); i++ {
			if tok[i] < 0x21 || tok[i] > 0x7e {
				t.Fatalf("%q: token %q holds byte %#x", h, tok, tok[i])
			}
		}
	})
}

func TestTokenLookup(t *testing.T) {
	tokens := []string{"alpha-0000000000000000", "bravo-0000000000000000", "charl-0000000000000000"}
	var tt tokenTable
	for i, tok := range tokens {
		sum, _ := parseHash(HashToken(tok))
		tt.sums = append(tt.sums, [32]byte(sum))
		tt.owners = append(tt.owners, &Principal{name: tokens[i][:5]})
	}
	for _, tok := range tokens {
		if p := tt.lookup(tok); p.Name() != tok[:5] {
			t.Errorf("lookup(%q) = %s", tok, p.Name())
		}
	}
	// Same length as the stored tokens, one byte off: refused.
	for _, tok := range []string{"alpha-0000000000000001", "bravo-000000000000000", "", "Alpha-0000000000000000"} {
		if p := tt.lookup(tok); p != nil {
			t.Errorf("lookup(%q) = %s, want no match", tok, p.Name())
		}
	}
}
