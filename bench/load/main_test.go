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

// TestProbeSmoke runs the probe scenario briefly: a ratio for new
// connections over 1000 hosts, where connections were probed, and one for
// repeat connections to one host, where at most the first was. It asserts
// no figure.
func TestProbeSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("drives real handshakes for a few seconds")
	}
	var out, errs bytes.Buffer
	args := []string{"-scenarios", "probe", "-duration", "300ms", "-slice", "100ms", "-rounds", "1", "-concurrency", "2"}
	if err := run(args, &out, &errs); err != nil {
		t.Fatalf("run: %v\n%s%s", err, out.String(), errs.String())
	}
	ratios := regexp.MustCompile(`RATIO probe, ([^:]+): wall-clock median ([0-9.]+).*per CPU-second median ([0-9.]+)`).FindAllStringSubmatch(out.String(), -1)
	if len(ratios) != 2 || ratios[0][1] != "new connections/s, 1000 hosts" || ratios[1][1] != "new connections/s, one host (repeat)" {
		t.Fatalf("RATIO lines %q, want 1000 hosts then one host:\n%s", ratios, out.String())
	}
	for _, m := range ratios {
		for _, v := range m[2:] {
			if f, err := strconv.ParseFloat(v, 64); err != nil || f <= 0 {
				t.Errorf("ratio %q in %q", v, m[0])
			}
		}
	}
	probed := regexp.MustCompile(`probed connections: (\d+) in all rounds`).FindAllStringSubmatch(out.String(), -1)
	if len(probed) != 2 {
		t.Fatalf("%d probed lines, want 2:\n%s", len(probed), out.String())
	}
	if n, _ := strconv.Atoi(probed[0][1]); n == 0 {
		t.Errorf("1000 hosts: no connection probed:\n%s", out.String())
	}
	if n, _ := strconv.Atoi(probed[1][1]); n > 1 {
		t.Errorf("one host: %d connections probed, want at most the first:\n%s", n, out.String())
	}
	for _, m := range regexp.MustCompile(`errors (\d+)/(\d+)`).FindAllStringSubmatch(out.String(), -1) {
		if m[1] != "0" || m[2] != "0" {
			t.Errorf("round with errors: %s\n%s", m[0], out.String())
		}
	}
}

// TestWebSmoke runs the web scenario briefly: a ratio for new connections
// with the page open, from error-free rounds, and the ring and captures
// within their documented bounds, the page's stream having received
// records and the captures holding connections. The 3 % is for full runs.
func TestWebSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("drives real handshakes for a few seconds")
	}
	var out, errs bytes.Buffer
	args := []string{"-scenarios", "web", "-duration", "300ms", "-slice", "100ms", "-rounds", "1", "-concurrency", "2"}
	if err := run(args, &out, &errs); err != nil {
		t.Fatalf("run: %v\n%s%s", err, out.String(), errs.String())
	}
	if !regexp.MustCompile(`RATIO web, new connections/s, one host: wall-clock median [0-9.]+`).MatchString(out.String()) {
		t.Fatalf("no RATIO line:\n%s", out.String())
	}
	for _, m := range regexp.MustCompile(`errors (\d+)/(\d+)`).FindAllStringSubmatch(out.String(), -1) {
		if m[1] != "0" || m[2] != "0" {
			t.Errorf("round with errors: %s\n%s", m[0], out.String())
		}
	}
	mem := regexp.MustCompile(`MEMORY web: ring (\d+) records \(bound web_keep (\d+): (\w+)\); events streamed (\d+); captures (\d+) connections, ([0-9.]+) MiB kept \(bounds (\d+) connections, capture.max_bytes (\d+) MiB: (\w+)\)`).FindStringSubmatch(out.String())
	if mem == nil {
		t.Fatalf("no MEMORY line:\n%s", out.String())
	}
	n := func(i int) float64 { f, _ := strconv.ParseFloat(mem[i], 64); return f }
	ring, keep, streamed, conns, kept, keepConns, maxMiB := n(1), n(2), n(4), n(5), n(6), n(7), n(8)
	if ring == 0 || ring > keep || mem[3] != "within" {
		t.Errorf("ring %v records, bound %v (%s)", ring, keep, mem[3])
	}
	if streamed == 0 || streamed > ring {
		t.Errorf("events streamed %v, want 1..%v (the ring's records)", streamed, ring)
	}
	if conns == 0 || conns > keepConns || kept > maxMiB || mem[9] != "within" {
		t.Errorf("captures %v connections %v MiB, bounds %v connections %v MiB (%s)", conns, kept, keepConns, maxMiB, mem[9])
	}
}

// TestFlowsSmoke runs the flows scenario briefly: a ratio for keep-alive
// requests with a flow file, from error-free rounds, one line in the file
// for each request made through the tlslens writing it, and the bodies
// kept within flow_memory. The 5 % is for full runs.
func TestFlowsSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("drives real handshakes for a few seconds")
	}
	var out, errs bytes.Buffer
	args := []string{"-scenarios", "flows", "-duration", "300ms", "-slice", "100ms", "-rounds", "1", "-concurrency", "2"}
	if err := run(args, &out, &errs); err != nil {
		t.Fatalf("run: %v\n%s%s", err, out.String(), errs.String())
	}
	if !regexp.MustCompile(`RATIO flows, keep-alive requests/s: wall-clock median [0-9.]+`).MatchString(out.String()) {
		t.Fatalf("no RATIO line:\n%s", out.String())
	}
	for _, m := range regexp.MustCompile(`errors (\d+)/(\d+)`).FindAllStringSubmatch(out.String(), -1) {
		if m[1] != "0" || m[2] != "0" {
			t.Errorf("round with errors: %s\n%s", m[0], out.String())
		}
	}
	m := regexp.MustCompile(`FLOWS: flow file (\d+) lines for (\d+) requests; bodies kept [0-9.]+ MiB \(bound flow_memory \d+ MiB: (\w+)\)`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no FLOWS line:\n%s", out.String())
	}
	if m[1] != m[2] || m[1] == "0" || m[3] != "within" {
		t.Errorf("flow file %s lines for %s requests, bodies %s the bound", m[1], m[2], m[3])
	}
	b := regexp.MustCompile(`FLOW BODIES: (\d+) answers of 1\.5 MiB \((\d+) failed\).* bodies held at most ([0-9.]+) MiB \(bound flow_memory 64 MiB: (\w+)\)`).FindStringSubmatch(out.String())
	if b == nil {
		t.Fatalf("no FLOW BODIES line:\n%s", out.String())
	}
	if b[1] == "0" || b[2] != "0" || b[3] == "0.0" || b[4] != "within" {
		t.Errorf("bodies under load: %s answers, %s failed, at most %s MiB held, %s the bound", b[1], b[2], b[3], b[4])
	}
}
