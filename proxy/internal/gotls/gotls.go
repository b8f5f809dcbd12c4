// Package gotls says once what Go's TLS stack (crypto/tls) implements: the
// suites, groups and signature schemes tlslens can offer upstream and accept
// from clients. Suites come from crypto/tls itself; groups and signature
// schemes are crypto/tls's constants, since it exports no list of them.
// Package proxy mirrors a client's offer with it; package
// advice explains, with it, what a client or server lacks.
package gotls

import (
	"crypto/tls"
	"slices"
	"sync"

	"github.com/tlslens/tlslens/inspect"
)

// AllSuites is every suite crypto/tls implements (tls.CipherSuites and
// tls.InsecureCipherSuites), so old clients can be observed; crypto/tls still
// prefers the secure ones. The list is built once (tls.CipherSuites allocates
// it afresh on every call) and shared: callers must not modify it.
var AllSuites = sync.OnceValue(func() []uint16 {
	var ids []uint16
	for _, cs := range tls.CipherSuites() {
		ids = append(ids, cs.ID)
	}
	for _, cs := range tls.InsecureCipherSuites() {
		ids = append(ids, cs.ID)
	}
	return slices.Clip(ids)
})

// IsTLS13Suite reports whether id is a TLS 1.3 cipher suite of the IANA
// registry, whether Go implements it or not.
func IsTLS13Suite(id uint16) bool {
	s, _ := inspect.LookupCipherSuite(id)
	return s.TLS13
}

// TLS13Suite reports whether id is a TLS 1.3 suite crypto/tls implements
// (it offers all of them, whatever tls.Config says).
func TLS13Suite(id uint16) bool { return IsTLS13Suite(id) && slices.Contains(AllSuites(), id) }

// Groups are the key exchange groups crypto/tls implements, its defaults:
// the ML-KEM hybrids, which exist only in TLS 1.3, then the elliptic curves.
var Groups = []tls.CurveID{
	tls.X25519MLKEM768, tls.SecP256r1MLKEM768, tls.SecP384r1MLKEM1024,
	tls.X25519, tls.CurveP256, tls.CurveP384, tls.CurveP521,
}

// ClassicGroups are Groups' elliptic curves, the groups TLS 1.0-1.2 use.
var ClassicGroups = Groups[3:]

// Group reports whether crypto/tls implements the group with code g.
func Group(g uint16) bool { return slices.Contains(Groups, tls.CurveID(g)) }

// ClassicGroup reports whether g is one of ClassicGroups.
func ClassicGroup(g uint16) bool { return slices.Contains(ClassicGroups, tls.CurveID(g)) }

// Schemes are the signature schemes crypto/tls implements (RFC 8446
// §4.2.3), SHA-1 included: legacy_crypto enables those in TLS 1.2.
var Schemes = []tls.SignatureScheme{
	tls.PSSWithSHA256, tls.PSSWithSHA384, tls.PSSWithSHA512,
	tls.ECDSAWithP256AndSHA256, tls.ECDSAWithP384AndSHA384, tls.ECDSAWithP521AndSHA512,
	tls.Ed25519, tls.PKCS1WithSHA256, tls.PKCS1WithSHA384, tls.PKCS1WithSHA512,
	tls.PKCS1WithSHA1, tls.ECDSAWithSHA1,
}

// Scheme reports whether crypto/tls implements the signature scheme with code s.
func Scheme(s uint16) bool { return slices.Contains(Schemes, tls.SignatureScheme(s)) }

// Versions are the protocol versions crypto/tls implements, TLS 1.0 to 1.3.
var Versions = []uint16{tls.VersionTLS13, tls.VersionTLS12, tls.VersionTLS11, tls.VersionTLS10}

// ClientExtensions are the extensions a crypto/tls client can put in a
// ClientHello (its clientHelloMsg.marshal), by code: server_name,
// status_request, supported_groups, ec_point_formats, signature_algorithms,
// application_layer_protocol_negotiation, signed_certificate_timestamp,
// extended_master_secret, session_ticket, pre_shared_key, early_data,
// supported_versions, cookie, psk_key_exchange_modes,
// signature_algorithms_cert, key_share, quic_transport_parameters,
// ech_outer_extensions, encrypted_client_hello, renegotiation_info.
var ClientExtensions = []uint16{0, 5, 10, 11, 13, 16, 18, 23, 35, 41, 42, 43, 44, 45, 50, 51, 57, 0xfd00, 0xfe0d, 0xff01}

// Stack is what crypto/tls can offer, for inspect.OfferDelta. It is built
// once and shared: callers must not modify it.
var Stack = sync.OnceValue(func() inspect.Stack {
	st := inspect.Stack{
		Versions:     Versions,
		CipherSuites: AllSuites(),
		Extensions:   ClientExtensions,
	}
	for _, g := range Groups {
		st.Groups = append(st.Groups, uint16(g))
	}
	for _, s := range Schemes {
		st.SignatureSchemes = append(st.SignatureSchemes, uint16(s))
	}
	return st
})
