package report

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

var keep = flag.String("keep", "", "write the rendered test reports into this directory, to look at them")

// sample is the report the rendering tests draw: generated records, a log
// line, bad lines, and a hostile SNI that must come out escaped.
func sample(t *testing.T) (*Report, genFile) {
	t.Helper()
	g := genLines(t, 700)
	hostile := genRecord(1)
	h := *hostile.Client.Hello
	h.SNI = `<script>alert("x")</script>|*evil*` + "\x1b[2J"
	hostile.Client.Hello = &h
	extra, err := json.Marshal(line{Msg: "handshake", Record: *hostile})
	if err != nil {
		t.Fatal(err)
	}
	g.records = append(g.records, hostile)
	data := append(append([]byte{}, g.data...), extra...)
	opts := Options{Now: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)}
	return build(t, opts, "records.jsonl", data), g
}

func render(t *testing.T, r *Report, format string) string {
	t.Helper()
	var b bytes.Buffer
	if err := r.Write(&b, format); err != nil {
		t.Fatalf("Write(%s): %v", format, err)
	}
	if *keep != "" {
		ext := map[string]string{"text": "txt", "json": "json", "markdown": "md", "html": "html"}[format]
		if err := os.WriteFile(filepath.Join(*keep, "report."+ext), b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}

func TestWriteText(t *testing.T) {
	r, g := sample(t)
	out := render(t, r, "text")
	w := expect(g.records)
	for ja4, c := range w.clients {
		// The summary row: count then JA4, in aligned columns.
		if !regexp.MustCompile(`(?m)^` + strconv.Itoa(c.count) + ` +` + regexp.QuoteMeta(ja4) + ` `).MatchString(out) {
			t.Errorf("no summary row %q with count %d", ja4, c.count)
		}
		if !strings.Contains(out, "CLIENT "+ja4+" ("+strconv.Itoa(c.count)+" records)") {
			t.Errorf("no detail block for %s", ja4)
		}
		for _, sni := range c.snis[:min(len(c.snis), DefaultMaxExamples)] {
			if !strings.Contains(out, clean(sni)) {
				t.Errorf("SNI %q of %s missing", sni, ja4)
			}
		}
	}
	for _, want := range []string{
		"CLIENTS (3 JA4 fingerprints, 3 shown)",
		"SERVERS (5 targets, 5 shown)",
		"TLS_RSA_WITH_RC4_128_SHA",
		"certificate_expired",
		"x509: certificate has expired",
		"records.jsonl:" + strconv.Itoa(g.bad[0]),
		"generated 2026-11-23T09:00:00Z",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("text report lacks %q", want)
		}
	}
	if strings.Contains(out, "\x1b") || !strings.Contains(out, `*evil*\x1b[2J`) {
		t.Error("the SNI's escape sequence reaches the terminal unescaped")
	}
	// Columns line up: in the OUTCOMES table, every count starts where the
	// RECORDS heading does.
	sec := out[strings.Index(out, "OUTCOME "):]
	sec = sec[:strings.Index(sec, "\n\n")]
	lines := strings.Split(sec, "\n")
	col := strings.Index(lines[0], "RECORDS")
	for _, l := range lines[1:] {
		if len(l) <= col || l[col-1] != ' ' || l[col] == ' ' {
			t.Errorf("outcome row %q not aligned at column %d", l, col)
		}
	}
}

func TestWriteJSON(t *testing.T) {
	r, g := sample(t)
	out := render(t, r, "json")
	var got Report
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("decoding the JSON report: %v", err)
	}
	checkReport(t, &got, g.records)
	if got.Totals != r.Totals || len(got.BadLines) != len(g.bad) {
		t.Errorf("decoded totals %+v, %d bad lines; want %+v, %d", got.Totals, len(got.BadLines), r.Totals, len(g.bad))
	}
}

