package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/tlslens/tlslens/inspect"
	"github.com/tlslens/tlslens/inspect/report"
)

// Two clients: a modern one (JA4 modernJA4) to a.test from 10.1.1.1, and a
// legacy one (legacyJA4, offering TLS 1.0 and RC4) to old.test from
// 10.2.2.2, alternating, one minute apart from start.
const (
	modernJA4 = "t13d1516h2_8daaf6152771_d8a2da3f94cd"
	legacyJA4 = "t10d0303h1_aaaaaaaaaaaa_000000000000"
)

func testRecord(i int, start time.Time) *inspect.Record {
	r := &inspect.Record{Time: start.Add(time.Duration(i) * time.Minute), Schema: inspect.Schema,
		ID: fmt.Sprintf("c%d", i), Mode: inspect.ModeMITM, Outcome: inspect.OutcomeOK, Findings: []inspect.Finding{}}
	if i%2 == 0 {
		r.Target = "a.test:443"
		r.Client = &inspect.Side{Addr: fmt.Sprintf("10.1.1.1:%d", 40000+i), Hello: &inspect.Hello{
			Version: "TLS 1.2", SupportedVersions: []string{"GREASE", "TLS 1.3", "TLS 1.2"},
			CipherSuites: []string{"GREASE", "TLS_AES_128_GCM_SHA256"}, Groups: []string{"x25519"},
			SNI: "a.test", JA4: modernJA4}}
		r.Upstream = &inspect.Side{Addr: "192.0.2.1:443",
			Negotiated: &inspect.Negotiated{Version: "TLS 1.3", CipherSuite: "TLS_AES_128_GCM_SHA256", Group: "x25519"},
			Verify:     &inspect.Verify{OK: true, Roots: "system"}}
	} else {
		r.Target = "old.test:443"
		r.Client = &inspect.Side{Addr: fmt.Sprintf("10.2.2.2:%d", 40000+i), Hello: &inspect.Hello{
			Version: "TLS 1.0", CipherSuites: []string{"TLS_RSA_WITH_RC4_128_SHA", "TLS_RSA_WITH_AES_128_CBC_SHA"},
			SNI: "old.test", JA4: legacyJA4}}
		r.Upstream = &inspect.Side{Addr: "192.0.2.2:443",
			Negotiated: &inspect.Negotiated{Version: "TLS 1.0", CipherSuite: "TLS_RSA_WITH_AES_128_CBC_SHA"},
			Verify:     &inspect.Verify{OK: false, Error: "x509: certificate signed by unknown authority", Roots: "system"}}
		r.Outcome = inspect.OutcomeUpstreamVerifyFailed
	}
	return r
}

// writeRecords returns n records as tlslens logs them, plus one operational
// log line and one malformed line (line n+2).
func writeRecords(t *testing.T, n int, start time.Time) []byte {
	t.Helper()
	var buf bytes.Buffer
	log := logrus.New()
	log.SetOutput(&buf)
	log.SetFormatter(&logrus.JSONFormatter{})
	for i := range n {
		r := testRecord(i, start)
		log.WithTime(r.Time).WithFields(logrus.Fields{"schema": r.Schema, "id": r.ID, "mode": r.Mode,
			"target": r.Target, "outcome": r.Outcome, "client": r.Client, "upstream": r.Upstream,
			"findings": r.Findings}).Info("handshake")
	}
	log.WithField("id", "c0").Info("listening")
	buf.WriteString(`{"msg":"handshake","schema":1,` + "\n")
	return buf.Bytes()
}

func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if strings.HasSuffix(name, ".gz") {
		var z bytes.Buffer
		zw := gzip.NewWriter(&z)
		zw.Write(data)
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		data = z.Bytes()
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// runJSON runs `tlslens report --format json ARGS` and decodes the report.
func runJSON(t *testing.T, stdin []byte, args ...string) (*report.Report, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if err := run(t.Context(), append([]string{"report", "--format", "json"}, args...), bytes.NewReader(stdin), &stdout, &stderr); err != nil {
		t.Fatalf("report %v: %v\n%s", args, err, stderr.String())
	}
	var r report.Report
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		t.Fatalf("report %v: output is not JSON: %v\n%s", args, err, stdout.String())
	}
	return &r, stderr.String()
}

