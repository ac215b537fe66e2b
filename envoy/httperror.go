package envoy

import (
	"encoding/json"
	"net/http"
)

// writeJSONError writes {"error":{"code":...,"message":...}} with the status.
func writeJSONError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": code, "message": message}})
}
