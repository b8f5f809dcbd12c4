// Package report aggregates handshake records (docs/record.md) into an
// audit report: clients grouped by JA4 fingerprint with what they offer and
// which weak options they still offer, each client's readiness (post-quantum
// key exchange, ECH, legacy offers; by its identity, or its JA4 when
// unidentified), servers grouped by target with what they negotiated and
// what was wrong with their chains, outcomes, and findings by code. It
// renders the report as aligned text, JSON, Markdown or a self-contained
// HTML page with SVG charts, and one record for a terminal (Line, Verbose).
//
// A Builder reads JSON Lines in one pass with bounded memory: it keeps at most
// Options.MaxGroups client and server groups (the rest share an "(other)"
// group), a few examples per list, and counts keyed by name. Bad lines are
// counted and the first few remembered, never fatal.
//
// Like package inspect, report is pure: readers in, writers out. It opens no
// files and reads no clock; callers pass Options.Now.
package report

import (
	"cmp"
	"slices"
	"time"

	"github.com/tlslens/tlslens/inspect"
)

// A Report is the aggregate of the records read: what a renderer shows and
// what --format json prints.
type Report struct {
	Generated  time.Time        `json:"generated,omitzero"` // Options.Now
	Filter     Filter           `json:"filter"`
	Inputs     []Input          `json:"inputs"`
	Totals     Totals           `json:"totals"`
	BadLines   []BadLine        `json:"bad_lines"` // the first Options.MaxBadLines
	Outcomes   []Count          `json:"outcomes"`  // most frequent first
	Findings   []FindingSummary `json:"findings"`  // most severe, then most frequent, first
	Offered    Distribution     `json:"offered"`   // what clients offered, counted per record
	Negotiated Distribution     `json:"negotiated"`
	WeakOffers []WeakOffer      `json:"weak_offers"` // clients offering weak versions or suites
	Clients    []Client         `json:"clients"`     // by JA4, most records first
	// Readiness is each client's post-quantum, ECH and legacy readiness:
	// by identity (or JA4 when unidentified), most connections first.
	Readiness []ReadinessRow `json:"readiness"`
	Servers   []Server       `json:"servers"` // by target, most records first
}

// Totals count lines and records over all inputs.
type Totals struct {
	Lines    int `json:"lines"`
	Records  int `json:"records"`  // handshake records read
	Matched  int `json:"matched"`  // records that passed the filter: the ones reported
	Filtered int `json:"filtered"` // records the filter dropped
	LogLines int `json:"log_lines"`
	BadLines int `json:"bad_lines"`
	NoHello  int `json:"no_hello"` // matched records without a ClientHello (not_tls, denied)

	First time.Time `json:"first,omitzero"` // earliest matched record
	Last  time.Time `json:"last,omitzero"`  // latest matched record

	ClientGroups int `json:"client_groups"` // distinct JA4s, "(other)" counting as one
	ServerGroups int `json:"server_groups"` // distinct targets, "(other)" counting as one
	// OtherClients and OtherServers count the records in the "(other)"
	// groups, beyond Options.MaxGroups.
	OtherClients int `json:"other_clients"`
	OtherServers int `json:"other_servers"`
}

// Distribution counts versions, suites, groups and signature schemes,
// most frequent first. GREASE values are left out.
type Distribution struct {
	Versions            []Count `json:"versions"`
	CipherSuites        []Count `json:"cipher_suites"`
	Groups              []Count `json:"groups"`
	SignatureAlgorithms []Count `json:"signature_algorithms"`
}

// A FindingSummary counts one finding code.
type FindingSummary struct {
	Code     string           `json:"code"`
	Severity inspect.Severity `json:"severity"` // the most severe seen
	Count    int              `json:"count"`
	Sides    []Count          `json:"sides"`
	Message  string           `json:"message"` // the first one seen
	Targets  []string         `json:"targets"` // examples
	More     bool             `json:"more_targets,omitempty"`
}

// A WeakOffer is a client group that offers weak versions or cipher suites.
type WeakOffer struct {
	JA4       string   `json:"ja4"`
	Count     int      `json:"count"`
	Offers    []string `json:"offers"` // the weak names, wire order
	SNIs      []string `json:"snis"`
	Addresses []string `json:"addresses"`
}

