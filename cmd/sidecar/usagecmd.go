package main

import (
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// queryFlags are the flags shared by `usage` and `export`.
type queryFlags struct {
	fs                                *flag.FlagSet
	addr, meter, from, to, window, tz string
	timeout                           time.Duration
}

func newQueryFlags(name, summary, windows string) *queryFlags {
	q := &queryFlags{fs: flag.NewFlagSet(name, flag.ContinueOnError)}
	q.fs.StringVar(&q.addr, "addr", "127.0.0.1:8080", "the sidecar's HTTP address")
	q.fs.StringVar(&q.meter, "meter", "", "meter name (required)")
	q.fs.StringVar(&q.from, "from", "", "start of the range, RFC 3339, on a window boundary (required)")
	q.fs.StringVar(&q.to, "to", "", "end of the range (exclusive), RFC 3339, on a window boundary (required)")
	q.fs.StringVar(&q.window, "window", "day", "window length: "+windows)
	q.fs.StringVar(&q.tz, "tz", "", "IANA time zone the windows are aligned in (default UTC)")
	q.fs.DurationVar(&q.timeout, "timeout", 30*time.Second, "request timeout")
	q.fs.Usage = func() {
		fmt.Fprintf(q.fs.Output(), "Usage: sidecar %s [flags]\n\n%s With api_auth on, set %s to a bearer token.\n\nFlags:\n", name, summary, tokenEnv)
		q.fs.PrintDefaults()
	}
	return q
}

func (q *queryFlags) values() url.Values {
	v := url.Values{"meter": {q.meter}, "from": {q.from}, "to": {q.to}, "window": {q.window}}
	if q.tz != "" {
		v.Set("tz", q.tz)
	}
	return v
}

// usageCmd runs `sidecar usage`.
func usageCmd(args []string) int {
	q := newQueryFlags("usage", "Prints a meter's usage per window for one tenant, as JSON, from a running sidecar (GET /v1/usage).", "hour, day or month")
	tenant := q.fs.String("tenant", "", "tenant id (required)")
	route := q.fs.String("route", "", "route prefix, for meters grouped by route")
	if err := q.fs.Parse(args); err != nil {
		return exitCode(err)
	}
	v := q.values()
	v.Set("tenant", *tenant)
	if *route != "" {
		v.Set("route", *route)
	}
	return getTo(os.Stdout, q.timeout, "http://"+q.addr+"/v1/usage?"+v.Encode())
}

// exportCmd runs `sidecar export`.
func exportCmd(args []string) int {
	q := newQueryFlags("export", "Writes a meter's billing export, one row per tenant and closed window, from a running sidecar (GET /v1/export).", "day or month")
	format := q.fs.String("format", "csv", "csv, jsonl or parquet")
	out := q.fs.String("out", "", "file to write (default: standard output); written only when the export succeeds")
	if err := q.fs.Parse(args); err != nil {
		return exitCode(err)
	}
	v := q.values()
	v.Set("format", *format)
	if *out == "" {
		return getTo(os.Stdout, q.timeout, "http://"+q.addr+"/v1/export?"+v.Encode())
	}
	tmp, err := os.CreateTemp(filepath.Dir(*out), ".export-*")
	if err != nil {
		fmt.Fprintln(os.Stderr, "sidecar export:", err)
		return 1
	}
	defer os.Remove(tmp.Name())
	code := getTo(tmp, q.timeout, "http://"+q.addr+"/v1/export?"+v.Encode())
	if err := tmp.Close(); err != nil && code == 0 {
		fmt.Fprintln(os.Stderr, "sidecar export:", err)
		return 1
	}
	if code != 0 {
		return code
	}
	if err := os.Rename(tmp.Name(), *out); err != nil {
		fmt.Fprintln(os.Stderr, "sidecar export:", err)
		return 1
	}
	return 0
}

// getTo copies the body of a successful GET to w; a failed one prints the
// server's error and returns 1.
func getTo(w io.Writer, timeout time.Duration, u string) int {
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "invalid request:", err)
		return 1
	}
	authorize(req)
	resp, err := (&http.Client{Timeout: timeout}).Do(req)
	if err != nil {
		fmt.Fprintln(os.Stderr, "cannot reach the sidecar:", err)
		return 1
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
		fmt.Fprintf(os.Stderr, "%s: %s\n", resp.Status, strings.TrimSpace(string(body)))
		return 1
	}
	if _, err := io.Copy(w, resp.Body); err != nil {
		fmt.Fprintln(os.Stderr, "cannot read the answer:", err)
		return 1
	}
	return 0
}
