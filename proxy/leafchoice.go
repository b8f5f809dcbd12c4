package proxy

import (
	"crypto/tls"
	"fmt"
)

// leafFor returns the leaf to present to the client whose hello is chi, as
// the client leg's GetCertificate: ecdsa, the name's ECDSA P-256 leaf, when
// the client can use it (nearly every client, and no RSA work then), else
// the name's RSA 2048 leaf, for clients offering only RSA key exchange or
// ECDHE_RSA suites or only RSA signature schemes (old Java, Android 4,
// embedded stacks). When neither fits, ecdsa: crypto/tls's refusal follows
// and advice.Unservable explains it.
func (p *Proxy) leafFor(chi *tls.ClientHelloInfo, name string, ecdsa *tls.Certificate) (*tls.Certificate, error) {
	if chi.SupportsCertificate(ecdsa) == nil {
		return ecdsa, nil
	}
	rsa, err := p.opts.Authority.RSALeaf(name)
	if err != nil {
		return nil, fmt.Errorf("minting an RSA certificate for %q: %w", name, err)
	}
	if chi.SupportsCertificate(rsa) != nil {
		return ecdsa, nil
	}
	return rsa, nil
}
