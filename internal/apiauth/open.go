package apiauth

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// CheckOpen enforces the rule that the APIs may stay open (no api_auth
// credential configured) only while every listener is on loopback. It
// returns nil when configured is true or every addr (host:port, or a bare host) has a
// loopback host ("localhost", 127.0.0.0/8, ::1); otherwise an error naming
// the other addresses and api_auth.
func CheckOpen(configured bool, addrs ...string) error {
	if configured {
		return nil
	}
	var public []string
	for _, a := range addrs {
		if !loopback(a) {
			public = append(public, strconv.Quote(a))
		}
	}
	if len(public) == 0 {
		return nil
	}
	return fmt.Errorf("api_auth configures no credential, so anyone who reaches %s could clear counters and export billing data "+
		"(hint: add api_auth.tokens or api_auth.identities, or listen on 127.0.0.1 only)", strings.Join(public, ", "))
}

// loopback reports whether addr's host (addr itself without a port) is a loopback name or address.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr // no port
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