// A Client is the records whose ClientHello had one JA4 fingerprint. Lists
// of Counts keep the first hello's wire order; GREASE values are left out.
type Client struct {
	JA4           string    `json:"ja4"`
	JA4R          string    `json:"ja4_r,omitempty"` // the first record's
	Count         int       `json:"count"`
	JA3N          []string  `json:"ja3n"`
	SNIs          []string  `json:"snis"` // examples
	MoreSNIs      bool      `json:"more_snis,omitempty"`
	Addresses     []string  `json:"addresses"` // example source IPs
	MoreAddresses bool      `json:"more_addresses,omitempty"`
	FirstSeen     time.Time `json:"first_seen,omitzero"`
	LastSeen      time.Time `json:"last_seen,omitzero"`

	Versions            []Count `json:"versions"`
	CipherSuites        []Count `json:"cipher_suites"`
	Groups              []Count `json:"groups"`
	SignatureAlgorithms []Count `json:"signature_algorithms"`
	ALPN                []Count `json:"alpn"`
	WeakOffers          []Count `json:"weak_offers"`
	Outcomes            []Count `json:"outcomes"`
	Alerts              []Count `json:"alerts"` // alerts this client sent the proxy

	// Example is the first connection of the group that tlslens
	// intercepted, its offers and choices side by side (the web view's
	// connection comparison), to Target; nil when none was, or beyond the
	// first 200 groups.
	Example       *Comparison `json:"-"`
	ExampleTarget string      `json:"-"`
}

// A Server is the records for one target: what the real server negotiated
// with the proxy and what was wrong with it.
type Server struct {
	Target        string    `json:"target"`
	Count         int       `json:"count"`
	Handshakes    int       `json:"handshakes"` // records whose upstream got as far as a ServerHello
	Addresses     []string  `json:"addresses"`  // resolved ip:port examples
	MoreAddresses bool      `json:"more_addresses,omitempty"`
	FirstSeen     time.Time `json:"first_seen,omitzero"`
	LastSeen      time.Time `json:"last_seen,omitzero"`

	Versions     []Count `json:"versions"` // negotiated
	CipherSuites []Count `json:"cipher_suites"`
	Groups       []Count `json:"groups"`
	ALPN         []Count `json:"alpn"`
	KeyExchange  []Count `json:"key_exchange"` // "ECDHE x25519 rsa_pss_rsae_sha256"

	Leaf           *Leaf   `json:"leaf,omitempty"` // the last one seen
	LeafKeys       []Count `json:"leaf_keys"`
	LeafSignatures []Count `json:"leaf_signatures"`
	VerifyOK       int     `json:"verify_ok"`
	VerifyFailed   int     `json:"verify_failed"`
	VerifyErrors   []Count `json:"verify_errors"`
	Errors         []Count `json:"errors"`   // upstream errors, e.g. unreachable
	Problems       []Count `json:"problems"` // upstream finding codes
	Outcomes       []Count `json:"outcomes"`
}

// Leaf summarises a server's leaf certificate.
type Leaf struct {
	Subject   string `json:"subject"`
	Issuer    string `json:"issuer"`
	Key       string `json:"key"`
	Signature string `json:"signature"`
	NotAfter  string `json:"not_after"`
	Chain     int    `json:"chain"` // certificates presented, leaf included
}

