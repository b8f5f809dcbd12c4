package ca

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"fmt"
)

// rsaLeafBits is the size of the RSA leaf key: 2048 bits, the smallest size
// the CA/Browser Forum Baseline Requirements (§6.1.5) and every client
// accept, and the cheapest to sign with.
const rsaLeafBits = 2048

// rsaCacheKey prefixes the cache and singleflight key of an RSA leaf, so it
// never meets its name's ECDSA leaf: no normalised name holds the byte.
const rsaCacheKey = "\x01rsa\x00"

// RSALeaf is Leaf with an RSA 2048 key, for clients that an ECDSA key cannot
// serve: those offering only RSA key exchange or ECDHE_RSA cipher suites, or
// only RSA signature schemes (old Java, Android 4, embedded TLS stacks).
// Every RSA leaf of an Authority shares one key, generated at the first call
// (about a tenth of a second, once); after it a leaf costs one signature by
// the root, as Leaf's do. RSA leaves are cached apart from ECDSA ones, by
// name. RSALeaf is safe for concurrent use.
func (a *Authority) RSALeaf(name string) (*tls.Certificate, error) {
	ns, err := parseNames(name, nil)
	if err != nil {
		return nil, err
	}
	return a.leaf(rsaCacheKey+ns.key(), func() (*tls.Certificate, error) {
		key, err := a.rsaKey()
		if err != nil {
			return nil, err
		}
		// An RSA key signs (ECDHE_RSA, TLS 1.3) and, in RSA key exchange,
		// decrypts the client's premaster secret: keyEncipherment (RFC 5246
		// §7.4.2), which OpenSSL checks.
		return a.mint(ns, key, x509.KeyUsageDigitalSignature|x509.KeyUsageKeyEncipherment)
	})
}

// newRSALeafKey generates the key every RSA leaf shares.
func newRSALeafKey() (*rsa.PrivateKey, error) {
	key, err := rsa.GenerateKey(rand.Reader, rsaLeafBits)
	if err != nil {
		return nil, fmt.Errorf("ca: generating the RSA leaf key: %w", err)
	}
	return key, nil
}
