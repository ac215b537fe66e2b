package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/tollgate/tollgate/internal/apiauth"
)

const hashKeyUsage = `Usage: sidecar hash-key < token-file

Reads a bearer token on standard input (one trailing newline is dropped) and
prints the sha256:<hex> to put in api_auth.tokens[].hash. The token is read
from standard input, never from arguments, to keep it out of shell history
and process lists. Example:

  head -c 32 /dev/urandom | base64 | tr -d '=+/' > token && sidecar hash-key < token
`

// maxKey bounds the token hash-key reads.
const maxKey = 64 << 10

// hashKey runs `sidecar hash-key` and returns the exit code.
func hashKey(args []string) int { return hashKeyIO(args, os.Stdin, os.Stdout, os.Stderr) }

func hashKeyIO(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 1 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
		fmt.Fprint(stderr, hashKeyUsage)
		return 0
	}
	if len(args) > 0 {
		fmt.Fprintf(stderr, "sidecar hash-key: takes no arguments; pass the token on standard input\n\n%s", hashKeyUsage)
		return 2
	}
	b, err := io.ReadAll(io.LimitReader(stdin, maxKey+1))
	if err != nil {
		fmt.Fprintln(stderr, "sidecar hash-key: cannot read standard input:", err)
		return 1
	}
	if len(b) > maxKey {
		fmt.Fprintf(stderr, "sidecar hash-key: the token is over %d bytes\n", maxKey)
		return 1
	}
	key := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	if key == "" {
		fmt.Fprintln(stderr, "sidecar hash-key: standard input is empty; pass the token on it, e.g. sidecar hash-key < token")
		return 1
	}
	if _, err := apiauth.ParseAuthorization("Bearer " + key); err != nil {
		fmt.Fprintln(stderr, "sidecar hash-key: the token must be visible ASCII characters (0x21 to 0x7e) without spaces or further lines, or it cannot travel as \"Authorization: Bearer <token>\"")
		return 1
	}
	fmt.Fprintln(stdout, apiauth.HashToken(key))
	return 0
}
