package web

import (
	"slices"
	"strings"
)

// A Query is the live list's filter, the same on the page (app.js) and on
// the server (/records.jsonl). Every part set must match; the zero Query
// matches every row. Matching ignores case.
type Query struct {
	Host    string   // in the target or the SNI
	Outcome string   // the outcome, or its start: "upstream" matches every upstream_* outcome
	JA4     string   // in the client's JA4
	Code    string   // a finding code, exactly
	Text    []string // each in the row anywhere: id, target, SNI, versions, suites, groups, ALPN, codes, error
}

// ParseQuery reads the filter box's syntax: words separated by spaces,
// "host:", "outcome:", "ja4:" and "code:" words setting those parts (the
// last one wins), every other word free text.
func ParseQuery(s string) Query {
	var q Query
	for _, w := range strings.Fields(strings.ToLower(s)) {
		key, val, ok := strings.Cut(w, ":")
		switch {
		case ok && key == "host":
			q.Host = val
		case ok && key == "outcome":
			q.Outcome = val
		case ok && key == "ja4":
			q.JA4 = val
		case ok && key == "code":
			q.Code = val
		default:
			q.Text = append(q.Text, w)
		}
	}
	return q
}

// Match reports whether row passes q.
func (q Query) Match(row *Row) bool {
	has := func(s, sub string) bool { return strings.Contains(strings.ToLower(s), sub) }
	switch {
	case q.Host != "" && !has(row.Target, q.Host) && !has(row.SNI, q.Host):
		return false
	case q.Outcome != "" && !strings.HasPrefix(row.Outcome, q.Outcome):
		return false
	case q.JA4 != "" && !has(row.JA4, q.JA4):
		return false
	case q.Code != "" && !slices.Contains(row.Codes, q.Code):
		return false
	}
	if len(q.Text) == 0 {
		return true
	}
	hay := strings.ToLower(row.text())
	for _, t := range q.Text {
		if !strings.Contains(hay, t) {
			return false
		}
	}
	return true
}

// text is what free text is looked for in, the same fields as app.js's.
func (row *Row) text() string {
	parts := []string{row.ID, row.Mode, row.Outcome, row.Target, row.SNI, row.JA4, row.Error}
	for _, l := range []*Leg{row.Client, row.Upstream} {
		if l != nil {
			parts = append(parts, l.Version, l.Suite, l.Group, l.ALPN)
		}
	}
	parts = append(parts, row.Codes...)
	return strings.Join(parts, " ")
}
