package tlsconf

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// CheckExposure applies the listener rule: a listener on addr
// ("host:port") that is reachable from the network must serve TLS, unless
// allowInsecure (the allow_insecure_listeners setting) says otherwise.
// Loopback hosts (127.0.0.0/8, ::1, "localhost") are private; an empty
// host, 0.0.0.0, :: and any other name or address are not. The error names
// the settings that fix it; callers prefix the listener's name.
func CheckExposure(addr string, tlsOn, allowInsecure bool) error {
	if tlsOn {
		return nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("tlsconf: cannot check listener address %q: %w (hint: use host:port, e.g. 127.0.0.1:8081)", addr, err)
	}
	if isLoopback(host) || allowInsecure {
		return nil
	}
	return fmt.Errorf("tlsconf: listener address %q is not loopback and TLS is off: "+
		"set tls.cert_file and tls.key_file to serve TLS, or allow_insecure_listeners: true to serve plaintext anyway", addr)
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}
