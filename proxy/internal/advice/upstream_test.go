package advice

import (
	"crypto/tls"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tlslens/tlslens/inspect"
)

// TestQADescribeRefusals: when a server refuses every offer, the error
// names what the client (OpenSSL, captured) offered that Go's TLS stack
// lacks: groups, RSA-PSS and Ed448 certificates, and suites of no named kind
// as well as DHE; for a TLS 1.3-only server, only what TLS 1.3 can use.
// GnuTLS's decode_error after an empty client Certificate is a missing
// client certificate.
func TestQADescribeRefusals(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "inspect", "testdata", "openssl.bin"))
	if err != nil {
		t.Fatal(err)
	}
	h, err := inspect.ParseClientHello(b)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		alert   string
		facts   HandshakeFacts
		want    []string
		notWant []string
	}{
		{"TLS 1.2 refusal", "handshake_failure", HandshakeFacts{Compat: true, Hello: h},
			[]string{"DHE key exchange (TLS_DHE_RSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384",
				"x448", "ffdhe2048", "RSA-PSS certificates (rsa_pss_pss_sha256", "Ed448"}, nil},
		{"TLS 1.3-only refusal", "protocol_version", HandshakeFacts{Compat: true, Hello: h, FirstAlert: "handshake_failure"},
			[]string{"speaks only TLS 1.3", "x448", "ffdhe2048", "RSA-PSS certificates"},
			[]string{"DHE key exchange", "SSL 3.0", "CBC"}},
		{"SSL 3.0 at most", "protocol_version", HandshakeFacts{Compat: true, Hello: h, FirstAlert: "protocol_version"},
			[]string{"SSL 3.0"}, []string{"speaks only TLS 1.3"}},
		{"GnuTLS without a client certificate", "decode_error", HandshakeFacts{Asked: true, Hello: h, Name: "localhost"},
			[]string{"requires a client certificate", "None is configured for localhost"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := Handshake(io.EOF, tc.alert, tc.facts)
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("Handshake = %q, want it to name %q", got, w)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(got, w) {
					t.Errorf("Handshake = %q names %q", got, w)
				}
			}
		})
	}
}

// TestDescribeUnsupportedOffers names what captured clients offer that Go's
// TLS stack cannot.
func TestDescribeUnsupportedOffers(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "inspect", "testdata", "openssl.bin"))
	if err != nil {
		t.Fatal(err)
	}
	h, err := inspect.ParseClientHello(b)
	if err != nil {
		t.Fatal(err)
	}
	var dhe []string
	for _, id := range h.CipherSuites {
		if name := inspect.CipherSuiteName(id); strings.Contains(name, "_DHE_") {
			dhe = append(dhe, name)
		}
	}
	got := unsupportedOffers(h)
	if len(dhe) == 0 || !strings.Contains(got, "DHE key exchange ("+dhe[0]) {
		t.Errorf("unsupportedOffers(openssl) = %q, want DHE key exchange named with %v", got, dhe)
	}
	msg := Handshake(io.EOF, "handshake_failure", HandshakeFacts{Compat: true, Hello: h})
	if !strings.Contains(msg, "DHE key exchange") || !strings.Contains(msg, "Go's TLS stack does not implement") {
		t.Errorf("Handshake = %q", msg)
	}
	goHello := sentHello(t, &tls.Config{ServerName: "example.com"})
	if got := unsupportedOffers(goHello); got != "" {
		t.Errorf("unsupportedOffers(Go's own hello) = %q, want nothing", got)
	}
}
