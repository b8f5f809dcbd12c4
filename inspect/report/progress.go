package report

import (
	"fmt"
	"io"
	"strings"
)

// A Progress draws a one-line progress bar of bytes read out of a known
// total, for a terminal: "reading  42% [########------------] 420.0 MB of
// 1.0 GB". It redraws only when the shown tenth of a percent changes, so it
// needs no clock and costs nothing per read. It is not safe for concurrent
// use.
type Progress struct {
	w     io.Writer
	total int64
	read  int64
	shown int64 // tenths of a percent last drawn; -1 before the first draw
	err   error // the first write error: drawing stops, reading does not
}

// NewProgress returns a Progress drawing on w (usually a terminal's stderr)
// for total bytes.
func NewProgress(w io.Writer, total int64) *Progress {
	return &Progress{w: w, total: max(total, 1), shown: -1}
}

// Reader returns r counting its bytes into p.
func (p *Progress) Reader(r io.Reader) io.Reader {
	return &progressReader{r: r, p: p}
}

// Done draws the final state and ends the line.
func (p *Progress) Done() {
	p.draw()
	if p.err == nil {
		_, p.err = io.WriteString(p.w, "\n")
	}
}

type progressReader struct {
	r io.Reader
	p *Progress
}

func (pr *progressReader) Read(b []byte) (int, error) {
	n, err := pr.r.Read(b)
	if n > 0 {
		p := pr.p
		p.read += int64(n)
		if p.permille() != p.shown {
			p.draw()
		}
	}
	return n, err
}

func (p *Progress) permille() int64 {
	return min(p.read*1000/p.total, 1000)
}

const barWidth = 30

func (p *Progress) draw() {
	if p.err != nil {
		return
	}
	pm := p.permille()
	p.shown = pm
	fill := int(pm * barWidth / 1000)
	_, p.err = fmt.Fprintf(p.w, "\rreading %5.1f%% [%s%s] %s of %s",
		float64(pm)/10, strings.Repeat("#", fill), strings.Repeat("-", barWidth-fill),
		humanBytes(p.read), humanBytes(p.total))
}

// humanBytes formats n in decimal units: "420.0 MB".
func humanBytes(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %cB", float64(n)/float64(div), "kMGTPE"[exp])
}
