package inspect

import "sync"

// A CipherSuite describes a cipher suite as its IANA description spells it
// out, e.g. TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 is key exchange "ECDHE",
// authentication "RSA", cipher "AES-128", mode "GCM", hash "SHA256". The
// table (names_gen.go) is generated from the IANA registry by ianagen.
type CipherSuite struct {
	ID   uint16
	Name string // the IANA description, as CipherSuiteName returns it

	// KeyExchange is "ECDHE", "DHE", "ECDH", "DH", "RSA" (key transport,
	// RSA_PSK included), "PSK", "SRP", "KRB5", "ECCPWD", "GOST" or "NULL";
	// "" for TLS 1.3 suites, which leave it to the key_share (RFC 8446
	// §B.4), and for SCSVs.
	KeyExchange string
	// Auth is what authenticates the key exchange: "RSA", "ECDSA", "DSS",
	// "PSK", "anon", "KRB5", "GOST", or "" when the name says none.
	Auth   string
	Export bool // an EXPORT suite: 40- or 56-bit keys, RSA 512

	// Cipher is the bulk cipher with its key size where the name gives one:
	// "AES-128", "AES-256", "ChaCha20", "3DES", "DES", "DES40", "RC4-128",
	// "RC4-40", "RC2-40", "IDEA", "SEED", "Camellia-128", "ARIA-256",
	// "SM4", "AEGIS-256", "Kuznyechik", "Magma", "GOST28147", "NULL".
	Cipher string
	// Mode is "GCM", "CCM", "CCM_8", "CBC", "stream", "Poly1305", "AEGIS",
	// "MGM", "CTR_OMAC", "CNT_IMIT", or "" for NULL.
	Mode string
	// Hash is the MAC or PRF hash: "MD5", "SHA1", "SHA256", "SHA384", "SM3",
	// or "" when the name gives none (GOST, NULL).
	Hash  string
	AEAD  bool // the mode authenticates the ciphertext: no separate MAC
	TLS13 bool // a TLS 1.3 suite (RFC 8446 §B.4, RFC 8998, RFC 9150, RFC 9367)
	SCSV  bool // a signalling value, not a suite (RFC 5746, RFC 7507)
}

// LookupCipherSuite describes the suite with code id, with false for a code
// the IANA registry does not assign (GREASE included).
func LookupCipherSuite(id uint16) (CipherSuite, bool) {
	s, ok := cipherSuites[id]
	return s, ok
}

// cipherSuiteByName indexes cipherSuites by IANA name, for findings, which
// see suites as the record names them.
var cipherSuiteByName = sync.OnceValue(func() map[string]CipherSuite {
	m := make(map[string]CipherSuite, len(cipherSuites))
	for _, s := range cipherSuites {
		m[s.Name] = s
	}
	return m
})
