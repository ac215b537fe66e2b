package global

import (
	"errors"
	"fmt"
)

// Errors callers branch on with errors.Is.
var (
	// ErrUnknownNamespace marks a request for a namespace that is not
	// configured (HTTP 404, gRPC NOT_FOUND).
	ErrUnknownNamespace = errors.New("counter/global: unknown namespace")
	// ErrInvalidArgument marks a request that can never succeed as sent:
	// a bad name or token, an add outside the accepted time window, or an
	// overflowing delta (HTTP 400, gRPC INVALID_ARGUMENT). The message says
	// what is wrong and how to fix it.
	ErrInvalidArgument = errors.New("counter/global: invalid argument")
	// ErrClosed marks a request after Close.
	ErrClosed = errors.New("counter/global: counters are closed (the process is shutting down; retry on another instance)")
)

// invalid returns an ErrInvalidArgument error with the formatted detail.
func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidArgument}, args...)...)
}

// unknownNamespace returns an ErrUnknownNamespace error for ns.
func unknownNamespace(ns string) error {
	return fmt.Errorf("%w %q (add it to the counter namespaces configuration)", ErrUnknownNamespace, ns)
}

// overflow returns the ErrInvalidArgument error of an add of delta to a
// counter whose live count is count.
func overflow(delta, count int64, name string) error {
	return invalid("adding %d to count %d of %q overflows int64 (clear the counter or use a smaller delta)", delta, count, name)
}
