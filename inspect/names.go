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
// The tables are read-only package variables, built at parse time.

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

// cipherSuiteNames is the whole IANA TLS Cipher Suites registry
// (tls-parameters-4): every assigned value, 352 entries. Cross-checked against
// Wireshark 4.0's table and OpenSSL 3.0's "openssl ciphers -V -stdname".
var cipherSuiteNames = map[uint16]string{
	0x0000: "TLS_NULL_WITH_NULL_NULL",
	0x0001: "TLS_RSA_WITH_NULL_MD5",
	0x0002: "TLS_RSA_WITH_NULL_SHA",
	0x0003: "TLS_RSA_EXPORT_WITH_RC4_40_MD5",
	0x0004: "TLS_RSA_WITH_RC4_128_MD5",
	0x0005: "TLS_RSA_WITH_RC4_128_SHA",
	0x0006: "TLS_RSA_EXPORT_WITH_RC2_CBC_40_MD5",
	0x0007: "TLS_RSA_WITH_IDEA_CBC_SHA",
	0x0008: "TLS_RSA_EXPORT_WITH_DES40_CBC_SHA",
	0x0009: "TLS_RSA_WITH_DES_CBC_SHA",
	0x000a: "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
	0x000b: "TLS_DH_DSS_EXPORT_WITH_DES40_CBC_SHA",
	0x000c: "TLS_DH_DSS_WITH_DES_CBC_SHA",
	0x000d: "TLS_DH_DSS_WITH_3DES_EDE_CBC_SHA",
	0x000e: "TLS_DH_RSA_EXPORT_WITH_DES40_CBC_SHA",
	0x000f: "TLS_DH_RSA_WITH_DES_CBC_SHA",
	0x0010: "TLS_DH_RSA_WITH_3DES_EDE_CBC_SHA",
	0x0011: "TLS_DHE_DSS_EXPORT_WITH_DES40_CBC_SHA",
	0x0012: "TLS_DHE_DSS_WITH_DES_CBC_SHA",
	0x0013: "TLS_DHE_DSS_WITH_3DES_EDE_CBC_SHA",
	0x0014: "TLS_DHE_RSA_EXPORT_WITH_DES40_CBC_SHA",
	0x0015: "TLS_DHE_RSA_WITH_DES_CBC_SHA",
	0x0016: "TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA",
	0x0017: "TLS_DH_anon_EXPORT_WITH_RC4_40_MD5",
	0x0018: "TLS_DH_anon_WITH_RC4_128_MD5",
	0x0019: "TLS_DH_anon_EXPORT_WITH_DES40_CBC_SHA",
	0x001a: "TLS_DH_anon_WITH_DES_CBC_SHA",
	0x001b: "TLS_DH_anon_WITH_3DES_EDE_CBC_SHA",
	0x001e: "TLS_KRB5_WITH_DES_CBC_SHA",
	0x001f: "TLS_KRB5_WITH_3DES_EDE_CBC_SHA",
	0x0020: "TLS_KRB5_WITH_RC4_128_SHA",
	0x0021: "TLS_KRB5_WITH_IDEA_CBC_SHA",
	0x0022: "TLS_KRB5_WITH_DES_CBC_MD5",
	0x0023: "TLS_KRB5_WITH_3DES_EDE_CBC_MD5",
	0x0024: "TLS_KRB5_WITH_RC4_128_MD5",
	0x0025: "TLS_KRB5_WITH_IDEA_CBC_MD5",
	0x0026: "TLS_KRB5_EXPORT_WITH_DES_CBC_40_SHA",
	0x0027: "TLS_KRB5_EXPORT_WITH_RC2_CBC_40_SHA",
	0x0028: "TLS_KRB5_EXPORT_WITH_RC4_40_SHA",
	0x0029: "TLS_KRB5_EXPORT_WITH_DES_CBC_40_MD5",
	0x002a: "TLS_KRB5_EXPORT_WITH_RC2_CBC_40_MD5",
	0x002b: "TLS_KRB5_EXPORT_WITH_RC4_40_MD5",
	0x002c: "TLS_PSK_WITH_NULL_SHA",
	0x002d: "TLS_DHE_PSK_WITH_NULL_SHA",
	0x002e: "TLS_RSA_PSK_WITH_NULL_SHA",
	0x002f: "TLS_RSA_WITH_AES_128_CBC_SHA",
	0x0030: "TLS_DH_DSS_WITH_AES_128_CBC_SHA",
	0x0031: "TLS_DH_RSA_WITH_AES_128_CBC_SHA",
	0x0032: "TLS_DHE_DSS_WITH_AES_128_CBC_SHA",
	0x0033: "TLS_DHE_RSA_WITH_AES_128_CBC_SHA",
	0x0034: "TLS_DH_anon_WITH_AES_128_CBC_SHA",
	0x0035: "TLS_RSA_WITH_AES_256_CBC_SHA",
	0x0036: "TLS_DH_DSS_WITH_AES_256_CBC_SHA",
	0x0037: "TLS_DH_RSA_WITH_AES_256_CBC_SHA",
	0x0038: "TLS_DHE_DSS_WITH_AES_256_CBC_SHA",
	0x0039: "TLS_DHE_RSA_WITH_AES_256_CBC_SHA",
	0x003a: "TLS_DH_anon_WITH_AES_256_CBC_SHA",
	0x003b: "TLS_RSA_WITH_NULL_SHA256",
	0x003c: "TLS_RSA_WITH_AES_128_CBC_SHA256",
	0x003d: "TLS_RSA_WITH_AES_256_CBC_SHA256",
	0x003e: "TLS_DH_DSS_WITH_AES_128_CBC_SHA256",
	0x003f: "TLS_DH_RSA_WITH_AES_128_CBC_SHA256",
	0x0040: "TLS_DHE_DSS_WITH_AES_128_CBC_SHA256",
	0x0041: "TLS_RSA_WITH_CAMELLIA_128_CBC_SHA",
	0x0042: "TLS_DH_DSS_WITH_CAMELLIA_128_CBC_SHA",
	0x0043: "TLS_DH_RSA_WITH_CAMELLIA_128_CBC_SHA",
	0x0044: "TLS_DHE_DSS_WITH_CAMELLIA_128_CBC_SHA",
	0x0045: "TLS_DHE_RSA_WITH_CAMELLIA_128_CBC_SHA",
	0x0046: "TLS_DH_anon_WITH_CAMELLIA_128_CBC_SHA",
	0x0067: "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256",
	0x0068: "TLS_DH_DSS_WITH_AES_256_CBC_SHA256",
	0x0069: "TLS_DH_RSA_WITH_AES_256_CBC_SHA256",
	0x006a: "TLS_DHE_DSS_WITH_AES_256_CBC_SHA256",
	0x006b: "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256",
	0x006c: "TLS_DH_anon_WITH_AES_128_CBC_SHA256",
	0x006d: "TLS_DH_anon_WITH_AES_256_CBC_SHA256",
	0x0084: "TLS_RSA_WITH_CAMELLIA_256_CBC_SHA",
	0x0085: "TLS_DH_DSS_WITH_CAMELLIA_256_CBC_SHA",
	0x0086: "TLS_DH_RSA_WITH_CAMELLIA_256_CBC_SHA",
	0x0087: "TLS_DHE_DSS_WITH_CAMELLIA_256_CBC_SHA",
	0x0088: "TLS_DHE_RSA_WITH_CAMELLIA_256_CBC_SHA",
	0x0089: "TLS_DH_anon_WITH_CAMELLIA_256_CBC_SHA",
	0x008a: "TLS_PSK_WITH_RC4_128_SHA",
	0x008b: "TLS_PSK_WITH_3DES_EDE_CBC_SHA",
	0x008c: "TLS_PSK_WITH_AES_128_CBC_SHA",
	0x008d: "TLS_PSK_WITH_AES_256_CBC_SHA",
	0x008e: "TLS_DHE_PSK_WITH_RC4_128_SHA",
	0x008f: "TLS_DHE_PSK_WITH_3DES_EDE_CBC_SHA",
	0x0090: "TLS_DHE_PSK_WITH_AES_128_CBC_SHA",
	0x0091: "TLS_DHE_PSK_WITH_AES_256_CBC_SHA",
	0x0092: "TLS_RSA_PSK_WITH_RC4_128_SHA",
	0x0093: "TLS_RSA_PSK_WITH_3DES_EDE_CBC_SHA",
	0x0094: "TLS_RSA_PSK_WITH_AES_128_CBC_SHA",
	0x0095: "TLS_RSA_PSK_WITH_AES_256_CBC_SHA",
	0x0096: "TLS_RSA_WITH_SEED_CBC_SHA",
	0x0097: "TLS_DH_DSS_WITH_SEED_CBC_SHA",
	0x0098: "TLS_DH_RSA_WITH_SEED_CBC_SHA",
	0x0099: "TLS_DHE_DSS_WITH_SEED_CBC_SHA",
	0x009a: "TLS_DHE_RSA_WITH_SEED_CBC_SHA",
	0x009b: "TLS_DH_anon_WITH_SEED_CBC_SHA",
	0x009c: "TLS_RSA_WITH_AES_128_GCM_SHA256",
	0x009d: "TLS_RSA_WITH_AES_256_GCM_SHA384",
	0x009e: "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256",
	0x009f: "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384",
	0x00a0: "TLS_DH_RSA_WITH_AES_128_GCM_SHA256",
	0x00a1: "TLS_DH_RSA_WITH_AES_256_GCM_SHA384",
	0x00a2: "TLS_DHE_DSS_WITH_AES_128_GCM_SHA256",
	0x00a3: "TLS_DHE_DSS_WITH_AES_256_GCM_SHA384",
	0x00a4: "TLS_DH_DSS_WITH_AES_128_GCM_SHA256",
	0x00a5: "TLS_DH_DSS_WITH_AES_256_GCM_SHA384",
	0x00a6: "TLS_DH_anon_WITH_AES_128_GCM_SHA256",
	0x00a7: "TLS_DH_anon_WITH_AES_256_GCM_SHA384",
	0x00a8: "TLS_PSK_WITH_AES_128_GCM_SHA256",
	0x00a9: "TLS_PSK_WITH_AES_256_GCM_SHA384",
	0x00aa: "TLS_DHE_PSK_WITH_AES_128_GCM_SHA256",
	0x00ab: "TLS_DHE_PSK_WITH_AES_256_GCM_SHA384",
	0x00ac: "TLS_RSA_PSK_WITH_AES_128_GCM_SHA256",
	0x00ad: "TLS_RSA_PSK_WITH_AES_256_GCM_SHA384",
	0x00ae: "TLS_PSK_WITH_AES_128_CBC_SHA256",
	0x00af: "TLS_PSK_WITH_AES_256_CBC_SHA384",
	0x00b0: "TLS_PSK_WITH_NULL_SHA256",
	0x00b1: "TLS_PSK_WITH_NULL_SHA384",
	0x00b2: "TLS_DHE_PSK_WITH_AES_128_CBC_SHA256",
	0x00b3: "TLS_DHE_PSK_WITH_AES_256_CBC_SHA384",
	0x00b4: "TLS_DHE_PSK_WITH_NULL_SHA256",
	0x00b5: "TLS_DHE_PSK_WITH_NULL_SHA384",
	0x00b6: "TLS_RSA_PSK_WITH_AES_128_CBC_SHA256",
	0x00b7: "TLS_RSA_PSK_WITH_AES_256_CBC_SHA384",
	0x00b8: "TLS_RSA_PSK_WITH_NULL_SHA256",
	0x00b9: "TLS_RSA_PSK_WITH_NULL_SHA384",
	0x00ba: "TLS_RSA_WITH_CAMELLIA_128_CBC_SHA256",
	0x00bb: "TLS_DH_DSS_WITH_CAMELLIA_128_CBC_SHA256",
	0x00bc: "TLS_DH_RSA_WITH_CAMELLIA_128_CBC_SHA256",
	0x00bd: "TLS_DHE_DSS_WITH_CAMELLIA_128_CBC_SHA256",
	0x00be: "TLS_DHE_RSA_WITH_CAMELLIA_128_CBC_SHA256",
	0x00bf: "TLS_DH_anon_WITH_CAMELLIA_128_CBC_SHA256",
	0x00c0: "TLS_RSA_WITH_CAMELLIA_256_CBC_SHA256",
	0x00c1: "TLS_DH_DSS_WITH_CAMELLIA_256_CBC_SHA256",
	0x00c2: "TLS_DH_RSA_WITH_CAMELLIA_256_CBC_SHA256",
	0x00c3: "TLS_DHE_DSS_WITH_CAMELLIA_256_CBC_SHA256",
	0x00c4: "TLS_DHE_RSA_WITH_CAMELLIA_256_CBC_SHA256",
	0x00c5: "TLS_DH_anon_WITH_CAMELLIA_256_CBC_SHA256",
	0x00c6: "TLS_SM4_GCM_SM3",
	0x00c7: "TLS_SM4_CCM_SM3",
	0x00ff: "TLS_EMPTY_RENEGOTIATION_INFO_SCSV",
	0x1301: "TLS_AES_128_GCM_SHA256",
	0x1302: "TLS_AES_256_GCM_SHA384",
	0x1303: "TLS_CHACHA20_POLY1305_SHA256",
	0x1304: "TLS_AES_128_CCM_SHA256",
	0x1305: "TLS_AES_128_CCM_8_SHA256",
	0x1306: "TLS_AEGIS_256_SHA384",
	0x1307: "TLS_AEGIS_128L_SHA256",
	0x5600: "TLS_FALLBACK_SCSV",
	0xc001: "TLS_ECDH_ECDSA_WITH_NULL_SHA",
	0xc002: "TLS_ECDH_ECDSA_WITH_RC4_128_SHA",
	0xc003: "TLS_ECDH_ECDSA_WITH_3DES_EDE_CBC_SHA",
	0xc004: "TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA",
	0xc005: "TLS_ECDH_ECDSA_WITH_AES_256_CBC_SHA",
	0xc006: "TLS_ECDHE_ECDSA_WITH_NULL_SHA",
	0xc007: "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA",
	0xc008: "TLS_ECDHE_ECDSA_WITH_3DES_EDE_CBC_SHA",
	0xc009: "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
	0xc00a: "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
	0xc00b: "TLS_ECDH_RSA_WITH_NULL_SHA",
	0xc00c: "TLS_ECDH_RSA_WITH_RC4_128_SHA",
	0xc00d: "TLS_ECDH_RSA_WITH_3DES_EDE_CBC_SHA",
	0xc00e: "TLS_ECDH_RSA_WITH_AES_128_CBC_SHA",
	0xc00f: "TLS_ECDH_RSA_WITH_AES_256_CBC_SHA",
	0xc010: "TLS_ECDHE_RSA_WITH_NULL_SHA",
	0xc011: "TLS_ECDHE_RSA_WITH_RC4_128_SHA",
	0xc012: "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA",
	0xc013: "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
	0xc014: "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
	0xc015: "TLS_ECDH_anon_WITH_NULL_SHA",
	0xc016: "TLS_ECDH_anon_WITH_RC4_128_SHA",
	0xc017: "TLS_ECDH_anon_WITH_3DES_EDE_CBC_SHA",
	0xc018: "TLS_ECDH_anon_WITH_AES_128_CBC_SHA",
	0xc019: "TLS_ECDH_anon_WITH_AES_256_CBC_SHA",
	0xc01a: "TLS_SRP_SHA_WITH_3DES_EDE_CBC_SHA",
	0xc01b: "TLS_SRP_SHA_RSA_WITH_3DES_EDE_CBC_SHA",
	0xc01c: "TLS_SRP_SHA_DSS_WITH_3DES_EDE_CBC_SHA",
	0xc01d: "TLS_SRP_SHA_WITH_AES_128_CBC_SHA",
	0xc01e: "TLS_SRP_SHA_RSA_WITH_AES_128_CBC_SHA",
	0xc01f: "TLS_SRP_SHA_DSS_WITH_AES_128_CBC_SHA",
	0xc020: "TLS_SRP_SHA_WITH_AES_256_CBC_SHA",
	0xc021: "TLS_SRP_SHA_RSA_WITH_AES_256_CBC_SHA",
	0xc022: "TLS_SRP_SHA_DSS_WITH_AES_256_CBC_SHA",
	0xc023: "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
	0xc024: "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384",
	0xc025: "TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA256",
	0xc026: "TLS_ECDH_ECDSA_WITH_AES_256_CBC_SHA384",
	0xc027: "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
	0xc028: "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384",
	0xc029: "TLS_ECDH_RSA_WITH_AES_128_CBC_SHA256",
	0xc02a: "TLS_ECDH_RSA_WITH_AES_256_CBC_SHA384",
	0xc02b: "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
	0xc02c: "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
	0xc02d: "TLS_ECDH_ECDSA_WITH_AES_128_GCM_SHA256",
	0xc02e: "TLS_ECDH_ECDSA_WITH_AES_256_GCM_SHA384",
	0xc02f: "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
	0xc030: "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
	0xc031: "TLS_ECDH_RSA_WITH_AES_128_GCM_SHA256",
	0xc032: "TLS_ECDH_RSA_WITH_AES_256_GCM_SHA384",
	0xc033: "TLS_ECDHE_PSK_WITH_RC4_128_SHA",
	0xc034: "TLS_ECDHE_PSK_WITH_3DES_EDE_CBC_SHA",
	0xc035: "TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA",
	0xc036: "TLS_ECDHE_PSK_WITH_AES_256_CBC_SHA",
	0xc037: "TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA256",
	0xc038: "TLS_ECDHE_PSK_WITH_AES_256_CBC_SHA384",
	0xc039: "TLS_ECDHE_PSK_WITH_NULL_SHA",
	0xc03a: "TLS_ECDHE_PSK_WITH_NULL_SHA256",
	0xc03b: "TLS_ECDHE_PSK_WITH_NULL_SHA384",
	0xc03c: "TLS_RSA_WITH_ARIA_128_CBC_SHA256",
	0xc03d: "TLS_RSA_WITH_ARIA_256_CBC_SHA384",
	0xc03e: "TLS_DH_DSS_WITH_ARIA_128_CBC_SHA256",
	0xc03f: "TLS_DH_DSS_WITH_ARIA_256_CBC_SHA384",
	0xc040: "TLS_DH_RSA_WITH_ARIA_128_CBC_SHA256",
	0xc041: "TLS_DH_RSA_WITH_ARIA_256_CBC_SHA384",
	0xc042: "TLS_DHE_DSS_WITH_ARIA_128_CBC_SHA256",
	0xc043: "TLS_DHE_DSS_WITH_ARIA_256_CBC_SHA384",
	0xc044: "TLS_DHE_RSA_WITH_ARIA_128_CBC_SHA256",
	0xc045: "TLS_DHE_RSA_WITH_ARIA_256_CBC_SHA384",
	0xc046: "TLS_DH_anon_WITH_ARIA_128_CBC_SHA256",
	0xc047: "TLS_DH_anon_WITH_ARIA_256_CBC_SHA384",
	0xc048: "TLS_ECDHE_ECDSA_WITH_ARIA_128_CBC_SHA256",
	0xc049: "TLS_ECDHE_ECDSA_WITH_ARIA_256_CBC_SHA384",
	0xc04a: "TLS_ECDH_ECDSA_WITH_ARIA_128_CBC_SHA256",
	0xc04b: "TLS_ECDH_ECDSA_WITH_ARIA_256_CBC_SHA384",
	0xc04c: "TLS_ECDHE_RSA_WITH_ARIA_128_CBC_SHA256",
	0xc04d: "TLS_ECDHE_RSA_WITH_ARIA_256_CBC_SHA384",
	0xc04e: "TLS_ECDH_RSA_WITH_ARIA_128_CBC_SHA256",
	0xc04f: "TLS_ECDH_RSA_WITH_ARIA_256_CBC_SHA384",
	0xc050: "TLS_RSA_WITH_ARIA_128_GCM_SHA256",
	0xc051: "TLS_RSA_WITH_ARIA_256_GCM_SHA384",
	0xc052: "TLS_DHE_RSA_WITH_ARIA_128_GCM_SHA256",
	0xc053: "TLS_DHE_RSA_WITH_ARIA_256_GCM_SHA384",
	0xc054: "TLS_DH_RSA_WITH_ARIA_128_GCM_SHA256",
	0xc055: "TLS_DH_RSA_WITH_ARIA_256_GCM_SHA384",
	0xc056: "TLS_DHE_DSS_WITH_ARIA_128_GCM_SHA256",
	0xc057: "TLS_DHE_DSS_WITH_ARIA_256_GCM_SHA384",
	0xc058: "TLS_DH_DSS_WITH_ARIA_128_GCM_SHA256",
	0xc059: "TLS_DH_DSS_WITH_ARIA_256_GCM_SHA384",
	0xc05a: "TLS_DH_anon_WITH_ARIA_128_GCM_SHA256",
	0xc05b: "TLS_DH_anon_WITH_ARIA_256_GCM_SHA384",
	0xc05c: "TLS_ECDHE_ECDSA_WITH_ARIA_128_GCM_SHA256",
	0xc05d: "TLS_ECDHE_ECDSA_WITH_ARIA_256_GCM_SHA384",
	0xc05e: "TLS_ECDH_ECDSA_WITH_ARIA_128_GCM_SHA256",
	0xc05f: "TLS_ECDH_ECDSA_WITH_ARIA_256_GCM_SHA384",
	0xc060: "TLS_ECDHE_RSA_WITH_ARIA_128_GCM_SHA256",
	0xc061: "TLS_ECDHE_RSA_WITH_ARIA_256_GCM_SHA384",
	0xc062: "TLS_ECDH_RSA_WITH_ARIA_128_GCM_SHA256",
	0xc063: "TLS_ECDH_RSA_WITH_ARIA_256_GCM_SHA384",
	0xc064: "TLS_PSK_WITH_ARIA_128_CBC_SHA256",
	0xc065: "TLS_PSK_WITH_ARIA_256_CBC_SHA384",
	0xc066: "TLS_DHE_PSK_WITH_ARIA_128_CBC_SHA256",
	0xc067: "TLS_DHE_PSK_WITH_ARIA_256_CBC_SHA384",
	0xc068: "TLS_RSA_PSK_WITH_ARIA_128_CBC_SHA256",
	0xc069: "TLS_RSA_PSK_WITH_ARIA_256_CBC_SHA384",
	0xc06a: "TLS_PSK_WITH_ARIA_128_GCM_SHA256",
	0xc06b: "TLS_PSK_WITH_ARIA_256_GCM_SHA384",
	0xc06c: "TLS_DHE_PSK_WITH_ARIA_128_GCM_SHA256",
	0xc06d: "TLS_DHE_PSK_WITH_ARIA_256_GCM_SHA384",
	0xc06e: "TLS_RSA_PSK_WITH_ARIA_128_GCM_SHA256",
	0xc06f: "TLS_RSA_PSK_WITH_ARIA_256_GCM_SHA384",
	0xc070: "TLS_ECDHE_PSK_WITH_ARIA_128_CBC_SHA256",
	0xc071: "TLS_ECDHE_PSK_WITH_ARIA_256_CBC_SHA384",
	0xc072: "TLS_ECDHE_ECDSA_WITH_CAMELLIA_128_CBC_SHA256",
	0xc073: "TLS_ECDHE_ECDSA_WITH_CAMELLIA_256_CBC_SHA384",
	0xc074: "TLS_ECDH_ECDSA_WITH_CAMELLIA_128_CBC_SHA256",
	0xc075: "TLS_ECDH_ECDSA_WITH_CAMELLIA_256_CBC_SHA384",
	0xc076: "TLS_ECDHE_RSA_WITH_CAMELLIA_128_CBC_SHA256",
	0xc077: "TLS_ECDHE_RSA_WITH_CAMELLIA_256_CBC_SHA384",
	0xc078: "TLS_ECDH_RSA_WITH_CAMELLIA_128_CBC_SHA256",
	0xc079: "TLS_ECDH_RSA_WITH_CAMELLIA_256_CBC_SHA384",
	0xc07a: "TLS_RSA_WITH_CAMELLIA_128_GCM_SHA256",
	0xc07b: "TLS_RSA_WITH_CAMELLIA_256_GCM_SHA384",
	0xc07c: "TLS_DHE_RSA_WITH_CAMELLIA_128_GCM_SHA256",
	0xc07d: "TLS_DHE_RSA_WITH_CAMELLIA_256_GCM_SHA384",
	0xc07e: "TLS_DH_RSA_WITH_CAMELLIA_128_GCM_SHA256",
	0xc07f: "TLS_DH_RSA_WITH_CAMELLIA_256_GCM_SHA384",
	0xc080: "TLS_DHE_DSS_WITH_CAMELLIA_128_GCM_SHA256",
	0xc081: "TLS_DHE_DSS_WITH_CAMELLIA_256_GCM_SHA384",
	0xc082: "TLS_DH_DSS_WITH_CAMELLIA_128_GCM_SHA256",
	0xc083: "TLS_DH_DSS_WITH_CAMELLIA_256_GCM_SHA384",
	0xc084: "TLS_DH_anon_WITH_CAMELLIA_128_GCM_SHA256",
	0xc085: "TLS_DH_anon_WITH_CAMELLIA_256_GCM_SHA384",
	0xc086: "TLS_ECDHE_ECDSA_WITH_CAMELLIA_128_GCM_SHA256",
	0xc087: "TLS_ECDHE_ECDSA_WITH_CAMELLIA_256_GCM_SHA384",
	0xc088: "TLS_ECDH_ECDSA_WITH_CAMELLIA_128_GCM_SHA256",
	0xc089: "TLS_ECDH_ECDSA_WITH_CAMELLIA_256_GCM_SHA384",
	0xc08a: "TLS_ECDHE_RSA_WITH_CAMELLIA_128_GCM_SHA256",
	0xc08b: "TLS_ECDHE_RSA_WITH_CAMELLIA_256_GCM_SHA384",
	0xc08c: "TLS_ECDH_RSA_WITH_CAMELLIA_128_GCM_SHA256",
	0xc08d: "TLS_ECDH_RSA_WITH_CAMELLIA_256_GCM_SHA384",
	0xc08e: "TLS_PSK_WITH_CAMELLIA_128_GCM_SHA256",
	0xc08f: "TLS_PSK_WITH_CAMELLIA_256_GCM_SHA384",
	0xc090: "TLS_DHE_PSK_WITH_CAMELLIA_128_GCM_SHA256",
	0xc091: "TLS_DHE_PSK_WITH_CAMELLIA_256_GCM_SHA384",
	0xc092: "TLS_RSA_PSK_WITH_CAMELLIA_128_GCM_SHA256",
	0xc093: "TLS_RSA_PSK_WITH_CAMELLIA_256_GCM_SHA384",
	0xc094: "TLS_PSK_WITH_CAMELLIA_128_CBC_SHA256",
	0xc095: "TLS_PSK_WITH_CAMELLIA_256_CBC_SHA384",
	0xc096: "TLS_DHE_PSK_WITH_CAMELLIA_128_CBC_SHA256",
	0xc097: "TLS_DHE_PSK_WITH_CAMELLIA_256_CBC_SHA384",
	0xc098: "TLS_RSA_PSK_WITH_CAMELLIA_128_CBC_SHA256",
	0xc099: "TLS_RSA_PSK_WITH_CAMELLIA_256_CBC_SHA384",
	0xc09a: "TLS_ECDHE_PSK_WITH_CAMELLIA_128_CBC_SHA256",
	0xc09b: "TLS_ECDHE_PSK_WITH_CAMELLIA_256_CBC_SHA384",
	0xc09c: "TLS_RSA_WITH_AES_128_CCM",
	0xc09d: "TLS_RSA_WITH_AES_256_CCM",
	0xc09e: "TLS_DHE_RSA_WITH_AES_128_CCM",
	0xc09f: "TLS_DHE_RSA_WITH_AES_256_CCM",
	0xc0a0: "TLS_RSA_WITH_AES_128_CCM_8",
	0xc0a1: "TLS_RSA_WITH_AES_256_CCM_8",
	0xc0a2: "TLS_DHE_RSA_WITH_AES_128_CCM_8",
	0xc0a3: "TLS_DHE_RSA_WITH_AES_256_CCM_8",
	0xc0a4: "TLS_PSK_WITH_AES_128_CCM",
	0xc0a5: "TLS_PSK_WITH_AES_256_CCM",
	0xc0a6: "TLS_DHE_PSK_WITH_AES_128_CCM",
	0xc0a7: "TLS_DHE_PSK_WITH_AES_256_CCM",
	0xc0a8: "TLS_PSK_WITH_AES_128_CCM_8",
	0xc0a9: "TLS_PSK_WITH_AES_256_CCM_8",
	0xc0aa: "TLS_PSK_DHE_WITH_AES_128_CCM_8",
	0xc0ab: "TLS_PSK_DHE_WITH_AES_256_CCM_8",
	0xc0ac: "TLS_ECDHE_ECDSA_WITH_AES_128_CCM",
	0xc0ad: "TLS_ECDHE_ECDSA_WITH_AES_256_CCM",
	0xc0ae: "TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8",
	0xc0af: "TLS_ECDHE_ECDSA_WITH_AES_256_CCM_8",
	0xc0b0: "TLS_ECCPWD_WITH_AES_128_GCM_SHA256",
	0xc0b1: "TLS_ECCPWD_WITH_AES_256_GCM_SHA384",
	0xc0b2: "TLS_ECCPWD_WITH_AES_128_CCM_SHA256",
	0xc0b3: "TLS_ECCPWD_WITH_AES_256_CCM_SHA384",
	0xc0b4: "TLS_SHA256_SHA256",
	0xc0b5: "TLS_SHA384_SHA384",
	0xc100: "TLS_GOSTR341112_256_WITH_KUZNYECHIK_CTR_OMAC",
	0xc101: "TLS_GOSTR341112_256_WITH_MAGMA_CTR_OMAC",
	0xc102: "TLS_GOSTR341112_256_WITH_28147_CNT_IMIT",
	0xc103: "TLS_GOSTR341112_256_WITH_KUZNYECHIK_MGM_L",
	0xc104: "TLS_GOSTR341112_256_WITH_MAGMA_MGM_L",
	0xc105: "TLS_GOSTR341112_256_WITH_KUZNYECHIK_MGM_S",
	0xc106: "TLS_GOSTR341112_256_WITH_MAGMA_MGM_S",
	0xcca8: "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
	0xcca9: "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
	0xccaa: "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
	0xccab: "TLS_PSK_WITH_CHACHA20_POLY1305_SHA256",
	0xccac: "TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256",
	0xccad: "TLS_DHE_PSK_WITH_CHACHA20_POLY1305_SHA256",
	0xccae: "TLS_RSA_PSK_WITH_CHACHA20_POLY1305_SHA256",
	0xd001: "TLS_ECDHE_PSK_WITH_AES_128_GCM_SHA256",
	0xd002: "TLS_ECDHE_PSK_WITH_AES_256_GCM_SHA384",
	0xd003: "TLS_ECDHE_PSK_WITH_AES_128_CCM_8_SHA256",
	0xd005: "TLS_ECDHE_PSK_WITH_AES_128_CCM_SHA256",
}