// Report returns the report of what has been read so far. The Builder can
// keep reading afterwards.
func (b *Builder) Report() *Report {
	r := &Report{
		Generated:  b.opts.Now,
		Filter:     b.opts.Filter,
		Inputs:     slices.Clone(b.inputs),
		Totals:     b.totals,
		BadLines:   slices.Clone(b.badLines),
		Outcomes:   b.outcomes.sorted(),
		Offered:    b.offered.report(),
		Negotiated: b.negotiated.report(),
	}
	r.Totals.ClientGroups, r.Totals.ServerGroups = b.groups()
	if b.otherClient != nil {
		r.Totals.OtherClients = b.otherClient.count
	}
	if b.otherServer != nil {
		r.Totals.OtherServers = b.otherServer.count
	}

	for _, code := range b.findingOrd {
		f := b.findings[code]
		r.Findings = append(r.Findings, FindingSummary{Code: f.code, Severity: f.severity, Count: f.count,
			Sides: f.sides.sorted(), Message: f.message, Targets: slices.Clone(f.targets.vals), More: f.targets.more})
	}
	slices.SortStableFunc(r.Findings, func(x, y FindingSummary) int {
		return cmp.Or(severityRank[y.Severity]-severityRank[x.Severity], y.Count-x.Count, cmp.Compare(x.Code, y.Code))
	})

	clients := make([]*clientState, 0, len(b.clients)+1)
	for _, c := range b.clients {
		clients = append(clients, c)
	}
	slices.SortFunc(clients, func(x, y *clientState) int { return cmp.Or(y.count-x.count, cmp.Compare(x.key, y.key)) })
	if b.otherClient != nil {
		clients = append(clients, b.otherClient)
	}
	for _, c := range clients {
		if c.weak.size() > 0 && (b.opts.Top == 0 || len(r.WeakOffers) < b.opts.Top) {
			r.WeakOffers = append(r.WeakOffers, WeakOffer{JA4: c.key, Count: c.count, Offers: names(c.weak.list()),
				SNIs: slices.Clone(c.snis.vals), Addresses: slices.Clone(c.addrs.vals)})
		}
	}
	for _, c := range top(clients, b.opts.Top) {
		r.Clients = append(r.Clients, c.report())
	}
	r.Readiness = b.readinessRows(b.opts.Top)

	servers := make([]*serverState, 0, len(b.servers)+1)
	for _, s := range b.servers {
		servers = append(servers, s)
	}
	slices.SortFunc(servers, func(x, y *serverState) int { return cmp.Or(y.count-x.count, cmp.Compare(x.key, y.key)) })
	if b.otherServer != nil {
		servers = append(servers, b.otherServer)
	}
	for _, s := range top(servers, b.opts.Top) {
		r.Servers = append(r.Servers, s.report())
	}
	return r
}

// top returns the first n of s, all of it when n is 0.
func top[T any](s []T, n int) []T {
	if n > 0 && len(s) > n {
		return s[:n]
	}
	return s
}

func names(cs []Count) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Name
	}
	return out
}

func (d dist) report() Distribution {
	return Distribution{Versions: d.versions.sorted(), CipherSuites: d.suites.sorted(),
		Groups: d.groups.sorted(), SignatureAlgorithms: d.sigs.sorted()}
}

func (c *clientState) report() Client {
	return Client{
		JA4: c.key, JA4R: c.ja4r, Count: c.count,
		JA3N: slices.Clone(c.ja3n.vals),
		SNIs: slices.Clone(c.snis.vals), MoreSNIs: c.snis.more,
		Addresses: slices.Clone(c.addrs.vals), MoreAddresses: c.addrs.more,
		FirstSeen: c.first, LastSeen: c.last,
		Versions: c.versions.list(), CipherSuites: c.suites.list(), Groups: c.groups.list(),
		SignatureAlgorithms: c.sigs.list(), ALPN: c.alpn.list(), WeakOffers: c.weak.list(),
		Outcomes: c.outcomes.sorted(), Alerts: c.alerts.sorted(),
		Example: c.example, ExampleTarget: c.exampleTarget,
	}
}

func (s *serverState) report() Server {
	var leaf *Leaf
	if s.leaf != nil {
		l := *s.leaf
		leaf = &l
	}
	return Server{
		Target: s.key, Count: s.count, Handshakes: s.handshakes,
		Addresses: slices.Clone(s.addrs.vals), MoreAddresses: s.addrs.more,
		FirstSeen: s.first, LastSeen: s.last,
		Versions: s.versions.sorted(), CipherSuites: s.suites.sorted(), Groups: s.groups.sorted(),
		ALPN: s.alpn.sorted(), KeyExchange: s.kx.sorted(),
		Leaf: leaf, LeafKeys: s.leafKeys.sorted(), LeafSignatures: s.leafSigs.sorted(),
		VerifyOK: s.verifyOK, VerifyFailed: s.verifyFailed, VerifyErrors: s.verifyErrors.sorted(),
		Errors: s.errors.sorted(), Problems: s.problems.sorted(), Outcomes: s.outc.sorted(),
	}
}
