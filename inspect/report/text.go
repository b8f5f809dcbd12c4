package report

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
)

// textWidth is where detail lists wrap.
const textWidth = 100

// WriteText writes r as aligned plain-text tables for a terminal.
func (r *Report) WriteText(w io.Writer) error {
	t := &textWriter{w: w}
	t.header(r)
	t.badLines(r)
	t.outcomes(r)
	t.findings(r)
	t.weakOffers(r)
	t.readiness(r)
	t.distributions(r)
	t.clients(r)
	t.servers(r)
	return t.err
}

// textWriter writes sections through a tabwriter and keeps the first error.
type textWriter struct {
	w   io.Writer
	tw  *tabwriter.Writer
	err error
}

// table starts a section: a blank line, a title, and column headings.
func (t *textWriter) table(title string, cols ...string) {
	t.printf("\n%s\n", title)
	t.tw = tabwriter.NewWriter(t.w, 0, 0, 2, ' ', 0)
	if len(cols) > 0 {
		t.row(cols...)
	}
}

func (t *textWriter) row(cells ...string) {
	if t.err == nil {
		for i, c := range cells {
			cells[i] = strings.ReplaceAll(clean(c), "\t", " ")
		}
		_, t.err = io.WriteString(t.tw, strings.Join(cells, "\t")+"\n")
	}
}

func (t *textWriter) flush() {
	if t.err == nil {
		t.err = t.tw.Flush()
	}
}

func (t *textWriter) printf(format string, args ...any) {
	if t.err == nil {
		_, t.err = fmt.Fprintf(t.w, format, args...)
	}
}

// field writes "  key  value" rows, wrapping a long list of items over
// several rows.
func (t *textWriter) field(key string, items []string, more bool) {
	if len(items) == 0 {
		t.row("  "+key, "-")
		return
	}
	line := ""
	for i, it := range items {
		if i < len(items)-1 || more {
			it += ","
		}
		if line != "" && len(line)+1+len(it) > textWidth {
			t.row("  "+key, line)
			key, line = "", ""
		}
		if line != "" {
			line += " "
		}
		line += it
	}
	if more {
		line += " …"
	}
	t.row("  "+key, line)
}

func (t *textWriter) header(r *Report) {
	t.printf("tlslens report")
	if !r.Generated.IsZero() {
		t.printf(", generated %s", stamp(r.Generated))
	}
	t.printf("\n")
	t.tw = tabwriter.NewWriter(t.w, 0, 0, 2, ' ', 0)
	tot := r.Totals
	t.row("inputs", r.inputList())
	t.row("records", fmt.Sprintf("%d read, %d reported, %d filtered out", tot.Records, tot.Matched, tot.Filtered))
	t.row("skipped", fmt.Sprintf("%d log lines, %d bad lines", tot.LogLines, tot.BadLines))
	t.row("time", stamp(tot.First)+" to "+stamp(tot.Last))
	t.row("filter", r.Filter.String())
	t.row("clients", groupCount(tot.ClientGroups, tot.OtherClients, "JA4 fingerprints")+fmt.Sprintf("; %d records without a ClientHello", tot.NoHello))
	t.row("servers", groupCount(tot.ServerGroups, tot.OtherServers, "targets"))
	t.flush()
}

func (t *textWriter) badLines(r *Report) {
	if r.Totals.BadLines == 0 {
		return
	}
	t.table(fmt.Sprintf("BAD LINES (%d, first %d shown)", r.Totals.BadLines, len(r.BadLines)), "WHERE", "PROBLEM")
	for _, b := range r.BadLines {
		t.row(b.File+":"+strconv.Itoa(b.Line), b.Error)
	}
	t.flush()
}

func (t *textWriter) outcomes(r *Report) {
	t.table("OUTCOMES", "OUTCOME", "RECORDS", "SHARE")
	for _, o := range r.Outcomes {
		t.row(o.Name, strconv.Itoa(o.Count), percent(o.Count, r.Totals.Matched))
	}
	t.flush()
}

func (t *textWriter) findings(r *Report) {
	t.table("FINDINGS", "SEVERITY", "CODE", "COUNT", "SIDE", "TARGETS", "EXAMPLE")
	if len(r.Findings) == 0 {
		t.row("-", "none")
	}
	for _, f := range r.Findings {
		t.row(string(f.Severity), f.Code, strconv.Itoa(f.Count), join(names(f.Sides), false),
			short(f.Targets, f.More, 2), f.Message)
	}
	t.flush()
}

func (t *textWriter) weakOffers(r *Report) {
	t.table("WEAK OFFERS", "JA4", "RECORDS", "ADDRESSES", "SNIS", "OFFERS")
	if len(r.WeakOffers) == 0 {
		t.row("-", "none")
	}
	for _, o := range r.WeakOffers {
		t.row(o.JA4, strconv.Itoa(o.Count), short(o.Addresses, false, 2), short(o.SNIs, false, 2), join(o.Offers, false))
	}
	t.flush()
}

