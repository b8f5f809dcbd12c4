package report

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/tlslens/tlslens/inspect"
)

// A Comparison sets one connection's three columns side by side, one row per
// dimension of the handshake: what the client offered, what tlslens offered
// the server (the record's upstream.hello), and what each side chose (the
// negotiated values of each leg, and of the probe when there was one).
type Comparison struct {
	Rows []CompareRow
}

// A CompareRow is one dimension ("versions", "cipher suites", ...) of a
// Comparison.
type CompareRow struct {
	Dimension string
	Client    []Offered // what the client offered, in wire order; nil when unknown
	Upstream  []Offered // what tlslens offered the server; nil when it sent no hello
	Chosen    []Choice  // what each leg chose, client leg first
	// Differs is set when the client's and tlslens's offers differ, or the
	// legs chose differently: the row is highlighted.
	Differs bool
	// Notes explain each difference in words, e.g. "TLS 1.3 to the client,
	// TLS 1.2 upstream".
	Notes []string
}

// Offered is one value of an offer. Mark says how it compares with the other
// offer: "dropped" (the client offered it, tlslens did not send it upstream),
// "added" (tlslens sent it, the client did not offer it), or "".
type Offered struct {
	Value  string
	Mark   string
	Chosen bool // the leg this offer went to chose this value
}

// A Choice is what one leg chose in one dimension.
type Choice struct {
	Leg   string // "client", "upstream" or "probe"
	Value string // "" when the leg chose nothing here (or never got so far)
}

// Compare builds r's comparison. It needs nothing but the record: r.Client's
// hello and agreement, r.Upstream's, r.Probe's, and r.Upstream.OfferDelta
// for the reasons tlslens's offer differs. r must not be nil.
func Compare(r *inspect.Record) Comparison {
	c := comparer{r: r}
	if r.Client != nil {
		c.ch = r.Client.Hello
		c.ca, c.cok = r.Client.Agreed()
	}
	if r.Upstream != nil {
		c.uh = r.Upstream.Hello
		c.ua, c.uok = r.Upstream.Agreed()
	}
	c.pa, c.pok = r.Probe.Agreed()
	hello := func(h *inspect.Hello, f func(*inspect.Hello) []string) []string {
		if h == nil {
			return nil
		}
		return f(h)
	}
	list := func(dim, field string, f func(*inspect.Hello) []string, chosen func(inspect.Agreement) string) CompareRow {
		return c.list(dim, field, hello(c.ch, f), hello(c.uh, f), chosen)
	}
	out := Comparison{}
	out.Rows = append(out.Rows,
		c.versions(),
		list("cipher suites", "cipher_suites", func(h *inspect.Hello) []string { return h.CipherSuites },
			func(a inspect.Agreement) string { return a.CipherSuite }),
		c.groups(),
		list("key shares", "key_shares", keyShares, func(a inspect.Agreement) string { return a.Group }),
		c.signatures(),
		c.alpn(),
		list("extensions (wire order)", "extensions", func(h *inspect.Hello) []string { return h.Extensions }, nil),
		c.flag("GREASE", func(h *inspect.Hello) string { return yesNo(h.Grease) }, nil),
		c.flag("ECH", echOffer, func(s *inspect.Side) string {
			if s == nil || s.Negotiated == nil {
				return ""
			}
			return yesNo(s.Negotiated.ECH)
		}),
		c.flag("session resumption", resumptionOffer, func(s *inspect.Side) string {
			if s == nil || s.Negotiated == nil {
				return ""
			}
			if s.Negotiated.Resumed {
				return "resumed"
			}
			return "full handshake"
		}),
	)
	return out
}

type comparer struct {
	r             *inspect.Record
	ch, uh        *inspect.Hello
	ca, ua, pa    inspect.Agreement
	cok, uok, pok bool
}

// chosen lists what each leg chose with pick, client leg first; a leg with
// no agreement is left out.
func (c *comparer) chosen(pick func(inspect.Agreement) string) []Choice {
	var out []Choice
	if c.cok {
		out = append(out, Choice{"client", pick(c.ca)})
	}
	if c.uok {
		out = append(out, Choice{"upstream", pick(c.ua)})
	}
	if c.pok {
		out = append(out, Choice{"probe", pick(c.pa)})
	}
	return out
}

// list compares the two offers of one list-valued field, marking what
// tlslens dropped and added, and explains them with the offer delta's
// reasons for field.
func (c *comparer) list(dim, field string, client, upstream []string, chosen func(inspect.Agreement) string) CompareRow {
	row := CompareRow{Dimension: dim}
	var cpick, upick string
	if chosen != nil {
		row.Chosen = c.chosen(chosen)
		if c.cok {
			cpick = chosen(c.ca)
		}
		if c.uok {
			upick = chosen(c.ua)
		}
	}
	row.Client = mark(client, upstream, "dropped", cpick)
	if c.uh != nil {
		row.Upstream = mark(upstream, client, "added", upick)
		if !slices.Equal(client, upstream) {
			row.Differs = true
			row.Notes = append(row.Notes, c.delta(field, client, upstream)...)
		}
	}
	if c.cok && c.uok && chosen != nil && cpick != upick {
		row.Differs = true
		row.Notes = append(row.Notes, fmt.Sprintf("%s to the client, %s upstream", orNone(cpick), orNone(upick)))
	}
	return row
}

