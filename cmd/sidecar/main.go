// Command sidecar is Tollgate: a rate-limit, ext_authz and metering sidecar
// for Envoy. Run `sidecar help` for the subcommands.
package main

import (
	"fmt"
	"os"
)

const usage = `Tollgate: rate limiting, edge auth and metering beside Envoy.

Usage:
  sidecar serve [flags]          run the sidecar (gRPC + HTTP)
  sidecar check-config [flags]   validate the configuration and exit
  sidecar counter <op> [flags]   add to, read or clear a counter of a running sidecar
  sidecar usage [flags]          a meter's usage per window for one tenant
  sidecar export [flags]         a meter's billing export (CSV, JSON lines or Parquet)
  sidecar hash-key < token       the sha256:<hex> of a bearer token, for api_auth.tokens
  sidecar help                   show this help

Run 'sidecar <command> --help' for the flags of a command.
`

func main() {
	os.Exit(run(os.Args[1:]))
}

// run dispatches to a subcommand and returns the process exit code.
func run(args []string) int {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return 2
	}
	switch args[0] {
	case "serve":
		return serve(args[1:])
	case "check-config":
		return checkConfig(args[1:])
	case "counter":
		return counterCmd(args[1:])
	case "usage":
		return usageCmd(args[1:])
	case "export":
		return exportCmd(args[1:])
	case "hash-key":
		return hashKey(args[1:])
	case "help", "-h", "--help":
		fmt.Print(usage)
		return 0
	}
	fmt.Fprintf(os.Stderr, "sidecar: unknown command %q\n\n%s", args[0], usage)
	return 2
}
