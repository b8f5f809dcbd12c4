package advice

import (
	"crypto/tls"
	"strings"
	"testing"

	"github.com/tlslens/tlslens/inspect"
)

// TestQAUnservableFromHello checks the explanation against hellos whose
// offers crypto/tls clients cannot make (other stacks' hellos, parsed), one
// reason per shortcoming, for the version crypto/tls would pick.
func TestQAUnservableFromHello(t *testing.T) {
	t.Parallel()
	goHello := func(cfg *tls.Config) *inspect.ClientHello {
		h, err := inspect.ParseClientHello(clientHelloRecords(t, cfg))
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	tls13 := goHello(&tls.Config{ServerName: "example.com", MinVersion: tls.VersionTLS13})
	tls12 := goHello(&tls.Config{ServerName: "example.com", MaxVersion: tls.VersionTLS12})
	const ffdhe2048, x448 = 0x0100, 0x001e
	cases := []struct {
		name   string
		base   *inspect.ClientHello
		change func(h *inspect.ClientHello)
		want   []string // "" when tlslens can serve the hello
	}{
		{"TLS 1.3 as sent", tls13, func(*inspect.ClientHello) {}, nil},
		{"TLS 1.2 as sent", tls12, func(*inspect.ClientHello) {}, nil},
		// The RSA leaf signs with RSA-PSS.
		{"TLS 1.3 RSA-PSS only", tls13, func(h *inspect.ClientHello) { h.SignatureAlgorithms = []uint16{0x0804} }, nil},
		{"TLS 1.3 PKCS1 only", tls13, func(h *inspect.ClientHello) { h.SignatureAlgorithms = []uint16{0x0401} },
			[]string{"over TLS 1.3", "rsa_pkcs1_sha256", "ecdsa_secp256r1_sha256", "rsa_pss_rsae_*", "RSA 2048"}},
		{"TLS 1.3 P-384 signatures only", tls13, func(h *inspect.ClientHello) { h.SignatureAlgorithms = []uint16{0x0503} },
			[]string{"ecdsa_secp384r1_sha384", "a P-256 key signs only with ecdsa_secp256r1_sha256"}},
		{"TLS 1.3 ffdhe only", tls13, func(h *inspect.ClientHello) { h.Groups = []uint16{ffdhe2048} },
			[]string{"no key exchange group Go implements", "ffdhe2048"}},
		{"TLS 1.3 CCM only", tls13, func(h *inspect.ClientHello) { h.CipherSuites = []uint16{0x1304} },
			[]string{"no TLS 1.3 cipher suite Go implements", "TLS_AES_128_CCM_SHA256"}},
		{"TLS 1.2 x448 only", tls12, func(h *inspect.ClientHello) { h.Groups = []uint16{x448} },
			[]string{"over TLS 1.2", "no elliptic curve Go implements", "x448"}},
		{"TLS 1.2 no groups", tls12, func(h *inspect.ClientHello) { h.Groups = nil },
			[]string{"sends no supported_groups"}},
		// ECDHE_RSA with the RSA leaf.
		{"TLS 1.2 RSA signatures only", tls12, func(h *inspect.ClientHello) { h.SignatureAlgorithms = []uint16{0x0804, 0x0401} }, nil},
		{"TLS 1.2 RSA key exchange only", tls12, func(h *inspect.ClientHello) {
			h.CipherSuites, h.Groups, h.SignatureAlgorithms = []uint16{0x009c}, nil, nil
		}, nil},
		{"TLS 1.2 ECDSA suites, RSA signatures only", tls12, func(h *inspect.ClientHello) {
			h.CipherSuites, h.SignatureAlgorithms = []uint16{0xc02b, 0xc02c}, []uint16{0x0804, 0x0401}
		}, []string{"need an ECDSA signature scheme", "rsa_pss_rsae_sha256, rsa_pkcs1_sha256"}},
		{"TLS 1.2 RSA suites, ECDSA signatures only", tls12, func(h *inspect.ClientHello) {
			h.CipherSuites, h.SignatureAlgorithms = []uint16{0xc02f}, []uint16{0x0403}
		}, []string{"need an RSA signature scheme", "ecdsa_secp256r1_sha256"}},
		{"TLS 1.0 with TLS 1.2 suites only", tls12, func(h *inspect.ClientHello) {
			h.SupportedVersions, h.LegacyVersion, h.CipherSuites = nil, tls.VersionTLS10, []uint16{0xc02b, 0x009c}
		}, []string{"over TLS 1.0", "no cipher suite Go implements for TLS 1.0", "TLS_RSA_WITH_AES_128_GCM_SHA256"}},
		{"TLS 1.2 DHE only", tls12, func(h *inspect.ClientHello) { h.CipherSuites = []uint16{0x009e} },
			[]string{"DHE key exchange (TLS_DHE_RSA_WITH_AES_128_GCM_SHA256)", "does not implement"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := *tc.base
			tc.change(&h)
			got := Unservable(&h, tls.VersionTLS10)
			if tc.want == nil {
				if got != "" {
					t.Fatalf("unservable = %q, want \"\" for a hello tlslens serves", got)
				}
				return
			}
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("unservable = %q, want it to say %q", got, w)
				}
			}
		})
	}
	t.Run("long lists are cut", func(t *testing.T) {
		h := *tls12
		h.CipherSuites = []uint16{0x009e, 0x009f, 0x0033, 0x0039, 0x0067, 0x006b, 0xc09e}
		got := Unservable(&h, tls.VersionTLS10)
		if !strings.Contains(got, "and 3 more") {
			t.Errorf("unservable = %q, want the suite list cut with \"and 3 more\"", got)
		}
	})
}
