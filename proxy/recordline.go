package proxy

import (
	"bytes"
	"encoding/json"
	"sync"
	"time"

	"github.com/tlslens/tlslens/inspect"
)

// A record file (Options.RecordFile) gets a line for every connection.
// Through logrus, the line was a map of fields sorted and encoded by
// encoding/json, and a consumer keeping the record as JSON (the web view)
// encoded it a second time. The proxy encodes each top-level value of the
// record once instead, by encoding/json (so byte for byte as before), and
// assembles from them both the record line and the record's JSON.

// RecordTimeFormat is the layout of a record line's "time": milliseconds.
const RecordTimeFormat = "2006-01-02T15:04:05.000Z07:00"

// The top-level values of a record, in inspect.Record's field order: the
// order encoding/json writes them in.
const (
	recSchema = iota
	recID
	recMode
	recTarget
	recVia
	recOutcome
	recReason
	recClient
	recUpstream
	recProbe
	recFindings
	recReadiness
	recIgnored
	recFields
)

// recordKeys are the JSON keys of the top-level values, by index.
var recordKeys = [recFields]string{"schema", "id", "mode", "target", "via", "outcome", "reason",
	"client", "upstream", "probe", "findings", "readiness", "ignored"}

// What a record line has beside the record's values, as logrus adds them.
const (
	lineLevel = -1 - iota
	lineMsg
	lineTime
)

// lineOrder is a record line's keys in the order logrus's JSONFormatter
// writes them (sorted: a map through encoding/json): the record's values
// and logrus's level, msg and time.
var lineOrder = [...]int{recClient, recFindings, recID, recIgnored, lineLevel, recMode, lineMsg,
	recOutcome, recProbe, recReadiness, recReason, recSchema, recTarget, lineTime, recUpstream, recVia}

// An encodedRecord is one record's top-level values, each encoded once.
type encodedRecord struct {
	buf  bytes.Buffer
	enc  *json.Encoder     // to buf, escaping HTML as json.Marshal and logrus do
	vals [recFields][]byte // in buf; nil: the record omits the key
	line []byte            // scratch for the record line
}

var encodedRecords = sync.Pool{New: func() any {
	j := new(encodedRecord)
	j.enc = json.NewEncoder(&j.buf)
	return j
}}

// recordValues are r's top-level values by index, nil for those the record
// omits: the fields of its logrus entry and what json.Marshal writes (the
// same omissions).
func recordValues(r *inspect.Record) [recFields]any {
	var v [recFields]any
	v[recSchema], v[recID], v[recMode], v[recTarget] = r.Schema, r.ID, r.Mode, r.Target
	v[recOutcome], v[recClient], v[recFindings] = r.Outcome, r.Client, r.Findings
	if !r.Via.IsZero() { // absent for the proxy port
		v[recVia] = r.Via
	}
	if r.Reason != "" {
		v[recReason] = r.Reason
	}
	if r.Upstream != nil { // absent when never dialled
		v[recUpstream] = r.Upstream
	}
	if r.Probe != nil { // absent when not probed
		v[recProbe] = r.Probe
	}
	if r.Readiness != nil { // absent without a ClientHello
		v[recReadiness] = r.Readiness
	}
	if r.Ignored {
		v[recIgnored] = true
	}
	return v
}

// encodeRecord encodes r's top-level values: those emit gives logrus,
// which are those json.Marshal writes (the same omissions). Release it
// when done.
func encodeRecord(r *inspect.Record) (*encodedRecord, error) {
	j := encodedRecords.Get().(*encodedRecord)
	j.buf.Reset()
	var at [recFields][2]int // buf grows while encoding: offsets first, slices after
	add := func(k int, v any) error {
		start := j.buf.Len()
		if err := j.enc.Encode(v); err != nil {
			return err
		}
		at[k] = [2]int{start, j.buf.Len() - 1} // without Encode's newline
		return nil
	}
	var err error
	for k, v := range recordValues(r) {
		if v != nil && err == nil {
			err = add(k, v)
		}
	}
	if err != nil {
		j.release()
		return nil, err
	}
	b := j.buf.Bytes()
	for k, a := range at {
		j.vals[k] = nil
		if a[1] > a[0] {
			j.vals[k] = b[a[0]:a[1]]
		}
	}
	return j, nil
}

// appendLine appends the record line logrus's JSONFormatter (TimestampFormat
// RecordTimeFormat) writes for the "handshake" entry of j's values, logged
// at info level at t.
func (j *encodedRecord) appendLine(b []byte, t time.Time) []byte {
	b = append(b, '{')
	for _, k := range lineOrder {
		var v []byte
		switch k {
		case lineLevel:
			b = append(b, `"level":"info"`...)
		case lineMsg:
			b = append(b, `"msg":"handshake"`...)
		case lineTime:
			b = append(b, `"time":"`...)
			b = append(t.AppendFormat(b, RecordTimeFormat), '"')
		default:
			if v = j.vals[k]; v == nil {
				continue
			}
			b = append(append(append(b, '"'), recordKeys[k]...), '"', ':')
			b = append(b, v...)
		}
		b = append(b, ',')
	}
	b[len(b)-1] = '}'
	return append(b, '\n')
}

// appendRecord appends the record's JSON as json.Marshal writes an
// inspect.Record of j's values with Time t.
func (j *encodedRecord) appendRecord(b []byte, t time.Time) []byte {
	b = append(b, `{"time":`...)
	b = appendJSONTime(b, t)
	for k, v := range j.vals {
		if v != nil {
			b = append(append(append(b, ',', '"'), recordKeys[k]...), '"', ':')
			b = append(b, v...)
		}
	}
	return append(b, '}')
}

// release returns j to the pool, unless an outsized record grew it.
func (j *encodedRecord) release() {
	if j.buf.Cap()+cap(j.line) <= 1<<20 {
		encodedRecords.Put(j)
	}
}
