package inspect

import (
	"fmt"
	"strconv"
)

// This file names protocol codes by their IANA registry names
// (https://www.iana.org/assignments/tls-parameters/ and
// https://www.iana.org/assignments/tls-extensiontype-values/), the names the
// record uses (docs/record.md). A code no table knows is written "0x1a2b"
// (two hex digits for 8-bit codes); a GREASE value (RFC 8701) is "GREASE".
//
// The IANA tables are generated (names_gen.go) from the registry files in
// internal/iana by internal/ianagen; edit those, then run go generate.
//
//go:generate go run ./internal/ianagen -dir internal/iana -out names_gen.go

// IsGREASE reports whether v is a GREASE value (RFC 8701): 0x?a?a with both bytes equal.
func IsGREASE(v uint16) bool { return v&0x0f0f == 0x0a0a && v>>8 == v&0xff }

// isGREASEPSKMode reports whether m is one of the GREASE values RFC 8701 §2
// reserves for PskKeyExchangeMode: 0x0b, 0x2a, 0x49, …, 0xe4 (0x0b + n·0x1f).
func isGREASEPSKMode(m uint8) bool { return m%0x1f == 0x0b }

func hexName(v uint16) string { return fmt.Sprintf("0x%04x", v) }

func hexName8(v uint8) string { return fmt.Sprintf("0x%02x", v) }

// name16 looks v up in table: "GREASE" for a GREASE value, "0x1a2b" when unknown.
func name16(table map[uint16]string, v uint16) string {
	if IsGREASE(v) {
		return "GREASE"
	}
	if n, ok := table[v]; ok {
		return n
	}
	return hexName(v)
}

func name8(table map[uint8]string, v uint8) string {
	if n, ok := table[v]; ok {
		return n
	}
	return hexName8(v)
}

// VersionName names a protocol version: "TLS 1.3", "SSL 3.0", "DTLS 1.2",
// "TLS 1.3 draft 23", "GREASE", or "0x1a2b".
func VersionName(v uint16) string {
	if IsGREASE(v) {
		return "GREASE"
	}
	if n, ok := versionNames[v]; ok {
		return n
	}
	// Pre-RFC 8446 drafts advertised 0x7f00 | draft number (RFC 8446 §4.2.1
	// history; e.g. 0x7f17 = draft 23).
	if v>>8 == 0x7f && v&0xff > 0 {
		return "TLS 1.3 draft " + strconv.Itoa(int(v&0xff))
	}
	return hexName(v)
}

var versionNames = map[uint16]string{
	0x0002: "SSL 2.0",
	0x0300: "SSL 3.0",
	0x0301: "TLS 1.0",
	0x0302: "TLS 1.1",
	0x0303: "TLS 1.2",
	0x0304: "TLS 1.3",
	0x0100: "DTLS 1.0 (OpenSSL pre-RFC)", // DTLS1_BAD_VER, OpenSSL before 0.9.8f
	0xfeff: "DTLS 1.0",
	0xfefd: "DTLS 1.2",
	0xfefc: "DTLS 1.3",
	0xfb17: "TLS 1.3 draft 23 (Facebook)",
	0xfb1a: "TLS 1.3 draft 26 (Facebook)",
}

// CipherSuiteName names a cipher suite by its IANA name, e.g.
// "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_EMPTY_RENEGOTIATION_INFO_SCSV";
// "GREASE" or "0x1a2b" otherwise.
func CipherSuiteName(v uint16) string { return name16(cipherSuiteNames, v) }

// GroupName names a supported group (IANA TLS Supported Groups registry,
// tls-parameters-8), e.g. "x25519", "secp256r1", "X25519MLKEM768",
// "ffdhe2048"; "GREASE" or "0x1a2b" otherwise.
func GroupName(v uint16) string { return name16(groupNames, v) }

// SignatureSchemeName names a signature scheme (IANA TLS SignatureScheme
// registry), e.g. "ecdsa_secp256r1_sha256", "rsa_pss_rsae_sha256", "ed25519".
// The TLS 1.2 hash/signature pairs the registry only reserves (RFC 5246
// §7.4.1.4.1) get OpenSSL's conventional names: "rsa_pkcs1_md5", "dsa_sha1",
// "ecdsa_sha224", …. "GREASE" or "0x1a2b" otherwise.
func SignatureSchemeName(v uint16) string { return name16(signatureSchemeNames, v) }

// ExtensionName names an extension type (IANA TLS ExtensionType Values
// registry), e.g. "server_name", "key_share", "encrypted_client_hello";
// "GREASE" or "0x1a2b" otherwise. A few widely deployed unregistered code
// points are named too: next_protocol_negotiation (13172), ALPS
// (17513 "application_settings_old", 17613 "application_settings"),
// channel_id (30032) and encrypted_server_name (65486).
func ExtensionName(v uint16) string { return name16(extensionNames, v) }

// AlertName names an alert description (IANA TLS Alerts registry), e.g.
// "bad_certificate", "unknown_ca", "ech_required"; "0x1a" otherwise.
// Descriptions the registry marks _RESERVED are named without the suffix,
// as the RFCs that defined them wrote them ("decryption_failed").
func AlertName(v uint8) string { return name8(alertNames, v) }

// CompressionMethodName names a ClientHello compression method (IANA TLS
// Compression Method Identifiers): "null", "DEFLATE", "LZS"; "0x1a" otherwise.
func CompressionMethodName(v uint8) string { return name8(compressionMethodNames, v) }

// PointFormatName names an EC point format (IANA EC Point Format registry,
// RFC 8422 §5.1.2): "uncompressed", "ansiX962_compressed_prime",
// "ansiX962_compressed_char2"; "0x1a" otherwise.
func PointFormatName(v uint8) string { return name8(pointFormatNames, v) }

// PSKModeName names a PSK key exchange mode (RFC 8446 §4.2.9): "psk_ke",
// "psk_dhe_ke"; "GREASE" for RFC 8701's reserved values; "0x1a" otherwise.
func PSKModeName(v uint8) string {
	if isGREASEPSKMode(v) {
		return "GREASE"
	}
	return name8(pskModeNames, v)
}

// CertCompressionName names a certificate compression algorithm (RFC 8879
// §7.3): "zlib", "brotli", "zstd"; "GREASE" or "0x1a2b" otherwise.
func CertCompressionName(v uint16) string { return name16(certCompressionNames, v) }
