package report

import "strings"

// weakVersion reports whether offering version v is weak: SSL 3.0, TLS 1.0
// and TLS 1.1 are deprecated by RFC 8996 (and SSL 2.0 long before).
func weakVersion(v string) bool {
	switch v {
	case "SSL 2.0", "SSL 3.0", "TLS 1.0", "TLS 1.1":
		return true
	}
	return false
}

// weakSuite reports whether offering the cipher suite named s (IANA name) is
// weak: no encryption (NULL, and the integrity-only TLS 1.3 suites of RFC
// 9150), export strength, no authentication (anon), RC4 (RFC 7465), DES or
// 3DES (64-bit blocks: Sweet32).
func weakSuite(s string) bool {
	switch s {
	case "TLS_SHA256_SHA256", "TLS_SHA384_SHA384":
		return true
	}
	for tok := range strings.SplitSeq(s, "_") {
		switch {
		case tok == "NULL", tok == "anon", tok == "RC4", tok == "3DES", tok == "DES", tok == "DES40",
			strings.HasPrefix(tok, "EXPORT"):
			return true
		}
	}
	return false
}
