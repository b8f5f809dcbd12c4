package proxy

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/sirupsen/logrus/hooks/test"

	"github.com/tlslens/tlslens/inspect"
)

// recordVariants returns a real record of an intercepted connection and
// variants of it that set or clear each top-level value the record may
// omit, with strings encoding/json escapes.
func recordVariants(t testing.TB) map[string]*inspect.Record {
	lh := newLoadHarness(t, 0)
	interceptOnce(t, lh)
	real := <-lh.last
	if real.Client == nil || real.Upstream == nil || real.Readiness == nil || len(real.Client.Chain) == 0 {
		t.Fatalf("record %+v: want both legs, a chain and readiness", real)
	}
	variant := func(change func(r *inspect.Record)) *inspect.Record {
		r := *real
		change(&r)
		return &r
	}
	odd := "<a href=\"x\">&amp;</a> \u2028\u2029 \x01\x7f\b\f\t\r\n \xff\xfe é ✓"
	return map[string]*inspect.Record{
		"real": real,
		"every key": variant(func(r *inspect.Record) {
			r.Via, r.Reason, r.Ignored, r.Probe = inspect.ViaTransparent, odd, true, r.Upstream
			r.Findings = append(r.Findings, inspect.Finding{Side: "client", Severity: inspect.SeverityWarn, Code: "x", Message: odd})
		}),
		"odd strings": variant(func(r *inspect.Record) {
			r.ID, r.Target, r.Mode, r.Outcome = odd, odd+":443", inspect.Mode(odd), inspect.Outcome(odd)
			client := *r.Client
			client.Error, client.Alert = odd, odd
			r.Client = &client
		}),
		"fewest keys": variant(func(r *inspect.Record) {
			r.Client, r.Upstream, r.Readiness, r.Findings = nil, nil, nil, []inspect.Finding{}
		}),
	}
}

// TestRecordLine: the proxy's record line is the line logrus's JSONFormatter
// writes for the "handshake" entry, byte for byte, and the record's JSON is
// json.Marshal's.
func TestRecordLine(t *testing.T) {
	at := time.Date(2026, 11, 22, 15, 20, 1, 123456789, time.FixedZone("X", 3600))
	for name, r := range recordVariants(t) {
		t.Run(name, func(t *testing.T) {
			var want bytes.Buffer
			l := logrus.New()
			l.Out, l.Formatter = &want, &logrus.JSONFormatter{TimestampFormat: RecordTimeFormat}
			l.WithFields(recordFields(r)).WithTime(at).Info("handshake")
			j, err := encodeRecord(r)
			if err != nil {
				t.Fatal(err)
			}
			defer j.release()
			if got := j.appendLine(nil, at); !bytes.Equal(got, want.Bytes()) {
				t.Errorf("appendLine =\n%s\nwant (logrus)\n%s", got, want.Bytes())
			}
			c := *r
			c.Time = at.UTC()
			wantJSON, err := json.Marshal(&c)
			if err != nil {
				t.Fatal(err)
			}
			if got := j.appendRecord(nil, c.Time); !bytes.Equal(got, wantJSON) {
				t.Errorf("appendRecord =\n%s\nwant (json.Marshal)\n%s", got, wantJSON)
			}
		})
	}
}

// BenchmarkRecordLine: a real record's line, through logrus's JSONFormatter
// as tlslens wrote it before, and as the proxy writes it.
func BenchmarkRecordLine(b *testing.B) {
	r := recordVariants(b)["real"]
	at := time.Now()
	// Each way with and without the record's JSON for the web view:
	// json.Marshal'd again by the ring before, assembled from the same
	// values now.
	for _, withJSON := range []bool{false, true} {
		suffix := map[bool]string{false: "", true: "+json"}[withJSON]
		b.Run("logrus"+suffix, func(b *testing.B) {
			l := logrus.New()
			l.Out, l.Formatter = io.Discard, &logrus.JSONFormatter{TimestampFormat: RecordTimeFormat}
			b.ReportAllocs()
			for b.Loop() {
				l.WithFields(recordFields(r)).Info("handshake")
				if withJSON {
					c := *r
					c.Time = at
					if _, err := json.Marshal(&c); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
		b.Run("proxy"+suffix, func(b *testing.B) {
			var line []byte
			b.ReportAllocs()
			for b.Loop() {
				j, err := encodeRecord(r)
				if err != nil {
					b.Fatal(err)
				}
				line = j.appendLine(line[:0], at)
				if withJSON {
					_ = j.appendRecord(make([]byte, 0, j.buf.Len()+256), at)
				}
				j.release()
			}
		})
	}
}

// TestRecordFileAndJSON: through a connection, Options.RecordFile gets the
// line Options.Records' JSONFormatter writes (but for the time, taken a
// moment apart), and OnRecordJSON the record's JSON with that time.
func TestRecordFileAndJSON(t *testing.T) {
	var file syncBuffer
	type withJSON struct {
		r *inspect.Record
		b []byte
	}
	got := make(chan withJSON, 1)
	recs, hook := test.NewNullLogger()
	lh := newLoadHarness(t, 0, func(o *Options) {
		o.Records, o.RecordFile = recs, &file
		o.OnRecordJSON = func(r *inspect.Record, b []byte) { got <- withJSON{r, b} }
	})
	interceptOnce(t, lh)
	j := <-got
	want, err := json.Marshal(j.r)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(j.b, want) {
		t.Errorf("OnRecordJSON got\n%s\nwant (json.Marshal of its record)\n%s", j.b, want)
	}
	line := []byte(file.String())
	var head struct{ Time string }
	if err := json.Unmarshal(line, &head); err != nil {
		t.Fatalf("record file %q: %v", line, err)
	}
	if at := j.r.Time.Local().Format(RecordTimeFormat); head.Time != at {
		t.Errorf("record line time %s, OnRecordJSON's record %s", head.Time, at)
	}
	e := hook.LastEntry()
	if e == nil || e.Message != "handshake" {
		t.Fatalf("Records got %v, want the handshake entry", e)
	}
	e.Time, _ = time.Parse(RecordTimeFormat, head.Time)
	viaLogrus, err := (&logrus.JSONFormatter{TimestampFormat: RecordTimeFormat}).Format(e)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(line, viaLogrus) {
		t.Errorf("record file got\n%s\nwant (logrus)\n%s", line, viaLogrus)
	}
}

// BenchmarkInterceptNewConnRecordFile is BenchmarkInterceptNewConn with
// records written to a file, as tlslens --records FILE writes them.
func BenchmarkInterceptNewConnRecordFile(b *testing.B) {
	f, err := os.Create(filepath.Join(b.TempDir(), "records.jsonl"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	benchNewConnOn(b, newLoadHarness(b, 0, func(o *Options) { o.RecordFile = f }), true)
}
