package logadapt

import (
	"bytes"
	"context"
	"log/slog"
	"testing"
)

func logger(buf *bytes.Buffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}}))
}

// TestAdaptersLevels: each adapter logs at its level, trimmed.
func TestAdaptersLevels(t *testing.T) {
	var buf bytes.Buffer
	l := logger(&buf)
	Gocql{l}.Printf("host %s up ", "a")
	Redis{l}.Printf(context.Background(), "dial %s", "refused")
	want := "level=INFO msg=\"host a up\"\nlevel=WARN msg=\"dial refused\"\n"
	if buf.String() != want {
		t.Fatalf("got %q\nwant %q", buf.String(), want)
	}
}
