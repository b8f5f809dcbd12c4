package report

import (
	"fmt"
	"io"
	"strconv"
	"strings"
)

// WriteMarkdown writes r as GitHub-flavoured Markdown: headings and tables.
func (r *Report) WriteMarkdown(w io.Writer) error {
	m := &mdWriter{w: w}
	tot := r.Totals
	m.printf("# tlslens report\n\n")
	if !r.Generated.IsZero() {
		m.printf("Generated %s.\n\n", stamp(r.Generated))
	}
	m.table([]string{"Summary", ""},
		[]string{"Inputs", r.inputList()},
		[]string{"Records", fmt.Sprintf("%d read, %d reported, %d filtered out", tot.Records, tot.Matched, tot.Filtered)},
		[]string{"Skipped", fmt.Sprintf("%d log lines, %d bad lines", tot.LogLines, tot.BadLines)},
		[]string{"Time", stamp(tot.First) + " to " + stamp(tot.Last)},
		[]string{"Filter", r.Filter.String()},
		[]string{"Clients", groupCount(tot.ClientGroups, tot.OtherClients, "JA4 fingerprints") + fmt.Sprintf("; %d records without a ClientHello", tot.NoHello)},
		[]string{"Servers", groupCount(tot.ServerGroups, tot.OtherServers, "targets")},
	)

	if tot.BadLines > 0 {
		m.printf("## Bad lines\n\n%d bad lines, the first %d:\n\n", tot.BadLines, len(r.BadLines))
		rows := [][]string{}
		for _, b := range r.BadLines {
			rows = append(rows, []string{b.File, strconv.Itoa(b.Line), b.Error})
		}
		m.table([]string{"File", "Line", "Problem"}, rows...)
	}

	m.printf("## Outcomes\n\n")
	rows := [][]string{}
	for _, o := range r.Outcomes {
		rows = append(rows, []string{o.Name, strconv.Itoa(o.Count), percent(o.Count, tot.Matched)})
	}
	m.table([]string{"Outcome", "Records", "Share"}, rows...)

	m.printf("## Findings\n\n")
	rows = rows[:0]
	for _, f := range r.Findings {
		rows = append(rows, []string{string(f.Severity), f.Code, strconv.Itoa(f.Count),
			join(names(f.Sides), false), join(f.Targets, f.More), f.Message})
	}
	m.table([]string{"Severity", "Code", "Count", "Side", "Targets", "Example"}, rows...)

	m.printf("## Weak offers\n\n")
	rows = rows[:0]
	for _, o := range r.WeakOffers {
		rows = append(rows, []string{code(o.JA4), strconv.Itoa(o.Count), join(o.Offers, false),
			join(o.SNIs, false), join(o.Addresses, false)})
	}
	m.table([]string{"JA4", "Records", "Offers", "SNIs", "Addresses"}, rows...)

	m.printf("## Readiness\n\nPer client (its identity, or its JA4 when unidentified): of its connections, how many offered a post-quantum (PQ) group, sent a PQ key share, agreed one on each leg, went through a HelloRetryRequest (HRR) on either leg, offered ECH; the lowest version and the weak suites offered.\n\n")
	rows = rows[:0]
	for _, row := range r.Readiness {
		rows = append(rows, readinessCells(row))
	}
	m.table(readinessHead, rows...)

	for _, d := range r.dimensions() {
		m.printf("## %s\n\n", d.Title)
		drows, dropped := merge(d.Offered, d.Negotiated, distRows)
		rows = rows[:0]
		for _, x := range drows {
			rows = append(rows, []string{x.Name, strconv.Itoa(x.Offered), strconv.Itoa(x.Negotiated)})
		}
		if dropped > 0 {
			rows = append(rows, []string{fmt.Sprintf("… %d more", dropped), "", ""})
		}
		m.table([]string{"Name", "Offered", "Negotiated"}, rows...)
	}

	m.printf("## Clients\n\n%d JA4 fingerprints, %d shown.\n\n", tot.ClientGroups, len(r.Clients))
	rows = rows[:0]
	for _, c := range r.Clients {
		rows = append(rows, []string{code(c.JA4), strconv.Itoa(c.Count), join(c.JA3N, false),
			join(countList(c.Versions, c.Count), false), join(countList(c.CipherSuites, c.Count), false),
			join(countList(c.Groups, c.Count), false), join(countList(c.SignatureAlgorithms, c.Count), false),
			join(names(c.WeakOffers), false), join(c.SNIs, c.MoreSNIs), join(c.Addresses, c.MoreAddresses),
			stamp(c.FirstSeen), stamp(c.LastSeen), join(countList(c.Outcomes, -1), false)})
	}
	m.table([]string{"JA4", "Records", "JA3N", "Versions", "Cipher suites", "Groups", "Signature schemes",
		"Weak offers", "SNIs", "Addresses", "First seen", "Last seen", "Outcomes"}, rows...)

	m.printf("## Servers\n\n%d targets, %d shown.\n\n", tot.ServerGroups, len(r.Servers))
	rows = rows[:0]
	for _, s := range r.Servers {
		rows = append(rows, []string{s.Target, strconv.Itoa(s.Count), join(s.Addresses, s.MoreAddresses),
			join(countList(s.Versions, s.Handshakes), false), join(countList(s.CipherSuites, s.Handshakes), false),
			join(countList(s.Groups, s.Handshakes), false), join(countList(s.KeyExchange, s.Handshakes), false),
			leafText(s.Leaf), verifyText(s), join(countList(s.Problems, -1), false),
			join(countList(s.Outcomes, -1), false)})
	}
	m.table([]string{"Target", "Records", "Addresses", "Versions", "Cipher suites", "Groups", "Key exchange",
		"Leaf", "Verification", "Problems", "Outcomes"}, rows...)
	return m.err
}

