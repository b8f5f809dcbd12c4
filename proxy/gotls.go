package proxy

import (
	"crypto/tls"
	"slices"
	"sync"

	"github.com/tlslens/tlslens/inspect"
)

// This file says once what Go's TLS stack implements, for the upstream offer
// (upstream.go) and for explaining what a client lacks (clientcompat.go).
// Suites come from crypto/tls itself; groups and signature schemes are
// crypto/tls's constants, since it exports no list of them.

// allSuites is every suite crypto/tls implements (tls.CipherSuites and
// tls.InsecureCipherSuites), so old clients can be observed; crypto/tls still
// prefers the secure ones. The list is built once (tls.CipherSuites allocates
// it afresh on every call) and shared: callers must not modify it.
var allSuites = sync.OnceValue(func() []uint16 {
	var ids []uint16
	for _, cs := range tls.CipherSuites() {
		ids = append(ids, cs.ID)
	}
	for _, cs := range tls.InsecureCipherSuites() {
		ids = append(ids, cs.ID)
	}
	return slices.Clip(ids)
})

// isTLS13Suite reports whether id is a TLS 1.3 cipher suite of the IANA
// registry, whether Go implements it or not.
func isTLS13Suite(id uint16) bool {
	s, _ := inspect.LookupCipherSuite(id)
	return s.TLS13
}

// goTLS13Suite reports whether id is a TLS 1.3 suite crypto/tls implements
// (it offers all of them, whatever tls.Config says).
func goTLS13Suite(id uint16) bool { return isTLS13Suite(id) && slices.Contains(allSuites(), id) }

// goGroups are the key exchange groups crypto/tls implements, its defaults:
// the ML-KEM hybrids, which exist only in TLS 1.3, then the elliptic curves.
var goGroups = []tls.CurveID{
	tls.X25519MLKEM768, tls.SecP256r1MLKEM768, tls.SecP384r1MLKEM1024,
	tls.X25519, tls.CurveP256, tls.CurveP384, tls.CurveP521,
}

// goClassicGroups are goGroups' elliptic curves, the groups TLS 1.0-1.2 use.
var goClassicGroups = goGroups[3:]

func goGroup(g uint16) bool        { return slices.Contains(goGroups, tls.CurveID(g)) }
func goClassicGroup(g uint16) bool { return slices.Contains(goClassicGroups, tls.CurveID(g)) }

// goSchemes are the signature schemes crypto/tls implements (RFC 8446
// §4.2.3), SHA-1 included: legacy_crypto enables those in TLS 1.2.
var goSchemes = []tls.SignatureScheme{
	tls.PSSWithSHA256, tls.PSSWithSHA384, tls.PSSWithSHA512,
	tls.ECDSAWithP256AndSHA256, tls.ECDSAWithP384AndSHA384, tls.ECDSAWithP521AndSHA512,
	tls.Ed25519, tls.PKCS1WithSHA256, tls.PKCS1WithSHA384, tls.PKCS1WithSHA512,
	tls.PKCS1WithSHA1, tls.ECDSAWithSHA1,
}

func goScheme(s uint16) bool { return slices.Contains(goSchemes, tls.SignatureScheme(s)) }
