package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/tollgate/tollgate/internal/settings"
	"github.com/tollgate/tollgate/ratelimit"
)

// configFlags are the flags shared by serve and check-config. Every one can
// also be set in the --config file; a flag given on the command line wins.
type configFlags struct {
	fs          *flag.FlagSet
	configFile  string
	grpcAddr    string
	httpAddr    string
	rlConfig    string
	backend     string
	redisURL    string
	redisMode   string
	redisTO     time.Duration
	failureMode ratelimit.FailureMode
	dataDir     string
}

func newConfigFlags(name, summary string) *configFlags {
	c := &configFlags{fs: flag.NewFlagSet(name, flag.ContinueOnError)}
	fs := c.fs
	fs.StringVar(&c.configFile, "config", "", "sidecar YAML settings file; flags given on the command line win over it")
	fs.StringVar(&c.grpcAddr, "grpc-addr", "127.0.0.1:8081", "gRPC listen address (rate limit, ext_authz, access log, counters, health)")
	fs.StringVar(&c.httpAddr, "http-addr", "127.0.0.1:8080", "HTTP listen address (/healthz, /readyz, /metrics, /json, /v1/counter, /v1/usage, /v1/export)")
	fs.StringVar(&c.rlConfig, "ratelimit-config", "", "envoyproxy/ratelimit YAML file, or a directory of them (reloaded on change)")
	fs.StringVar(&c.backend, "backend", "memory", "best-effort counter backend: memory or redis")
	fs.StringVar(&c.redisURL, "redis-url", "redis://127.0.0.1:6379", "redis://host:port; for cluster or ring a comma list of host:port")
	fs.StringVar(&c.redisMode, "redis-mode", "single", "redis topology: single, cluster or ring")
	fs.DurationVar(&c.redisTO, "redis-timeout", 50*time.Millisecond, "bound on one Redis round trip; past it the failure mode applies")
	fs.TextVar(&c.failureMode, "failure-mode", ratelimit.FailOpen, "when the backend is unavailable: fail_open (allow) or fail_closed (deny)")
	fs.StringVar(&c.dataDir, "data-dir", "./data", "directory of the embedded stores")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: sidecar %s [flags]\n\n%s\n\nFlags:\n", name, summary)
		fs.PrintDefaults()
	}
	return c
}

// parse parses args and returns the settings: built-in defaults, then the
// --config file, then the flags given on the command line.
func (c *configFlags) parse(args []string) (*settings.Settings, error) {
	if err := c.fs.Parse(args); err != nil {
		return nil, err
	}
	if c.fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q (flags only; see --help)", c.fs.Arg(0))
	}
	s := &settings.Settings{}
	if c.configFile != "" {
		loaded, err := settings.Load(c.configFile)
		if err != nil {
			return nil, err
		}
		s = loaded
	}
	c.fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "grpc-addr":
			s.GRPCAddr = c.grpcAddr
		case "http-addr":
			s.HTTPAddr = c.httpAddr
		case "ratelimit-config":
			s.RateLimit.Config = c.rlConfig
		case "backend":
			s.Backend = c.backend
		case "redis-url":
			s.Redis.URL = c.redisURL
		case "redis-mode":
			s.Redis.Mode = c.redisMode
		case "redis-timeout":
			s.Redis.Timeout = c.redisTO
		case "failure-mode":
			s.RateLimit.FailureMode = c.failureMode
		case "data-dir":
			s.DataDir = c.dataDir
		}
	})
	s.EnsureDefaults()
	if err := s.Validate(); err != nil {
		where := "flags"
		if c.configFile != "" {
			where = c.configFile
		}
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	return s, nil
}

// exitCode maps a parse error to an exit code: 0 for --help, 2 otherwise.
func exitCode(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	fmt.Fprintln(os.Stderr, err)
	return 2
}
