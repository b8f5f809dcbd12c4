package inspect

import (
	//lint:ignore SA1019 deprecated, but legacy servers still present DSA certificates and naming their key needs the type
	"crypto/dsa"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// Certificate summarises one certificate for the record (docs/record.md, "Cert"):
// subject and issuer as RFC 2253 strings (pkix.Name.String), SANs in the
// order DNS names, IP addresses, email addresses, URIs, the serial in hex,
// validity in RFC 3339 (UTC), the key type and size, the signature
// algorithm, the SHA-256 of the DER in hex and of the SubjectPublicKeyInfo
// in base64 (the HPKP pin form).
func Certificate(c *x509.Certificate) Cert {
	sum := sha256.Sum256(c.Raw)
	spki := sha256.Sum256(c.RawSubjectPublicKeyInfo)
	r := Cert{
		Subject:    c.Subject.String(),
		Issuer:     c.Issuer.String(),
		NotBefore:  c.NotBefore.UTC().Format(time.RFC3339),
		NotAfter:   c.NotAfter.UTC().Format(time.RFC3339),
		Key:        publicKeyName(c),
		Signature:  c.SignatureAlgorithm.String(),
		SHA256:     hex.EncodeToString(sum[:]),
		SPKISHA256: base64.StdEncoding.EncodeToString(spki[:]),
		// RFC 5280 §4.2.1.9: cA counts only inside a basicConstraints extension.
		IsCA: c.BasicConstraintsValid && c.IsCA,
	}
	if c.SerialNumber != nil {
		r.Serial = c.SerialNumber.Text(16)
	}
	r.SANs = append(r.SANs, c.DNSNames...)
	for _, ip := range c.IPAddresses {
		r.SANs = append(r.SANs, ip.String())
	}
	r.SANs = append(r.SANs, c.EmailAddresses...)
	for _, u := range c.URIs {
		r.SANs = append(r.SANs, u.String())
	}
	return r
}

// publicKeyName names a certificate's key: "ECDSA P-256", "RSA 2048",
// "Ed25519", "X25519", "DSA 1024", or the x509 algorithm name for others.
func publicKeyName(c *x509.Certificate) string {
	switch k := c.PublicKey.(type) {
	case *ecdsa.PublicKey:
		return "ECDSA " + k.Curve.Params().Name
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA %d", k.N.BitLen())
	case ed25519.PublicKey:
		return "Ed25519"
	case *ecdh.PublicKey:
		if k.Curve() == ecdh.X25519() {
			return "X25519"
		}
		return fmt.Sprintf("ECDH %v", k.Curve())
	case *dsa.PublicKey:
		return fmt.Sprintf("DSA %d", k.P.BitLen())
	}
	return c.PublicKeyAlgorithm.String()
}

// Chain summarises certificates in order (leaf first, as presented).
func Chain(certs []*x509.Certificate) []Cert {
	if len(certs) == 0 {
		return nil
	}
	out := make([]Cert, len(certs))
	for i, c := range certs {
		out[i] = Certificate(c)
	}
	return out
}

// ParseChain parses DER certificates in order. An unparsable certificate is
// skipped: the result holds every one that parsed, and the error names each
// that did not by its position.
func ParseChain(der [][]byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	var errs []error
	for i, d := range der {
		c, err := x509.ParseCertificate(d)
		if err != nil {
			errs = append(errs, fmt.Errorf("inspect: certificate %d: %w", i, err))
			continue
		}
		certs = append(certs, c)
	}
	return certs, errors.Join(errs...)
}

// DistinguishedNames renders DER-encoded distinguished names (the
// certificate_authorities of a CertificateRequest) as RFC 2253 strings, in
// the same form as Certificate's subject and issuer so the two compare
// equal. A name that does not parse is given as "0x" and its DER in hex.
func DistinguishedNames(ders [][]byte) []string {
	if len(ders) == 0 {
		return nil
	}
	out := make([]string, len(ders))
	for i, d := range ders {
		var rdns pkix.RDNSequence
		rest, err := asn1.Unmarshal(d, &rdns)
		if err != nil || len(rest) != 0 {
			out[i] = "0x" + hex.EncodeToString(d)
			continue
		}
		var n pkix.Name
		n.FillFromRDNSequence(&rdns)
		out[i] = n.String()
	}
	return out
}

// MatchesHost reports whether c's SANs cover host by RFC 6125 §6.4: a
// wildcard only as the whole leftmost label, IP addresses only against IP
// SANs, no common-name fallback (as Go since 1.15).
func (c Cert) MatchesHost(host string) bool { return matchesHost(c.SANs, host) }
