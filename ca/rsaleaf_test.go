package ca

import (
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"net"
	"sync"
	"testing"
	"time"
)

func TestRSALeaf(t *testing.T) {
	a := newCA(t, Options{})
	c, err := a.RSALeaf("RSA.Example.")
	if err != nil {
		t.Fatal(err)
	}
	if err := verifyLeaf(a.Certificate(), c.Leaf, "rsa.example", time.Now()); err != nil {
		t.Errorf("verify: %v", err)
	}
	pub, ok := c.Leaf.PublicKey.(*rsa.PublicKey)
	if !ok || pub.N.BitLen() != 2048 {
		t.Fatalf("RSALeaf key %T, want an RSA 2048 key", c.Leaf.PublicKey)
	}
	if !pub.Equal(c.PrivateKey.(*rsa.PrivateKey).Public()) {
		t.Error("leaf certificate does not carry the leaf key")
	}
	if want := x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment; c.Leaf.KeyUsage != want {
		t.Errorf("key usage %b, want digitalSignature and keyEncipherment (%b)", c.Leaf.KeyUsage, want)
	}
	if len(c.Certificate) != 1 || c.Leaf.Subject.CommonName != "rsa.example" {
		t.Errorf("chain of %d, CN %q: want the leaf alone, CN rsa.example", len(c.Certificate), c.Leaf.Subject.CommonName)
	}
	if _, err := a.RSALeaf("bad name:443"); err == nil {
		t.Error("RSALeaf accepted an invalid name")
	}
}

// TestRSALeafCache: RSA leaves share one key, are cached by name apart from
// the ECDSA leaf of the same name, and concurrent first calls make one key
// and one leaf.
func TestRSALeafCache(t *testing.T) {
	a := newCA(t, Options{})
	const n = 16
	start := make(chan struct{})
	certs := make([]*tls.Certificate, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			certs[i], errs[i] = a.RSALeaf("shared.example")
		})
	}
	close(start)
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("call %d: %v", i, errs[i])
		}
		if certs[i] != certs[0] {
			t.Fatalf("call %d got a different certificate from call 0", i)
		}
	}
	if hits, misses := a.CacheStats(); misses != 1 || hits != n-1 {
		t.Errorf("%d concurrent RSALeaf calls: CacheStats() = %d hits, %d misses; want %d, 1", n, hits, misses, n-1)
	}
	ec, err := a.Leaf("shared.example")
	if err != nil {
		t.Fatal(err)
	}
	if _, isRSA := ec.PrivateKey.(*rsa.PrivateKey); isRSA || ec == certs[0] {
		t.Error("Leaf returned the RSA leaf: the two kinds share a cache entry")
	}
	other, err := a.RSALeaf("other.example")
	if err != nil {
		t.Fatal(err)
	}
	if other.PrivateKey != certs[0].PrivateKey {
		t.Error("RSA leaves have different keys; want one shared RSA key")
	}
	if _, misses := a.CacheStats(); misses != 3 {
		t.Errorf("%d mints, want 3 (RSA, ECDSA, RSA for another name)", misses)
	}
}

// TestRSALeafHandshake: clients that an ECDSA leaf cannot serve (RSA key
// exchange, ECDHE_RSA, TLS 1.0 with a CBC RSA suite) complete a real handshake with the RSA leaf, chosen by
// SupportsCertificate as proxy chooses it.
func TestRSALeafHandshake(t *testing.T) {
	a := newCA(t, Options{})
	roots := x509.NewCertPool()
	roots.AddCert(a.Certificate())
	for _, tc := range []struct {
		name   string
		client *tls.Config
	}{
		{"RSA key exchange", &tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_RSA_WITH_AES_128_GCM_SHA256}}},
		{"ECDHE_RSA", &tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256}}},
		{"TLS 1.0 CBC", &tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS10, CipherSuites: []uint16{tls.TLS_RSA_WITH_AES_128_CBC_SHA}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			go func() {
				conn, err := ln.Accept()
				if err != nil {
					return
				}
				defer conn.Close()
				conn.SetDeadline(time.Now().Add(10 * time.Second))
				tls.Server(conn, &tls.Config{
					MinVersion:   tls.VersionTLS10,
					CipherSuites: []uint16{tls.TLS_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_RSA_WITH_AES_128_CBC_SHA},
					GetCertificate: func(hi *tls.ClientHelloInfo) (*tls.Certificate, error) {
						ec, err := a.Leaf(hi.ServerName)
						if err != nil || hi.SupportsCertificate(ec) == nil {
							return ec, err
						}
						return a.RSALeaf(hi.ServerName)
					},
				}).Handshake()
			}()
			cfg := tc.client.Clone()
			cfg.RootCAs, cfg.ServerName = roots, "legacy.example"
			conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", ln.Addr().String(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if _, ok := conn.ConnectionState().PeerCertificates[0].PublicKey.(*rsa.PublicKey); !ok {
				t.Error("the client was not sent the RSA leaf")
			}
		})
	}
}
