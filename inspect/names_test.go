package inspect

import (
	"crypto/tls"
	"strings"
	"testing"
)

// greaseValues are the 16 GREASE code points of RFC 8701 §2.
func greaseValues() []uint16 {
	var vs []uint16
	for i := range 16 {
		b := uint16(i)<<4 | 0x0a
		vs = append(vs, b<<8|b)
	}
	return vs
}

func TestIsGREASE(t *testing.T) {
	grease := map[uint16]bool{}
	for _, v := range greaseValues() {
		grease[v] = true
	}
	if len(grease) != 16 {
		t.Fatalf("%d GREASE values, want 16", len(grease))
	}
	for v := range 1 << 16 {
		if got := IsGREASE(uint16(v)); got != grease[uint16(v)] {
			t.Errorf("IsGREASE(%#04x) = %v", v, got)
		}
	}
}

func TestCipherSuiteNamesMatchCryptoTLS(t *testing.T) {
	// crypto/tls names its suites by their IANA names.
	suites := append(tls.CipherSuites(), tls.InsecureCipherSuites()...)
	if len(suites) < 20 {
		t.Fatalf("crypto/tls lists only %d suites", len(suites))
	}
	for _, s := range suites {
		if got := CipherSuiteName(s.ID); got != s.Name {
			t.Errorf("CipherSuiteName(%#04x) = %q, want %q", s.ID, got, s.Name)
		}
	}
}

func TestCipherSuiteTable(t *testing.T) {
	// The IANA registry (tls-parameters-4) assigns 352 values.
	if len(cipherSuiteNames) != 352 {
		t.Errorf("%d cipher suites, want the registry's 352", len(cipherSuiteNames))
	}
	seen := map[string]uint16{}
	for v, n := range cipherSuiteNames {
		if !strings.HasPrefix(n, "TLS_") {
			t.Errorf("%#04x = %q, not an IANA TLS_ name", v, n)
		}
		if w, dup := seen[n]; dup {
			t.Errorf("%q names both %#04x and %#04x", n, w, v)
		}
		seen[n] = v
		if IsGREASE(v) {
			t.Errorf("GREASE value %#04x in the table", v)
		}
	}
}