// GroupName names a supported group (IANA TLS Supported Groups registry,
// tls-parameters-8), e.g. "x25519", "secp256r1", "X25519MLKEM768",
// "ffdhe2048"; "GREASE" or "0x1a2b" otherwise.
func GroupName(v uint16) string { return name16(groupNames, v) }

var groupNames = map[uint16]string{
	1:      "sect163k1",
	2:      "sect163r1",
	3:      "sect163r2",
	4:      "sect193r1",
	5:      "sect193r2",
	6:      "sect233k1",
	7:      "sect233r1",
	8:      "sect239k1",
	9:      "sect283k1",
	10:     "sect283r1",
	11:     "sect409k1",
	12:     "sect409r1",
	13:     "sect571k1",
	14:     "sect571r1",
	15:     "secp160k1",
	16:     "secp160r1",
	17:     "secp160r2",
	18:     "secp192k1",
	19:     "secp192r1",
	20:     "secp224k1",
	21:     "secp224r1",
	22:     "secp256k1",
	23:     "secp256r1",
	24:     "secp384r1",
	25:     "secp521r1",
	26:     "brainpoolP256r1",
	27:     "brainpoolP384r1",
	28:     "brainpoolP512r1",
	29:     "x25519",
	30:     "x448",
	31:     "brainpoolP256r1tls13",
	32:     "brainpoolP384r1tls13",
	33:     "brainpoolP512r1tls13",
	34:     "GC256A",
	35:     "GC256B",
	36:     "GC256C",
	37:     "GC256D",
	38:     "GC512A",
	39:     "GC512B",
	40:     "GC512C",
	41:     "curveSM2",
	256:    "ffdhe2048",
	257:    "ffdhe3072",
	258:    "ffdhe4096",
	259:    "ffdhe6144",
	260:    "ffdhe8192",
	512:    "MLKEM512",
	513:    "MLKEM768",
	514:    "MLKEM1024",
	4587:   "SecP256r1MLKEM768",
	4588:   "X25519MLKEM768",
	4589:   "SecP384r1MLKEM1024",
	25497:  "X25519Kyber768Draft00",    // 0x6399, obsoleted by X25519MLKEM768
	25498:  "SecP256r1Kyber768Draft00", // 0x639a, obsoleted by SecP256r1MLKEM768
	0xff01: "arbitrary_explicit_prime_curves",
	0xff02: "arbitrary_explicit_char2_curves",
}

