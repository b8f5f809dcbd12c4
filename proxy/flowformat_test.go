package proxy

import (
	"bytes"
	"encoding/json"
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
	fields := logrus.Fields{"id": "01ID", "method": "GET", "url": "https://example.com/a?b=<c>&d=\"e\"\\\x01\xff", "status": 200,
		"request_headers":  []inspect.Header{{Name: "Host", Value: "example.com"}, {Name: "X-Ünïcode", Value: "\t☃\n"}},
		"response_headers": []inspect.Header(nil), "request_size": int64(0), "response_size": int64(12345),
		"start": "2026-12-03T06:00:00.123456789Z", "sent_ms": 0.0, "first_byte_ms": 1.25, "done_ms": 1e-3,
		"other": map[string]int{"x": 1}}
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
