package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/tlslens/tlslens/inspect"
	"github.com/tlslens/tlslens/inspect/report"
)

// TestTerminalLines: the OnRecord that serve wires to stderr writes each
// record as report.Line (report.Verbose with --verbose) and a newline, whole
// even when connections finish at once.
func TestTerminalLines(t *testing.T) {
	rec := func(i int) *inspect.Record {
		return &inspect.Record{Schema: inspect.Schema, ID: fmt.Sprint(i), Mode: inspect.ModeTunnel,
			Target: fmt.Sprintf("host%d.test:443", i), Outcome: inspect.OutcomeDenied, Reason: "policy: deny *.test",
			Client: &inspect.Side{Addr: "127.0.0.1:1"}}
	}
	for _, tt := range []struct {
		name           string
		color, verbose bool
		render         func(*inspect.Record, bool) string
	}{
		{"line", false, false, report.Line},
		{"colour", true, false, report.Line},
		{"verbose", false, true, report.Verbose},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			onRecord := terminalLines(&buf, tt.color, tt.verbose)
			const n = 50
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() { onRecord(rec(i)) })
			}
			wg.Wait()
			out := buf.String()
			for i := range n {
				if want := tt.render(rec(i), tt.color) + "\n"; !strings.Contains(out, want) {
					t.Errorf("output lacks record %d whole, %q:\n%s", i, want, out)
				}
			}
			if got, want := strings.Count(out, "\n"), n*strings.Count(tt.render(rec(0), tt.color)+"\n", "\n"); got != want {
				t.Errorf("output has %d lines, want %d", got, want)
			}
		})
	}
}

// TestIsTerminal: only a terminal is one; colour and the log format follow it.
func TestIsTerminal(t *testing.T) {
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	// The master side of a pseudo-terminal is a terminal.
	ptmx, ptmxErr := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if ptmxErr == nil {
		defer ptmx.Close()
	}
	var nilFile *os.File
	for _, tt := range []struct {
		name string
		w    io.Writer
		want bool
		skip error
	}{
		{"pipe", pw, false, nil},
		{"buffer", &bytes.Buffer{}, false, nil},
		{"nil file", nilFile, false, nil},
		{"pty", ptmx, true, ptmxErr},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.skip != nil {
				t.Skipf("no pseudo-terminal: %v", tt.skip)
			}
			if got := isTerminal(tt.w); got != tt.want {
				t.Errorf("isTerminal(%s) = %v, want %v", tt.name, got, tt.want)
			}
		})
	}
}
