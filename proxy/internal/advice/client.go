package advice

import (
	"crypto/tls"
	"fmt"
	"slices"
	"strings"

	"github.com/tlslens/tlslens/inspect"
	"github.com/tlslens/tlslens/proxy/internal/gotls"
)

// This file explains, from the client's ClientHello alone, why tlslens (Go's
// TLS stack with an ECDSA P-256 leaf) could not complete a client's
// handshake, so that the record says what the client lacks instead of
// crypto/tls's "no cipher suite supported by both client and server".

// leafScheme13 is the only TLS 1.3 signature scheme an ECDSA P-256 leaf
// can sign with (RFC 8446 §4.2.3: ECDSA schemes name their curve).
const leafScheme13 = uint16(tls.ECDSAWithP256AndSHA256)

// ecdsaSchemes12 are the TLS 1.2 schemes an ECDSA leaf of any curve can use
// (RFC 5246 §7.4.1.4.1: the hash is free), SHA-1 excepted: Go refuses it in
// TLS 1.2 unless legacy_crypto is on.
var ecdsaSchemes12 = []uint16{uint16(tls.ECDSAWithP256AndSHA256), uint16(tls.ECDSAWithP384AndSHA384), uint16(tls.ECDSAWithP521AndSHA512)}

// Unservable explains why a client offering h cannot complete a handshake
// with tlslens (Go's TLS stack, an ECDSA P-256 leaf, versions from
// minVersion), or returns "" when its hello gives no such reason (the
// failure lies elsewhere). crypto/tls picks the highest version both sides
// speak and never falls back, so only that version's needs are checked.
func Unservable(h *inspect.ClientHello, minVersion uint16) string {
	if h == nil {
		return ""
	}
	lo, hi := h.VersionRange()
	if max(lo, minVersion) > hi {
		return "" // below client_min_version: said elsewhere
	}
	var why string
	if hi == tls.VersionTLS13 {
		why = unservable13(h)
	} else {
		why = unservable12(h, hi)
	}
	if why == "" {
		return ""
	}
	return "tlslens cannot complete this client's handshake with its ECDSA P-256 certificate: over " +
		inspect.VersionName(hi) + ", the highest version it offers, " + why +
		". The client's offer is in client.hello; add the host to a passthrough policy to observe it without decrypting"
}

// unservable13 says why a TLS 1.3 handshake cannot be agreed with h.
func unservable13(h *inspect.ClientHello) string {
	var why []string
	if !slices.ContainsFunc(h.CipherSuites, gotls.TLS13Suite) {
		why = append(why, "it offers no TLS 1.3 cipher suite Go implements (only "+names(h.CipherSuites, inspect.CipherSuiteName, func(id uint16) bool { return !gotls.IsTLS13Suite(id) })+")")
	}
	if len(h.SignatureAlgorithms) > 0 && !slices.Contains(h.SignatureAlgorithms, leafScheme13) {
		why = append(why, "it accepts only the signature schemes "+names(h.SignatureAlgorithms, inspect.SignatureSchemeName, nil)+
			", and a P-256 key signs only with ecdsa_secp256r1_sha256 in TLS 1.3")
	}
	if !slices.ContainsFunc(h.Groups, gotls.Group) {
		why = append(why, "it offers no key exchange group Go implements ("+groupList(h.Groups)+")")
	}
	return strings.Join(why, ", and ")
}