type mdWriter struct {
	w   io.Writer
	err error
}

func (m *mdWriter) printf(format string, args ...any) {
	if m.err == nil {
		_, m.err = fmt.Fprintf(m.w, format, args...)
	}
}

// table writes a Markdown table; with no rows, a line saying so.
func (m *mdWriter) table(head []string, rows ...[]string) {
	if len(rows) == 0 {
		m.printf("None.\n\n")
		return
	}
	m.printf("| %s |\n|", strings.Join(head, " | "))
	for range head {
		m.printf(" --- |")
	}
	m.printf("\n")
	for _, r := range rows {
		cells := make([]string, len(r))
		for i, c := range r {
			cells[i] = mdEscape(c)
		}
		m.printf("| %s |\n", strings.Join(cells, " | "))
	}
	m.printf("\n")
}

// mdEscaper keeps a cell inside its table cell: pipes escaped, newlines
// flattened, and emphasis, link and HTML characters escaped so that a hostile
// SNI cannot inject markup. Underscores stay: GFM does not emphasise inside
// words, and TLS_AES_128_GCM_SHA256 should read as itself.
var mdEscaper = strings.NewReplacer(
	"|", `\|`, "\n", " ", "\r", " ", `\`, `\\`, "*", `\*`, "[", `\[`, "]", `\]`,
	"<", "&lt;", ">", "&gt;", "`", "\\`",
)

func mdEscape(s string) string {
	if isCode(s) {
		return s
	}
	return mdEscaper.Replace(clean(s))
}

// code formats s as inline code when it is a plain token like a JA4.
func code(s string) string {
	if s == "" || strings.ContainsFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_')
	}) {
		return s
	}
	return "`" + s + "`"
}

// isCode reports whether s is what code made of a plain token.
func isCode(s string) bool {
	return len(s) > 2 && s[0] == '`' && s[len(s)-1] == '`' && code(s[1:len(s)-1]) == s
}
