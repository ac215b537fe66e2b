// Package logadapt is the one place where the libraries' own loggers are
// sent to the sidecar's slog.Logger: Pebble's (the counter store and the
// metering spool), gocql's and go-redis's.
package logadapt

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
)

// Pebble adapts l to Pebble's Logger. Its Fatalf, which Pebble calls on a
// failed commit (a full or broken disk) and on broken invariants, logs at
// error level and panics with a Fatal value: the caller of the Pebble
// operation recovers it with Recover and turns the store into a failed
// one, instead of the process dying mid-request.
type Pebble struct{ L *slog.Logger }

// Infof logs at info level.
func (p Pebble) Infof(format string, args ...any) { p.L.Info(fmt.Sprintf(format, args...)) }

// Errorf logs at error level.
func (p Pebble) Errorf(format string, args ...any) { p.L.Error(fmt.Sprintf(format, args...)) }

// Fatalf logs at error level and panics with a Fatal; it does not return.
func (p Pebble) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	p.L.Error(msg)
	panic(Fatal(msg))
}

// Fatal is the panic value of Pebble.Fatalf: what Pebble logged.
type Fatal string

// Error returns the text Pebble logged.
func (f Fatal) Error() string { return string(f) }

// Recover, deferred around a Pebble call, turns a Fatal panic into *err
// (other panics go on): recovered reports whether it did.
func Recover(err *error, recovered func(Fatal)) {
	r := recover()
	if r == nil {
		return
	}
	f, ok := r.(Fatal)
	if !ok {
		panic(r)
	}
	*err = f
	if recovered != nil {
		recovered(f)
	}
}

// Gocql adapts l to gocql's StdLogger, at info level (gocql logs host
// events and reconnections there).
type Gocql struct{ L *slog.Logger }

// Print logs its operands.
func (g Gocql) Print(v ...any) { g.L.Info(strings.TrimSpace(fmt.Sprint(v...))) }

// Printf logs a formatted line.
func (g Gocql) Printf(format string, v ...any) {
	g.L.Info(strings.TrimSpace(fmt.Sprintf(format, v...)))
}

// Println logs its operands.
func (g Gocql) Println(v ...any) { g.L.Info(strings.TrimSpace(fmt.Sprintln(v...))) }

// Redis adapts l to go-redis's logging interface, at warn level (go-redis
// logs dial failures and the like there).
type Redis struct{ L *slog.Logger }

// Printf logs a formatted line.
func (r Redis) Printf(ctx context.Context, format string, v ...any) {
	r.L.WarnContext(ctx, fmt.Sprintf(format, v...))
}
