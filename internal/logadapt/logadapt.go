// Package logadapt sends the libraries' own loggers to the sidecar's
// slog.Logger: gocql's and go-redis's. Pebble's goes through
// internal/pebblefail.Logger, whose Fatalf also fails the store.
package logadapt

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
)

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