// SignatureSchemeName names a signature scheme (IANA TLS SignatureScheme
// registry), e.g. "ecdsa_secp256r1_sha256", "rsa_pss_rsae_sha256", "ed25519".
// The TLS 1.2 hash/signature pairs the registry only reserves (RFC 5246
// §7.4.1.4.1) get OpenSSL's conventional names: "rsa_pkcs1_md5", "dsa_sha1",
// "ecdsa_sha224", …. "GREASE" or "0x1a2b" otherwise.
func SignatureSchemeName(v uint16) string { return name16(signatureSchemeNames, v) }

var signatureSchemeNames = map[uint16]string{
	// TLS 1.2 SignatureAndHashAlgorithm pairs (hash byte, signature byte):
	// hash 1 md5, 2 sha1, 3 sha224, 4 sha256, 5 sha384, 6 sha512;
	// signature 1 rsa, 2 dsa, 3 ecdsa (RFC 5246 §7.4.1.4.1).
	0x0101: "rsa_pkcs1_md5",
	0x0102: "dsa_md5",
	0x0103: "ecdsa_md5",
	0x0201: "rsa_pkcs1_sha1",
	0x0202: "dsa_sha1",
	0x0203: "ecdsa_sha1",
	0x0301: "rsa_pkcs1_sha224",
	0x0302: "dsa_sha224",
	0x0303: "ecdsa_sha224",
	0x0401: "rsa_pkcs1_sha256",
	0x0402: "dsa_sha256",
	0x0403: "ecdsa_secp256r1_sha256",
	0x0420: "rsa_pkcs1_sha256_legacy",
	0x0501: "rsa_pkcs1_sha384",
	0x0502: "dsa_sha384",
	0x0503: "ecdsa_secp384r1_sha384",
	0x0520: "rsa_pkcs1_sha384_legacy",
	0x0601: "rsa_pkcs1_sha512",
	0x0602: "dsa_sha512",
	0x0603: "ecdsa_secp521r1_sha512",
	0x0620: "rsa_pkcs1_sha512_legacy",
	0x0704: "eccsi_sha256",
	0x0705: "iso_ibs1",
	0x0706: "iso_ibs2",
	0x0707: "iso_chinese_ibs",
	0x0708: "sm2sig_sm3",
	0x0709: "gostr34102012_256a",
	0x070a: "gostr34102012_256b",
	0x070b: "gostr34102012_256c",
	0x070c: "gostr34102012_256d",
	0x070d: "gostr34102012_512a",
	0x070e: "gostr34102012_512b",
	0x070f: "gostr34102012_512c",
	0x0804: "rsa_pss_rsae_sha256",
	0x0805: "rsa_pss_rsae_sha384",
	0x0806: "rsa_pss_rsae_sha512",
	0x0807: "ed25519",
	0x0808: "ed448",
	0x0809: "rsa_pss_pss_sha256",
	0x080a: "rsa_pss_pss_sha384",
	0x080b: "rsa_pss_pss_sha512",
	0x081a: "ecdsa_brainpoolP256r1tls13_sha256",
	0x081b: "ecdsa_brainpoolP384r1tls13_sha384",
	0x081c: "ecdsa_brainpoolP512r1tls13_sha512",
	// RFC 9189 GOST in TLS 1.2: reserved in the registry; OpenSSL's names.
	0x0840: "gostr34102012_256_intrinsic",
	0x0841: "gostr34102012_512_intrinsic",
	0x0904: "mldsa44",
	0x0905: "mldsa65",
	0x0906: "mldsa87",
	// Pre-RFC 9189 GOST code points still sent by some clients (OpenSSL's
	// TLSEXT_SIGALG_* names); not GREASE, which is 0x?a?a.
	0xeded: "gostr34102001_gostr3411",
	0xeeee: "gostr34102012_256_gostr34112012_256",
	0xefef: "gostr34102012_512_gostr34112012_512",
}

