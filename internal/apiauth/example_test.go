package apiauth_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/tollgate/tollgate/internal/apiauth"
)

// A usage endpoint behind the guard: the tenant in the query is the scope
// it needs, and the handler sees the principal.
func ExampleGuard_Require() {
	g, err := apiauth.New(apiauth.Config{Tokens: []apiauth.Token{
		{Name: "acme-dashboard", Hash: apiauth.HashToken("s3cr3t"), Scopes: []string{"usage:read:acme"}},
	}}, apiauth.Options{})
	if err != nil {
		panic(err)
	}
	usage := g.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "usage for %s\n", apiauth.FromContext(r.Context()).Name())
	}), func(r *http.Request) apiauth.Need {
		return apiauth.Needs(apiauth.UsageScope(r.URL.Query().Get("tenant")))
	})
	for _, tenant := range []string{"acme", "globex"} {
		req := httptest.NewRequest("GET", "/v1/usage?tenant="+tenant, nil)
		req.Header.Set("Authorization", "Bearer s3cr3t")
		rec := httptest.NewRecorder()
		usage.ServeHTTP(rec, req)
		fmt.Print(rec.Code, " ", rec.Body.String())
	}
	// Output:
	// 200 usage for acme-dashboard
	// 403 {"error":{"code":"permission_denied","message":"credential \"acme-dashboard\" lacks the scope usage:read:globex"}}
}
