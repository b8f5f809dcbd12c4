package proxy

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/tlslens/tlslens/inspect"
)

// TestFlowFormatter: the flow formatter writes what logrus's JSON formatter
// writes, value for value, for a flow line and for strings that need
// escaping.
func TestFlowFormatter(t *testing.T) {
	f := &inspect.Flow{ID: "01ID", Method: "GET", URL: "https://example.com/a?b=<c>&d=\"e\"\\\x01\xff", Proto: "HTTP/2.0", Status: 200,
		Request:     []inspect.Header{{Name: "Host", Value: "example.com"}, {Name: "X-Ünïcode", Value: "\t☃\n"}},
		RequestSize: 0, ResponseSize: 12345, ContentType: "text/html; charset=utf-8",
		Start: time.Date(2026, 12, 3, 6, 0, 0, 123456789, time.UTC), SentMS: 0, FirstByteMS: 1.25, DoneMS: 1e-3,
		Error: "reading the upstream's answer: unexpected EOF"}
	bare := &inspect.Flow{ID: "01ID", Method: "CONNECT", Response: []inspect.Header{}, FirstByteMS: -1, Time: time.Now()}
	fields := logrus.Fields{"id": "01ID", "flow": f, "bare": bare, "n": 3, "other": map[string]int{"x": 1}}
	e := &logrus.Entry{Data: fields, Message: "flow", Level: logrus.InfoLevel, Time: time.Date(2026, 12, 3, 6, 0, 1, 5e8, time.UTC)}
	got, err := FlowFormatter{TimestampFormat: "2006-01-02T15:04:05.000Z07:00"}.Format(e)
	if err != nil {
		t.Fatal(err)
	}
	want, err := (&logrus.JSONFormatter{TimestampFormat: "2006-01-02T15:04:05.000Z07:00"}).Format(e)
	if err != nil {
		t.Fatal(err)
	}
	var g, w map[string]any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("flow formatter wrote invalid JSON (%v): %s", err, got)
	}
	json.Unmarshal(want, &w)
	if !reflect.DeepEqual(g, w) || !bytes.HasSuffix(got, []byte("}\n")) {
		t.Errorf("flow formatter:\n%s\nJSON formatter:\n%s", got, want)
	}
}

// TestFlowFormatterBytes: the flow formatter writes logrus's JSON
// formatter's line byte for byte: HTML characters, U+2028 and U+2029,
// controls and invalid UTF-8 escaped as encoding/json escapes them, numbers
// as it writes them.
func TestFlowFormatterBytes(t *testing.T) {
	f := &inspect.Flow{ID: "01ID", Method: "GET", URL: "https://example.com/a?b=<c>&d=\"e\"\\\x01\b\f\x7f\xff\u2028\u2029é", Proto: "HTTP/1.1", Status: 200,
		Request: []inspect.Header{{Name: "Host", Value: "example.com"}, {Name: "Cookie", Value: "a=<b>&c"},
			{Name: "X-Ünïcode", Value: "\t☃\n\r"}},
		Response:    []inspect.Header{{Name: "Content-Type", Value: "text/html; charset=utf-8"}},
		RequestSize: 1 << 40, ResponseSize: 12345, ContentType: "text/html; charset=utf-8",
		Start: time.Date(2026, 12, 3, 6, 0, 0, 123456789, time.UTC), SentMS: 0, FirstByteMS: 1.25, DoneMS: 1e-3,
		Error: "reading <the> upstream's answer: unexpected EOF"}
	bare := &inspect.Flow{ID: "01ID", Method: "CONNECT", Response: []inspect.Header{}, FirstByteMS: -1, Time: time.Date(2026, 12, 3, 6, 0, 0, 5, time.UTC)}
	for _, fields := range []logrus.Fields{
		{"id": f.ID, "flow": f},
		{"id": "<&>", "flow": bare},
		{"id": "01ID", "flow": (*inspect.Flow)(nil), "small": 1e-7, "large": 1e21, "neg": -2.5e-9, "n": int64(-3), "s": "\u2028"},
	} {
		e := &logrus.Entry{Data: fields, Message: "flow", Level: logrus.InfoLevel, Time: time.Date(2026, 12, 3, 6, 0, 1, 5e8, time.UTC)}
		got, err := FlowFormatter{TimestampFormat: FlowTimeFormat}.Format(e)
		if err != nil {
			t.Fatal(err)
		}
		want, err := (&logrus.JSONFormatter{TimestampFormat: FlowTimeFormat}).Format(e)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("flow formatter:\n%s\nJSON formatter:\n%s", got, want)
		}
	}
}

// TestAppendJSONFloat: numbers as encoding/json writes them, durations in
// milliseconds (whole microseconds) written without strconv's search alike.
func TestAppendJSONFloat(t *testing.T) {
	vals := []float64{0, -1, 1e-3, 0.5, 1.25, 3.978, 12.5, 100, 1e-7, 1e21, -2.5e-9, 123456.789, 9007199254740.991,
		9007199254740.992, 1e15 + 0.5, 0.1 + 0.2, 1.0 / 3, math.MaxFloat64, math.SmallestNonzeroFloat64, -0.001}
	for us := int64(-2000); us < 200000; us += 7 {
		vals = append(vals, float64(us)/1000)
	}
	for i := range 64 {
		us := int64(1) << i
		vals = append(vals, float64(us)/1000, float64(us-1)/1000, float64(us+1)/1000)
	}
	for _, v := range vals {
		want, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendJSONFloat(nil, v); string(got) != string(want) {
			t.Errorf("appendJSONFloat(%v) = %s, want %s", v, got, want)
		}
	}
}