// ExtensionName names an extension type (IANA TLS ExtensionType Values
// registry), e.g. "server_name", "key_share", "encrypted_client_hello";
// "GREASE" or "0x1a2b" otherwise. A few widely deployed unregistered code
// points are named too: next_protocol_negotiation (13172), ALPS
// (17513 "application_settings_old", 17613 "application_settings"),
// channel_id (30032) and encrypted_server_name (65486).
func ExtensionName(v uint16) string { return name16(extensionNames, v) }

var extensionNames = map[uint16]string{
	0:     "server_name",
	1:     "max_fragment_length",
	2:     "client_certificate_url",
	3:     "trusted_ca_keys",
	4:     "truncated_hmac",
	5:     "status_request",
	6:     "user_mapping",
	7:     "client_authz",
	8:     "server_authz",
	9:     "cert_type",
	10:    "supported_groups",
	11:    "ec_point_formats",
	12:    "srp",
	13:    "signature_algorithms",
	14:    "use_srtp",
	15:    "heartbeat",
	16:    "application_layer_protocol_negotiation",
	17:    "status_request_v2",
	18:    "signed_certificate_timestamp",
	19:    "client_certificate_type",
	20:    "server_certificate_type",
	21:    "padding",
	22:    "encrypt_then_mac",
	23:    "extended_master_secret",
	24:    "token_binding",
	25:    "cached_info",
	26:    "tls_lts",
	27:    "compress_certificate",
	28:    "record_size_limit",
	29:    "pwd_protect",
	30:    "pwd_clear",
	31:    "password_salt",
	32:    "ticket_pinning",
	33:    "tls_cert_with_extern_psk",
	34:    "delegated_credential",
	35:    "session_ticket",
	36:    "TLMSP",
	37:    "TLMSP_proxying",
	38:    "TLMSP_delegate",
	39:    "supported_ekt_ciphers",
	41:    "pre_shared_key",
	42:    "early_data",
	43:    "supported_versions",
	44:    "cookie",
	45:    "psk_key_exchange_modes",
	47:    "certificate_authorities",
	48:    "oid_filters",
	49:    "post_handshake_auth",
	50:    "signature_algorithms_cert",
	51:    "key_share",
	52:    "transparency_info",
	53:    "connection_id_deprecated",
	54:    "connection_id",
	55:    "external_id_hash",
	56:    "external_session_id",
	57:    "quic_transport_parameters",
	58:    "ticket_request",
	59:    "dnssec_chain",
	60:    "sequence_number_encryption_algorithms",
	61:    "rrc",
	62:    "tls_flags",
	13172: "next_protocol_negotiation",       // 0x3374, NPN draft
	17513: "application_settings_old",        // 0x4469, ALPS draft codepoint
	17613: "application_settings",            // 0x44cd, ALPS new codepoint
	30031: "channel_id_old",                  // 0x754f
	30032: "channel_id",                      // 0x7550
	64768: "ech_outer_extensions",            // 0xfd00
	65037: "encrypted_client_hello",          // 0xfe0d
	65281: "renegotiation_info",              // 0xff01
	65445: "quic_transport_parameters_draft", // 0xffa5
	65486: "encrypted_server_name",           // 0xffce, ESNI draft
}

