package testpki_test

import (
	"crypto/x509"
	"errors"
	"testing"
	"time"

	"github.com/tlslens/tlslens/ca/testpki"
)

// verify verifies a server's chain (leaf first) for name against roots.
func verify(chain [][]byte, roots *x509.CertPool, name string) error {
	certs := make([]*x509.Certificate, len(chain))
	for i, der := range chain {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return err
		}
		certs[i] = c
	}
	inters := x509.NewCertPool()
	for _, c := range certs[1:] {
		inters.AddCert(c)
	}
	_, err := certs[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inters, DNSName: name})
	return err
}

// TestChains: each certificate verifies as a client would check it, or fails
// for the reason its name gives.
func TestChains(t *testing.T) {
	root := testpki.Root(t, "Test Root")
	inter := root.Intermediate(t, "Test Intermediate").Intermediate(t, "Second Intermediate")
	rsaRoot := testpki.RootWithKey(t, "RSA Root", testpki.RSAKey(t, 2048))
	self, selfPool := testpki.SelfSigned(t, "self.test")
	for _, tc := range []struct {
		name    string
		chain   [][]byte
		roots   *x509.CertPool
		verify  string
		wantLen int
		wantErr bool
	}{
		{"leaf", root.Leaf(t, "a.test", "127.0.0.1").Certificate, root.Pool(), "127.0.0.1", 1, false},
		{"two intermediates", inter.Leaf(t, "b.test").Certificate, root.Pool(), "b.test", 3, false},
		{"RSA root, RSA leaf", rsaRoot.LeafWithKey(t, testpki.RSAKey(t, 2048), "c.test").Certificate, rsaRoot.Pool(), "c.test", 1, false},
		{"self-signed", self.Certificate, selfPool, "self.test", 1, false},
		{"expired", root.Expired(t, "d.test").Certificate, root.Pool(), "d.test", 1, true},
		{"not yet valid", root.NotYetValid(t, "e.test").Certificate, root.Pool(), "e.test", 1, true},
		{"another root", root.Leaf(t, "f.test").Certificate, rsaRoot.Pool(), "f.test", 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if len(tc.chain) != tc.wantLen {
				t.Errorf("chain of %d certificates, want %d", len(tc.chain), tc.wantLen)
			}
			err := verify(tc.chain, tc.roots, tc.verify)
			if (err != nil) != tc.wantErr {
				t.Errorf("Verify = %v, want error %v", err, tc.wantErr)
			}
			var invalid x509.CertificateInvalidError
			if tc.name == "expired" && (!errors.As(err, &invalid) || invalid.Reason != x509.Expired) {
				t.Errorf("Verify = %v, want x509.Expired", err)
			}
		})
	}
}

// TestClientLeaf: a client leaf verifies for client authentication only.
func TestClientLeaf(t *testing.T) {
	root := testpki.Root(t, "Client Root")
	c := root.ClientLeaf(t, "client")
	opts := x509.VerifyOptions{Roots: root.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	if _, err := c.Leaf.Verify(opts); err != nil {
		t.Errorf("client leaf for client auth: %v", err)
	}
	opts.KeyUsages = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	if _, err := c.Leaf.Verify(opts); err == nil {
		t.Error("client leaf verified for server auth")
	}
}

// TestAuthority: the Authority lives under the test's temporary directory
// and issues leaves that verify against its root.
func TestAuthority(t *testing.T) {
	a := testpki.Authority(t)
	leaf, err := a.Leaf("example.test")
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(a.Certificate())
	if _, err := leaf.Leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: "example.test", CurrentTime: time.Now()}); err != nil {
		t.Error(err)
	}
}