// unservable12 says why a handshake at version v (TLS 1.0 to 1.2) cannot
// be agreed with h: it needs an ECDHE_ECDSA suite for v, a classic elliptic
// curve for it, and in TLS 1.2 an ECDSA signature scheme.
func unservable12(h *inspect.ClientHello, v uint16) string {
	var why []string
	ecdsa := slices.ContainsFunc(h.CipherSuites, func(id uint16) bool { return ecdsaSuiteFor(id, v) })
	if !ecdsa {
		w := "it offers no ECDHE_ECDSA cipher suite Go implements for " + inspect.VersionName(v)
		implemented := gotls.AllSuites()
		if rsa := names(h.CipherSuites, inspect.CipherSuiteName, func(id uint16) bool {
			s, _ := inspect.LookupCipherSuite(id)
			return !slices.Contains(implemented, id) || s.Auth == "ECDSA"
		}); rsa != "none" {
			w += " (its suites " + rsa + " need an RSA certificate)"
		}
		if missing := unsupportedOffers(h); missing != "" {
			w += "; it also offers " + missing + ", which Go's TLS stack does not implement"
		}
		why = append(why, w)
	}
	if ecdsa && !slices.ContainsFunc(h.Groups, gotls.ClassicGroup) {
		if len(h.Groups) == 0 {
			why = append(why, "it sends no supported_groups, so no ECDHE key exchange is possible")
		} else {
			why = append(why, "it offers no elliptic curve Go implements ("+groupList(h.Groups)+"), so no ECDHE key exchange is possible")
		}
	}
	if v == tls.VersionTLS12 && len(h.SignatureAlgorithms) > 0 &&
		!slices.ContainsFunc(h.SignatureAlgorithms, func(s uint16) bool { return slices.Contains(ecdsaSchemes12, s) }) {
		why = append(why, "it accepts no ECDSA signature scheme (only "+names(h.SignatureAlgorithms, inspect.SignatureSchemeName, nil)+")")
	}
	return strings.Join(why, ", and ")
}

// ecdsaSuiteFor reports whether id is an ECDHE_ECDSA suite crypto/tls
// implements for version v.
func ecdsaSuiteFor(id uint16, v uint16) bool {
	for _, cs := range append(tls.CipherSuites(), tls.InsecureCipherSuites()...) {
		if s, _ := inspect.LookupCipherSuite(cs.ID); cs.ID == id && s.Auth == "ECDSA" && slices.Contains(cs.SupportedVersions, v) {
			return true
		}
	}
	return false
}

// names lists codes by name, GREASE and codes for which skip is true left out,
// at most maxListed of them; "none" when nothing is left.
func names(codes []uint16, name func(uint16) string, skip func(uint16) bool) string {
	var out []string
	for _, c := range codes {
		if inspect.IsGREASE(c) || (skip != nil && skip(c)) {
			continue
		}
		out = append(out, name(c))
	}
	switch {
	case len(out) == 0:
		return "none"
	case len(out) > maxListed:
		return fmt.Sprintf("%s and %d more", strings.Join(out[:maxListed], ", "), len(out)-maxListed)
	}
	return strings.Join(out, ", ")
}

// maxListed is how many names an explanation lists before "and N more": the
// whole offer is in client.hello.
const maxListed = 4

func groupList(groups []uint16) string {
	if l := names(groups, inspect.GroupName, nil); l != "none" {
		return "it offers " + l
	}
	return "it offers none"
}

// SHA1Refused explains a client that aborts a TLS 1.0 or 1.1 handshake with
// alert after tlslens's ServerKeyExchange (version and sigAlg from the
// client leg's ServerHello and key exchange), which those versions sign with
// SHA-1 only (RFC 4492 §5.4: ECDSA with SHA-1); "" when that is not the
// case. An alert that rejects the certificate is the caller's to rule out:
// that is not about SHA-1.
func SHA1Refused(version, sigAlg, alert string) string {
	if (version != "TLS 1.0" && version != "TLS 1.1") || !strings.HasSuffix(sigAlg, "sha1") || alert == "" {
		return ""
	}
	return fmt.Sprintf("the client aborted the handshake with alert %s after tlslens's %s key exchange, which %s allows to be signed only with SHA-1 (%s): the client refuses SHA-1 signatures, "+
		"as OpenSSL 3 does at security level 1 and above (allow it with the cipher string 'DEFAULT:@SECLEVEL=0'); it would refuse any %s server the same way", alert, version, version, sigAlg, version)
}
