package inspect

import (
	"crypto/tls"
	"fmt"
)

// IsGREASE reports whether v is a GREASE value (RFC 8701): 0x?a?a with both bytes equal.
func IsGREASE(v uint16) bool { return v&0x0f0f == 0x0a0a && v>>8 == v&0xff }

func hexName(v uint16) string { return fmt.Sprintf("0x%04x", v) }

// VersionName names a protocol version: "TLS 1.3", "GREASE", or "0x1a2b".
func VersionName(v uint16) string {
	if IsGREASE(v) {
		return "GREASE"
	}
	switch v {
	case 0x0300:
		return "SSL 3.0"
	case 0x0301, 0x0302, 0x0303, 0x0304:
		return tls.VersionName(v)
	}
	return hexName(v)
}

// CipherSuiteName names a cipher suite by its IANA name.
// Placeholder until the full IANA table lands (issue 3).
func CipherSuiteName(v uint16) string {
	if IsGREASE(v) {
		return "GREASE"
	}
	n := tls.CipherSuiteName(v)
	if len(n) > 2 && n[:2] == "0x" {
		return hexName(v)
	}
	return n
}

// GroupName names a supported group (IANA TLS Supported Groups registry).
func GroupName(v uint16) string {
	if IsGREASE(v) {
		return "GREASE"
	}
	switch v {
	case 23:
		return "secp256r1"
	case 24:
		return "secp384r1"
	case 25:
		return "secp521r1"
	case 29:
		return "x25519"
	case 30:
		return "x448"
	case 4587:
		return "SecP256r1MLKEM768"
	case 4588:
		return "X25519MLKEM768"
	case 4589:
		return "SecP384r1MLKEM1024"
	}
	return hexName(v)
}

// SignatureSchemeName names a signature scheme (IANA TLS SignatureScheme registry).
func SignatureSchemeName(v uint16) string {
	if IsGREASE(v) {
		return "GREASE"
	}
	return hexName(v)
}

// ExtensionName names an extension type (IANA TLS ExtensionType registry).
func ExtensionName(v uint16) string {
	if IsGREASE(v) {
		return "GREASE"
	}
	return hexName(v)
}

// AlertName names an alert description (IANA TLS Alerts registry).
func AlertName(v uint8) string {
	return fmt.Sprintf("0x%02x", v)
}