func (t *textWriter) readiness(r *Report) {
	head := make([]string, len(readinessHead))
	for i, h := range readinessHead {
		head[i] = strings.ToUpper(h)
	}
	t.table("READINESS (of each client's connections; PQ: post-quantum key exchange, HRR: HelloRetryRequest on either leg)", head...)
	if len(r.Readiness) == 0 {
		t.row("-", "none")
	}
	for _, row := range r.Readiness {
		t.row(readinessCells(row)...)
	}
	t.flush()
}

func (t *textWriter) distributions(r *Report) {
	for _, d := range r.dimensions() {
		rows, dropped := merge(d.Offered, d.Negotiated, distRows)
		t.table(strings.ToUpper(d.Title), "NAME", "OFFERED", "NEGOTIATED")
		if len(rows) == 0 {
			t.row("-", "none")
		}
		for _, x := range rows {
			t.row(x.Name, strconv.Itoa(x.Offered), strconv.Itoa(x.Negotiated))
		}
		if dropped > 0 {
			t.row(fmt.Sprintf("… %d more", dropped))
		}
		t.flush()
	}
}

func (t *textWriter) clients(r *Report) {
	tot := r.Totals
	t.table(fmt.Sprintf("CLIENTS (%d JA4 fingerprints, %d shown)", tot.ClientGroups, len(r.Clients)),
		"RECORDS", "JA4", "VERSIONS", "WEAK", "LAST SEEN", "SNIS")
	for _, c := range r.Clients {
		weak := "-"
		if len(c.WeakOffers) > 0 {
			weak = strconv.Itoa(len(c.WeakOffers))
		}
		t.row(strconv.Itoa(c.Count), c.JA4, join(countList(c.Versions, c.Count), false),
			weak, stamp(c.LastSeen), short(c.SNIs, c.MoreSNIs, 3))
	}
	t.flush()
	for _, c := range r.Clients {
		t.printf("\nCLIENT %s (%d records)\n", c.JA4, c.Count)
		t.tw = tabwriter.NewWriter(t.w, 0, 0, 2, ' ', 0)
		if c.JA4R != "" {
			t.field("ja4_r", []string{c.JA4R}, false)
		}
		t.field("ja3n", c.JA3N, false)
		t.field("seen", []string{stamp(c.FirstSeen) + " to " + stamp(c.LastSeen)}, false)
		t.field("snis", c.SNIs, c.MoreSNIs)
		t.field("addresses", c.Addresses, c.MoreAddresses)
		t.field("versions", countList(c.Versions, c.Count), false)
		t.field("cipher suites", countList(c.CipherSuites, c.Count), false)
		t.field("groups", countList(c.Groups, c.Count), false)
		t.field("signatures", countList(c.SignatureAlgorithms, c.Count), false)
		t.field("alpn", countList(c.ALPN, c.Count), false)
		t.field("weak offers", countList(c.WeakOffers, c.Count), false)
		t.field("outcomes", countList(c.Outcomes, -1), false)
		if len(c.Alerts) > 0 {
			t.field("alerts sent", countList(c.Alerts, -1), false)
		}
		t.flush()
	}
}

func (t *textWriter) servers(r *Report) {
	t.table(fmt.Sprintf("SERVERS (%d targets, %d shown)", r.Totals.ServerGroups, len(r.Servers)),
		"RECORDS", "TARGET", "VERSION", "CIPHER SUITE", "GROUP", "VERIFIED", "PROBLEMS")
	for _, s := range r.Servers {
		t.row(strconv.Itoa(s.Count), s.Target, first(s.Versions), first(s.CipherSuites), first(s.Groups),
			verified(s), join(names(s.Problems), false))
	}
	t.flush()
	for _, s := range r.Servers {
		t.printf("\nSERVER %s (%d records)\n", s.Target, s.Count)
		t.tw = tabwriter.NewWriter(t.w, 0, 0, 2, ' ', 0)
		t.field("addresses", s.Addresses, s.MoreAddresses)
		t.field("seen", []string{stamp(s.FirstSeen) + " to " + stamp(s.LastSeen)}, false)
		t.field("versions", countList(s.Versions, s.Handshakes), false)
		t.field("cipher suites", countList(s.CipherSuites, s.Handshakes), false)
		t.field("groups", countList(s.Groups, s.Handshakes), false)
		t.field("alpn", countList(s.ALPN, s.Handshakes), false)
		t.field("key exchange", countList(s.KeyExchange, s.Handshakes), false)
		t.field("leaf", []string{leafText(s.Leaf)}, false)
		t.field("verification", []string{verifyText(s)}, false)
		t.field("problems", countList(s.Problems, -1), false)
		if len(s.Errors) > 0 {
			t.field("errors", countList(s.Errors, -1), false)
		}
		t.field("outcomes", countList(s.Outcomes, -1), false)
		t.flush()
	}
}

// verified is "ok/all" for the records whose chain was verified.
func verified(s Server) string {
	if s.VerifyOK+s.VerifyFailed == 0 {
		return "-"
	}
	return fmt.Sprintf("%d/%d", s.VerifyOK, s.VerifyOK+s.VerifyFailed)
}
