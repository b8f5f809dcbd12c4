package inspect

import (
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"slices"
	"strings"
)

// The probe (docs/record.md, "probe"): tlslens sends a server the client's
// own ClientHello on a second connection and records the server's clear
// answer. This file holds what is pure about it: the key that tells two
// hellos apart, and the finding that compares the answer with the upstream
// leg's.

// CodeServerChoiceDiffers: for the client's own hello the server chose a
// version, suite, group or ALPN protocol other than the one it chose for
// tlslens's upstream hello (Record.Probe against Record.Upstream).
const CodeServerChoiceDiffers = "server_choice_differs"

// greaseKey stands for every GREASE value in HelloKey: clients pick them at
// random per connection (RFC 8701), and a server ignores them.
const greaseKey = 0x0a0a

// HelloKey returns a digest of what a server can choose from in h: the
// hello's bytes less what changes from one connection of the same client to
// the next. Left out are the random, the session id, the key share values
// (their groups and lengths stay), the session ticket (whether one is
// offered stays: a server may resume) and the pre_shared_key body
// (identities, ages and binders), the ECH payload, the padding length,
// GREASE values (one stands for all) and the order of the extensions
// (Chrome permutes it per connection, as JA4 sorts it; a server's choice
// depends on the order inside a list, not of the extensions). Two hellos
// with the same key offer the same thing. A nil h has the key "".
func HelloKey(h *ClientHello) string {
	if h == nil {
		return ""
	}
	b := make([]byte, 0, len(h.Raw))
	u16 := func(v uint16) {
		if IsGREASE(v) {
			v = greaseKey
		}
		b = binary.BigEndian.AppendUint16(b, v)
	}
	list := func(vs []uint16) {
		b = binary.BigEndian.AppendUint16(b, uint16(len(vs)))
		for _, v := range vs {
			u16(v)
		}
	}
	u16(h.LegacyVersion)
	list(h.CipherSuites)
	b = append(b, byte(len(h.CompressionMethods)))
	b = append(b, h.CompressionMethods...)

	exts := slices.Clone(h.Extensions)
	for i := range exts {
		if IsGREASE(exts[i].Type) {
			exts[i].Type = greaseKey
		}
	}
	slices.SortStableFunc(exts, func(x, y Extension) int { return cmp.Compare(x.Type, y.Type) })
	for _, e := range exts {
		u16(e.Type)
		switch e.Type {
		case greaseKey, extPadding, extPreSharedKey, extEncryptedClientHello:
			// present, body left out
		case extSessionTicket:
			b = append(b, byte(min(len(h.SessionTicket), 1))) // offered or not
		case extKeyShare:
			b = binary.BigEndian.AppendUint16(b, uint16(len(h.KeyShares)))
			for _, ks := range h.KeyShares {
				u16(ks.Group)
				b = binary.BigEndian.AppendUint16(b, uint16(ks.Length))
			}
		case extSupportedGroups:
			list(h.Groups)
		case extSupportedVersions:
			list(h.SupportedVersions)
		case extSignatureAlgorithms:
			list(h.SignatureAlgorithms)
		default:
			b = binary.BigEndian.AppendUint16(b, uint16(len(e.Data)))
			b = append(b, e.Data...)
		}
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// serverChoiceFindings compares what the server chose for the client's own
// hello (the probe) with what it chose for tlslens's (the upstream leg). A
// dimension the probe could not see (ALPN in TLS 1.3 is encrypted) is not
// compared. A probe the server refused with an alert, where the upstream
// leg got an answer, differs too.
//
// The finding is info: the two hellos differ by design (tlslens's is Go's
// offer), and what each choice is worth is judged by the other findings.
// It is warn when the client's own hello gets the weaker choice (an older
// version, a suite without AEAD or forward secrecy) or is refused: the
// record's upstream leg then makes the server look better than it is for
// this client.
func serverChoiceFindings(p, u *Side, add addFunc) {
	up, ok := u.Agreed()
	if !ok {
		return
	}
	pr, ok := p.Agreed()
	if !ok {
		if p.Alert != "" {
			add(sideUpstream, SeverityWarn, CodeServerChoiceDiffers,
				"for the client's own hello the server answers with alert %s; through tlslens it chose %s", p.Alert, choiceWords(up, Agreement{}))
		}
		return
	}
	if pr.ALPN == "" && pr.Version == "TLS 1.3" {
		up.ALPN = "" // encrypted in the probe's answer: not compared
	}
	if pr.Group == "" || up.Group == "" {
		pr.Group, up.Group = "", "" // unknown on one side (RSA key transport): not compared
	}
	if pr == up {
		return
	}
	sev := SeverityInfo
	weaker := versionOrder[pr.Version] < versionOrder[up.Version] ||
		!isAEAD(pr.Version, pr.CipherSuite) && isAEAD(up.Version, up.CipherSuite) ||
		!forwardSecret(pr.Version, pr.CipherSuite, p.KeyExchange) && forwardSecret(up.Version, up.CipherSuite, u.KeyExchange)
	if weaker {
		sev = SeverityWarn
	}
	add(sideUpstream, sev, CodeServerChoiceDiffers,
		"for the client's own hello the server chooses %s; through tlslens it chose %s",
		choiceWords(pr, up), choiceWords(up, pr))
}

// choiceWords names what a differs from other in: "ffdhe2048 and
// TLS_AES_256_GCM_SHA384". A zero other names all of a's choices.
func choiceWords(a, other Agreement) string {
	all := other == Agreement{}
	var w []string
	add := func(v, o, label string) {
		if all || v != o {
			if v == "" {
				v = "no " + label
			}
			w = append(w, v)
		}
	}
	add(a.Version, other.Version, "version")
	add(a.Group, other.Group, "group")
	add(a.CipherSuite, other.CipherSuite, "cipher suite")
	add(a.ALPN, other.ALPN, "ALPN protocol")
	if all {
		w = slices.DeleteFunc(w, func(s string) bool { return strings.HasPrefix(s, "no ") })
	}
	switch len(w) {
	case 0:
		return "the same"
	case 1:
		return w[0]
	}
	return strings.Join(w[:len(w)-1], ", ") + " and " + w[len(w)-1]
}

// HelloRecords returns the start of b, a client's first bytes, that holds
// its whole first ClientHello: the handshake records up to the one where
// the message ends, without what the client sent after it (early data, a
// ChangeCipherSpec). ok is false when b holds no complete ClientHello.
func HelloRecords(b []byte) (records []byte, ok bool) {
	var hs []byte
	off := 0
	for {
		typ, frag, _, ok := SplitRecord(b[off:])
		if !ok || typ != RecordTypeHandshake {
			return nil, false
		}
		n, _ := RecordLen(b[off:])
		off += n
		hs = append(hs, frag...)
		if m, ok := HandshakeMessageLen(hs); ok && len(hs) >= m {
			if hs[0] != typeClientHello {
				return nil, false
			}
			return b[:off], true
		}
	}
}
