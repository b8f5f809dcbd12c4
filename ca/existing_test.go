package ca_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tlslens/tlslens/ca"
	"github.com/tlslens/tlslens/ca/testpki"
)

// TestOpenExistingCA checks Open with a CA made elsewhere: other key
// encodings load and sign; unusable files are refused. It is outside package
// ca so that it can make the CAs with testpki, which imports ca.
func TestOpenExistingCA(t *testing.T) {
	ecKey, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sec1, err := x509.MarshalECPrivateKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	edPKCS8, err := x509.MarshalPKCS8PrivateKey(edKey)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		key     crypto.Signer
		keyPEM  *pem.Block
		isCA    bool
		wantErr string // "" means Open succeeds and leaves verify
	}{
		{"SEC1 ECDSA P-384", ecKey, &pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1}, true, ""},
		{"PKCS1 RSA", rsaKey, &pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaKey)}, true, ""},
		{"Ed25519", edKey, &pem.Block{Type: "PRIVATE KEY", Bytes: edPKCS8}, true, "ECDSA or RSA"},
		{"not a CA", rsaKey, &pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaKey)}, false, "not a CA"},
		{"no key block", ecKey, &pem.Block{Type: "CERTIFICATE", Bytes: []byte{0}}, true, "no PEM private key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			tmpl := &x509.Certificate{
				SerialNumber:          big.NewInt(1),
				Subject:               pkix.Name{CommonName: "external " + tc.name},
				NotBefore:             time.Now().Add(-time.Hour),
				NotAfter:              time.Now().Add(48 * time.Hour),
				IsCA:                  tc.isCA,
				BasicConstraintsValid: true,
				KeyUsage:              x509.KeyUsageCertSign,
			}
			der := testpki.Cert(t, tmpl, tc.key.Public(), nil, tc.key).Raw
			certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
			if err := os.WriteFile(filepath.Join(dir, "ca.pem"), certPEM, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "ca-key.pem"), pem.EncodeToMemory(tc.keyPEM), 0o600); err != nil {
				t.Fatal(err)
			}

			a, err := ca.Open(ca.Options{Dir: dir})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Open: err = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(a.DER(), der) {
				t.Error("Open loaded a different certificate from the one written")
			}
			leaf, err := a.Leaf("external.example")
			if err != nil {
				t.Fatal(err)
			}
			if err := ca.VerifyLeaf(a.Certificate(), leaf.Leaf, "external.example", time.Now()); err != nil {
				t.Error(err)
			}
			if leaf.Leaf.NotAfter.After(a.Certificate().NotAfter) {
				t.Errorf("leaf NotAfter %v outlives the CA's %v", leaf.Leaf.NotAfter, a.Certificate().NotAfter)
			}
		})
	}
}