func TestWriteMarkdown(t *testing.T) {
	r, g := sample(t)
	out := render(t, r, "markdown")
	w := expect(g.records)
	for ja4, c := range w.clients {
		if !strings.Contains(out, "| `"+ja4+"` | "+strconv.Itoa(c.count)+" |") {
			t.Errorf("no table row for %s with %d records", ja4, c.count)
		}
	}
	for target, s := range w.servers {
		if !strings.Contains(out, "| "+target+" | "+strconv.Itoa(s.count)+" |") {
			t.Errorf("no table row for %s with %d records", target, s.count)
		}
	}
	for _, h := range []string{"## Outcomes", "## Findings", "## Weak offers", "## Clients", "## Servers", "## Bad lines"} {
		if !strings.Contains(out, "\n"+h+"\n") {
			t.Errorf("no %q heading", h)
		}
	}
	// Every table row has as many cells as its header: the hostile SNI's
	// "|" is escaped.
	var cols int
	for _, l := range strings.Split(out, "\n") {
		if !strings.HasPrefix(l, "|") {
			cols = 0
			continue
		}
		n := len(regexp.MustCompile(`(^|[^\\])\|`).FindAllString(l, -1))
		if cols == 0 {
			cols = n
		} else if n != cols {
			t.Errorf("row with %d cell borders under a header with %d: %s", n, cols, l)
		}
	}
	if strings.Contains(out, "<script>") {
		t.Error("markdown carries a raw <script> tag from an SNI")
	}
}

func TestWriteHTML(t *testing.T) {
	r, g := sample(t)
	out := render(t, r, "html")
	if n := strings.Count(out, "<svg "); n != 4 {
		t.Errorf("%d SVG charts, want 4 (versions, suites, groups, signature schemes)", n)
	}
	for _, title := range []string{"Versions", "Cipher suites", "Groups", "Signature schemes"} {
		if !strings.Contains(out, `aria-label="`+title+`: offered and negotiated"`) {
			t.Errorf("no %s chart", title)
		}
	}
	// Every offered version has a bar in the versions chart.
	versions := out[strings.Index(out, `aria-label="Versions`):]
	versions = versions[:strings.Index(versions, "</svg>")]
	for _, v := range r.Offered.Versions {
		if !strings.Contains(versions, ">"+v.Name+"</text>") {
			t.Errorf("versions chart lacks a bar for %s", v.Name)
		}
	}
	w := expect(g.records)
	for ja4 := range w.clients {
		if !strings.Contains(out, ja4) {
			t.Errorf("no row for client %s", ja4)
		}
	}
	for _, forbidden := range []string{"http://", "https://", "<script", "src=", "href=", "url(", "@import", "//fonts"} {
		if strings.Contains(out, forbidden) {
			t.Errorf("HTML contains %q: it must be self-contained and script-free", forbidden)
		}
	}
	if !strings.Contains(out, "&lt;script&gt;") {
		t.Error("the hostile SNI is not escaped")
	}
}

func TestWriteUnknownFormat(t *testing.T) {
	r, _ := sample(t)
	if err := r.Write(&bytes.Buffer{}, "pdf"); err == nil {
		t.Error(`Write(w, "pdf") succeeded, want an error`)
	}
}

func TestWriteEmpty(t *testing.T) {
	r := build(t, Options{}, "empty", []byte{})
	for _, f := range Formats {
		t.Run(f, func(t *testing.T) {
			out := render(t, r, f)
			if len(out) == 0 {
				t.Errorf("empty %s output for an empty report", f)
			}
		})
	}
}

func TestClean(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"a.example.test", "a.example.test"},
		{"bücher.test", "bücher.test"},
		{"\x1b[2Jx", `\x1b[2Jx`},
		{"tab\there", `tab\there`},
		{"bad\xffutf8", `bad\xffutf8`},
		{"ok\uFFFDchar", "ok\uFFFDchar"},
	} {
		if got := clean(tt.in); got != tt.want {
			t.Errorf("clean(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