func clientCounts(r *report.Report) map[string]int {
	m := map[string]int{}
	for _, c := range r.Clients {
		m[c.JA4] = c.Count
	}
	return m
}

func TestReportInputs(t *testing.T) {
	start := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	data := writeRecords(t, 40, start)
	plain := writeFile(t, "records.jsonl", data)
	zipped := writeFile(t, "records.jsonl.1.gz", data)
	for _, tt := range []struct {
		name    string
		args    []string
		stdin   []byte
		records int
	}{
		{"file", []string{plain}, nil, 40},
		{"gzip file", []string{zipped}, nil, 40},
		{"stdin as -", []string{"-"}, data, 40},
		{"stdin by default", nil, data, 40},
		{"gzip on stdin", []string{"-"}, readFile(t, zipped), 40},
		{"two files and stdin", []string{plain, "-", zipped}, data, 120},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r, stderr := runJSON(t, tt.stdin, tt.args...)
			if r.Totals.Records != tt.records || r.Totals.LogLines != tt.records/40 || r.Totals.BadLines != tt.records/40 {
				t.Errorf("totals %+v, want %d records, %d log lines, %d bad lines", r.Totals, tt.records, tt.records/40, tt.records/40)
			}
			if got := clientCounts(r); got[modernJA4] != tt.records/2 || got[legacyJA4] != tt.records/2 {
				t.Errorf("clients %v, want %d each", got, tt.records/2)
			}
			if r.BadLines[0].Line != 42 || !strings.Contains(stderr, "bad lines, the first at") {
				t.Errorf("bad line %+v, stderr %q; want line 42 noted on stderr", r.BadLines[0], stderr)
			}
		})
	}
}

func readFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestReportFilters(t *testing.T) {
	// Records from an hour ago up to now, so that durations mean something.
	// Each record sits half a minute after a whole minute, clear of the
	// boundaries that --since 30m draws while the test runs.
	start := time.Now().UTC().Add(-60*time.Minute + 30*time.Second).Truncate(time.Second)
	file := writeFile(t, "r.jsonl", writeRecords(t, 60, start))
	for _, tt := range []struct {
		name           string
		args           []string
		modern, legacy int
	}{
		{"none", nil, 30, 30},
		{"since duration", []string{"--since", "30m"}, 15, 15},
		{"until RFC 3339", []string{"--until", start.Add(10 * time.Minute).Format(time.RFC3339)}, 5, 5},
		{"since and until", []string{"--since", start.Add(20 * time.Minute).Format(time.RFC3339),
			"--until", start.Add(24 * time.Minute).Format(time.RFC3339)}, 2, 2},
		{"client JA4", []string{"--client", legacyJA4}, 0, 30},
		{"client ip", []string{"--client", "10.1.1.1"}, 30, 0},
		{"target glob", []string{"--target", "old.*"}, 0, 30},
		{"target glob with port", []string{"--target", "*.test:443"}, 30, 30},
		{"target and since", []string{"--target", "a.test", "--since", "10m"}, 5, 0},
		{"flags after the file", []string{"--client", modernJA4}, 30, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			args := append(append([]string{}, tt.args...), file)
			if tt.name == "flags after the file" {
				args = append([]string{file}, tt.args...)
			}
			r, _ := runJSON(t, nil, args...)
			got := clientCounts(r)
			if got[modernJA4] != tt.modern || got[legacyJA4] != tt.legacy {
				t.Errorf("clients %v, want %d modern, %d legacy", got, tt.modern, tt.legacy)
			}
			if r.Totals.Matched+r.Totals.Filtered != 60 || r.Totals.Matched != tt.modern+tt.legacy {
				t.Errorf("matched %d, filtered %d; want %d of 60", r.Totals.Matched, r.Totals.Filtered, tt.modern+tt.legacy)
			}
		})
	}
}

