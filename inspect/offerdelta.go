package inspect

import (
	"slices"
	"strings"
)

// This file compares the ClientHello tlslens sent upstream with the one the
// client sent, so that the record says where the server was offered
// something else than the client offered, and why, instead of leaving the
// reader to infer it from two JA4s.

// A Stack is what a TLS implementation can put in a ClientHello, by code:
// what OfferDelta needs to tell a value dropped because the implementation
// lacks it from one it chose to leave out. Package proxy fills it from
// crypto/tls; the zero Stack implements nothing.
type Stack struct {
	Versions         []uint16
	CipherSuites     []uint16
	Groups           []uint16 // also the key shares it can make
	SignatureSchemes []uint16
	Extensions       []uint16
}

// An OfferChange is one way in which the ClientHello tlslens sent upstream
// differs from the client's, in one Hello field, for one reason.
type OfferChange struct {
	// Field is the Hello key the change is in: "supported_versions",
	// "cipher_suites", "extensions", "alpn", "groups", "key_shares",
	// "signature_algorithms" or "signature_algorithms_cert".
	Field string `json:"field"`
	// Change is "dropped" (the client offered Values, tlslens did not),
	// "added" (tlslens offered Values, the client did not) or "reordered"
	// (both offered Values, in another order: Values are in tlslens's).
	Change string `json:"change"`
	// Values are names as the Hello gives them, in wire order.
	Values []string `json:"values"`
	// Reason is why, one of the Delta* codes.
	Reason string `json:"reason"`
}

// Changes of an OfferChange.
const (
	ChangeDropped   = "dropped"
	ChangeAdded     = "added"
	ChangeReordered = "reordered"
)

// Reasons of an OfferChange, stable codes (docs/record.md).
const (
	// DeltaNotImplemented: the upstream stack does not implement the values.
	DeltaNotImplemented = "not_implemented"
	// DeltaGREASE: the client's GREASE values (RFC 8701); crypto/tls sends none.
	DeltaGREASE = "grease"
	// DeltaECH: the client's encrypted_client_hello, real or GREASE, belongs
	// to its own hello; crypto/tls sends ECH only with the server's ECH
	// configuration, and no GREASE ECH.
	DeltaECH = "ech"
	// DeltaPadding: the client pads its hello (RFC 7685); crypto/tls does not.
	DeltaPadding = "padding"
	// DeltaStackChooses: the upstream stack decides this itself, with no
	// setting to mirror the client: its signature schemes, its key shares,
	// its order, extensions it sends or leaves out on its own.
	DeltaStackChooses = "stack_chooses"
	// DeltaCompatRetry: the upstream offer is the compat retry's (TLS 1.0
	// to 1.2, every suite the stack implements), made after the server
	// refused one made from the client's offer.
	DeltaCompatRetry = "compat_retry"
)

// DeltaReasonText says what a Delta* reason code means, in a few words for
// a person; "" for an unknown code.
func DeltaReasonText(reason string) string {
	switch reason {
	case DeltaNotImplemented:
		return "Go's TLS stack does not implement them"
	case DeltaGREASE:
		return "GREASE: Go sends none"
	case DeltaECH:
		return "ECH: Go sends it only with the server's ECH config"
	case DeltaPadding:
		return "Go does not pad its hello"
	case DeltaStackChooses:
		return "Go's TLS stack chooses these itself"
	case DeltaCompatRetry:
		return "the compat retry for a server that refused the client's offer"
	}
	return ""
}

// OfferDelta lists where sent, the ClientHello tlslens sent upstream with
// the stack described by stack, differs from client's, field by field:
// values dropped (grouped by reason: GREASE, ECH, padding, not implemented
// by stack, compat retry, or the stack's own choice), values added, and a
// different order of the values both share. compat says sent is the compat
// retry's offer. The result is nil when the offers match or either hello is
// nil. OfferDelta is pure.
func OfferDelta(client, sent *ClientHello, stack Stack, compat bool) []OfferChange {
	if client == nil || sent == nil {
		return nil
	}
	d := deltaBuilder{compat: compat}
	d.codes("supported_versions", client.SupportedVersions, sent.SupportedVersions, VersionName, stack.Versions, nil)
	d.codes("cipher_suites", client.CipherSuites, sent.CipherSuites, CipherSuiteName, stack.CipherSuites, nil)
	d.codes("extensions", extensionTypes(client), extensionTypes(sent), ExtensionName, stack.Extensions, extensionReason)
	d.alpn(client.ALPN, sent.ALPN)
	d.codes("groups", client.Groups, sent.Groups, GroupName, stack.Groups, nil)
	d.codes("key_shares", keyShareGroups(client), keyShareGroups(sent), GroupName, stack.Groups, nil)
	d.codes("signature_algorithms", client.SignatureAlgorithms, sent.SignatureAlgorithms, SignatureSchemeName, stack.SignatureSchemes, nil)
	d.codes("signature_algorithms_cert", client.SignatureAlgorithmsCert, sent.SignatureAlgorithmsCert, SignatureSchemeName, stack.SignatureSchemes, nil)
	return d.out
}

