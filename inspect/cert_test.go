package inspect

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"math/big"
	"net/url"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/tlslens/tlslens/ca/testpki"
)

func TestCertificate(t *testing.T) {
	p := testFlightPKI(t)
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse("spiffe://flight.test/workload")
	edTmpl := &x509.Certificate{
		SerialNumber:   new(big.Int).SetBytes([]byte{0x0a, 0xbc, 0xde, 0xf0, 0x12}),
		Subject:        pkix.Name{CommonName: "ed.flight.test", Organization: []string{"tlslens, tests"}, Country: []string{"NZ"}},
		NotBefore:      time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("", 3600)),
		NotAfter:       time.Date(2027, 1, 2, 3, 4, 5, 0, time.UTC),
		DNSNames:       []string{"ed.flight.test", "*.ed.flight.test"},
		EmailAddresses: []string{"ops@flight.test"},
		URIs:           []*url.URL{u},
	}
	ed := testpki.Cert(t, edTmpl, pub, nil, priv)
	inter, err := x509.ParseCertificate(p.ecdsaLeaf.Certificate[1])
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		c    *x509.Certificate
		want Cert // SHA256 and SPKISHA256 are checked against the DER below
	}{
		{"ECDSA leaf", p.ecdsaLeaf.Leaf, Cert{
			Subject: "CN=flight.test", Issuer: "CN=tlslens test intermediate,O=tlslens tests",
			SANs: []string{"flight.test", "127.0.0.1"}, Serial: p.ecdsaLeaf.Leaf.SerialNumber.Text(16),
			NotBefore: p.ecdsaLeaf.Leaf.NotBefore.UTC().Format(time.RFC3339), NotAfter: p.ecdsaLeaf.Leaf.NotAfter.UTC().Format(time.RFC3339),
			Key: "ECDSA P-256", Signature: "ECDSA-SHA256",
		}},
		{"RSA leaf", p.rsaLeaf.Leaf, Cert{
			Subject: "CN=flight.test", Issuer: "CN=tlslens test intermediate,O=tlslens tests",
			SANs: []string{"flight.test", "127.0.0.1"}, Serial: p.rsaLeaf.Leaf.SerialNumber.Text(16),
			NotBefore: p.rsaLeaf.Leaf.NotBefore.UTC().Format(time.RFC3339), NotAfter: p.rsaLeaf.Leaf.NotAfter.UTC().Format(time.RFC3339),
			Key: "RSA 2048", Signature: "ECDSA-SHA256",
		}},
		{"intermediate", inter, Cert{
			Subject: "CN=tlslens test intermediate,O=tlslens tests", Issuer: "CN=tlslens test root,O=tlslens tests",
			Serial:    inter.SerialNumber.Text(16),
			NotBefore: inter.NotBefore.UTC().Format(time.RFC3339), NotAfter: inter.NotAfter.UTC().Format(time.RFC3339),
			Key: "ECDSA P-256", Signature: "ECDSA-SHA256", IsCA: true,
		}},
		{"Ed25519 self-signed", ed, Cert{
			// RFC 2253 §2.4: the comma inside a value is escaped.
			Subject: `CN=ed.flight.test,O=tlslens\, tests,C=NZ`, Issuer: `CN=ed.flight.test,O=tlslens\, tests,C=NZ`,
			SANs:   []string{"ed.flight.test", "*.ed.flight.test", "ops@flight.test", "spiffe://flight.test/workload"},
			Serial: "abcdef012", NotBefore: "2026-01-02T02:04:05Z", NotAfter: "2027-01-02T03:04:05Z",
			Key: "Ed25519", Signature: "Ed25519",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Certificate(tt.c)
			sum := sha256.Sum256(tt.c.Raw)
			if got.SHA256 != hex.EncodeToString(sum[:]) {
				t.Errorf("SHA256 = %s", got.SHA256)
			}
			pin, err := base64.StdEncoding.DecodeString(got.SPKISHA256)
			spki := sha256.Sum256(tt.c.RawSubjectPublicKeyInfo)
			if err != nil || string(pin) != string(spki[:]) {
				t.Errorf("SPKISHA256 = %s", got.SPKISHA256)
			}
			got.SHA256, got.SPKISHA256 = "", ""
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Certificate() = %+v\nwant %+v", got, tt.want)
			}
		})
	}

	chain := Chain([]*x509.Certificate{p.ecdsaLeaf.Leaf, inter})
	if len(chain) != 2 || chain[0].Subject != "CN=flight.test" || !chain[1].IsCA {
		t.Errorf("Chain() = %+v", chain)
	}
	if Chain(nil) != nil {
		t.Error("Chain(nil) is not nil")
	}
}

func TestParseChain(t *testing.T) {
	p := testFlightPKI(t)
	der := [][]byte{p.ecdsaLeaf.Certificate[0], []byte("not a certificate"), p.ecdsaLeaf.Certificate[1]}
	certs, err := ParseChain(der)
	if len(certs) != 2 || !certs[0].Equal(p.ecdsaLeaf.Leaf) || certs[1].Subject.CommonName != "tlslens test intermediate" {
		t.Errorf("ParseChain kept %d certificates, want the 2 good ones in order", len(certs))
	}
	_, parseErr := x509.ParseCertificate(der[1])
	if err == nil || err.Error() != "inspect: certificate 1: "+parseErr.Error() {
		t.Errorf("ParseChain error = %v, want certificate 1 named", err)
	}
	if certs, err := ParseChain(p.rsaLeaf.Certificate); err != nil || len(certs) != 2 {
		t.Errorf("ParseChain(good chain) = %d, %v", len(certs), err)
	}
}

func TestDistinguishedNames(t *testing.T) {
	p := testFlightPKI(t)
	inter := p.ecdsaLeaf.Leaf
	got := DistinguishedNames([][]byte{inter.RawIssuer, p.clientCA.RawSubject, {0x30, 0x03, 0x01}})
	want := []string{inter.Issuer.String(), p.clientCA.Subject.String(), "0x300301"}
	if !slices.Equal(got, want) {
		t.Errorf("DistinguishedNames = %q, want %q", got, want)
	}
	if DistinguishedNames(nil) != nil {
		t.Error("DistinguishedNames(nil) is not nil")
	}
}
