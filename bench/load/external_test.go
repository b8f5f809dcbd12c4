package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/tlslens/tlslens/cmd/tlslens/tlslenstest"
)

// TestMain runs the tests, or, started as a child by a test (-role bare:
// os.Executable is the test binary), the child's role.
func TestMain(m *testing.M) {
	if len(os.Args) > 2 && os.Args[1] == "-role" {
		if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	tlslenstest.Main(m)
}

// TestExternal runs -external briefly with a tlslens binary built by the
// test (and mitmdump beside it when installed) and checks the table is
// complete and sane: every row has a figure for every side and a ratio,
// no round had errors, p99 latencies are positive, and tlslens wrote one
// record per connection made through it. It asserts no target: those are
// for full runs.
func TestExternal(t *testing.T) {
	if testing.Short() {
		t.Skip("builds tlslens and drives real handshakes for several seconds")
	}
	bin := tlslenstest.Binary(t, nil)
	args := []string{"-external", bin, "-duration", "400ms", "-slice", "100ms", "-rounds", "1", "-concurrency", "2", "-bulk-size", "4000000", "-json"}
	sides := []string{"direct", "tlslens"}
	if _, err := exec.LookPath("mitmdump"); err == nil {
		args = append(args, "-peer", "mitmdump")
		sides = append(sides, "mitmproxy")
	} else {
		t.Log("mitmdump not installed: no mitmproxy column")
	}
	rep, out, errs := runExternalJSON(t, args)
	want := []string{"new connections/s, one host", "p99 latency of a new connection, one host",
		"new connections/s, 1000 SNI names", "p99 latency of a new connection, 1000 SNI names",
		"keep-alive requests/s", "bulk MB/s"}
	if len(rep.Measures) != len(want) {
		t.Fatalf("%d measures, want %d:\n%s", len(rep.Measures), len(want), out.String())
	}
	for i, m := range rep.Measures {
		if m.Measure != want[i] {
			t.Errorf("measure %d is %q, want %q", i, m.Measure, want[i])
		}
		for _, side := range sides {
			if s, ok := m.Sides[side]; !ok || s.Median <= 0 || s.Min > s.Median || s.Median > s.Max {
				t.Errorf("%s: %s figure %+v", m.Measure, side, s)
			}
			if n := m.Errors[side]; n != 0 {
				t.Errorf("%s: %d %s errors\n%s", m.Measure, n, side, errs.String())
			}
			if side == "direct" {
				continue
			}
			if r, ok := m.Ratios[side]; !ok || r.Median <= 0 {
				t.Errorf("%s: %s ratio %+v", m.Measure, side, r)
			}
		}
		if (m.TLSLensPerMitmproxy != nil) != (len(sides) == 3) {
			t.Errorf("%s: tlslens÷mitmproxy %v with sides %v", m.Measure, m.TLSLensPerMitmproxy, sides)
		}
	}
	if rep.Tunnels == 0 || rep.Records != rep.Tunnels {
		t.Errorf("tlslens wrote %d records for %d connections made through it", rep.Records, rep.Tunnels)
	}
	// The table has a row per measure, each with all seven cells filled
	// for the sides run.
	var table bytes.Buffer
	printExternal(&table, rep)
	rows := 0
	for line := range strings.Lines(table.String()) {
		if !strings.HasPrefix(line, "| ") || strings.HasPrefix(line, "| measure") {
			continue
		}
		rows++
		cells := strings.Split(strings.Trim(strings.TrimSpace(line), "|"), "|")
		if len(cells) != 7 {
			t.Errorf("row %q: %d cells", line, len(cells))
			continue
		}
		filled := 4 // measure, direct, tlslens, ratio
		if len(sides) == 3 {
			filled = 7
		}
		for i := range filled {
			if strings.TrimSpace(cells[i]) == "-" {
				t.Errorf("row %q: cell %d empty", line, i)
			}
		}
	}
	if rows != len(want) {
		t.Errorf("%d table rows, want %d:\n%s", rows, len(want), table.String())
	}
}

// TestExternalAgainstArgs runs -external briefly with tlslens as it runs by
// default (probe: first, and a client reading its /events) against the same
// binary with -against-args "--probe off", over names new to each side, and
// checks both columns: figures, ratios and CPU per operation for each
// process, records == connections for each, every tlslens connection probed
// at most once and base's none, and events read. It asserts no cost target:
// those are for full runs.
func TestExternalAgainstArgs(t *testing.T) {
	if testing.Short() {
		t.Skip("builds tlslens and drives real handshakes for several seconds")
	}
	bin := tlslenstest.Binary(t, nil)
	args := []string{"-external", bin, "-against-args", "--probe off", "-events", "-scenarios", "newhosts",
		"-duration", "400ms", "-slice", "100ms", "-rounds", "2", "-concurrency", "2", "-json"}
	rep, out, errs := runExternalJSON(t, args)
	if !strings.Contains(rep.Base, "--probe off") {
		t.Errorf("base is described as %q, want its flags", rep.Base)
	}
	want := []string{"new connections/s, names new to each side", "p99 latency of a new connection, names new to each side"}
	if len(rep.Measures) != len(want) {
		t.Fatalf("%d measures, want %d:\n%s", len(rep.Measures), len(want), out.String())
	}
	for i, m := range rep.Measures {
		if m.Measure != want[i] {
			t.Errorf("measure %d is %q, want %q", i, m.Measure, want[i])
		}
		for _, side := range []string{"direct", "tlslens", "base"} {
			if s, ok := m.Sides[side]; !ok || s.Median <= 0 || s.Min > s.Median || s.Median > s.Max {
				t.Errorf("%s: %s figure %+v", m.Measure, side, s)
			}
			if n := m.Errors[side]; n != 0 {
				t.Errorf("%s: %d %s errors\n%s", m.Measure, n, side, errs.String())
			}
		}
		if p := m.TLSLensPerBase; p == nil || p.Median <= 0 || p.Min > p.Median || p.Median > p.Max {
			t.Errorf("%s: tlslens÷base %+v", m.Measure, p)
		}
		if i == 0 { // the rate's row carries each process's CPU per operation
			for _, side := range []string{"tlslens", "base"} {
				if c, ok := m.ProxyCPU[side]; !ok || c.Median <= 0 {
					t.Errorf("%s: %s CPU per operation %+v", m.Measure, side, c)
				}
			}
			if r := m.ProxyCPUPerBase; r == nil || r.Median <= 0 || r.Min > r.Median || r.Median > r.Max {
				t.Errorf("%s: tlslens÷base CPU per operation %+v", m.Measure, r)
			}
			// The whole run's figure lies within the rounds' range.
			for _, side := range []string{"tlslens", "base"} {
				c, w := m.ProxyCPU[side], m.ProxyCPUWhole[side]
				if w < c.Min*0.999 || w > c.Max*1.001 {
					t.Errorf("%s: %s CPU per operation over the whole run %.1f µs, outside the rounds' %.1f-%.1f", m.Measure, side, w, c.Min, c.Max)
				}
			}
		}
	}
	if rep.Tunnels == 0 || rep.Records != rep.Tunnels || rep.BaseTunnels == 0 || rep.BaseRecords != rep.BaseTunnels {
		t.Errorf("records/connections: tlslens %d/%d, base %d/%d", rep.Records, rep.Tunnels, rep.BaseRecords, rep.BaseTunnels)
	}
	// Every name is new to its side, so each connection through tlslens
	// is probed unless another probe of its address was in flight.
	if rep.Probed == 0 || rep.Probed > rep.Records || rep.BaseProbed != 0 {
		t.Errorf("probed: tlslens %d of %d records, base %d", rep.Probed, rep.Records, rep.BaseProbed)
	}
	if rep.EventsRead == 0 || rep.EventsRead > rep.Records {
		t.Errorf("events read: %d, for %d records", rep.EventsRead, rep.Records)
	}
	var table bytes.Buffer
	printExternal(&table, rep)
	if !strings.Contains(table.String(), "tlslens÷base") || !strings.Contains(table.String(), "events read") {
		t.Errorf("the table lacks the base column or the events read:\n%s", table.String())
	}
}

// TestExternalPeerBare runs -external briefly with -peer bare: the bare
// MITM (bare.go) as its own process, a column of its own. It checks the
// bare side's figures, ratios to direct, tlslens÷bare per measure, its CPU
// per operation, and its table. It asserts no ratio: those are for full
// runs.
func TestExternalPeerBare(t *testing.T) {
	if testing.Short() {
		t.Skip("builds tlslens and drives real handshakes for several seconds")
	}
	bin := tlslenstest.Binary(t, nil)
	args := []string{"-external", bin, "-peer", "bare", "-scenarios", "newconn,keepalive",
		"-duration", "400ms", "-slice", "100ms", "-rounds", "1", "-concurrency", "2", "-json"}
	rep, out, errs := runExternalJSON(t, args)
	if len(rep.Measures) != 3 {
		t.Fatalf("%d measures, want 3 (new connections, their p99, keep-alive):\n%s", len(rep.Measures), out.String())
	}
	for _, m := range rep.Measures {
		if s, ok := m.Sides["bare"]; !ok || s.Median <= 0 {
			t.Errorf("%s: bare figure %+v", m.Measure, s)
		}
		if n := m.Errors["bare"]; n != 0 {
			t.Errorf("%s: %d bare errors\n%s", m.Measure, n, errs.String())
		}
		if r, ok := m.Ratios["bare"]; !ok || r.Median <= 0 {
			t.Errorf("%s: bare ratio %+v", m.Measure, r)
		}
		if m.TLSLensPerBare == nil || m.TLSLensPerBare.Median <= 0 {
			t.Errorf("%s: tlslens÷bare %+v", m.Measure, m.TLSLensPerBare)
		}
		if m.Unit != "ms" {
			if c, ok := m.ProxyCPU["bare"]; !ok || c.Median <= 0 {
				t.Errorf("%s: bare CPU per operation %+v", m.Measure, c)
			}
		}
	}
	var table bytes.Buffer
	printExternal(&table, rep)
	for _, row := range []string{"| new connections/s, one host | ", "| p99 latency of a new connection, one host | ", "| keep-alive requests/s | "} {
		if n := strings.Count(table.String(), row); n != 2 { // the main table and bare's
			t.Errorf("%d rows %q, want 2:\n%s", n, row, table.String())
		}
	}
	if !strings.Contains(table.String(), "tlslens÷bare") {
		t.Errorf("no bare table:\n%s", table.String())
	}
}

// runExternalJSON runs the tool with args (which hold -json) and returns
// its report, with its standard output and error for messages.
func runExternalJSON(t *testing.T, args []string) (rep externalReport, out, errs *bytes.Buffer) {
	t.Helper()
	out, errs = new(bytes.Buffer), new(bytes.Buffer)
	if err := run(args, out, errs); err != nil {
		t.Fatalf("run: %v\n%s%s", err, out.String(), errs.String())
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("JSON: %v\n%s", err, out.String())
	}
	return rep, out, errs
}

// TestSwapped: -swap's exchanged run has tlslens's binary, flags and config
// lines as base's and base's as tlslens's; a base that is tlslens as it
// runs stays one (-against names it).
func TestSwapped(t *testing.T) {
	c := config{external: "/new", externalArgs: "--flows F", externalYAML: "capture: {enabled: false}",
		against: "/old", againstArgs: "--web-listen=", againstYAML: "probe: off"}
	s := swapped(c)
	if s.external != "/old" || s.externalArgs != "--web-listen=" || s.externalYAML != "probe: off" ||
		s.against != "/new" || s.againstArgs != "--flows F" || s.againstYAML != "capture: {enabled: false}" {
		t.Errorf("swapped: %+v", s)
	}
	if back := swapped(s); back.external != c.external || back.against != c.against || back.externalArgs != c.externalArgs ||
		back.againstArgs != c.againstArgs || back.externalYAML != c.externalYAML || back.againstYAML != c.againstYAML {
		t.Errorf("swapped twice: %+v", back)
	}
	s = swapped(config{external: "/tl", againstArgs: "--probe off"}) // base: the same binary, probe off
	if s.external != "/tl" || s.externalArgs != "--probe off" || s.against != "/tl" || s.againstArgs != "" || s.againstYAML != "" {
		t.Errorf("swapped, one binary: %+v", s)
	}
}

// TestExternalSwap runs -swap 1 briefly: the comparison as given and with
// the places exchanged, then the table of tlslens ÷ base per run, the
// exchanged one marked, with their mean. It asserts no ratio.
func TestExternalSwap(t *testing.T) {
	if testing.Short() {
		t.Skip("builds tlslens and drives real handshakes for several seconds")
	}
	bin := tlslenstest.Binary(t, nil)
	var out, errs bytes.Buffer
	args := []string{"-external", bin, "-against-args", "--web-listen=", "-scenarios", "keepalive",
		"-duration", "300ms", "-slice", "100ms", "-rounds", "1", "-concurrency", "2", "-swap", "1"}
	if err := run(args, &out, &errs); err != nil {
		t.Fatalf("run: %v\n%s%s", err, out.String(), errs.String())
	}
	m := regexp.MustCompile(`\| keep-alive requests/s \| x([0-9.]+) x([0-9.]+)\* \| x([0-9.]+) \(`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no row of two runs, the second exchanged, and their mean:\n%s\n%s", out.String(), errs.String())
	}
	for _, v := range m[1:] {
		if f, err := strconv.ParseFloat(v, 64); err != nil || f <= 0 {
			t.Errorf("ratio %q in %s", v, m[0])
		}
	}
	if n := strings.Count(errs.String(), "places exchanged"); n != 1 {
		t.Errorf("%d exchanged runs announced, want 1:\n%s", n, errs.String())
	}
}
