package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestHashKey(t *testing.T) {
	const testHash = "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08" // SHA-256 of "test"
	const badChars = "sidecar hash-key: the token must be visible ASCII characters (0x21 to 0x7e) without spaces or further lines, or it cannot travel as \"Authorization: Bearer <token>\"\n"
	f := func(args []string, in string, code int, out, errOut string) {
		t.Helper()
		var stdout, stderr bytes.Buffer
		got := hashKeyIO(args, strings.NewReader(in), &stdout, &stderr)
		if got != code || stdout.String() != out || stderr.String() != errOut {
			t.Errorf("hash-key %q < %.40q (%d bytes) = %d %q %q\nwant %d %q %q", args, in, len(in), got, stdout.String(), stderr.String(), code, out, errOut)
		}
	}
	f(nil, "test", 0, testHash+"\n", "")
	f(nil, "test\n", 0, testHash+"\n", "")
	f(nil, "test\r\n", 0, testHash+"\n", "")
	f(nil, "test\n\n", 1, "", badChars)
	f(nil, "test ", 1, "", badChars)
	f(nil, "te st\n", 1, "", badChars)
	f(nil, "", 1, "", "sidecar hash-key: standard input is empty; pass the token on it, e.g. sidecar hash-key < token\n")
	f(nil, "\n", 1, "", "sidecar hash-key: standard input is empty; pass the token on it, e.g. sidecar hash-key < token\n")
	f(nil, strings.Repeat("a", maxKey+1), 1, "", "sidecar hash-key: the token is over 65536 bytes\n")
	f([]string{"test"}, "", 2, "", "sidecar hash-key: takes no arguments; pass the token on standard input\n\n"+hashKeyUsage)
	f([]string{"--help"}, "", 0, "", hashKeyUsage)

	f(nil, strings.Repeat("a", maxKey), 0, "sha256:bf718b6f653bebc184e1479f1935b8da974d701b893afcf49e701f3e2f9f9c5a\n", "")
}
