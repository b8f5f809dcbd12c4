package report

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Formats lists the names Write accepts.
var Formats = []string{"text", "json", "markdown", "html"}

// Write renders r to w in format, one of Formats.
func (r *Report) Write(w io.Writer, format string) error {
	switch format {
	case "text", "":
		return r.WriteText(w)
	case "json":
		return r.WriteJSON(w)
	case "markdown", "md":
		return r.WriteMarkdown(w)
	case "html":
		return r.WriteHTML(w)
	}
	return fmt.Errorf("report: unknown format %q (want %s)", format, strings.Join(Formats, ", "))
}

// WriteJSON writes r as one indented JSON object.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// countList shows counts as "TLS 1.3, TLS 1.2 (40)": a count only where it
// differs from all, the group's record count.
func countList(cs []Count, all int) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		if c.Count == all {
			out[i] = c.Name
		} else {
			out[i] = c.Name + " (" + strconv.Itoa(c.Count) + ")"
		}
	}
	return out
}

// join joins names with ", ", "-" when there are none, "…" when more were
// dropped.
func join(items []string, more bool) string {
	if len(items) == 0 {
		return "-"
	}
	s := clean(strings.Join(items, ", "))
	if more {
		s += ", …"
	}
	return s
}

// short is join of the first n items, ending in "…" when there were more.
func short(items []string, more bool, n int) string {
	if len(items) > n {
		return join(items[:n], true)
	}
	return join(items, more)
}

// clean makes s safe to print on a terminal: control characters (an SNI can
// hold an escape sequence) and invalid UTF-8 are shown escaped, as in Go.
func clean(s string) string {
	ok := utf8.ValidString(s) && !strings.ContainsFunc(s, unicode.IsControl)
	if ok {
		return s
	}
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == utf8.RuneError && !strings.HasPrefix(s[i:], "\uFFFD"):
			fmt.Fprintf(&b, "\\x%02x", s[i])
		case unicode.IsControl(r):
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// groupCount says how many groups there are: "3 JA4 fingerprints", or past
// the cap "10000 JA4 fingerprints, and 512 records of others under (other)".
func groupCount(groups, otherRecords int, noun string) string {
	if otherRecords == 0 {
		return fmt.Sprintf("%d %s", groups, noun)
	}
	return fmt.Sprintf("%d %s, and %d records of others under %s", groups-1, noun, otherRecords, other)
}

// stamp formats a time for people: UTC, to the second.
func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func percent(n, of int) string {
	if of == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", 100*float64(n)/float64(of))
}

// String describes the filter, "none" when empty.
func (f Filter) String() string {
	var parts []string
	if !f.Since.IsZero() {
		parts = append(parts, "since "+stamp(f.Since))
	}
	if !f.Until.IsZero() {
		parts = append(parts, "until "+stamp(f.Until))
	}
	if f.Client != "" {
		parts = append(parts, "client "+f.Client)
	}
	if f.Target != "" {
		parts = append(parts, "target "+f.Target)
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// inputList describes the inputs: "a.jsonl (1000 lines), - (20 lines, gzip)".
func (r *Report) inputList() string {
	var parts []string
	for _, in := range r.Inputs {
		s := fmt.Sprintf("%s (%d lines", in.Name, in.Lines)
		if in.Gzip {
			s += ", gzip"
		}
		if in.Error != "" {
			s += ", stopped early: " + in.Error
		}
		parts = append(parts, s+")")
	}
	return join(parts, false)
}

// row is one line of a merged offered/negotiated distribution table.
type row struct {
	Name                string
	Offered, Negotiated int
}

// merge lines up an offered and a negotiated distribution by name, offered
// order first, keeping at most n rows (all when n is 0) and reporting how
// many were dropped.
func merge(offered, negotiated []Count, n int) (rows []row, dropped int) {
	idx := make(map[string]int)
	for _, c := range offered {
		idx[c.Name] = len(rows)
		rows = append(rows, row{Name: c.Name, Offered: c.Count})
	}
	for _, c := range negotiated {
		if i, ok := idx[c.Name]; ok {
			rows[i].Negotiated = c.Count
			continue
		}
		rows = append(rows, row{Name: c.Name, Negotiated: c.Count})
	}
	if n > 0 && len(rows) > n {
		return rows[:n], len(rows) - n
	}
	return rows, 0
}

// distRows is how many rows a distribution table shows.
const distRows = 15

// A dimension is one distribution table: offered against negotiated.
type dimension struct {
	Title               string
	Offered, Negotiated []Count
}

// dimensions returns the distribution tables a report shows, in order.
func (r *Report) dimensions() []dimension {
	return []dimension{
		{"Versions", r.Offered.Versions, r.Negotiated.Versions},
		{"Cipher suites", r.Offered.CipherSuites, r.Negotiated.CipherSuites},
		{"Groups", r.Offered.Groups, r.Negotiated.Groups},
		{"Signature schemes", r.Offered.SignatureAlgorithms, r.Negotiated.SignatureAlgorithms},
	}
}

// verifyText summarises a server's verification: "12 ok", "3 failed: …".
func verifyText(s Server) string {
	var parts []string
	if s.VerifyOK > 0 {
		parts = append(parts, fmt.Sprintf("%d ok", s.VerifyOK))
	}
	if s.VerifyFailed > 0 {
		f := fmt.Sprintf("%d failed", s.VerifyFailed)
		if len(s.VerifyErrors) > 0 {
			f += ": " + strings.Join(countList(s.VerifyErrors, s.VerifyFailed), "; ")
		}
		parts = append(parts, f)
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ", ")
}

// leafText summarises a leaf: "CN=a.test by CN=CA, ECDSA P-256, SHA256-RSA, until 2027-01-01T00:00:00Z, chain of 2".
func leafText(l *Leaf) string {
	if l == nil {
		return "-"
	}
	var parts []string
	s := l.Subject
	if l.Issuer != "" {
		s += " issued by " + l.Issuer
	}
	parts = append(parts, s)
	parts = append(parts, nonEmpty(l.Key, l.Signature)...)
	if l.NotAfter != "" {
		parts = append(parts, "expires "+l.NotAfter)
	}
	parts = append(parts, fmt.Sprintf("chain of %d", l.Chain))
	return strings.Join(parts, ", ")
}

// first returns the most frequent name of cs, "-" when empty.
func first(cs []Count) string {
	if len(cs) == 0 {
		return "-"
	}
	if len(cs) == 1 {
		return cs[0].Name
	}
	return fmt.Sprintf("%s (+%d)", cs[0].Name, len(cs)-1)
}
