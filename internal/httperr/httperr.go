// Package httperr is the sidecar's one HTTP error format:
// {"error":{"code":"...","message":"..."}}, shared by every JSON endpoint
// and by ext_authz denial bodies.
package httperr

import (
	"encoding/json"
	"net/http"
)

type body struct {
	Error detail `json:"error"`
}

type detail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Body returns {"error":{"code":code,"message":message}}.
func Body(code, message string) []byte {
	b, _ := json.Marshal(body{detail{code, message}}) // strings always encode
	return b
}

// Write answers with status and the Body of code and message, as
// application/json followed by a newline.
func Write(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(Body(code, message), '\n'))
}
