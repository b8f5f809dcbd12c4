package ca_test

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/tlslens/tlslens/ca"
)

// Open creates the CA on first use and loads the same one afterwards.
func ExampleOpen() {
	dir, err := os.MkdirTemp("", "tlslens-ca")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	first, err := ca.Open(ca.Options{Dir: filepath.Join(dir, "tlslens")})
	if err != nil {
		log.Fatal(err) // e.g. "ca: CA private key ... run `chmod 600 ...`"
	}
	again, err := ca.Open(ca.Options{Dir: filepath.Join(dir, "tlslens")})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(filepath.Base(first.CertPath()))
	fmt.Println(first.Certificate().Subject.Organization)
	fmt.Println("same CA:", again.Fingerprint() == first.Fingerprint())
	fmt.Println("Android file name length:", len(first.SubjectHashOld()+".0"))
	// Output:
	// ca.pem
	// [tlslens]
	// same CA: true
	// Android file name length: 10
}

// New makes a CA that lives only in memory, as tests want.
func ExampleNew() {
	a, err := ca.New(ca.Options{CacheSize: 16})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("CertPath %q, CA %v\n", a.CertPath(), a.Certificate().IsCA)
	// Output:
	// CertPath "", CA true
}

func ExampleAuthority_Leaf() {
	a, err := ca.New(ca.Options{})
	if err != nil {
		log.Fatal(err)
	}
	// The proxy passes the client's SNI; case and a trailing dot do not matter.
	cert, err := a.Leaf("WWW.Example.COM.")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(cert.Leaf.DNSNames, "chain length", len(cert.Certificate)) // the leaf; clients hold the root

	// Without SNI the proxy passes the target's IP.
	ipCert, err := a.Leaf("192.0.2.1")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(ipCert.Leaf.IPAddresses)

	// A client that trusts the root accepts the leaf.
	roots := x509.NewCertPool()
	roots.AddCert(a.Certificate())
	_, err = cert.Leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: "www.example.com"})
	fmt.Println("verified:", err == nil)

	// The second call for the same name is served from the cache.
	if _, err := a.Leaf("www.example.com"); err != nil {
		log.Fatal(err)
	}
	hits, misses := a.CacheStats()
	fmt.Println("hits", hits, "misses", misses)
	// Output:
	// [www.example.com] chain length 1
	// [192.0.2.1]
	// verified: true
	// hits 1 misses 2
}

func ExampleAuthority_LeafWithNames() {
	a, err := ca.New(ca.Options{})
	if err != nil {
		log.Fatal(err)
	}
	// Copy the names of the upstream server's leaf.
	cert, err := a.LeafWithNames("www.example.org", []string{"example.org", "*.example.org"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(cert.Leaf.DNSNames)
	// Output:
	// [www.example.org example.org *.example.org]
}

// A client that cannot use an ECDSA key (only RSA cipher suites and
// signature schemes, as old Java and Android 4 offer) gets an RSA leaf for
// the same name; tls.Config's GetCertificate picks per handshake, ECDSA first.
func ExampleAuthority_RSALeaf() {
	a, err := ca.New(ca.Options{})
	if err != nil {
		log.Fatal(err)
	}
	cfg := &tls.Config{GetCertificate: func(hi *tls.ClientHelloInfo) (*tls.Certificate, error) {
		ec, err := a.Leaf(hi.ServerName)
		if err != nil || hi.SupportsCertificate(ec) == nil {
			return ec, err
		}
		return a.RSALeaf(hi.ServerName)
	}}
	for _, schemes := range [][]tls.SignatureScheme{
		{tls.ECDSAWithP256AndSHA256, tls.PKCS1WithSHA256}, // a modern client
		{tls.PKCS1WithSHA256},                             // an RSA-only one
	} {
		cert, err := cfg.GetCertificate(&tls.ClientHelloInfo{
			ServerName:        "legacy.example",
			CipherSuites:      []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256},
			SupportedVersions: []uint16{tls.VersionTLS12},
			SupportedCurves:   []tls.CurveID{tls.CurveP256},
			SupportedPoints:   []uint8{0}, // uncompressed
			SignatureSchemes:  schemes,
		})
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(cert.Leaf.DNSNames, cert.Leaf.PublicKeyAlgorithm)
	}
	// Output:
	// [legacy.example] ECDSA
	// [legacy.example] RSA
}
