package proxy

import (
	"crypto/x509"
	"weak"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/tlslens/tlslens/inspect"
)

// certSummaryCacheSize is the number of certificates whose record summary
// is kept.
const certSummaryCacheSize = 4096

// certSummaries remembers inspect.Certificate of recently recorded
// certificates, so that the same certificate (tlslens's leaf for a host on
// every client leg, a busy server's chain on every upstream leg) is not
// summarised again on every connection: its subject and issuer strings,
// dates and digests are, after the handshakes and parsing the flights, the
// largest part of building a record.
//
// Entries are keyed by the certificate's address, held weakly: crypto/tls
// hands out one *x509.Certificate per DER while it is in use (its certificate
// cache), ca one per cached leaf, and an x509.Certificate is never modified,
// so a pointer stands for its contents; a certificate that is collected
// simply stops matching. The summary is the same value inspect.Certificate
// returns; records share its SANs slice, which nothing writes to. Safe for
// concurrent use.
type certSummaries struct {
	c *lru.Cache[weak.Pointer[x509.Certificate], inspect.Cert]
}

func newCertSummaries() *certSummaries {
	c, _ := lru.New[weak.Pointer[x509.Certificate], inspect.Cert](certSummaryCacheSize) // errors only for a size <= 0
	return &certSummaries{c: c}
}

// chain is inspect.Chain, each certificate's summary taken from the cache
// when it has one.
func (s *certSummaries) chain(certs []*x509.Certificate) []inspect.Cert {
	if len(certs) == 0 {
		return nil
	}
	out := make([]inspect.Cert, len(certs))
	for i, c := range certs {
		key := weak.Make(c)
		if r, ok := s.c.Get(key); ok {
			out[i] = r
			continue
		}
		out[i] = inspect.Certificate(c)
		s.c.Add(key, out[i])
	}
	return out
}
