package ca

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"testing"
	"time"
)

// verifyLeaf verifies leaf as a TLS server certificate for name (a DNS name
// or IP literal) at time at, trusting only root.
func verifyLeaf(root, leaf *x509.Certificate, name string, at time.Time) error {
	roots := x509.NewCertPool()
	roots.AddCert(root)
	_, err := leaf.Verify(x509.VerifyOptions{
		Roots:       roots,
		DNSName:     name, // VerifyHostname: an IP literal is matched against IP SANs
		CurrentTime: at,
		KeyUsages:   []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	return err
}

// VerifyLeaf is verifyLeaf for the tests in package ca_test.
var VerifyLeaf = verifyLeaf

func newCA(t testing.TB, opts Options) *Authority {
	t.Helper()
	a, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestLeafVerifies(t *testing.T) {
	a := newCA(t, Options{})
	for _, tc := range []struct {
		name    string   // passed to Leaf
		verify  string   // name a client checks
		wantDNS []string // SANs expected
		wantIP  []string
	}{
		{"example.com", "example.com", []string{"example.com"}, nil},
		{"WWW.Example.COM.", "www.example.com", []string{"www.example.com"}, nil},
		{"_dmarc.example.com", "_dmarc.example.com", []string{"_dmarc.example.com"}, nil},
		{"localhost", "localhost", []string{"localhost"}, nil},
		{"*.example.net", "api.example.net", []string{"*.example.net"}, nil},
		{"192.0.2.7", "192.0.2.7", nil, []string{"192.0.2.7"}},
		{"::ffff:192.0.2.8", "192.0.2.8", nil, []string{"192.0.2.8"}},
		{"2001:db8::1", "2001:db8::1", nil, []string{"2001:db8::1"}},
		{"[2001:DB8::2]", "2001:db8::2", nil, []string{"2001:db8::2"}},
		{"fe80::1%eth0", "fe80::1", nil, []string{"fe80::1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := a.Leaf(tc.name)
			if err != nil {
				t.Fatal(err)
			}
			l := c.Leaf
			if err := verifyLeaf(a.Certificate(), l, tc.verify, time.Now()); err != nil {
				t.Errorf("verify %q: %v", tc.verify, err)
			}
			var ips []string
			for _, ip := range l.IPAddresses {
				ips = append(ips, ip.String())
			}
			if !slices.Equal(l.DNSNames, tc.wantDNS) || !slices.Equal(ips, tc.wantIP) {
				t.Errorf("Leaf(%q) SANs = DNS %q IP %q, want DNS %q IP %q", tc.name, l.DNSNames, ips, tc.wantDNS, tc.wantIP)
			}
			if len(c.Certificate) != 1 || !slices.Equal(c.Certificate[0], l.Raw) {
				t.Error("chain is not [leaf]: the root is omitted")
			}
			if pub, ok := l.PublicKey.(*ecdsa.PublicKey); !ok || pub.Curve != elliptic.P256() {
				t.Errorf("leaf key %T, want ECDSA P-256", l.PublicKey)
			}
			if l.KeyUsage != x509.KeyUsageDigitalSignature || !slices.Equal(l.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}) {
				t.Errorf("KeyUsage %v EKU %v, want DigitalSignature, serverAuth", l.KeyUsage, l.ExtKeyUsage)
			}
			if l.IsCA || !l.BasicConstraintsValid {
				t.Error("leaf is not marked CA:FALSE")
			}
			if !slices.Equal(l.AuthorityKeyId, a.Certificate().SubjectKeyId) {
				t.Error("leaf AuthorityKeyId is not the root's SubjectKeyId")
			}
			if l.SerialNumber.Sign() <= 0 || l.SerialNumber.BitLen() > 128 {
				t.Errorf("serial %v: want positive, at most 128 bits", l.SerialNumber)
			}
		})
	}
}

func TestLeafNormalisesToOneEntry(t *testing.T) {
	a := newCA(t, Options{})
	first, err := a.Leaf("Mixed.Example.")
	if err != nil {
		t.Fatal(err)
	}
	for _, spelling := range []string{"mixed.example", "MIXED.EXAMPLE", "mixed.example."} {
		c, err := a.Leaf(spelling)
		if err != nil {
			t.Fatal(err)
		}
		if c != first {
			t.Errorf("Leaf(%q) minted a new leaf; want the cached one for mixed.example", spelling)
		}
	}
	if _, misses := a.CacheStats(); misses != 1 {
		t.Errorf("misses = %d, want 1", misses)
	}
}

func TestLeafInvalidNames(t *testing.T) {
	a := newCA(t, Options{})
	long := ""
	for len(long) < 260 {
		long += "abcdefghi."
	}
	for _, name := range []string{
		"", ".", "a..b", "example.com:443", "exa mple.com", "-bad.example", "bad-.example",
		"*.com", "www.*.example.com", "[example.com]", "ex/ample.com", "bücher.example",
		"a123456789012345678901234567890123456789012345678901234567890123.example", long,
	} {
		t.Run(name, func(t *testing.T) {
			c, err := a.Leaf(name)
			if !errors.Is(err, ErrInvalidName) {
				t.Errorf("Leaf(%q) = %v, %v; want ErrInvalidName", name, c, err)
			}
		})
	}
	if _, err := a.LeafWithNames("ok.example", []string{"ok2.example", "bad name"}); !errors.Is(err, ErrInvalidName) {
		t.Errorf("LeafWithNames with an invalid SAN: err = %v, want ErrInvalidName", err)
	}
	if hits, misses := a.CacheStats(); hits != 0 || misses != 0 {
		t.Errorf("CacheStats() = %d, %d after invalid names only; want 0, 0", hits, misses)
	}
}

func TestLeafWithNames(t *testing.T) {
	a := newCA(t, Options{})
	c, err := a.LeafWithNames("www.example.org", []string{"Example.ORG", "*.example.org", "www.example.org.", "192.0.2.1", "example.org"})
	if err != nil {
		t.Fatal(err)
	}
	l := c.Leaf
	if want := []string{"www.example.org", "example.org", "*.example.org"}; !slices.Equal(l.DNSNames, want) {
		t.Errorf("DNSNames = %q, want %q (primary first, deduplicated)", l.DNSNames, want)
	}
	if len(l.IPAddresses) != 1 || l.IPAddresses[0].String() != "192.0.2.1" {
		t.Errorf("IPAddresses = %v, want [192.0.2.1]", l.IPAddresses)
	}
	if l.Subject.CommonName != "www.example.org" {
		t.Errorf("CN = %q, want the primary name", l.Subject.CommonName)
	}
	for _, name := range []string{"www.example.org", "example.org", "cdn.example.org", "192.0.2.1"} {
		if err := verifyLeaf(a.Certificate(), l, name, time.Now()); err != nil {
			t.Errorf("verify %q: %v", name, err)
		}
	}

	// The cache key is the set of names: order and spelling do not matter,
	// a different set is a different leaf, and no extras is Leaf's entry.
	again, err := a.LeafWithNames("WWW.example.org", []string{"192.0.2.1", "*.EXAMPLE.org", "example.org"})
	if err != nil {
		t.Fatal(err)
	}
	if again != c {
		t.Error("same names in another order minted a new leaf")
	}
	fewer, err := a.LeafWithNames("www.example.org", []string{"example.org"})
	if err != nil {
		t.Fatal(err)
	}
	if fewer == c {
		t.Error("a different name set returned the cached leaf of another set")
	}
	plain, err := a.Leaf("www.example.org")
	if err != nil {
		t.Fatal(err)
	}
	onlyPrimary, err := a.LeafWithNames("www.example.org", []string{"www.example.org"})
	if err != nil {
		t.Fatal(err)
	}
	if plain != onlyPrimary || plain == c || plain == fewer {
		t.Error("Leaf(n) and LeafWithNames(n, [n]) should share one entry, distinct from leaves with extras")
	}
	if hits, misses := a.CacheStats(); hits != 2 || misses != 3 {
		t.Errorf("CacheStats() = %d, %d; want 2 hits, 3 misses", hits, misses)
	}
}

func TestLeafLongNameHasNoCN(t *testing.T) {
	a := newCA(t, Options{})
	name := "a1234567890123456789012345678901234567890.b1234567890123456789012345678901234567890.example"
	c, err := a.Leaf(name)
	if err != nil {
		t.Fatal(err)
	}
	if c.Leaf.Subject.CommonName != "" {
		t.Errorf("CN = %q for a %d-byte name; want none (ub-common-name is 64)", c.Leaf.Subject.CommonName, len(name))
	}
	if err := verifyLeaf(a.Certificate(), c.Leaf, name, time.Now()); err != nil {
		t.Error(err)
	}
}

func TestLeafValidity(t *testing.T) {
	now := t0
	a := newCA(t, Options{Now: fixedClock(&now)})
	root := a.Certificate()
	const maxValidity = 397 * 24 * time.Hour
	for i, tc := range []struct {
		name          string
		at            time.Time
		wantNotBefore time.Time
		wantNotAfter  time.Time
	}{
		{"fresh root", t0, t0.Add(-time.Hour), t0.Add(-time.Hour + maxValidity)},
		{"mid life", t0.AddDate(3, 0, 0), t0.AddDate(3, 0, 0).Add(-time.Hour), t0.AddDate(3, 0, 0).Add(-time.Hour + maxValidity)},
		{"root ends first", root.NotAfter.Add(-100 * 24 * time.Hour), root.NotAfter.Add(-100*24*time.Hour - time.Hour), root.NotAfter},
		{"clock before root", root.NotBefore.Add(-30 * time.Minute), root.NotBefore, root.NotBefore.Add(maxValidity)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now = tc.at
			c, err := a.Leaf(fmt.Sprintf("v%d.validity.example", i))
			if err != nil {
				t.Fatal(err)
			}
			l := c.Leaf
			if !l.NotBefore.Equal(tc.wantNotBefore) || !l.NotAfter.Equal(tc.wantNotAfter) {
				t.Errorf("validity %v .. %v, want %v .. %v", l.NotBefore, l.NotAfter, tc.wantNotBefore, tc.wantNotAfter)
			}
			if d := l.NotAfter.Sub(l.NotBefore); d > maxValidity {
				t.Errorf("validity %v, want at most 397 days", d)
			}
			if l.NotBefore.Before(root.NotBefore) || l.NotAfter.After(root.NotAfter) {
				t.Errorf("leaf %v .. %v outside root %v .. %v", l.NotBefore, l.NotAfter, root.NotBefore, root.NotAfter)
			}
			at := tc.at
			if at.Before(l.NotBefore) {
				at = l.NotBefore
			}
			if err := verifyLeaf(root, l, l.DNSNames[0], at); err != nil {
				t.Errorf("verify at %v: %v", at, err)
			}
		})
	}
}

func TestLeafSerialsDiffer(t *testing.T) {
	a := newCA(t, Options{})
	seen := map[string]string{}
	for i := range 50 {
		name := fmt.Sprintf("s%d.example", i)
		c, err := a.Leaf(name)
		if err != nil {
			t.Fatal(err)
		}
		s := c.Leaf.SerialNumber.String()
		if prev, dup := seen[s]; dup {
			t.Fatalf("%s and %s share serial %s", prev, name, s)
		}
		seen[s] = name
	}
}

func TestLeafSharedKey(t *testing.T) {
	a := newCA(t, Options{})
	x, err := a.Leaf("x.example")
	if err != nil {
		t.Fatal(err)
	}
	y, err := a.Leaf("192.0.2.9")
	if err != nil {
		t.Fatal(err)
	}
	if x.PrivateKey != y.PrivateKey {
		t.Error("leaves have different private keys; want one shared leaf key")
	}
	if !x.Leaf.PublicKey.(*ecdsa.PublicKey).Equal(x.PrivateKey.(*ecdsa.PrivateKey).Public()) {
		t.Error("leaf certificate does not carry the leaf key")
	}
}

func TestLeafCache(t *testing.T) {
	a := newCA(t, Options{CacheSize: 2})
	// Each step: a Leaf call and whether it must mint. Expected results
	// follow from LRU order with room for two leaves.
	steps := []struct {
		name string
		mint bool
	}{
		{"a.example", true},  // [a]
		{"b.example", true},  // [b a]
		{"a.example", false}, // [a b]
		{"c.example", true},  // [c a], b evicted
		{"a.example", false}, // [a c]
		{"b.example", true},  // [b a], c evicted
		{"c.example", true},  // [c b], a evicted
		{"b.example", false}, // [b c]
	}
	var wantHits, wantMisses uint64
	certs := map[string]*tls.Certificate{}
	for i, s := range steps {
		c, err := a.Leaf(s.name)
		if err != nil {
			t.Fatal(err)
		}
		if s.mint {
			wantMisses++
		} else {
			wantHits++
			if c != certs[s.name] {
				t.Errorf("step %d: Leaf(%q) returned a different certificate from the cached one", i, s.name)
			}
		}
		certs[s.name] = c
		if hits, misses := a.CacheStats(); hits != wantHits || misses != wantMisses {
			t.Fatalf("step %d Leaf(%q): CacheStats() = %d, %d; want %d, %d", i, s.name, hits, misses, wantHits, wantMisses)
		}
	}
}

func TestLeafDefaultCacheSize(t *testing.T) {
	a := newCA(t, Options{})
	for i := range 1025 {
		if _, err := a.Leaf(fmt.Sprintf("n%d.example", i)); err != nil {
			t.Fatal(err)
		}
	}
	// 1024 entries: n0 was evicted by n1024, n1 is still there.
	if _, err := a.Leaf("n1.example"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Leaf("n0.example"); err != nil {
		t.Fatal(err)
	}
	if hits, misses := a.CacheStats(); hits != 1 || misses != 1026 {
		t.Errorf("CacheStats() = %d, %d; want 1, 1026", hits, misses)
	}
}

func TestLeafRenewsNearExpiry(t *testing.T) {
	now := t0
	a := newCA(t, Options{Now: fixedClock(&now)})
	first, err := a.Leaf("renew.example")
	if err != nil {
		t.Fatal(err)
	}
	now = first.Leaf.NotAfter.Add(-25 * time.Hour)
	if c, _ := a.Leaf("renew.example"); c != first {
		t.Error("a leaf with 25h left was re-minted; want it served from the cache")
	}
	now = first.Leaf.NotAfter.Add(-23 * time.Hour)
	second, err := a.Leaf("renew.example")
	if err != nil {
		t.Fatal(err)
	}
	if second == first || !second.Leaf.NotAfter.After(first.Leaf.NotAfter) {
		t.Errorf("a leaf with 23h left was served (NotAfter %v); want a new one", second.Leaf.NotAfter)
	}
	if hits, misses := a.CacheStats(); hits != 1 || misses != 2 {
		t.Errorf("CacheStats() = %d, %d; want 1, 2", hits, misses)
	}
}

func TestLeafSingleflight(t *testing.T) {
	a := newCA(t, Options{})
	const n = 64
	start := make(chan struct{})
	certs := make([]*tls.Certificate, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			certs[i], errs[i] = a.Leaf("concurrent.example")
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
		t.Errorf("%d concurrent Leaf calls: CacheStats() = %d hits, %d misses; want %d, 1 (one mint)", n, hits, misses, n-1)
	}
}

func TestLeafConcurrentNames(t *testing.T) {
	a := newCA(t, Options{CacheSize: 8})
	const workers, names = 8, 16
	var wg sync.WaitGroup
	errs := make(chan error, workers*names)
	for w := range workers {
		wg.Go(func() {
			for i := range names {
				name := fmt.Sprintf("h%d.example", (i+w)%names)
				c, err := a.Leaf(name)
				if err == nil {
					err = verifyLeaf(a.Certificate(), c.Leaf, name, time.Now())
				}
				if err != nil {
					errs <- fmt.Errorf("%s: %w", name, err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if hits, misses := a.CacheStats(); hits+misses != workers*names || misses < names {
		t.Errorf("CacheStats() = %d, %d; want %d calls in all and at least %d mints", hits, misses, workers*names, names)
	}
}

// TestHandshake runs real TLS over 127.0.0.1: a tls.Server taking its
// certificate from Leaf, a tls.Client trusting only the root.
func TestHandshake(t *testing.T) {
	a := newCA(t, Options{})
	stranger := newCA(t, Options{})
	for _, tc := range []struct {
		name       string
		serverName string // client's ServerName: SNI, or an IP checked against IP SANs
		version    uint16
		trust      *Authority
		wantErr    bool
	}{
		{"DNS TLS 1.3", "www.example.test", tls.VersionTLS13, a, false},
		{"DNS TLS 1.2", "www.example.test", tls.VersionTLS12, a, false},
		{"IP TLS 1.3", "127.0.0.1", tls.VersionTLS13, a, false},
		{"IP TLS 1.2", "127.0.0.1", tls.VersionTLS12, a, false},
		{"other root", "www.example.test", tls.VersionTLS13, stranger, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			serverDone := make(chan error, 1)
			go func() {
				conn, err := ln.Accept()
				if err != nil {
					serverDone <- err
					return
				}
				defer conn.Close()
				srv := tls.Server(conn, &tls.Config{
					GetCertificate: func(hi *tls.ClientHelloInfo) (*tls.Certificate, error) {
						name := hi.ServerName
						if name == "" { // no SNI: the client dialled an IP
							name, _, _ = net.SplitHostPort(hi.Conn.LocalAddr().String())
						}
						return a.Leaf(name)
					},
				})
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				if err := srv.HandshakeContext(ctx); err != nil {
					serverDone <- err
					return
				}
				if _, err := io.WriteString(srv, "hello"); err != nil {
					serverDone <- err
					return
				}
				serverDone <- srv.Close() // close_notify: the client reads to a clean EOF
			}()

			roots := x509.NewCertPool()
			roots.AddCert(tc.trust.Certificate())
			d := tls.Dialer{Config: &tls.Config{
				RootCAs:    roots,
				ServerName: tc.serverName,
				MinVersion: tc.version,
				MaxVersion: tc.version,
			}}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			conn, err := d.DialContext(ctx, "tcp", ln.Addr().String())
			if tc.wantErr {
				var ua x509.UnknownAuthorityError
				if !errors.As(err, &ua) {
					t.Fatalf("client trusting another root: err = %v, want x509.UnknownAuthorityError", err)
				}
				<-serverDone
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			got, err := io.ReadAll(conn)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != "hello" {
				t.Errorf("read %q, want hello", got)
			}
			if err := <-serverDone; err != nil {
				t.Fatalf("server: %v", err)
			}
			cs := conn.(*tls.Conn).ConnectionState()
			if cs.Version != tc.version {
				t.Errorf("negotiated %s, want %s", tls.VersionName(cs.Version), tls.VersionName(tc.version))
			}
			if len(cs.VerifiedChains) != 1 || len(cs.VerifiedChains[0]) != 2 || !cs.VerifiedChains[0][1].Equal(a.Certificate()) {
				t.Errorf("verified chains %v, want one chain ending in the root", cs.VerifiedChains)
			}
		})
	}
}

func BenchmarkLeafHit(b *testing.B) {
	a := newCA(b, Options{})
	if _, err := a.Leaf("bench.example"); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.Leaf("bench.example"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLeafMiss(b *testing.B) {
	a := newCA(b, Options{})
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := a.Leaf(fmt.Sprintf("host%d.bench.example", i)); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkClientVerify is what a client pays to verify a minted leaf the
// way crypto/tls does (a fresh intermediates pool from the presented chain),
// for the chain tlslens sends ([leaf]) and for [leaf, root], which it used
// to send: the root in the chain gives the verifier a second path to build
// and a second signature to check.
func BenchmarkClientVerify(b *testing.B) {
	a := newCA(b, Options{})
	leaf, err := a.Leaf("bench.example")
	if err != nil {
		b.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(a.Certificate())
	for _, bc := range []struct {
		name  string
		chain [][]byte
	}{
		{"leaf", leaf.Certificate},
		{"leaf+root", [][]byte{leaf.Certificate[0], a.DER()}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				certs := make([]*x509.Certificate, len(bc.chain))
				for i, der := range bc.chain {
					if certs[i], err = x509.ParseCertificate(der); err != nil {
						b.Fatal(err)
					}
				}
				inter := x509.NewCertPool()
				for _, c := range certs[1:] {
					inter.AddCert(c)
				}
				if _, err := certs[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, DNSName: "bench.example"}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
