package yamlconf

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
)

// Error is one config problem at a place in a file.
type Error struct {
	// File is the file name as the decoder was given it; empty when the
	// value came from elsewhere (flags, defaults).
	File string
	// Line and Col are the 1-based position of the problem, or 0 when it
	// has none (an empty file, a value not set in the file).
	Line, Col int
	// Path names the setting, such as "metering.plans[0].name" or
	// "descriptors[1].rate_limit.unit"; empty for the file as a whole.
	Path string
	// Msg says what is wrong and, in parentheses, how to fix it.
	Msg string
}

// Error returns "file:line:col: path: message (hint)", leaving out the
// parts that are unknown.
func (e Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteString(":" + strconv.Itoa(e.Line))
		if e.Col > 0 {
			b.WriteString(":" + strconv.Itoa(e.Col))
		}
	}
	if b.Len() > 0 {
		b.WriteString(": ")
	}
	if e.Path != "" {
		b.WriteString(e.Path + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem found, each file's in line and column order.
type Errors []Error

// Error returns one Error per line.
func (l Errors) Error() string {
	var b strings.Builder
	for i, e := range l {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// sortByPosition orders errors by line, then column, keeping the order of
// errors at the same place.
func (l Errors) sortByPosition() {
	slices.SortStableFunc(l, func(a, b Error) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Col, b.Col))
	})
}

// NotOneOf is the message for a value that is not among valid:
// `"x" is not one of a, b, c`.
func NotOneOf(value string, valid ...string) string {
	return strconv.Quote(value) + " is not one of " + strings.Join(valid, ", ")
}
