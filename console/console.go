// Package console serves the usage console: a browser page for billing
// engineers and support staff, from assets embedded in the binary, and the
// process metrics it shows, as JSON.
//
// The page (assets/) is plain HTML, CSS and JavaScript with uPlot vendored
// under assets/vendor/; it reads the metering JSON APIs (/v1/catalog,
// /v1/usage, /v1/usage/top, /v1/quota) and /v1/stats, sending
// "Authorization: Bearer <token>" when the user entered a token.
package console

import (
	"embed"
	"encoding/json"
	"io/fs"
	"net/http"

	"github.com/tollgate/tollgate/internal/httperr"
)

//go:embed assets
var assets embed.FS

// Prefix is the path the console is served under.
const Prefix = "/ui/"

// contentSecurityPolicy lets the page load only its own assets and call
// only its own origin.
const contentSecurityPolicy = "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"

// Handler returns the handler of GET Prefix and the assets under it.
func Handler() http.Handler {
	sub, err := fs.Sub(assets, "assets")
	if err != nil {
		panic(err) // the embedded tree always has assets/
	}
	files := http.StripPrefix(Prefix, http.FileServerFS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			httperr.Write(w, http.StatusMethodNotAllowed, "method_not_allowed", r.Method+" is not allowed (hint: use GET)")
			return
		}
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