// AlertName names an alert description (IANA TLS Alerts registry), e.g.
// "bad_certificate", "unknown_ca", "ech_required"; "0x1a" otherwise.
// Descriptions the registry marks _RESERVED are named without the suffix,
// as the RFCs that defined them wrote them ("decryption_failed").
func AlertName(v uint8) string { return name8(alertNames, v) }

var alertNames = map[uint8]string{
	0:   "close_notify",
	10:  "unexpected_message",
	20:  "bad_record_mac",
	21:  "decryption_failed",
	22:  "record_overflow",
	30:  "decompression_failure",
	40:  "handshake_failure",
	41:  "no_certificate",
	42:  "bad_certificate",
	43:  "unsupported_certificate",
	44:  "certificate_revoked",
	45:  "certificate_expired",
	46:  "certificate_unknown",
	47:  "illegal_parameter",
	48:  "unknown_ca",
	49:  "access_denied",
	50:  "decode_error",
	51:  "decrypt_error",
	52:  "too_many_cids_requested",
	60:  "export_restriction",
	70:  "protocol_version",
	71:  "insufficient_security",
	80:  "internal_error",
	86:  "inappropriate_fallback",
	90:  "user_canceled",
	100: "no_renegotiation",
	109: "missing_extension",
	110: "unsupported_extension",
	111: "certificate_unobtainable",
	112: "unrecognized_name",
	113: "bad_certificate_status_response",
	114: "bad_certificate_hash_value",
	115: "unknown_psk_identity",
	116: "certificate_required",
	117: "general_error",
	120: "no_application_protocol",
	121: "ech_required",
}