func TestReportFormats(t *testing.T) {
	file := writeFile(t, "r.jsonl", writeRecords(t, 20, time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)))
	for _, tt := range []struct {
		format string
		want   []string
	}{
		{"text", []string{"CLIENTS (2 JA4 fingerprints, 2 shown)", "CLIENT " + modernJA4 + " (10 records)", "TLS_RSA_WITH_RC4_128_SHA", "old.test"}},
		{"markdown", []string{"| `" + modernJA4 + "` | 10 |", "| old.test:443 | 10 |", "## Weak offers"}},
		{"html", []string{"<svg ", modernJA4, "TLS_RSA_WITH_RC4_128_SHA", "x509: certificate signed by unknown authority"}},
		{"json", []string{`"ja4": "` + legacyJA4 + `"`, `"weak_offers"`}},
	} {
		t.Run(tt.format, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if err := run(t.Context(), []string{"report", "--format", tt.format, file}, nil, &stdout, &stderr); err != nil {
				t.Fatalf("%v\n%s", err, stderr.String())
			}
			for _, w := range tt.want {
				if !strings.Contains(stdout.String(), w) {
					t.Errorf("--format %s output lacks %q", tt.format, w)
				}
			}
		})
	}
}

func TestReportErrors(t *testing.T) {
	file := writeFile(t, "r.jsonl", writeRecords(t, 4, time.Now()))
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"missing file", []string{filepath.Join(t.TempDir(), "nope.jsonl")}, "no such file"},
		{"unknown format", []string{"--format", "pdf", file}, "unknown --format"},
		{"bad since", []string{"--since", "yesterday", file}, "--since"},
		{"bad until", []string{"--until", "soon", file}, "--until"},
		{"since after until", []string{"--since", "1h", "--until", "2h", file}, "not before"},
		{"bad pattern", []string{"--target", "[a-", file}, "target pattern"},
		{"stdin twice", []string{"-", "-"}, "more than once"},
		{"unknown flag", []string{"--colour", file}, "flag provided but not defined"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(t.Context(), append([]string{"report"}, tt.args...), strings.NewReader(""), &stdout, &stderr)
			if err == nil || !strings.Contains(err.Error()+stderr.String(), tt.want) {
				t.Errorf("report %v = %v (stderr %q), want an error about %q", tt.args, err, stderr.String(), tt.want)
			}
		})
	}
}

func TestReportHelp(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if err := run(t.Context(), []string{"report", "--help"}, nil, &stdout, &stderr); err != nil {
		t.Fatalf("report --help = %v, want nil", err)
	}
	for _, w := range []string{"Usage: tlslens report", "-since", "-until", "-client", "-target", "-format", "markdown", "weak offer"} {
		if !strings.Contains(stderr.String(), w) {
			t.Errorf("help lacks %q", w)
		}
	}
}

// TestReportZeek: --format zeek writes an ssl.log of the records that pass
// the filter, gzip-compressed input included: the header, two lines per
// record sharing its uid, #close.
func TestReportZeek(t *testing.T) {
	start := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	name := writeFile(t, "records.jsonl.gz", writeRecords(t, 4, start))
	var stdout, stderr bytes.Buffer
	if err := run(t.Context(), []string{"report", "--format", "zeek", "--target", "a.test", name}, nil, &stdout, &stderr); err != nil {
		t.Fatalf("report --format zeek: %v\n%s", err, stderr.String())
	}
	lines := strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n")
	if len(lines) != 8+4+1 || lines[0] != `#separator \x09` || lines[4] != "#path\tssl" || !strings.HasPrefix(lines[len(lines)-1], "#close\t") {
		t.Fatalf("output =\n%s\nwant 8 header lines, 4 lines, #close", stdout.String())
	}
	for i, want := range []string{ // the test records' client legs agreed nothing (no negotiated): established F
		"1795341600.000000\tCc0\t10.1.1.1\t40000\t-\t-\t-\t-\t-\ta.test\tF\t-\t-\tF\tC\t-\t-\t-\t-",
		"1795341600.000000\tCc0\t-\t-\t192.0.2.1\t443\tTLSv13\tTLS_AES_128_GCM_SHA256\tx25519\t-\tF\t-\t-\tT\ts\t-\t-\t-\tok",
		"1795341720.000000\tCc2\t10.1.1.1\t40002\t-\t-\t-\t-\t-\ta.test\tF\t-\t-\tF\tC\t-\t-\t-\t-",
		"1795341720.000000\tCc2\t-\t-\t192.0.2.1\t443\tTLSv13\tTLS_AES_128_GCM_SHA256\tx25519\t-\tF\t-\t-\tT\ts\t-\t-\t-\tok",
	} {
		if lines[8+i] != want {
			t.Errorf("line %d =\n%q\nwant\n%q", 9+i, lines[8+i], want)
		}
	}
}
