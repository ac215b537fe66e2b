package main

import (
	"net/http"
	"os"
)

// tokenEnv names the environment variable the client commands (counter,
// usage, export) take a bearer token from: the environment, unlike
// arguments, stays out of process lists and shell history.
const tokenEnv = "TOLLGATE_API_TOKEN"

// authorize adds the bearer token of tokenEnv, when set, to req.
func authorize(req *http.Request) {
	if tok := os.Getenv(tokenEnv); tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
}
