package report

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
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

// A ReadinessRow is the readiness of one client: the records whose hello a
// known client sent (client.identity.name), or, unidentified, the records
// with one JA4. Counts are of records (connections).
type ReadinessRow struct {
	// Client is the identity's name, or "unknown (JA4 t13d…)" for a hello
	// no known client matched.
	Client      string `json:"client"`
	Identified  bool   `json:"identified"`
	Connections int    `json:"connections"`

	PQOffered     int `json:"pq_offered"`      // a post-quantum group in supported_groups
	PQKeyShare    int `json:"pq_key_share"`    // a post-quantum key share in the first hello
	PQClientLeg   int `json:"pq_client_leg"`   // the client leg agreed a post-quantum group
	PQUpstreamLeg int `json:"pq_upstream_leg"` // the upstream leg did
	HelloRetry    int `json:"hello_retry"`     // a HelloRetryRequest on either leg
	ECHOffered    int `json:"ech_offered"`

	// LowestVersion is the lowest version any of the records offered.
	LowestVersion string `json:"lowest_version"`
	// WeakSuites are the weak cipher suites offered, with how many records
	// offered each, first seen first.
	WeakSuites []Count `json:"weak_suites"`
}

type readinessState struct {
	row  ReadinessRow
	weak *counter
}

// readinessKey is the row a record counts in: its client's identity, else
// its JA4.
func readinessKey(r *inspect.Record) (key string, identified bool) {
	if id := r.Client.Identity; id != nil && id.Name != "" {
		return id.Name, true
	}
	ja4 := r.Client.Hello.JA4
	if ja4 == "" {
		ja4 = "none"
	}
	return "unknown (JA4 " + ja4 + ")", false
}

// addReadiness counts a record with a client hello in its client's
// readiness row. A record written before tlslens recorded readiness is
// judged from its hello and legs (inspect.ReadinessOf).
func (b *Builder) addReadiness(r *inspect.Record) {
	rd := r.Readiness
	if rd == nil {
		rd = inspect.ReadinessOf(r, nil)
	}
	key, identified := readinessKey(r)
	st := b.readiness[key]
	if st == nil {
		if len(b.readiness) < b.opts.MaxGroups {
			st = &readinessState{row: ReadinessRow{Client: b.in.intern(key), Identified: identified}, weak: newCounter(maxNames)}
			b.readiness[key] = st
		} else {
			if b.otherReadiness == nil {
				b.otherReadiness = &readinessState{row: ReadinessRow{Client: other}, weak: newCounter(maxNames)}
			}
			st = b.otherReadiness
		}
	}
	row := &st.row
	row.Connections++
	pq := rd.PostQuantum
	row.PQOffered += one(pq.Offered)
	row.PQKeyShare += one(pq.KeyShare)
	row.PQClientLeg += one(pq.ClientLeg)
	row.PQUpstreamLeg += one(pq.UpstreamLeg)
	row.HelloRetry += one(pq.ClientHelloRetry || pq.UpstreamHelloRetry)
	row.ECHOffered += one(rd.ECH.Offered)
	if v := rd.Legacy.LowestVersion; v != "" && (row.LowestVersion == "" || versionRank(v) < versionRank(row.LowestVersion)) {
		row.LowestVersion = b.in.intern(v)
	}
	for _, s := range rd.Legacy.WeakSuites {
		st.weak.add(b.in.intern(s), 1)
	}
}

func one(b bool) int {
	if b {
		return 1
	}
	return 0
}

// versionRank orders version names, oldest first; an unknown name ranks
// after all.
func versionRank(v string) int {
	switch v {
	case "SSL 2.0":
		return 1
	case "SSL 3.0":
		return 2
	case "TLS 1.0":
		return 3
	case "TLS 1.1":
		return 4
	case "TLS 1.2":
		return 5
	case "TLS 1.3":
		return 6
	}
	return 7
}

// readinessRows returns the readiness rows, most connections first, the
// "(other)" row last, at most n of them (all for 0).
func (b *Builder) readinessRows(n int) []ReadinessRow {
	states := make([]*readinessState, 0, len(b.readiness)+1)
	for _, st := range b.readiness {
		states = append(states, st)
	}
	slices.SortFunc(states, func(x, y *readinessState) int {
		return cmp.Or(y.row.Connections-x.row.Connections, cmp.Compare(x.row.Client, y.row.Client))
	})
	if b.otherReadiness != nil {
		states = append(states, b.otherReadiness)
	}
	var rows []ReadinessRow
	for _, st := range top(states, n) {
		row := st.row
		row.WeakSuites = st.weak.list()
		rows = append(rows, row)
	}
	return rows
}

// readinessCells are a row's cells as the text and Markdown tables show
// them: counts as "n/connections" where some are, "-" for none.
func readinessCells(row ReadinessRow) []string {
	n := row.Connections
	low := row.LowestVersion
	if low == "" {
		low = "-"
	}
	return []string{row.Client, strconv.Itoa(n), frac(row.PQOffered, n), frac(row.PQKeyShare, n), frac(row.PQClientLeg, n),
		frac(row.PQUpstreamLeg, n), frac(row.HelloRetry, n), frac(row.ECHOffered, n), low, join(names(row.WeakSuites), false)}
}

// readinessHead are the readiness table's column headings.
var readinessHead = []string{"Client", "Connections", "PQ offered", "PQ key share", "PQ client leg", "PQ upstream leg",
	"HRR", "ECH offered", "Lowest version", "Weak suites offered"}