func TestNames(t *testing.T) {
	tests := []struct {
		name string
		fn   func(uint16) string
		v    uint16
		want string
	}{
		{"suite", CipherSuiteName, 0xc02f, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"},
		{"suite", CipherSuiteName, 0x00ff, "TLS_EMPTY_RENEGOTIATION_INFO_SCSV"},
		{"suite", CipherSuiteName, 0x5600, "TLS_FALLBACK_SCSV"},
		{"suite", CipherSuiteName, 0x1304, "TLS_AES_128_CCM_SHA256"},
		{"suite", CipherSuiteName, 0x1307, "TLS_AEGIS_128L_SHA256"},
		{"suite", CipherSuiteName, 0x0033, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA"},
		{"suite", CipherSuiteName, 0xd005, "TLS_ECDHE_PSK_WITH_AES_128_CCM_SHA256"},
		{"suite", CipherSuiteName, 0xc106, "TLS_GOSTR341112_256_WITH_MAGMA_MGM_S"},
		{"suite", CipherSuiteName, 0x00c6, "TLS_SM4_GCM_SM3"},
		{"suite", CipherSuiteName, 0xd004, "0xd004"},
		{"suite", CipherSuiteName, 0x1a1a, "GREASE"},
		{"version", VersionName, 0x0002, "SSL 2.0"},
		{"version", VersionName, 0x0300, "SSL 3.0"},
		{"version", VersionName, 0x0301, "TLS 1.0"},
		{"version", VersionName, 0x0304, "TLS 1.3"},
		{"version", VersionName, 0xfeff, "DTLS 1.0"},
		{"version", VersionName, 0xfefd, "DTLS 1.2"},
		{"version", VersionName, 0xfefc, "DTLS 1.3"},
		{"version", VersionName, 0x7f17, "TLS 1.3 draft 23"},
		{"version", VersionName, 0x7f00, "0x7f00"},
		{"version", VersionName, 0x0305, "0x0305"},
		{"version", VersionName, 0xdada, "GREASE"},
		{"group", GroupName, 29, "x25519"},
		{"group", GroupName, 30, "x448"},
		{"group", GroupName, 23, "secp256r1"},
		{"group", GroupName, 256, "ffdhe2048"},
		{"group", GroupName, 260, "ffdhe8192"},
		{"group", GroupName, 26, "brainpoolP256r1"},
		{"group", GroupName, 33, "brainpoolP512r1tls13"},
		{"group", GroupName, 0x11ec, "X25519MLKEM768"},
		{"group", GroupName, 0x11eb, "SecP256r1MLKEM768"},
		{"group", GroupName, 0x11ed, "SecP384r1MLKEM1024"},
		{"group", GroupName, 0x0200, "MLKEM512"},
		{"group", GroupName, 0x0201, "MLKEM768"},
		{"group", GroupName, 0x0202, "MLKEM1024"},
		{"group", GroupName, 0xff01, "arbitrary_explicit_prime_curves"},
		{"group", GroupName, 0xff02, "arbitrary_explicit_char2_curves"},
		{"group", GroupName, 0x6399, "X25519Kyber768Draft00"},
		{"group", GroupName, 42, "0x002a"},
		{"group", GroupName, 0x2a2a, "GREASE"},
		{"sigalg", SignatureSchemeName, 0x0401, "rsa_pkcs1_sha256"},
		{"sigalg", SignatureSchemeName, 0x0403, "ecdsa_secp256r1_sha256"},
		{"sigalg", SignatureSchemeName, 0x0804, "rsa_pss_rsae_sha256"},
		{"sigalg", SignatureSchemeName, 0x0809, "rsa_pss_pss_sha256"},
		{"sigalg", SignatureSchemeName, 0x0807, "ed25519"},
		{"sigalg", SignatureSchemeName, 0x0201, "rsa_pkcs1_sha1"},
		{"sigalg", SignatureSchemeName, 0x0203, "ecdsa_sha1"},
		{"sigalg", SignatureSchemeName, 0x0101, "rsa_pkcs1_md5"},
		{"sigalg", SignatureSchemeName, 0x0202, "dsa_sha1"},
		{"sigalg", SignatureSchemeName, 0x0301, "rsa_pkcs1_sha224"},
		{"sigalg", SignatureSchemeName, 0x0303, "ecdsa_sha224"},
		{"sigalg", SignatureSchemeName, 0x081a, "ecdsa_brainpoolP256r1tls13_sha256"},
		{"sigalg", SignatureSchemeName, 0x0904, "mldsa44"},
		{"sigalg", SignatureSchemeName, 0x0905, "mldsa65"},
		{"sigalg", SignatureSchemeName, 0x0906, "mldsa87"},
		{"sigalg", SignatureSchemeName, 0xeeee, "gostr34102012_256_gostr34112012_256"},
		{"sigalg", SignatureSchemeName, 0x0907, "0x0907"},
		{"sigalg", SignatureSchemeName, 0x0a0a, "GREASE"},
		{"extension", ExtensionName, 0, "server_name"},
		{"extension", ExtensionName, 1, "max_fragment_length"},
		{"extension", ExtensionName, 16, "application_layer_protocol_negotiation"},
		{"extension", ExtensionName, 18, "signed_certificate_timestamp"},
		{"extension", ExtensionName, 21, "padding"},
		{"extension", ExtensionName, 27, "compress_certificate"},
		{"extension", ExtensionName, 34, "delegated_credential"},
		{"extension", ExtensionName, 35, "session_ticket"},
		{"extension", ExtensionName, 41, "pre_shared_key"},
		{"extension", ExtensionName, 50, "signature_algorithms_cert"},
		{"extension", ExtensionName, 51, "key_share"},
		{"extension", ExtensionName, 13172, "next_protocol_negotiation"},
		{"extension", ExtensionName, 17513, "application_settings_old"},
		{"extension", ExtensionName, 17613, "application_settings"},
		{"extension", ExtensionName, 0xfe0d, "encrypted_client_hello"},
		{"extension", ExtensionName, 0xff01, "renegotiation_info"},
		{"extension", ExtensionName, 40, "0x0028"},
		{"extension", ExtensionName, 0xfafa, "GREASE"},
		{"cert compression", CertCompressionName, 1, "zlib"},
		{"cert compression", CertCompressionName, 2, "brotli"},
		{"cert compression", CertCompressionName, 3, "zstd"},
		{"cert compression", CertCompressionName, 4, "0x0004"},
		{"cert compression", CertCompressionName, 0xbaba, "GREASE"},
	}
	for _, tt := range tests {
		if got := tt.fn(tt.v); got != tt.want {
			t.Errorf("%s name(%#04x) = %q, want %q", tt.name, tt.v, got, tt.want)
		}
	}
	for _, v := range []uint16{0x0301, 0x0302, 0x0303, 0x0304} {
		if got, want := VersionName(v), tls.VersionName(v); got != want {
			t.Errorf("VersionName(%#04x) = %q, want crypto/tls's %q", v, got, want)
		}
	}
}

func TestNames8(t *testing.T) {
	tests := []struct {
		name string
		fn   func(uint8) string
		v    uint8
		want string
	}{
		{"alert", AlertName, 0, "close_notify"},
		{"alert", AlertName, 40, "handshake_failure"},
		{"alert", AlertName, 42, "bad_certificate"},
		{"alert", AlertName, 48, "unknown_ca"},
		{"alert", AlertName, 70, "protocol_version"},
		{"alert", AlertName, 86, "inappropriate_fallback"},
		{"alert", AlertName, 112, "unrecognized_name"},
		{"alert", AlertName, 116, "certificate_required"},
		{"alert", AlertName, 120, "no_application_protocol"},
		{"alert", AlertName, 121, "ech_required"},
		{"alert", AlertName, 200, "0xc8"},
		{"compression", CompressionMethodName, 0, "null"},
		{"compression", CompressionMethodName, 1, "DEFLATE"},
		{"compression", CompressionMethodName, 2, "0x02"},
		{"point format", PointFormatName, 0, "uncompressed"},
		{"point format", PointFormatName, 1, "ansiX962_compressed_prime"},
		{"point format", PointFormatName, 2, "ansiX962_compressed_char2"},
		{"point format", PointFormatName, 9, "0x09"},
		{"psk mode", PSKModeName, 0, "psk_ke"},
		{"psk mode", PSKModeName, 1, "psk_dhe_ke"},
		{"psk mode", PSKModeName, 2, "0x02"},
	}
	for _, tt := range tests {
		if got := tt.fn(tt.v); got != tt.want {
			t.Errorf("%s name(%d) = %q, want %q", tt.name, tt.v, got, tt.want)
		}
	}
	// RFC 8701 §2: PskKeyExchangeMode GREASE values are 0x0b + n·0x1f.
	grease := map[uint8]bool{0x0b: true, 0x2a: true, 0x49: true, 0x68: true, 0x87: true, 0xa6: true, 0xc5: true, 0xe4: true}
	for v := range 256 {
		if got := PSKModeName(uint8(v)) == "GREASE"; got != grease[uint8(v)] {
			t.Errorf("PSKModeName(%#02x) = %q", v, PSKModeName(uint8(v)))
		}
	}
}

func TestGREASENames(t *testing.T) {
	for _, v := range greaseValues() {
		for name, fn := range map[string]func(uint16) string{
			"VersionName": VersionName, "CipherSuiteName": CipherSuiteName, "GroupName": GroupName,
			"SignatureSchemeName": SignatureSchemeName, "ExtensionName": ExtensionName, "CertCompressionName": CertCompressionName,
		} {
			if got := fn(v); got != "GREASE" {
				t.Errorf("%s(%#04x) = %q, want GREASE", name, v, got)
			}
		}
	}
}
