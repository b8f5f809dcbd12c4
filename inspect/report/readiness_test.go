package report

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/tlslens/tlslens/inspect"
)

func TestReadinessFacts(t *testing.T) {
	id := uint8(138)
	tests := []struct {
		name string
		rd   *inspect.Readiness
		want []Fact
	}{
		{"nil", nil, nil},
		{"modern", &inspect.Readiness{
			PostQuantum: inspect.PostQuantum{Offered: true, Groups: []string{"X25519MLKEM768"}, KeyShare: true,
				ClientLeg: true, ClientGroup: "X25519MLKEM768", UpstreamGroup: "x25519", UpstreamHelloRetry: true},
			ECH: inspect.ECHOffer{Offered: true, Type: "outer", OuterSNI: "public.test", ConfigID: &id, KDF: "HKDF-SHA256",
				AEAD: "AES-128-GCM", EncLength: 32, PayloadLength: 208, Inner: inspect.ECHInnerHidden},
			Legacy: inspect.Legacy{LowestVersion: "TLS 1.2"},
		}, []Fact{
			{"post-quantum", "offered X25519MLKEM768 with a key share; client leg X25519MLKEM768, upstream leg x25519 (classical); HelloRetryRequest on the upstream leg"},
			{"ECH", "outer, public name public.test, config 138, HKDF-SHA256 + AES-128-GCM, payload 208 bytes; the inner hello is encrypted, not visible (GREASE looks the same)"},
			{"legacy", "lowest version TLS 1.2; no weak suites"},
		}},
		{"legacy", &inspect.Readiness{
			PostQuantum: inspect.PostQuantum{UpstreamGroup: "secp256r1"},
			Legacy:      inspect.Legacy{LowestVersion: "TLS 1.0", WeakSuites: []string{"TLS_RSA_WITH_RC4_128_SHA", "TLS_RSA_WITH_3DES_EDE_CBC_SHA"}},
		}, []Fact{
			{"post-quantum", "not offered; client leg unknown, upstream leg secp256r1 (classical)"},
			{"ECH", "not offered"},
			{"legacy", "lowest version TLS 1.0; weak suites TLS_RSA_WITH_RC4_128_SHA, TLS_RSA_WITH_3DES_EDE_CBC_SHA"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ReadinessFacts(tt.rd); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ReadinessFacts =\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
}

// TestVerboseReadiness: --verbose shows the record's readiness, three lines
// before the findings.
func TestVerboseReadiness(t *testing.T) {
	r := termOKRecord()
	r.Readiness = &inspect.Readiness{Legacy: inspect.Legacy{LowestVersion: "TLS 1.0"}}
	got := Verbose(r, false)
	want := "\n  readiness" +
		"\n    post-quantum  not offered; client leg unknown, upstream leg unknown" +
		"\n    ECH           not offered" +
		"\n    legacy        lowest version TLS 1.0; no weak suites"
	if !strings.Contains(got, want) {
		t.Errorf("Verbose lacks %q:\n%s", want, got)
	}
	if strings.Index(got, "\n  readiness") > strings.Index(got, "\n  findings") {
		t.Errorf("Verbose shows readiness after the findings:\n%s", got)
	}
}

// readinessReport is the report of testdata/readiness.jsonl: a mixed
// record file of two identified clients (Chromium with post-quantum and
// ECH, curl with neither), an unidentified legacy client written before
// records had readiness, an unidentified client retried on the client leg,
// a tunnel without a hello and an operational log line.
func readinessReport(t *testing.T) *Report {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "readiness.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Read(context.Background(), "readiness.jsonl", f); err != nil {
		t.Fatal(err)
	}
	r := b.Report()
	if r.Totals.Records != 8 || r.Totals.BadLines != 0 || r.Totals.NoHello != 1 {
		t.Fatalf("totals %+v: want 8 records, one without a hello, no bad lines", r.Totals)
	}
	return r
}

var columns = regexp.MustCompile(`\s{2,}`)

var readinessWant = []ReadinessRow{
	{Client: "Chromium 120-156", Identified: true, Connections: 3, PQOffered: 3, PQKeyShare: 3, PQClientLeg: 3, PQUpstreamLeg: 2,
		HelloRetry: 1, ECHOffered: 3, LowestVersion: "TLS 1.2"},
	{Client: "curl 8.x", Identified: true, Connections: 2, LowestVersion: "TLS 1.2"},
	{Client: "unknown (JA4 t10d030700_0f2cb44170f4_5c4c70b73fa0)", Connections: 1, LowestVersion: "TLS 1.0",
		WeakSuites: []Count{{"TLS_RSA_WITH_RC4_128_SHA", 1}, {"TLS_RSA_WITH_3DES_EDE_CBC_SHA", 1}}},
	{Client: "unknown (JA4 t13d0102h2_aaaaaaaaaaaa_bbbbbbbbbbbb)", Connections: 1, PQOffered: 1, PQClientLeg: 1, PQUpstreamLeg: 1,
		HelloRetry: 1, LowestVersion: "TLS 1.3"},
}

func TestReadinessTable(t *testing.T) {
	r := readinessReport(t)
	if !reflect.DeepEqual(r.Readiness, readinessWant) {
		t.Fatalf("Readiness =\n%+v\nwant\n%+v", r.Readiness, readinessWant)
	}

	// Each format shows every row's cells.
	var text, md, html strings.Builder
	for _, w := range []struct {
		format string
		out    *strings.Builder
	}{{"text", &text}, {"markdown", &md}, {"html", &html}} {
		if err := r.Write(w.out, w.format); err != nil {
			t.Fatalf("Write(%s): %v", w.format, err)
		}
	}
	textRows := map[string][]string{ // the cells of each row, in column order
		"Chromium 120-156": {"3", "3/3", "3/3", "3/3", "2/3", "1/3", "3/3", "TLS 1.2", "-"},
		"curl 8.x":         {"2", "-", "-", "-", "-", "-", "-", "TLS 1.2", "-"},
		"unknown (JA4 t10d030700_0f2cb44170f4_5c4c70b73fa0)": {"1", "-", "-", "-", "-", "-", "-", "TLS 1.0",
			"TLS_RSA_WITH_RC4_128_SHA, TLS_RSA_WITH_3DES_EDE_CBC_SHA"},
		"unknown (JA4 t13d0102h2_aaaaaaaaaaaa_bbbbbbbbbbbb)": {"1", "1/1", "-", "1/1", "1/1", "1/1", "-", "TLS 1.3", "-"},
	}
	section := text.String()[strings.Index(text.String(), "\nREADINESS"):]
	section = section[:strings.Index(section[1:], "\n\n")+1]
	for client, cells := range textRows {
		var line string
		for _, l := range strings.Split(section, "\n") {
			if strings.HasPrefix(l, client+" ") {
				line = l
			}
		}
		got := columns.Split(strings.TrimSpace(strings.TrimPrefix(line, client)), -1) // tabwriter pads with 2 spaces or more
		if !reflect.DeepEqual(got, cells) {
			t.Errorf("text row %q = %q, want %q", client, got, cells)
		}
	}
	for _, row := range []string{
		"| Client | Connections | PQ offered | PQ key share | PQ client leg | PQ upstream leg | HRR | ECH offered | Lowest version | Weak suites offered |",
		"| Chromium 120-156 | 3 | 3/3 | 3/3 | 3/3 | 2/3 | 1/3 | 3/3 | TLS 1.2 | - |",
		"| curl 8.x | 2 | - | - | - | - | - | - | TLS 1.2 | - |",
		"| unknown (JA4 t10d030700_0f2cb44170f4_5c4c70b73fa0) | 1 | - | - | - | - | - | - | TLS 1.0 | TLS_RSA_WITH_RC4_128_SHA, TLS_RSA_WITH_3DES_EDE_CBC_SHA |",
		"| unknown (JA4 t13d0102h2_aaaaaaaaaaaa_bbbbbbbbbbbb) | 1 | 1/1 | - | 1/1 | 1/1 | 1/1 | - | TLS 1.3 | - |",
	} {
		if !strings.Contains(md.String(), row+"\n") {
			t.Errorf("markdown lacks the row\n%s", row)
		}
	}
	for _, cells := range []string{
		`<tr><td>Chromium 120-156</td><td class="num">3</td><td class="num">3/3</td><td class="num">3/3</td><td class="num">3/3</td><td class="num">2/3</td><td class="num">1/3</td><td class="num">3/3</td><td><span class="tag">TLS 1.2</span></td><td><span class="none">none</span></td></tr>`,
		`<tr><td class="mono">unknown (JA4 t10d030700_0f2cb44170f4_5c4c70b73fa0)</td><td class="num">1</td><td class="num">-</td><td class="num">-</td><td class="num">-</td><td class="num">-</td><td class="num">-</td><td class="num">-</td><td><span class="tag weak">TLS 1.0</span></td><td><span class="tag weak">TLS_RSA_WITH_RC4_128_SHA</span> <span class="tag weak">TLS_RSA_WITH_3DES_EDE_CBC_SHA</span> </td></tr>`,
	} {
		if !strings.Contains(html.String(), cells) {
			t.Errorf("html lacks the row\n%s", cells)
		}
	}
}

// TestReadinessTableBounded: past MaxGroups, further clients share one
// "(other)" row, last.
func TestReadinessTableBounded(t *testing.T) {
	b, err := New(Options{MaxGroups: 2})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		b.Add(&inspect.Record{Schema: 1, Client: &inspect.Side{Hello: &inspect.Hello{Version: "TLS 1.2", JA4: fmt.Sprintf("t12d_%d", i)}}})
	}
	rows := b.Report().Readiness
	if len(rows) != 3 || rows[2].Client != other || rows[2].Connections != 3 {
		t.Errorf("rows = %+v, want two and (other) with 3", rows)
	}
}
