package main

import (
	"bytes"
	"regexp"
	"strconv"
	"testing"
)

// TestCompareSmoke runs the ratio scenarios briefly against both baselines
// (wireguard compares with CONNECT whatever the baseline)
// and checks that every scenario printed a ratio from error-free rounds. It
// asserts no figure: those are for the full runs on a quiet machine.
func TestCompareSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("drives real handshakes for a few seconds")
	}
	for _, baseline := range []string{"direct", "bare"} {
		t.Run(baseline, func(t *testing.T) {
			var out, errs bytes.Buffer
			args := []string{"-scenarios", "newconn,hosts,keepalive,bulk,wireguard", "-duration", "300ms", "-slice", "100ms",
				"-rounds", "1", "-concurrency", "2", "-bulk-size", "262144", "-baseline", baseline}
			if err := run(args, &out, &errs); err != nil {
				t.Fatalf("run: %v\n%s%s", err, out.String(), errs.String())
			}
			ratios := regexp.MustCompile(`RATIO [^:]+: wall-clock median ([0-9.]+).*per CPU-second median ([0-9.]+)`).FindAllStringSubmatch(out.String(), -1)
			if len(ratios) != 5 {
				t.Fatalf("%d RATIO lines, want 5:\n%s", len(ratios), out.String())
			}
			for _, m := range ratios {
				for _, v := range m[1:] {
					if f, err := strconv.ParseFloat(v, 64); err != nil || f <= 0 {
						t.Errorf("ratio %q in %q", v, m[0])
					}
				}
			}
			if errsRe := regexp.MustCompile(`errors (\d+)/(\d+)`); !errsRe.MatchString(out.String()) {
				t.Fatalf("no error counts in:\n%s", out.String())
			} else {
				for _, m := range errsRe.FindAllStringSubmatch(out.String(), -1) {
					if m[1] != "0" || m[2] != "0" {
						t.Errorf("round with errors: %s\n%s", m[0], out.String())
					}
				}
			}
		})
	}
}

func TestBadBaseline(t *testing.T) {
	var out, errs bytes.Buffer
	if err := run([]string{"-baseline", "nope"}, &out, &errs); err == nil {
		t.Error("-baseline nope accepted")
	}
}
