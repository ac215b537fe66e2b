package apiauth

import (
	"errors"
	"net/http"

	"github.com/tollgate/tollgate/internal/httperr"
)

// Require returns h behind the guard: need says what each request needs.
// A refused request gets the sidecar's JSON error body: 401 with code
// "unauthenticated" and WWW-Authenticate: Bearer realm="tollgate" when no
// valid credential came, 403 with code "permission_denied" when it lacks
// the scope. An admitted request reaches h with its principal in the
// context (FromContext); Open routes get none.
func (g *Guard) Require(h http.Handler, need func(*http.Request) Need) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := need(r)
		if g.free(n) {
			h.ServeHTTP(w, r)
			return
		}
		p, err := g.check(n, r.Header.Values("Authorization"), r.TLS)
		if err != nil {
			writeRefusal(w, err)
			return
		}
		if p != nil {
			r = r.WithContext(WithPrincipal(r.Context(), p))
		}
		h.ServeHTTP(w, r)
	})
}

// writeRefusal answers a check error with 401 or 403.
func writeRefusal(w http.ResponseWriter, err error) {
	if errors.Is(err, ErrUnauthenticated) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="tollgate"`)
		httperr.Write(w, http.StatusUnauthorized, "unauthenticated", err.Error())
		return
	}
	httperr.Write(w, http.StatusForbidden, "permission_denied", err.Error())
}
