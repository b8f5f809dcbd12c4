package report

import (
	"fmt"
	"strconv"
	"unicode/utf8"
)

// A chart is a horizontal bar chart drawn as inline SVG by report.html.tmpl:
// for each name, a bar for how many records offered it and one for how many
// negotiated it, scaled to the largest count.
type chart struct {
	Title   string
	Width   int
	Height  int
	LabelX  int // right edge of the labels
	BarX    int // left edge of the bars
	LegendX int // left edge of the second legend entry
	Rows    []chartRow
	Dropped int // names left out, the least frequent
	Empty   bool
}

type chartRow struct {
	Label, Full     string // Label shortened to fit; Full in the tooltip
	Y, NegotiatedY  int    // tops of the two bars
	TextY           int    // baseline of the label
	OfferedW        int    // bar widths
	NegotiatedW     int
	Offered         string // counts, drawn after the bars
	Negotiated      string
	OfferedEndX     int
	NegotiatedEndX  int
	OfferedTextY    int
	NegotiatedTextY int
}

// Chart geometry, in SVG user units (the viewBox; the page scales it).
const (
	chartWidth     = 560
	chartValueW    = 48
	chartRowH      = 28
	chartTop       = 30 // room for the legend
	chartRows      = 12
	chartMaxLabelW = 300 // longer labels are shortened
	chartMinLabelW = 90
)

// newChart lays out a chart of offered against negotiated counts.
func newChart(title string, offered, negotiated []Count) chart {
	rows, dropped := merge(offered, negotiated, chartRows)
	labelW := chartMinLabelW
	for _, r := range rows {
		labelW = max(labelW, textWidth11(r.Name)+16)
	}
	labelW = min(labelW, chartMaxLabelW)
	c := chart{Title: title, Width: chartWidth, LabelX: labelW - 8, BarX: labelW, LegendX: labelW + 80, Dropped: dropped}
	maxN := 0
	for _, r := range rows {
		maxN = max(maxN, r.Offered, r.Negotiated)
	}
	barW := chartWidth - labelW - chartValueW
	scale := func(n int) int {
		if n == 0 || maxN == 0 {
			return 0
		}
		return max(1, n*barW/maxN) // a non-zero count stays visible
	}
	for i, r := range rows {
		y := chartTop + i*chartRowH
		cr := chartRow{
			Label: fit(r.Name, chartMaxLabelW-16), Full: r.Name,
			Y: y, NegotiatedY: y + 12, TextY: y + 15, OfferedTextY: y + 9, NegotiatedTextY: y + 21,
			OfferedW: scale(r.Offered), NegotiatedW: scale(r.Negotiated),
			Offered: strconv.Itoa(r.Offered), Negotiated: strconv.Itoa(r.Negotiated),
		}
		cr.OfferedEndX = labelW + cr.OfferedW + 4
		cr.NegotiatedEndX = labelW + cr.NegotiatedW + 4
		c.Rows = append(c.Rows, cr)
	}
	c.Empty = len(rows) == 0
	c.Height = chartTop + max(len(rows), 1)*chartRowH + 6
	return c
}

// shorten cuts s to n runes, ending in "…" when cut.
func shorten(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}

// textWidth11 estimates the width of s in 11px DejaVu Sans, the labels'
// font where no system-ui font is installed: capitals and digits are wider
// than lower case. An estimate is enough to size the label column.
func textWidth11(s string) int {
	w := 0.0
	for _, r := range s {
		switch {
		case r == 'M' || r == 'W' || r == 'm' || r == 'w':
			w += 9.6
		case r >= 'A' && r <= 'Z':
			w += 7.8
		case r >= '0' && r <= '9':
			w += 7.0
		case r == '_':
			w += 5.5
		case r == ' ' || r == '.' || r == ',' || r == 'i' || r == 'l' || r == 'j' || r == 't' || r == 'f':
			w += 3.6
		default:
			w += 6.6
		}
	}
	return int(w + 0.5)
}

// fit shortens s, ending in "…", until it is estimated to fit in px.
func fit(s string, px int) string {
	if textWidth11(s) <= px {
		return s
	}
	r := []rune(s)
	for len(r) > 1 && textWidth11(string(r))+7 > px {
		r = r[:len(r)-1]
	}
	return string(r) + "…"
}

// viewBox is the SVG viewBox attribute of c.
func (c chart) ViewBox() string { return fmt.Sprintf("0 0 %d %d", c.Width, c.Height) }