type deltaBuilder struct {
	compat bool
	out    []OfferChange
}

// codes compares one field's codes. implemented is what the stack can
// send in it; special, when not nil, gives a value's own reason ("" for
// none).
func (d *deltaBuilder) codes(field string, client, sent []uint16, name func(uint16) string, implemented []uint16, special func(uint16) string) {
	dropped := func(v uint16) string {
		switch {
		case IsGREASE(v):
			return DeltaGREASE
		case special != nil && special(v) != "":
			return special(v)
		case !slices.Contains(implemented, v):
			return DeltaNotImplemented
		}
		return d.otherwise()
	}
	diff(d, field, client, sent, name, dropped)
}

// alpn compares the ALPN protocol lists; the upstream offer copies the
// client's, so a difference is the stack's (it refuses empty names).
func (d *deltaBuilder) alpn(client, sent []string) {
	diff(d, "alpn", client, sent, func(p string) string { return p }, func(string) string { return d.otherwise() })
}

// otherwise is the reason for a change nothing more specific explains.
func (d *deltaBuilder) otherwise() string {
	if d.compat {
		return DeltaCompatRetry
	}
	return DeltaStackChooses
}

// diff appends field's changes to d: the client's values sent lacks, one
// change per reason in order of first appearance; sent's values the client
// lacks; and the order of the values both have, when it differs.
func diff[T comparable](d *deltaBuilder, field string, client, sent []T, name func(T) string, why func(T) string) {
	first := len(d.out) // the dropped changes of this field start here, one per reason
	var common []T
	for _, v := range client {
		if slices.Contains(sent, v) {
			if !slices.Contains(common, v) {
				common = append(common, v)
			}
			continue
		}
		r := why(v)
		i := slices.IndexFunc(d.out[first:], func(c OfferChange) bool { return c.Reason == r })
		if i < 0 {
			d.out = append(d.out, OfferChange{Field: field, Change: ChangeDropped, Reason: r})
			i = len(d.out) - 1 - first
		}
		d.out[first+i].Values = append(d.out[first+i].Values, name(v))
	}
	var added, sentCommon []string
	var order []T
	for _, v := range sent {
		if !slices.Contains(client, v) {
			added = append(added, name(v))
		} else if !slices.Contains(order, v) {
			order = append(order, v)
			sentCommon = append(sentCommon, name(v))
		}
	}
	if len(added) > 0 {
		d.out = append(d.out, OfferChange{Field: field, Change: ChangeAdded, Values: added, Reason: d.otherwise()})
	}
	if !slices.Equal(common, order) {
		// Order is never a compat-retry matter: the stack orders its offer.
		d.out = append(d.out, OfferChange{Field: field, Change: ChangeReordered, Values: sentCommon, Reason: DeltaStackChooses})
	}
}

// extensionReason is an extension's own reason for being dropped.
func extensionReason(typ uint16) string {
	switch typ {
	case extEncryptedClientHello:
		return DeltaECH
	case extPadding:
		return DeltaPadding
	}
	return ""
}

func extensionTypes(h *ClientHello) []uint16 {
	out := make([]uint16, len(h.Extensions))
	for i, e := range h.Extensions {
		out[i] = e.Type
	}
	return out
}

func keyShareGroups(h *ClientHello) []uint16 {
	out := make([]uint16, len(h.KeyShares))
	for i, k := range h.KeyShares {
		out[i] = k.Group
	}
	return out
}

// OfferChangeText is c as one line for a person: "cipher_suites dropped
// TLS_AES_128_CCM_SHA256 (Go's TLS stack does not implement them)".
func OfferChangeText(c OfferChange) string {
	s := c.Field + " " + c.Change + " " + strings.Join(c.Values, ", ")
	if t := DeltaReasonText(c.Reason); t != "" {
		s += " (" + t + ")"
	}
	return s
}