// mark returns values, each marked with how when other lacks it; with a
// nil other (no second offer) nothing is marked.
func mark(values, other []string, how, chosen string) []Offered {
	if values == nil {
		return nil
	}
	out := make([]Offered, len(values))
	for i, v := range values {
		out[i] = Offered{Value: v, Chosen: v != "" && v == chosen || keyShareOf(v) != "" && keyShareOf(v) == chosen}
		if other != nil && !slices.Contains(other, v) {
			out[i].Mark = how
		}
	}
	return out
}

// delta explains how tlslens's offer of field differs from the client's:
// the record's offer_delta entries when it has them, else the values
// dropped, added or reordered.
func (c *comparer) delta(field string, client, upstream []string) []string {
	var notes []string
	if c.r.Upstream != nil {
		for _, d := range c.r.Upstream.OfferDelta {
			if d.Field != field {
				continue
			}
			notes = append(notes, fmt.Sprintf("tlslens %s %s: %s", d.Change, strings.Join(d.Values, ", "), reasonWords(d.Reason)))
		}
	}
	if len(notes) > 0 {
		return notes
	}
	var dropped, added []string
	for _, v := range client {
		if !slices.Contains(upstream, v) {
			dropped = append(dropped, v)
		}
	}
	for _, v := range upstream {
		if !slices.Contains(client, v) {
			added = append(added, v)
		}
	}
	if len(dropped) > 0 {
		notes = append(notes, "the client offered "+strings.Join(dropped, ", ")+"; tlslens did not send it upstream")
	}
	if len(added) > 0 {
		notes = append(notes, "tlslens offered "+strings.Join(added, ", ")+", which the client did not")
	}
	if len(notes) == 0 {
		notes = append(notes, "the same values, in another order")
	}
	return notes
}

// reasonWords says an offer_delta reason (docs/record.md) in words.
func reasonWords(reason string) string {
	switch reason {
	case inspect.DeltaNotImplemented:
		return "Go's TLS stack upstream does not implement them"
	case inspect.DeltaGREASE:
		return "GREASE values are the client's own; crypto/tls sends none"
	case inspect.DeltaECH:
		return "the client's encrypted_client_hello belongs to its own hello"
	case inspect.DeltaPadding:
		return "the client pads its hello; crypto/tls does not"
	case inspect.DeltaStackChooses:
		return "the upstream stack chooses these itself"
	case inspect.DeltaCompatRetry:
		return "the compat retry's offer, after the server refused one made from the client's"
	}
	return reason
}

// versions compares the versions offered (supported_versions, or
// legacy_version before TLS 1.3) and chosen.
func (c *comparer) versions() CompareRow {
	v := func(h *inspect.Hello) []string {
		if len(h.SupportedVersions) > 0 {
			return h.SupportedVersions
		}
		return []string{h.Version}
	}
	var client, upstream []string
	if c.ch != nil {
		client = v(c.ch)
	}
	if c.uh != nil {
		upstream = v(c.uh)
	}
	row := c.list("versions", "supported_versions", client, upstream, func(a inspect.Agreement) string { return a.Version })
	if c.pok && c.uok && c.pa.Version != c.ua.Version {
		row.Differs = true
		row.Notes = append(row.Notes, fmt.Sprintf("the server chose %s for the client's own hello (probe), %s for tlslens's", c.pa.Version, c.ua.Version))
	}
	return row
}

// groups compares the supported groups; when the client's preferred key
// share is not what the upstream leg ran, it says so.
func (c *comparer) groups() CompareRow {
	f := func(h *inspect.Hello) []string { return h.Groups }
	var client, upstream []string
	if c.ch != nil {
		client = f(c.ch)
	}
	if c.uh != nil {
		upstream = f(c.uh)
	}
	row := c.list("groups", "groups", client, upstream, func(a inspect.Agreement) string { return a.Group })
	if c.ch != nil && c.uok && c.ua.Group != "" {
		var first string
		for _, ks := range c.ch.KeyShares {
			if ks.Group != "GREASE" {
				first = ks.Group
				break
			}
		}
		if first != "" && first != c.ua.Group {
			row.Differs = true
			row.Notes = append(row.Notes, fmt.Sprintf("the client offered %s and the upstream leg ran %s", first, c.ua.Group))
		}
	}
	if c.pok && c.uok && c.pa.Group != "" && c.pa.Group != c.ua.Group {
		row.Differs = true
		row.Notes = append(row.Notes, fmt.Sprintf("the server chose %s for the client's own hello (probe), %s for tlslens's", c.pa.Group, orNone(c.ua.Group)))
	}
	return row
}

