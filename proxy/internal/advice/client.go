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
// TLS stack with an ECDSA P-256 leaf, or an RSA 2048 one for clients that
// cannot use ECDSA) could not complete a client's handshake, so that the
// record says what the client lacks instead of crypto/tls's "no cipher
// suite supported by both client and server".

// schemes13 are the TLS 1.3 signature schemes tlslens's leaves sign with
// (RFC 8446 §4.2.3): ECDSA schemes name their curve, so P-256's alone; an
// RSA key signs with RSA-PSS (rsae), PKCS #1 v1.5 being for certificates only.
var schemes13 = []uint16{uint16(tls.ECDSAWithP256AndSHA256),
	uint16(tls.PSSWithSHA256), uint16(tls.PSSWithSHA384), uint16(tls.PSSWithSHA512)}

// ecdsaSchemes12 are the TLS 1.2 schemes an ECDSA leaf of any curve can use
// (RFC 5246 §7.4.1.4.1: the hash is free), SHA-1 excepted: Go refuses it in
// TLS 1.2 unless legacy_crypto is on.
var ecdsaSchemes12 = []uint16{uint16(tls.ECDSAWithP256AndSHA256), uint16(tls.ECDSAWithP384AndSHA384), uint16(tls.ECDSAWithP521AndSHA512)}

// rsaSchemes12 are the TLS 1.2 schemes an RSA leaf signs with, SHA-1
// excepted as for ECDSA.
var rsaSchemes12 = []uint16{uint16(tls.PSSWithSHA256), uint16(tls.PSSWithSHA384), uint16(tls.PSSWithSHA512),
	uint16(tls.PKCS1WithSHA256), uint16(tls.PKCS1WithSHA384), uint16(tls.PKCS1WithSHA512)}

// Unservable explains why a client offering h cannot complete a handshake
// with tlslens (Go's TLS stack, an ECDSA P-256 or RSA 2048 leaf, versions
// from minVersion), or returns "" when its hello gives no such reason (the
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
	return "tlslens cannot complete this client's handshake with Go's TLS stack and either of its certificates (ECDSA P-256, RSA 2048): over " +
		inspect.VersionName(hi) + ", the highest version it offers, " + why +
		". The client's offer is in client.hello; add the host to a passthrough policy to observe it without decrypting"
}

// unservable13 says why a TLS 1.3 handshake cannot be agreed with h.
func unservable13(h *inspect.ClientHello) string {
	var why []string
	if !slices.ContainsFunc(h.CipherSuites, gotls.TLS13Suite) {
		why = append(why, "it offers no TLS 1.3 cipher suite Go implements (only "+names(h.CipherSuites, inspect.CipherSuiteName, func(id uint16) bool { return !gotls.IsTLS13Suite(id) })+")")
	}
	if len(h.SignatureAlgorithms) > 0 && !slices.ContainsFunc(h.SignatureAlgorithms, func(s uint16) bool { return slices.Contains(schemes13, s) }) {
		why = append(why, "it accepts only the signature schemes "+names(h.SignatureAlgorithms, inspect.SignatureSchemeName, nil)+
			", and in TLS 1.3 a P-256 key signs only with ecdsa_secp256r1_sha256, an RSA key only with rsa_pss_rsae_*")
	}
	if !slices.ContainsFunc(h.Groups, gotls.Group) {
		why = append(why, "it offers no key exchange group Go implements ("+groupList(h.Groups)+")")
	}
	return strings.Join(why, ", and ")
}

// unservable12 says why a handshake at version v (TLS 1.0 to 1.2) cannot
// be agreed with h. Any of three would do: an RSA key exchange suite (the
// RSA leaf decrypts, nothing is signed); an ECDHE_RSA suite with a classic
// elliptic curve and, in TLS 1.2, an RSA signature scheme; an ECDHE_ECDSA
// suite with the same and an ECDSA scheme.
func unservable12(h *inspect.ClientHello, v uint16) string {
	has := func(kex, auth string) bool {
		return slices.ContainsFunc(h.CipherSuites, func(id uint16) bool { return suiteFor(id, v, kex, auth) })
	}
	rsaKex, ecdheRSA, ecdheECDSA := has("RSA", "RSA"), has("ECDHE", "RSA"), has("ECDHE", "ECDSA")
	switch {
	case rsaKex:
		return ""
	case !ecdheRSA && !ecdheECDSA:
		w := "it offers no cipher suite Go implements for " + inspect.VersionName(v) + " (only " +
			names(h.CipherSuites, inspect.CipherSuiteName, isSCSV) + ")"
		if missing := unsupportedOffers(h); missing != "" {
			w += "; it offers " + missing + ", which Go's TLS stack does not implement"
		}
		return w
	case !slices.ContainsFunc(h.Groups, gotls.ClassicGroup):
		if len(h.Groups) == 0 {
			return "its suites are all ECDHE, and it sends no supported_groups, so no ECDHE key exchange is possible"
		}
		return "its suites are all ECDHE, and it offers no elliptic curve Go implements (" + groupList(h.Groups) + "), so no ECDHE key exchange is possible"
	case v < tls.VersionTLS12 || len(h.SignatureAlgorithms) == 0:
		return "" // the suite's own signature algorithm (RFC 5246 §7.4.1.4.1)
	}
	accepts := func(schemes []uint16) bool {
		return slices.ContainsFunc(h.SignatureAlgorithms, func(s uint16) bool { return slices.Contains(schemes, s) })
	}
	if ecdheRSA && accepts(rsaSchemes12) || ecdheECDSA && accepts(ecdsaSchemes12) {
		return ""
	}
	need := "an RSA"
	switch {
	case ecdheRSA && ecdheECDSA:
		need = "an RSA or ECDSA"
	case ecdheECDSA:
		need = "an ECDSA"
	}
	return "its suites need " + need + " signature scheme, and it accepts only " + names(h.SignatureAlgorithms, inspect.SignatureSchemeName, nil)
}

// isSCSV reports whether id is a signalling value rather than a suite.
func isSCSV(id uint16) bool {
	s, _ := inspect.LookupCipherSuite(id)
	return s.SCSV
}

// suiteFor reports whether id is a suite crypto/tls implements for version
// v with key exchange kex authenticated by auth.
func suiteFor(id, v uint16, kex, auth string) bool {
	for _, cs := range append(tls.CipherSuites(), tls.InsecureCipherSuites()...) {
		if s, _ := inspect.LookupCipherSuite(cs.ID); cs.ID == id && s.KeyExchange == kex && s.Auth == auth && slices.Contains(cs.SupportedVersions, v) {
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
