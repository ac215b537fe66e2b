package tlsconf

import (
	"fmt"
	"testing"
)

func TestCheckExposure(t *testing.T) {
	const refusal = "tlsconf: listener address %q is not loopback and TLS is off: " +
		"set tls.cert_file and tls.key_file to serve TLS, or allow_insecure_listeners: true to serve plaintext anyway"
	for _, tc := range []struct {
		addr         string
		tlsOn, allow bool
		refused      bool
		wantErr      string
	}{
		{addr: "127.0.0.1:8081"},
		{addr: "127.1.2.3:8081"},
		{addr: "[::1]:8081"},
		{addr: "[::1%lo]:8081"},
		{addr: "[::ffff:127.0.0.1]:8081"},
		{addr: "localhost:8081"},
		{addr: "LocalHost:8081"},
		{addr: "0.0.0.0:8081", refused: true},
		{addr: "[::]:8081", refused: true},
		{addr: ":8081", refused: true},
		{addr: "10.0.0.5:8081", refused: true},
		{addr: "tollgate.internal:8081", refused: true},
		{addr: "localhost.example.com:8081", refused: true},
		{addr: "128.0.0.1:8081", refused: true},
		{addr: "0.0.0.0:8081", tlsOn: true},
		{addr: "0.0.0.0:8081", allow: true},
		{addr: ":8081", tlsOn: true, allow: true},
		{addr: "8081", wantErr: `tlsconf: cannot check listener address "8081": address 8081: missing port in address (hint: use host:port, e.g. 127.0.0.1:8081)`},
		{addr: "8081", tlsOn: true},
	} {
		want := tc.wantErr
		if tc.refused {
			want = fmt.Sprintf(refusal, tc.addr)
		}
		got := ""
		if err := CheckExposure(tc.addr, tc.tlsOn, tc.allow); err != nil {
			got = err.Error()
		}
		if got != want {
			t.Errorf("CheckExposure(%q, tls %v, allow %v):\n got %q\nwant %q", tc.addr, tc.tlsOn, tc.allow, got, want)
		}
	}
}
