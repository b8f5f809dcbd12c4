package report

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"strconv"
	"time"
)

//go:embed report.html.tmpl
var htmlSource string

// CompareTemplate defines the template "compare": one connection's
// Comparison as the three-column table (the client offered | tlslens offered
// the server | each side chose), with the styles of CSS. The HTML report
// shows it for an example connection of each client fingerprint, and the web
// view's connection page parses it beside its own template.
//
//go:embed compare.html.tmpl
var CompareTemplate string

// CSS is the stylesheet of the HTML report, shared with tlslens's web view
// so that both read alike: its colours (--offered, --negotiated, --bad,
// --warn), tables, tags and severity badges.
//
//go:embed style.css
var CSS string

// htmlTemplate is parsed once; it is read-only after.
var htmlTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"join":        join,
	"names":       names,
	"counts":      countList,
	"stamp":       stamp,
	"percent":     percent,
	"share":       share,
	"sevClass":    func(s any) string { return fmt.Sprintf("sev-%s", s) },
	"expired":     expired,
	"day":         day,
	"clock":       clock,
	"css":         func() template.CSS { return template.CSS(CSS) },
	"frac":        frac,
	"weakVersion": weakVersion,
}).Parse(htmlSource + CompareTemplate))

// frac is k of n connections as "k/n", "-" for none.
func frac(k, n int) string {
	if k == 0 {
		return "-"
	}
	return strconv.Itoa(k) + "/" + strconv.Itoa(n)
}

// expired reports whether a certificate's not_after is before now; false
// when either is unknown.
func expired(notAfter string, now time.Time) bool {
	t, err := time.Parse(time.RFC3339, notAfter)
	return err == nil && !now.IsZero() && t.Before(now)
}

// day is the date of t (a time.Time or an RFC 3339 string), "-" when unknown.
func day(t any) string {
	switch t := t.(type) {
	case time.Time:
		if !t.IsZero() {
			return t.UTC().Format(time.DateOnly)
		}
	case string:
		if p, err := time.Parse(time.RFC3339, t); err == nil {
			return p.UTC().Format(time.DateOnly)
		}
		return t
	}
	return "-"
}

// clock is the time of day of t in UTC.
func clock(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("15:04:05Z")
}

// share is n as a percentage of of, for a CSS width.
func share(n, of int) string {
	if of == 0 {
		return "0%"
	}
	return fmt.Sprintf("%.1f%%", 100*float64(n)/float64(of))
}

// A card is one headline number at the top of the page.
type card struct {
	Label, Value string
	Alert        bool // worth a reader's attention: drawn in red
}

type htmlView struct {
	*Report
	Cards  []card
	Charts []chart
	Inputs string
}

// WriteHTML writes r as one self-contained HTML page: inline CSS and inline
// SVG bar charts of the version, cipher suite, group and signature scheme
// distributions. It loads nothing: no scripts, fonts, images or links to
// other pages.
func (r *Report) WriteHTML(w io.Writer) error {
	tot := r.Totals
	critical := 0
	for _, f := range r.Findings {
		if f.Severity == "critical" {
			critical += f.Count
		}
	}
	v := htmlView{
		Report: r,
		Inputs: r.inputList(),
		Cards: []card{
			{"records reported", strconv.Itoa(tot.Matched), false},
			{"client fingerprints", strconv.Itoa(tot.ClientGroups), false},
			{"targets", strconv.Itoa(tot.ServerGroups), false},
			{"clients with weak offers", strconv.Itoa(len(r.WeakOffers)), len(r.WeakOffers) > 0},
			{"critical findings", strconv.Itoa(critical), critical > 0},
			{"bad lines", strconv.Itoa(tot.BadLines), tot.BadLines > 0},
		},
	}
	for _, d := range r.dimensions() {
		v.Charts = append(v.Charts, newChart(d.Title, d.Offered, d.Negotiated))
	}
	if err := htmlTemplate.Execute(w, v); err != nil {
		return fmt.Errorf("report: html: %w", err)
	}
	return nil
}
