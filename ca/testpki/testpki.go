// Package testpki makes certificates for tests: roots, intermediates, server
// and client leaves, chains and pools, and a tlslens ca.Authority in a
// temporary directory. It is for tests and benchmarks only: keys are made
// fresh each call and never leave memory (except Authority's, under
// tb.TempDir()).
//
// Each function taking a testing.TB fails the test on error. The functions
// named New... return the error instead, for code that has no testing.TB: a
// PKI made once per test binary, or bench/load.
//
// Keys are ECDSA P-256 unless a key is given: fast to make, and what ca uses.
// Leaves are valid from an hour ago for two hours; roots and intermediates
// for a day.
package testpki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/tlslens/tlslens/ca"
)

// A CA is a root or an intermediate that signs certificates.
type CA struct {
	Cert *x509.Certificate
	Key  crypto.Signer

	// chain is what a server sends after a leaf of this CA: this CA and the
	// intermediates above it, up to but not including the root.
	chain []*x509.Certificate
}

// NewRoot returns a self-signed root CA named cn (organization "tlslens
// tests") with key, or a fresh ECDSA P-256 key when key is nil.
func NewRoot(cn string, key crypto.Signer) (*CA, error) {
	if key == nil {
		var err error
		if key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			return nil, err
		}
	}
	cert, err := NewCert(caTemplate(cn), key.Public(), nil, key)
	if err != nil {
		return nil, err
	}
	return &CA{Cert: cert, Key: key}, nil
}

// Root is NewRoot with a fresh ECDSA P-256 key.
func Root(tb testing.TB, cn string) *CA {
	tb.Helper()
	v, err := NewRoot(cn, nil)
	check(tb, err)
	return v
}

// RootWithKey is NewRoot with key, for a root of another algorithm (an RSA
// key from RSAKey, say).
func RootWithKey(tb testing.TB, cn string, key crypto.Signer) *CA {
	tb.Helper()
	v, err := NewRoot(cn, key)
	check(tb, err)
	return v
}

// NewIntermediate returns a CA named cn signed by c, with a fresh ECDSA P-256
// key. Its leaves carry it (and c's intermediates) in their chain.
func (c *CA) NewIntermediate(cn string) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	cert, err := NewCert(caTemplate(cn), key.Public(), c.Cert, c.Key)
	if err != nil {
		return nil, err
	}
	return &CA{Cert: cert, Key: key, chain: append([]*x509.Certificate{cert}, c.chain...)}, nil
}

// Intermediate is NewIntermediate for a test.
func (c *CA) Intermediate(tb testing.TB, cn string) *CA {
	tb.Helper()
	v, err := c.NewIntermediate(cn)
	check(tb, err)
	return v
}

// Pool returns a pool trusting only c.
func (c *CA) Pool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(c.Cert)
	return pool
}

// NewLeaf returns a server certificate signed by c for names (DNS names or IP
// literals; the first is also the common name), valid from notBefore to
// notAfter, with key or a fresh ECDSA P-256 key when key is nil. Its chain is
// the leaf and c's intermediates, as a server presents it.
func (c *CA) NewLeaf(key crypto.Signer, notBefore, notAfter time.Time, names ...string) (tls.Certificate, error) {
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: names[0]},
		NotBefore:   notBefore,
		NotAfter:    notAfter,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	return c.NewIssue(tmpl, key)
}

// Leaf is a server certificate for names, valid from an hour ago for two
// hours, with a fresh ECDSA P-256 key.
func (c *CA) Leaf(tb testing.TB, names ...string) tls.Certificate {
	tb.Helper()
	now := time.Now()
	v, err := c.NewLeaf(nil, now.Add(-time.Hour), now.Add(time.Hour), names...)
	check(tb, err)
	return v
}

// LeafWithKey is Leaf with key: an RSA key for RSA key exchange, which an
// ECDSA certificate cannot do, or a short one for a weak server.
func (c *CA) LeafWithKey(tb testing.TB, key crypto.Signer, names ...string) tls.Certificate {
	tb.Helper()
	now := time.Now()
	v, err := c.NewLeaf(key, now.Add(-time.Hour), now.Add(time.Hour), names...)
	check(tb, err)
	return v
}

// Expired is a server certificate for names that expired a day ago.
func (c *CA) Expired(tb testing.TB, names ...string) tls.Certificate {
	tb.Helper()
	now := time.Now()
	v, err := c.NewLeaf(nil, now.Add(-48*time.Hour), now.Add(-24*time.Hour), names...)
	check(tb, err)
	return v
}

// NotYetValid is a server certificate for names valid from tomorrow.
func (c *CA) NotYetValid(tb testing.TB, names ...string) tls.Certificate {
	tb.Helper()
	now := time.Now()
	v, err := c.NewLeaf(nil, now.Add(24*time.Hour), now.Add(48*time.Hour), names...)
	check(tb, err)
	return v
}

