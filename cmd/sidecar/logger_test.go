package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// TestLoggerFormats: log_format json writes one JSON object per record,
// text writes key=value pairs; records under log_level are dropped in both.
func TestLoggerFormats(t *testing.T) {
	var js bytes.Buffer
	l := newLogger(&js, "info", "json")
	l.Debug("hidden")
	l.Info("sidecar serving", "grpc_addr", "127.0.0.1:8081")
	lines := strings.Split(strings.TrimSpace(js.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("json log has %d lines, want 1: %q", len(lines), js.String())
	}
	var rec map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &rec); err != nil {
		t.Fatalf("json log line %q: %v", lines[0], err)
	}
	if rec["level"] != "INFO" || rec["msg"] != "sidecar serving" || rec["grpc_addr"] != "127.0.0.1:8081" {
		t.Errorf("json record %v", rec)
	}

	var txt bytes.Buffer
	l = newLogger(&txt, "warn", "text")
	l.Info("hidden")
	l.Warn("slow", "ms", 12)
	if got := txt.String(); strings.Count(got, "\n") != 1 || !strings.Contains(got, ` level=WARN msg=slow ms=12`) || strings.HasPrefix(got, "{") {
		t.Errorf("text log %q, want one key=value WARN record", got)
	}
}
