package report

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestReadBadLines(t *testing.T) {
	g := genLines(t, 400)
	r := build(t, Options{}, "records.jsonl", g.data)
	if r.Totals.BadLines != len(g.bad) {
		t.Fatalf("BadLines = %d, want %d", r.Totals.BadLines, len(g.bad))
	}
	for i, b := range r.BadLines {
		if b.File != "records.jsonl" || b.Line != g.bad[i] {
			t.Errorf("BadLines[%d] at %s:%d, want records.jsonl:%d", i, b.File, b.Line, g.bad[i])
		}
	}
	if r.Totals.LogLines != g.logLines || r.Inputs[0].LogLines != g.logLines {
		t.Errorf("LogLines = %d (input %d), want %d", r.Totals.LogLines, r.Inputs[0].LogLines, g.logLines)
	}
	checkReport(t, r, g.records)
}

func TestReadLines(t *testing.T) {
	rec := func(target string) string {
		return fmt.Sprintf(`{"time":"2026-11-22T10:00:00Z","level":"info","msg":"handshake","schema":1,"id":"x","mode":"mitm","target":%q,"outcome":"ok","client":{"addr":"10.0.0.1:1234","hello":{"version":"TLS 1.2","cipher_suites":["TLS_AES_128_GCM_SHA256"],"ja4":"t13d0101h2_aaaaaaaaaaaa_bbbbbbbbbbbb"}},"findings":[]}`, target)
	}
	for _, tt := range []struct {
		name               string
		input              string
		records, logs, bad int
		problem            string // in the first bad line's error
	}{
		{"record", rec("a.test:443") + "\n", 1, 0, 0, ""},
		{"no final newline", rec("a.test:443"), 1, 0, 0, ""},
		{"CRLF and blank lines", "\r\n" + rec("a.test:443") + "\r\n\n   \n", 1, 0, 0, ""},
		{"log line", `{"level":"warning","msg":"relay ended","id":"x","error":"EOF"}` + "\n", 0, 1, 0, ""},
		{"record without msg", `{"schema":1,"target":"a.test:443","outcome":"ok","client":{}}` + "\n", 1, 0, 0, ""},
		{"truncated", rec("a.test:443")[:80] + "\n", 0, 0, 1, "unexpected end of JSON input"},
		{"text format", "time=now level=info msg=handshake\n", 0, 0, 1, `not JSON: the line starts "time=now level=info msg…"`},
		{"array", "[1,2]\n", 0, 0, 1, "a JSON array, not a record object"},
		{"wrong type", `{"msg":"handshake","schema":"1"}` + "\n", 0, 0, 1, `"schema" is a JSON string, want a number`},
		{"nested wrong type", `{"msg":"handshake","schema":1,"client":{"hello":{"cipher_suites":"TLS_AES_128_GCM_SHA256"}}}` + "\n", 0, 0, 1, `"client.hello.cipher_suites" is a JSON string, want an array`},
		{"schema 2", `{"msg":"handshake","schema":2}` + "\n", 0, 0, 1, "schema 2"},
		{"no msg no schema", `{"level":"info"}` + "\n", 0, 0, 1, `no "msg"`},
		{"too long", rec(strings.Repeat("a", 300)+".test:443") + "\n" + rec("b.test:443") + "\n", 1, 0, 1, "longer than 400 bytes"},
		{"longer than a buffer", rec(strings.Repeat("a", 200000)+".test:443") + "\n" + rec("b.test:443") + "\n", 1, 0, 1, "longer than 400 bytes"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			// rec with a short target is about 320 bytes: it fits in 400,
			// the 300-letter target does not.
			r := build(t, Options{MaxLineBytes: 400}, "in", []byte(tt.input))
			tot := r.Totals
			if tot.Records != tt.records || tot.LogLines != tt.logs || tot.BadLines != tt.bad {
				t.Fatalf("records %d, log lines %d, bad lines %d; want %d, %d, %d (bad: %v)",
					tot.Records, tot.LogLines, tot.BadLines, tt.records, tt.logs, tt.bad, r.BadLines)
			}
			if tt.bad > 0 && !strings.Contains(r.BadLines[0].Error, tt.problem) {
				t.Errorf("bad line error %q, want it to contain %q", r.BadLines[0].Error, tt.problem)
			}
		})
	}
}

func TestReadGzip(t *testing.T) {
	g := genLines(t, 500)
	plain := build(t, Options{}, "a.jsonl", g.data)
	zipped := build(t, Options{}, "a.jsonl.gz", gz(t, g.data))
	if !zipped.Inputs[0].Gzip || plain.Inputs[0].Gzip {
		t.Errorf("Gzip = %v for the .gz, %v for the plain file; want true, false", zipped.Inputs[0].Gzip, plain.Inputs[0].Gzip)
	}
	checkReport(t, zipped, g.records)
	if zipped.Totals != plain.Totals {
		t.Errorf("gzip totals %+v, plain %+v", zipped.Totals, plain.Totals)
	}
	if zipped.Inputs[0].Bytes != int64(len(g.data)) {
		t.Errorf("Bytes = %d, want %d uncompressed", zipped.Inputs[0].Bytes, len(g.data))
	}
}

func TestReadSeveralInputs(t *testing.T) {
	g1, g2 := genLines(t, 200), genLines(t, 300)
	r := build(t, Options{}, "one.jsonl", g1.data, "two.jsonl.gz", gz(t, g2.data))
	checkReport(t, r, append(g1.records, g2.records...))
	if len(r.Inputs) != 2 || r.Inputs[0].Records != 200 || r.Inputs[1].Records != 300 {
		t.Errorf("Inputs = %+v, want 200 then 300 records", r.Inputs)
	}
	if r.BadLines[len(g1.bad)].File != "two.jsonl.gz" || r.BadLines[len(g1.bad)].Line != g2.bad[0] {
		t.Errorf("first bad line of the second input at %+v, want two.jsonl.gz:%d", r.BadLines[len(g1.bad)], g2.bad[0])
	}
}

func TestReadTruncatedGzip(t *testing.T) {
	g := genLines(t, 2000)
	z := gz(t, g.data)
	r := build(t, Options{}, "cut.gz", z[:len(z)/2])
	in := r.Inputs[0]
	if in.Error == "" {
		t.Fatalf("Input.Error is empty for a gzip stream cut in half")
	}
	if in.Records == 0 || in.Records >= len(g.records) {
		t.Errorf("%d records read from half a stream of %d, want some but not all", in.Records, len(g.records))
	}
}

func TestReadErrorKeepsLines(t *testing.T) {
	g := genLines(t, 100)
	b, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("disk on fire")
	r := iotest.DataErrReader(bytes.NewReader(g.data)) // data, then EOF with the last bytes
	if err := b.Read(t.Context(), "ok", r); err != nil {
		t.Fatal(err)
	}
	failing := io.MultiReader(bytes.NewReader(g.data[:len(g.data)/2]), iotest.ErrReader(boom))
	if err := b.Read(t.Context(), "broken", failing); err != nil {
		t.Fatalf("Read = %v, want nil: an I/O error is noted, not returned", err)
	}
	rep := b.Report()
	if rep.Inputs[1].Error != boom.Error() || rep.Inputs[1].Records == 0 {
		t.Errorf("broken input = %+v, want error %q after some records", rep.Inputs[1], boom)
	}
}

func TestReadCanceled(t *testing.T) {
	g := genLines(t, 5000)
	b, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := b.Read(ctx, "r", bytes.NewReader(g.data)); !errors.Is(err, context.Canceled) {
		t.Errorf("Read with a canceled context = %v, want context.Canceled", err)
	}
}