// signatures compares the signature schemes offered with the one each
// leg's server signed with (its key exchange).
func (c *comparer) signatures() CompareRow {
	f := func(h *inspect.Hello) []string { return h.SignatureAlgorithms }
	var client, upstream []string
	if c.ch != nil {
		client = f(c.ch)
	}
	if c.uh != nil {
		upstream = f(c.uh)
	}
	row := c.list("signature schemes", "signature_algorithms", client, upstream, nil)
	for _, leg := range []struct {
		name string
		s    *inspect.Side
	}{{"client", c.r.Client}, {"upstream", c.r.Upstream}, {"probe", c.r.Probe}} {
		if leg.s != nil && leg.s.KeyExchange != nil && leg.s.KeyExchange.SignatureAlgorithm != "" {
			row.Chosen = append(row.Chosen, Choice{leg.name, leg.s.KeyExchange.SignatureAlgorithm})
		}
	}
	return row
}

// alpn compares the protocols offered and chosen: "h2 became http/1.1".
func (c *comparer) alpn() CompareRow {
	f := func(h *inspect.Hello) []string { return h.ALPN }
	var client, upstream []string
	if c.ch != nil {
		client = f(c.ch)
	}
	if c.uh != nil {
		upstream = f(c.uh)
	}
	row := c.list("ALPN", "alpn", client, upstream, nil)
	row.Chosen = c.chosen(func(a inspect.Agreement) string { return a.ALPN })
	for i := range row.Client {
		row.Client[i].Chosen = c.cok && row.Client[i].Value == c.ca.ALPN
	}
	for i := range row.Upstream {
		row.Upstream[i].Chosen = c.uok && row.Upstream[i].Value == c.ua.ALPN
	}
	if c.uok && len(client) > 0 && c.ua.ALPN != "" && c.ua.ALPN != client[0] {
		row.Differs = true
		row.Notes = append(row.Notes, fmt.Sprintf("%s became %s: the client preferred %s, the upstream leg ran %s", client[0], c.ua.ALPN, client[0], c.ua.ALPN))
	} else if c.cok && c.uok && c.ca.ALPN != c.ua.ALPN {
		row.Differs = true
		row.Notes = append(row.Notes, fmt.Sprintf("%s to the client, %s upstream", orNone(c.ca.ALPN), orNone(c.ua.ALPN)))
	}
	return row
}

// flag compares a one-value dimension of the two offers, with chosen (if
// not nil) giving each leg's choice.
func (c *comparer) flag(dim string, offer func(*inspect.Hello) string, chosen func(*inspect.Side) string) CompareRow {
	row := CompareRow{Dimension: dim}
	var cv, uv string
	if c.ch != nil {
		cv = offer(c.ch)
		row.Client = []Offered{{Value: cv}}
	}
	if c.uh != nil {
		uv = offer(c.uh)
		row.Upstream = []Offered{{Value: uv}}
		if c.ch != nil && cv != uv {
			row.Differs = true
			row.Notes = append(row.Notes, fmt.Sprintf("the client: %s; tlslens upstream: %s", cv, uv))
		}
	}
	if chosen != nil {
		for _, leg := range []struct {
			name string
			s    *inspect.Side
		}{{"client", c.r.Client}, {"upstream", c.r.Upstream}} {
			if v := chosen(leg.s); v != "" {
				row.Chosen = append(row.Chosen, Choice{leg.name, v})
			}
		}
	}
	return row
}

func keyShares(h *inspect.Hello) []string {
	var out []string
	for _, ks := range h.KeyShares {
		out = append(out, ks.Group+" ("+strconv.Itoa(ks.Length)+" bytes)")
	}
	return out
}

// keyShareOf is the group of a keyShares entry, "" for other values.
func keyShareOf(v string) string {
	g, _, ok := strings.Cut(v, " (")
	if !ok {
		return ""
	}
	return g
}

func echOffer(h *inspect.Hello) string {
	if !h.ECH {
		return "no"
	}
	if h.ECHType != "" {
		return "yes (" + h.ECHType + ")"
	}
	return "yes"
}

func resumptionOffer(h *inspect.Hello) string {
	var parts []string
	if h.SessionTicket {
		parts = append(parts, "session ticket")
	}
	if h.PSK {
		parts = append(parts, "pre_shared_key")
	}
	if len(h.PSKModes) > 0 {
		parts = append(parts, "psk modes "+strings.Join(h.PSKModes, ", "))
	}
	if h.EarlyData {
		parts = append(parts, "early data")
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, "; ")
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
