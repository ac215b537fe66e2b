package logadapt

import (
	"bytes"
	"context"
	"errors"
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

// TestPebbleFatalRecovered: Fatalf logs and panics with a Fatal that
// Recover turns into the error; other panics are not swallowed.
func TestPebbleFatalRecovered(t *testing.T) {
	var buf bytes.Buffer
	p := Pebble{logger(&buf)}
	var got Fatal
	call := func() (err error) {
		defer Recover(&err, func(f Fatal) { got = f })
		p.Fatalf("wal: %s", "no space left on device")
		return nil
	}
	err := call()
	if err == nil || err.Error() != "wal: no space left on device" || got != "wal: no space left on device" {
		t.Fatalf("err %v, recovered %q", err, got)
	}
	var f Fatal
	if !errors.As(err, &f) {
		t.Fatalf("err %T is not a Fatal", err)
	}
	if want := "level=ERROR msg=\"wal: no space left on device\"\n"; buf.String() != want {
		t.Fatalf("log %q, want %q", buf.String(), want)
	}
	defer func() {
		if r := recover(); r != "other" {
			t.Fatalf("recovered %v, want the other panic to go on", r)
		}
	}()
	func() (err error) {
		defer Recover(&err, nil)
		panic("other")
	}()
}

func TestAdaptersLevels(t *testing.T) {
	var buf bytes.Buffer
	l := logger(&buf)
	Pebble{l}.Infof("flushed %d", 1)
	Gocql{l}.Printf("host %s up ", "a")
	Redis{l}.Printf(context.Background(), "dial %s", "refused")
	want := "level=INFO msg=\"flushed 1\"\nlevel=INFO msg=\"host a up\"\nlevel=WARN msg=\"dial refused\"\n"
	if buf.String() != want {
		t.Fatalf("got %q\nwant %q", buf.String(), want)
	}
}
