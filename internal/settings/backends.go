package settings

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/gocql/gocql"
)

// consistencyLevels lists the Cassandra consistency levels gocql reads.
func consistencyLevels() []string {
	var names []string
	for _, c := range []gocql.Consistency{gocql.Any, gocql.One, gocql.Two, gocql.Three, gocql.Quorum, gocql.All, gocql.LocalQuorum, gocql.EachQuorum, gocql.LocalOne} {
		names = append(names, c.String())
	}
	return names
}

// Addrs parses URL into host:port addresses.
func (r *Redis) Addrs() ([]string, error) {
	addrs, _, problem := parseAddrs(r.URL)
	if problem != "" {
		return nil, errors.New("redis.url: " + problem)
	}
	return addrs, nil
}

// TLSConfig returns the TLS configuration of the Redis connections, built
// from TLS with its files loaded, or nil when URL uses redis://. Errors name
// the setting.
func (r *Redis) TLSConfig() (*tls.Config, error) {
	_, useTLS, problem := parseAddrs(r.URL)
	switch {
	case problem != "":
		return nil, errors.New("redis.url: " + problem)
	case !useTLS && r.TLS.set():
		return nil, errors.New("redis.tls: " + tlsWithoutRediss)
	case !useTLS:
		return nil, nil
	}
	return r.TLS.config("redis.tls")
}

// TLSConfig returns the TLS configuration of the Cassandra connections,
// built from TLS with its files loaded, or nil when TLS.CAFile is empty.
// Errors name the setting.
func (c *Cassandra) TLSConfig() (*tls.Config, error) {
	switch {
	case c.TLS.CAFile == "" && c.TLS.set():
		return nil, errors.New("counters.cassandra.tls.ca_file: " + cassandraTLSWithoutCA)
	case c.TLS.CAFile == "":
		return nil, nil
	}
	return c.TLS.config("counters.cassandra.tls")
}

// parseAddrs parses a redis URL setting into host:port addresses and
// whether they use TLS (rediss://), or says what is wrong with it. A
// problem never quotes credentials.
func parseAddrs(list string) (addrs []string, useTLS bool, problem string) {
	scheme := ""
	for _, part := range strings.Split(list, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		bare := !strings.Contains(part, "://") // takes the scheme of the others
		if bare {
			part = "redis://" + part
		}
		u, err := url.Parse(part)
		if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Host == "" || u.Port() == "" || u.Path != "" {
			return nil, false, fmt.Sprintf("%q is not redis://host:port or rediss://host:port (hint: a comma list for cluster or ring)", redactUserinfo(part))
		}
		if u.User != nil {
			return nil, false, fmt.Sprintf("%q carries credentials (hint: set redis.username and redis.password instead, so that the url can be shown)", redactUserinfo(part))
		}
		if !bare {
			if scheme != "" && u.Scheme != scheme {
				return nil, false, "mixes redis:// and rediss:// (hint: one scheme for every address; rediss:// for TLS)"
			}
			scheme = u.Scheme
		}
		addrs = append(addrs, u.Host)
	}
	if len(addrs) == 0 {
		return nil, false, "empty (hint: set e.g. redis://127.0.0.1:6379)"
	}
	return addrs, scheme == "rediss", ""
}

// redactUserinfo replaces the user information of a URL's authority (what
// stands before its last @) by "xxxxx", so that error texts never show a
// password.
func redactUserinfo(s string) string {
	start := 0
	if i := strings.Index(s, "://"); i >= 0 {
		start = i + 3
	}
	end := len(s)
	if i := strings.IndexByte(s[start:], '/'); i >= 0 {
		end = start + i
	}
	if at := strings.LastIndexByte(s[start:end], '@'); at >= 0 {
		return s[:start] + "xxxxx" + s[start+at:]
	}
	return s
}
