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
	chartWidth  = 560
	chartLabelW = 240
	chartValueW = 56
	chartRowH   = 28
	chartTop    = 30 // room for the legend
	chartRows   = 12
	labelChars  = 36
)

// newChart lays out a chart of offered against negotiated counts.
func newChart(title string, offered, negotiated []Count) chart {
	rows, dropped := merge(offered, negotiated, chartRows)
	c := chart{Title: title, Width: chartWidth, LabelX: chartLabelW - 8, BarX: chartLabelW, LegendX: chartLabelW + 80, Dropped: dropped}
	maxN := 0
	for _, r := range rows {
		maxN = max(maxN, r.Offered, r.Negotiated)
	}
	barW := chartWidth - chartLabelW - chartValueW
	scale := func(n int) int {
		if n == 0 || maxN == 0 {
			return 0
		}
		return max(1, n*barW/maxN) // a non-zero count stays visible
	}
	for i, r := range rows {
		y := chartTop + i*chartRowH
		cr := chartRow{
			Label: shorten(r.Name, labelChars), Full: r.Name,
			Y: y, NegotiatedY: y + 12, TextY: y + 15, OfferedTextY: y + 9, NegotiatedTextY: y + 21,
			OfferedW: scale(r.Offered), NegotiatedW: scale(r.Negotiated),
			Offered: strconv.Itoa(r.Offered), Negotiated: strconv.Itoa(r.Negotiated),
		}
		cr.OfferedEndX = chartLabelW + cr.OfferedW + 4
		cr.NegotiatedEndX = chartLabelW + cr.NegotiatedW + 4
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
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// viewBox is the SVG viewBox attribute of c.
func (c chart) ViewBox() string { return fmt.Sprintf("0 0 %d %d", c.Width, c.Height) }
