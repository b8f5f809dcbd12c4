package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestGeneratedUpToDate regenerates names_gen.go into a temporary folder and
// compares it with the committed one, so a registry edit without go generate
// (or a hand edit of the generated file) fails go test.
func TestGeneratedUpToDate(t *testing.T) {
	src, err := Generate("../iana")
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "names_gen.go")
	if err := os.WriteFile(out, src, 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("../../names_gen.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("inspect/names_gen.go is not what ianagen writes from inspect/internal/iana: run go generate ./inspect")
	}
}

func TestParseSuite(t *testing.T) {
	tests := []struct {
		name string
		want suite
	}{
		{"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", suite{KeyExchange: "ECDHE", Auth: "RSA", Cipher: "AES-128", Mode: "GCM", Hash: "SHA256", AEAD: true}},
		{"TLS_RSA_EXPORT_WITH_DES40_CBC_SHA", suite{KeyExchange: "RSA", Auth: "RSA", Export: true, Cipher: "DES40", Mode: "CBC", Hash: "SHA1"}},
		{"TLS_KRB5_EXPORT_WITH_DES_CBC_40_MD5", suite{KeyExchange: "KRB5", Auth: "KRB5", Export: true, Cipher: "DES40", Mode: "CBC", Hash: "MD5"}},
		{"TLS_DH_anon_WITH_RC4_128_MD5", suite{KeyExchange: "DH", Auth: "anon", Cipher: "RC4-128", Mode: "stream", Hash: "MD5"}},
		{"TLS_PSK_DHE_WITH_AES_128_CCM_8", suite{KeyExchange: "DHE", Auth: "PSK", Cipher: "AES-128", Mode: "CCM_8", Hash: "SHA256", AEAD: true}},
		{"TLS_RSA_PSK_WITH_NULL_SHA384", suite{KeyExchange: "RSA", Auth: "PSK", Cipher: "NULL", Hash: "SHA384"}},
		{"TLS_SRP_SHA_DSS_WITH_3DES_EDE_CBC_SHA", suite{KeyExchange: "SRP", Auth: "DSS", Cipher: "3DES", Mode: "CBC", Hash: "SHA1"}},
		{"TLS_NULL_WITH_NULL_NULL", suite{KeyExchange: "NULL", Cipher: "NULL"}},
		{"TLS_CHACHA20_POLY1305_SHA256", suite{Cipher: "ChaCha20", Mode: "Poly1305", Hash: "SHA256", AEAD: true, TLS13: true}},
		{"TLS_GOSTR341112_256_WITH_MAGMA_MGM_S", suite{Cipher: "Magma", Mode: "MGM", AEAD: true, TLS13: true}},
		{"TLS_FALLBACK_SCSV", suite{SCSV: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseSuite(tt.name)
			tt.want.Name = tt.name
			if err != nil || got != tt.want {
				t.Errorf("parseSuite(%s) = %+v, %v, want %+v", tt.name, got, err, tt.want)
			}
		})
	}
}
