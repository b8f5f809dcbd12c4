package proxy

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
)

// verifyCacheTTL is how long a verified upstream chain is trusted without
// verifying it again.
const verifyCacheTTL = time.Minute

// verifyCacheSize is the number of verified (chain, name) pairs kept.
const verifyCacheSize = 4096

// verifyCache remembers upstream chains that verified for a name, so a busy
// host's chain is verified once a minute rather than once per connection: a
// signature check per certificate is, after the handshakes themselves, the
// largest cost of an interception. Only successes are kept, each until
// verifyCacheTTL or the first NotAfter in the chain, whichever is sooner; a
// Proxy's roots never change. The handshake's own signature (TLS 1.3
// CertificateVerify) is still checked by crypto/tls on every connection.
// Safe for concurrent use.
type verifyCache struct {
	c *lru.Cache[verifyKey, time.Time]
}

type verifyKey struct {
	chain [sha256.Size]byte // of the certificates' DER, each length-prefixed
	name  string
}

func newVerifyCache() *verifyCache {
	c, _ := lru.New[verifyKey, time.Time](verifyCacheSize) // errors only for a size <= 0
	return &verifyCache{c: c}
}

// verify is verifyChain, answered from the cache when this chain verified
// for name within the TTL.
func (v *verifyCache) verify(certs []*x509.Certificate, name string, roots *x509.CertPool, now time.Time) error {
	if len(certs) == 0 {
		return verifyChain(certs, name, roots, now)
	}
	h := sha256.New()
	for _, c := range certs {
		h.Write(binary.BigEndian.AppendUint32(nil, uint32(len(c.Raw))))
		h.Write(c.Raw)
	}
	key := verifyKey{name: name}
	h.Sum(key.chain[:0])
	if until, ok := v.c.Get(key); ok && now.Before(until) {
		return nil
	}
	err := verifyChain(certs, name, roots, now)
	if err == nil {
		until := now.Add(verifyCacheTTL)
		for _, c := range certs {
			if c.NotAfter.Before(until) {
				until = c.NotAfter
			}
		}
		v.c.Add(key, until)
	}
	return err
}

// verifyChain verifies an upstream chain for name (a DNS name or an IP).
func verifyChain(certs []*x509.Certificate, name string, roots *x509.CertPool, now time.Time) error {
	if len(certs) == 0 {
		return errors.New("the server sent no certificate")
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	_, err := certs[0].Verify(x509.VerifyOptions{
		Roots: roots, Intermediates: inter, DNSName: name, CurrentTime: now,
	})
	return err
}
