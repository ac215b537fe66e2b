package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

const counterUsage = `Usage: sidecar counter <add|add-and-get|get|clear> [flags]

Talks to a running sidecar's counter API over HTTP (POST /v1/counter/...).
With api_auth on, set TOLLGATE_API_TOKEN to a bearer token.
Adds and clears carry an idempotency token: pass the same --token and --time
to retry without counting twice (a new token is made when --token is empty).
`

// counterCmd runs `sidecar counter ...` and returns the exit code.
func counterCmd(args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(os.Stderr, counterUsage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	op := args[0]
	path := map[string]string{"add": "add", "add-and-get": "addAndGet", "get": "get", "clear": "clear"}[op]
	if path == "" {
		fmt.Fprintf(os.Stderr, "sidecar counter: unknown operation %q\n\n%s", op, counterUsage)
		return 2
	}
	fs := flag.NewFlagSet("counter "+op, flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8080", "the sidecar's HTTP address")
	ns := fs.String("namespace", "", "counter namespace (required)")
	name := fs.String("name", "", "counter name (required)")
	delta := fs.Int64("delta", 1, "amount to add (add, add-and-get); may be negative")
	token := fs.String("token", "", "idempotency token (add, add-and-get, clear); default: a new random token")
	at := fs.String("time", "", "token generation time, RFC 3339 (add, add-and-get, clear); default: now")
	timeout := fs.Duration("timeout", 5*time.Second, "request timeout")
	if err := fs.Parse(args[1:]); err != nil {
		return exitCode(err)
	}
	body := map[string]any{"namespace": *ns, "counter_name": *name}
	if op != "get" {
		tok, err := idempotencyToken(*token, *at)
		if err != nil {
			fmt.Fprintln(os.Stderr, "sidecar counter:", err)
			return 2
		}
		body["idempotency_token"] = tok
	}
	if op == "add" || op == "add-and-get" {
		body["delta"] = *delta
	}
	out, err := postJSON(&http.Client{Timeout: *timeout}, "http://"+*addr+"/v1/counter/"+path, body)
	if err != nil {
		fmt.Fprintln(os.Stderr, "sidecar counter:", err)
		return 1
	}
	fmt.Println(out)
	return 0
}

// idempotencyToken builds the JSON token, making a random token and taking
// the current time where they are not given.
func idempotencyToken(token, at string) (map[string]string, error) {
	if token == "" {
		var b [16]byte
		_, _ = rand.Read(b[:])
		token = hex.EncodeToString(b[:])
	}
	if at == "" {
		at = time.Now().UTC().Format(time.RFC3339Nano)
	} else if _, err := time.Parse(time.RFC3339Nano, at); err != nil {
		return nil, fmt.Errorf("--time %q is not RFC 3339 (e.g. 2026-11-27T15:04:05Z): %w", at, err)
	}
	return map[string]string{"token": token, "generation_time": at}, nil
}

// postJSON posts body and returns the response body, or an error carrying the
// server's error message for a non-2xx answer.
func postJSON(c *http.Client, url string, body any) (string, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return "", err
	}
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(b))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	authorize(req)
	resp, err := c.Do(req)
	if err != nil {
		return "", fmt.Errorf("cannot reach the sidecar: %w", err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", err
	}
	text := strings.TrimSpace(string(out))
	if resp.StatusCode/100 != 2 {
		return "", fmt.Errorf("%s: %s", resp.Status, text)
	}
	return text, nil
}
