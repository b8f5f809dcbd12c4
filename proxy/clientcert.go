package proxy

import (
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
)

// A ClientCert is a client certificate presented to upstream servers whose
// name matches Match, a pattern as in Rule: a host name, "*.example.com"
// (subdomains only), "*", or an IP range.
type ClientCert struct {
	Match       string
	Certificate *tls.Certificate
}

// ClientCertificates compiles certs into a function for
// Options.ClientCertificate: the first entry whose pattern matches the
// server's name wins, and a name none matches gets no certificate (nil).
// The name is the client's SNI, else the CONNECT host.
func ClientCertificates(certs []ClientCert) (func(host string) *tls.Certificate, error) {
	type compiled struct {
		match func(string) bool
		cert  *tls.Certificate
	}
	var cs []compiled
	var errs []error
	for _, c := range certs {
		m, err := compileMatch(c.Match)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if c.Certificate == nil || len(c.Certificate.Certificate) == 0 {
			errs = append(errs, fmt.Errorf("proxy: client certificate for %q is empty", c.Match))
			continue
		}
		cs = append(cs, compiled{m, c.Certificate})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return func(host string) *tls.Certificate {
		host = strings.ToLower(strings.TrimSuffix(strings.Trim(host, "[]"), "."))
		for _, c := range cs {
			if c.match(host) {
				return c.cert
			}
		}
		return nil
	}, nil
}
