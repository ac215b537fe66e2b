package tlsconf

import "crypto/tls"

// PeerIdentities returns the names of the client a TLS connection
// verified: the URI SANs (e.g. SPIFFE IDs) and then the DNS SANs of its
// leaf certificate. It returns nil when there is no connection state or the
// client sent no certificate, or one that was not verified against a CA.
func PeerIdentities(cs *tls.ConnectionState) []string {
	if cs == nil || len(cs.VerifiedChains) == 0 || len(cs.VerifiedChains[0]) == 0 {
		return nil
	}
	leaf := cs.VerifiedChains[0][0]
	out := make([]string, 0, len(leaf.URIs)+len(leaf.DNSNames))
	for _, u := range leaf.URIs {
		out = append(out, u.String())
	}
	return append(out, leaf.DNSNames...)
}
