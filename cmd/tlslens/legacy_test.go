package main

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"slices"
	"strings"
	"testing"

	"github.com/tlslens/tlslens/ca/testpki"
	"github.com/tlslens/tlslens/inspect"
)

// offeredSignatureAlgorithms returns what a crypto/tls client offers now.
func offeredSignatureAlgorithms(t *testing.T) []string {
	t.Helper()
	c, s := net.Pipe()
	defer s.Close()
	go func() { tls.Client(c, &tls.Config{ServerName: "example.com"}).Handshake(); c.Close() }()
	rec := make([]byte, 5)
	if _, err := io.ReadFull(s, rec); err != nil {
		t.Fatal(err)
	}
	rec = append(rec, make([]byte, int(rec[3])<<8|int(rec[4]))...)
	if _, err := io.ReadFull(s, rec[5:]); err != nil {
		t.Fatal(err)
	}
	h, err := inspect.ParseClientHello(rec)
	if err != nil {
		t.Fatal(err)
	}
	return h.Hello().SignatureAlgorithms
}

// handshake512 runs a TLS 1.2 handshake with a server whose certificate has
// a 512-bit RSA key, and returns the first error of either side.
func handshake512(t *testing.T, cert tls.Certificate, roots *x509.CertPool) error {
	t.Helper()
	c, s := net.Pipe()
	defer c.Close()
	defer s.Close()
	srvErr := make(chan error, 1)
	go func() {
		err := tls.Server(s, &tls.Config{Certificates: []tls.Certificate{cert}}).Handshake()
		s.Close()
		srvErr <- err
	}()
	cliErr := tls.Client(c, &tls.Config{ServerName: "legacy.test", RootCAs: roots, MaxVersion: tls.VersionTLS12}).Handshake()
	if err := <-srvErr; err != nil {
		return err
	}
	return cliErr
}

// TestLegacyCrypto checks that legacy_crypto's os.Setenv("GODEBUG") takes
// effect at run time in this Go: SHA-1 signature algorithms are offered in
// TLS 1.2, and a 512-bit RSA key is generated and accepted in a handshake;
// restoring GODEBUG turns both off again.
func TestLegacyCrypto(t *testing.T) {
	t.Setenv("GODEBUG", "") // restored, and re-read by the runtime, after the test
	sha1 := []string{"ecdsa_sha1", "rsa_pkcs1_sha1"}
	hasSHA1 := func(algs []string) bool {
		return slices.ContainsFunc(algs, func(a string) bool { return slices.Contains(sha1, a) })
	}
	if algs := offeredSignatureAlgorithms(t); hasSHA1(algs) {
		t.Fatalf("SHA-1 offered by default: %v", algs)
	}
	if _, err := rsa.GenerateKey(rand.Reader, 512); err == nil {
		t.Fatal("a 512-bit RSA key was generated without legacy_crypto")
	}

	if err := enableLegacyCrypto(); err != nil {
		t.Fatal(err)
	}
	if algs := offeredSignatureAlgorithms(t); !hasSHA1(algs) {
		t.Errorf("with legacy_crypto, signature algorithms %v lack SHA-1", algs)
	}
	key, err := rsa.GenerateKey(rand.Reader, 512)
	if err != nil {
		t.Fatalf("with legacy_crypto, a 512-bit key: %v", err)
	}
	cert, roots := issue(t, key)
	if err := handshake512(t, cert, roots); err != nil {
		t.Errorf("with legacy_crypto, a handshake with a 512-bit RSA server: %v", err)
	}

	t.Setenv("GODEBUG", "")
	if err := handshake512(t, cert, roots); err == nil || !strings.Contains(err.Error(), "512-bit keys are insecure") {
		t.Errorf("without legacy_crypto, a 512-bit RSA server: %v, want crypto/rsa's refusal of the key", err)
	}
}

// issue signs a certificate for legacy.test with key, from a fresh root.
func issue(t *testing.T, key *rsa.PrivateKey) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	root := testpki.Root(t, "Legacy Root")
	return root.LeafWithKey(t, key, "legacy.test"), root.Pool()
}
