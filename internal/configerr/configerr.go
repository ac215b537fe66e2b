// Package configerr is the positioned error list every config loader
// returns (rate-limit rules, metering): one "file:line: message" per
// problem, all problems at once.
package configerr

import (
	"strconv"
	"strings"
)

// Error is one config problem at a place in a file.
type Error struct {
	// File is the file name as the loader was given it.
	File string
	// Line is the 1-based line of the problem, or 0 when it has none.
	Line int
	// Msg says what is wrong and how to fix it.
	Msg string
}

// Error returns "file:line: message" ("file: message" without a line).
func (e Error) Error() string {
	if e.Line == 0 {
		return e.File + ": " + e.Msg
	}
	return e.File + ":" + strconv.Itoa(e.Line) + ": " + e.Msg
}

// List is every problem a loader found, in file and line order.
type List []Error

// Error returns one "file:line: message" per line.
func (l List) Error() string {
	var b strings.Builder
	for i, e := range l {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}
