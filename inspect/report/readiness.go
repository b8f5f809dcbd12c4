package report

import (
	"fmt"
	"strings"

	"github.com/tlslens/tlslens/inspect"
)

// A Fact is one labelled line about a record, for a terminal or a page.
type Fact struct {
	Label, Text string
}

// ReadinessFacts describes a record's readiness (inspect.Readiness) in three
// lines: post-quantum, ECH and legacy. It returns nil for a nil rd.
func ReadinessFacts(rd *inspect.Readiness) []Fact {
	if rd == nil {
		return nil
	}
	return []Fact{
		{"post-quantum", postQuantumText(rd.PostQuantum)},
		{"ECH", echText(rd.ECH)},
		{"legacy", legacyText(rd.Legacy)},
	}
}

// postQuantumText: "offered X25519MLKEM768 with a key share; client leg
// X25519MLKEM768, upstream leg x25519 (classical); HelloRetryRequest on the
// upstream leg".
func postQuantumText(pq inspect.PostQuantum) string {
	var parts []string
	switch {
	case !pq.Offered:
		parts = append(parts, "not offered")
	case pq.KeyShare:
		parts = append(parts, "offered "+strings.Join(pq.Groups, ", ")+" with a key share")
	default:
		parts = append(parts, "offered "+strings.Join(pq.Groups, ", ")+" without a key share")
	}
	leg := func(name, group string, pq bool) string {
		switch {
		case group == "":
			return name + " leg unknown"
		case pq:
			return name + " leg " + group
		}
		return name + " leg " + group + " (classical)"
	}
	parts = append(parts, leg("client", pq.ClientGroup, pq.ClientLeg)+", "+leg("upstream", pq.UpstreamGroup, pq.UpstreamLeg))
	var retried []string
	if pq.ClientHelloRetry {
		retried = append(retried, "client")
	}
	if pq.UpstreamHelloRetry {
		retried = append(retried, "upstream")
	}
	if len(retried) > 0 {
		parts = append(parts, "HelloRetryRequest on the "+strings.Join(retried, " and ")+" leg")
	}
	return strings.Join(parts, "; ")
}

// echText: "outer, public name a.test, config 138, HKDF-SHA256 +
// AES-128-GCM, payload 208 bytes; the inner hello is encrypted, not
// visible".
func echText(e inspect.ECHOffer) string {
	if !e.Offered {
		return "not offered"
	}
	parts := []string{e.Type}
	if e.OuterSNI != "" {
		parts = append(parts, "public name "+e.OuterSNI)
	}
	if e.ConfigID != nil {
		parts = append(parts, fmt.Sprintf("config %d", *e.ConfigID))
	}
	if e.KDF != "" {
		parts = append(parts, e.KDF+" + "+e.AEAD, fmt.Sprintf("payload %d bytes", e.PayloadLength))
	}
	return strings.Join(parts, ", ") + "; the inner hello is encrypted, not visible (GREASE looks the same)"
}

// legacyText: "lowest version TLS 1.0; weak suites TLS_RSA_WITH_RC4_128_SHA".
func legacyText(l inspect.Legacy) string {
	low := l.LowestVersion
	if low == "" {
		low = "unknown"
	}
	weak := "no weak suites"
	if len(l.WeakSuites) > 0 {
		weak = "weak suites " + strings.Join(l.WeakSuites, ", ")
	}
	return "lowest version " + low + "; " + weak
}
