package redis

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"strings"
)

// hint says how to fix what made a call fail: the credentials or the TLS
// settings when the server refused them, else def. Errors come from the
// server or the TLS handshake and never hold the password.
func hint(err error, def string) string {
	var verify *tls.CertificateVerificationError
	var unknown x509.UnknownAuthorityError
	var name x509.HostnameError
	msg := err.Error()
	switch {
	case strings.Contains(msg, "WRONGPASS"), strings.Contains(msg, "NOAUTH"), strings.Contains(msg, "NOPERM"):
		return "check Options.Username and Password: the server refused them, needs them, or the ACL user lacks a permission"
	case errors.As(err, &verify), errors.As(err, &unknown), errors.As(err, &name):
		return "the server's certificate does not verify: check the CA bundle and server name of Options.TLS"
	case strings.Contains(msg, "tls: "):
		return "the TLS handshake failed: check the client certificate of Options.TLS and that the server speaks TLS on this port"
	}
	return def
}
