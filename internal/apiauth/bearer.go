package apiauth

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"strings"
)

// hashPrefix starts every stored token hash.
const hashPrefix = "sha256:"

// HashToken returns "sha256:<64 lowercase hex digits>", the form api_auth
// stores a bearer token in (what `sidecar hash-key` prints).
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hashPrefix + hex.EncodeToString(sum[:])
}

// Errors of ParseAuthorization. Their texts never quote the header, which may
// hold a secret.
var (
	// ErrNoCredentials is an absent or empty Authorization header.
	ErrNoCredentials = errors.New("no credentials: send \"Authorization: Bearer <token>\" or a client certificate api_auth lists")
	// ErrMalformedAuthorization is an Authorization header that is not
	// exactly "Bearer <token>".
	ErrMalformedAuthorization = errors.New("the Authorization header is not \"Bearer <token>\" (one space, then one token of visible ASCII characters)")
)

// ParseAuthorization returns the token of an Authorization header value
// "Bearer <token>": the scheme in any case, exactly one space, then a token
// of one or more visible ASCII characters (0x21 to 0x7e) and nothing else.
// An empty value is ErrNoCredentials; anything else is
// ErrMalformedAuthorization.
func ParseAuthorization(h string) (string, error) {
	if h == "" {
		return "", ErrNoCredentials
	}
	const scheme = "bearer "
	if len(h) <= len(scheme) || !strings.EqualFold(h[:len(scheme)], scheme) {
		return "", ErrMalformedAuthorization
	}
	tok := h[len(scheme):]
	for i := 0; i < len(tok); i++ {
		if tok[i] <= ' ' || tok[i] > '~' {
			return "", ErrMalformedAuthorization
		}
	}
	return tok, nil
}

// tokenTable matches presented tokens against the configured hashes.
type tokenTable struct {
	sums   [][sha256.Size]byte
	owners []*Principal
}

// lookup returns the principal whose hash is tok's, or nil. It compares
// against every hash in constant time and without an early exit, so timing
// shows neither whether nor which hash matched.
func (t *tokenTable) lookup(tok string) *Principal {
	sum := sha256.Sum256([]byte(tok))
	match := -1
	for i := range t.sums {
		eq := subtle.ConstantTimeCompare(sum[:], t.sums[i][:])
		match = subtle.ConstantTimeSelect(eq, i, match)
	}
	if match < 0 {
		return nil
	}
	return t.owners[match]
}