// CompressionMethodName names a ClientHello compression method (IANA TLS
// Compression Method Identifiers): "null", "DEFLATE", "LZS"; "0x1a" otherwise.
func CompressionMethodName(v uint8) string { return name8(compressionMethodNames, v) }

var compressionMethodNames = map[uint8]string{
	0:  "null",
	1:  "DEFLATE",
	64: "LZS",
}

// PointFormatName names an EC point format (IANA EC Point Format registry,
// RFC 8422 §5.1.2): "uncompressed", "ansiX962_compressed_prime",
// "ansiX962_compressed_char2"; "0x1a" otherwise.
func PointFormatName(v uint8) string { return name8(pointFormatNames, v) }

var pointFormatNames = map[uint8]string{
	0: "uncompressed",
	1: "ansiX962_compressed_prime",
	2: "ansiX962_compressed_char2",
}

// PSKModeName names a PSK key exchange mode (RFC 8446 §4.2.9): "psk_ke",
// "psk_dhe_ke"; "GREASE" for RFC 8701's reserved values; "0x1a" otherwise.
func PSKModeName(v uint8) string {
	if isGREASEPSKMode(v) {
		return "GREASE"
	}
	return name8(pskModeNames, v)
}

var pskModeNames = map[uint8]string{
	0: "psk_ke",
	1: "psk_dhe_ke",
}

// CertCompressionName names a certificate compression algorithm (RFC 8879
// §7.3): "zlib", "brotli", "zstd"; "GREASE" or "0x1a2b" otherwise.
func CertCompressionName(v uint16) string { return name16(certCompressionNames, v) }

var certCompressionNames = map[uint16]string{
	1: "zlib",
	2: "brotli",
	3: "zstd",
}