// NewClientLeaf returns a client-authentication certificate named cn signed
// by c, with a fresh ECDSA P-256 key, valid from an hour ago for two hours.
func (c *CA) NewClientLeaf(cn string) (tls.Certificate, error) {
	now := time.Now()
	return c.NewIssue(&x509.Certificate{
		Subject:     pkix.Name{CommonName: cn},
		NotBefore:   now.Add(-time.Hour),
		NotAfter:    now.Add(time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}, nil)
}

// ClientLeaf is NewClientLeaf for a test.
func (c *CA) ClientLeaf(tb testing.TB, cn string) tls.Certificate {
	tb.Helper()
	v, err := c.NewClientLeaf(cn)
	check(tb, err)
	return v
}

// NewIssue signs tmpl with c for key (a fresh ECDSA P-256 key when nil) and
// returns it with c's intermediates, ready for a tls.Config. An RSA key gets
// the key-encipherment usage that RSA key exchange needs.
func (c *CA) NewIssue(tmpl *x509.Certificate, key crypto.Signer) (tls.Certificate, error) {
	if key == nil {
		var err error
		if key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			return tls.Certificate{}, err
		}
	}
	if _, ok := key.(*rsa.PrivateKey); ok {
		tmpl.KeyUsage |= x509.KeyUsageKeyEncipherment
	}
	leaf, err := NewCert(tmpl, key.Public(), c.Cert, c.Key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return Chain(key, append([]*x509.Certificate{leaf}, c.chain...)...), nil
}

// Issue is NewIssue for a test: a certificate of any shape signed by c.
func (c *CA) Issue(tb testing.TB, tmpl *x509.Certificate, key crypto.Signer) tls.Certificate {
	tb.Helper()
	v, err := c.NewIssue(tmpl, key)
	check(tb, err)
	return v
}

// SelfSigned returns a server certificate for names signed by its own fresh
// ECDSA P-256 key (not a CA), valid from an hour ago for two hours, and a
// pool trusting it.
func SelfSigned(tb testing.TB, names ...string) (tls.Certificate, *x509.CertPool) {
	tb.Helper()
	key := ECDSAKey(tb)
	now := time.Now()
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: names[0]},
		NotBefore:   now.Add(-time.Hour),
		NotAfter:    now.Add(time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	cert := Cert(tb, tmpl, key.Public(), nil, key)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return Chain(key, cert), pool
}

// NewCert signs tmpl for pub by parent (tmpl itself when nil, a self-signed
// certificate) with parentKey, and parses the result. A nil
// tmpl.SerialNumber becomes a random one. tmpl.SignatureAlgorithm is used as
// set, SHA-1 included: crypto/x509 still creates what it refuses to verify.
func NewCert(tmpl *x509.Certificate, pub crypto.PublicKey, parent *x509.Certificate, parentKey crypto.Signer) (*x509.Certificate, error) {
	if parent == nil {
		parent = tmpl
	}
	if tmpl.SerialNumber == nil {
		serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
		if err != nil {
			return nil, err
		}
		tmpl.SerialNumber = serial
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, parentKey)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

// Cert is NewCert for a test: a certificate exactly as tmpl says.
func Cert(tb testing.TB, tmpl *x509.Certificate, pub crypto.PublicKey, parent *x509.Certificate, parentKey crypto.Signer) *x509.Certificate {
	tb.Helper()
	v, err := NewCert(tmpl, pub, parent, parentKey)
	check(tb, err)
	return v
}

// Chain is the tls.Certificate a server presents: chain, leaf first, with
// key, the leaf's private key.
func Chain(key crypto.Signer, chain ...*x509.Certificate) tls.Certificate {
	c := tls.Certificate{PrivateKey: key, Leaf: chain[0]}
	for _, cert := range chain {
		c.Certificate = append(c.Certificate, cert.Raw)
	}
	return c
}

// ECDSAKey is a fresh ECDSA P-256 key.
func ECDSAKey(tb testing.TB) *ecdsa.PrivateKey {
	tb.Helper()
	v, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	check(tb, err)
	return v
}

// RSAKey is a fresh RSA key of bits bits. Below 1024 bits crypto/rsa
// refuses unless GODEBUG has rsa1024min=0.
func RSAKey(tb testing.TB, bits int) *rsa.PrivateKey {
	tb.Helper()
	v, err := rsa.GenerateKey(rand.Reader, bits)
	check(tb, err)
	return v
}

// Authority opens a tlslens CA in a directory under tb.TempDir(), as
// tlslens does on first run, removed when the test ends.
func Authority(tb testing.TB) *ca.Authority {
	tb.Helper()
	v, err := ca.Open(ca.Options{Dir: filepath.Join(tb.TempDir(), "ca")})
	check(tb, err)
	return v
}

func caTemplate(cn string) *x509.Certificate {
	now := time.Now()
	return &x509.Certificate{
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"tlslens tests"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
}

// check fails the test on a non-nil err.
func check(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}

// WithoutIntermediates is c with the leaf alone, as a server that omits its
// intermediates presents it.
func WithoutIntermediates(c tls.Certificate) tls.Certificate {
	c.Certificate = c.Certificate[:1]
	return c
}
