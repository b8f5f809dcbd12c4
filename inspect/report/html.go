package report

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"strconv"
)

//go:embed report.html.tmpl
var htmlSource string

// htmlTemplate is parsed once; it is read-only after.
var htmlTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"join":        join,
	"names":       names,
	"counts":      countList,
	"stamp":       stamp,
	"percent":     percent,
	"leaf":        leafText,
	"verify":      verifyText,
	"first":       first,
	"itoa":        strconv.Itoa,
	"share":       share,
	"sevClass":    func(s any) string { return fmt.Sprintf("sev-%s", s) },
	"fingerprint": func(s string) bool { return s != other && s != "(no JA4)" },
}).Parse(htmlSource))

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
