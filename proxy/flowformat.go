package proxy

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/sirupsen/logrus"

	"github.com/tlslens/tlslens/inspect"
)

// A FlowFormatter is a logrus.Formatter for Options.Flows: it writes the
// lines logrus's JSONFormatter writes (keys sorted, "level", "msg" and
// "time" added, times in TimestampFormat, strings escaped as
// encoding/json escapes them for HTML), byte for byte, with the values a
// flow line has (strings, numbers, the *inspect.Flow) encoded without
// reflection, any other through encoding/json. A flow line is
// written for every HTTP request, and JSONFormatter (a map through
// encoding/json) costs more than the rest of the flow. Safe for concurrent
// use.
type FlowFormatter struct {
	TimestampFormat string // "" means time.RFC3339
}

// Format implements logrus.Formatter.
func (f FlowFormatter) Format(e *logrus.Entry) ([]byte, error) {
	layout := f.TimestampFormat
	if layout == "" {
		layout = time.RFC3339
	}
	keys := make([]string, 0, len(e.Data)+3)
	for k := range e.Data {
		keys = append(keys, k)
	}
	keys = append(keys, "level", "msg", "time") // what logrus adds; the proxy never sets them
	slices.Sort(keys)
	var b []byte
	if e.Buffer != nil {
		// logrus's pooled buffer (reset before each entry): no allocation
		// per line once it has grown to a line's size.
		b = e.Buffer.AvailableBuffer()
	}
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, k)
		b = append(b, ':')
		var v any
		switch k {
		case "level":
			v = e.Level.String()
		case "msg":
			v = e.Message
		case "time":
			v = e.Time.Format(layout)
		default:
			v = e.Data[k]
		}
		var err error
		if b, err = appendJSON(b, v); err != nil {
			return nil, err
		}
	}
	b = append(b, '}', '\n')
	if e.Buffer != nil {
		e.Buffer.Write(b) // in place: b is the buffer's own free space, or a copy once it outgrew it
		return e.Buffer.Bytes(), nil
	}
	return b, nil
}

func appendJSON(b []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case string:
		return appendJSONString(b, v), nil
	case int:
		return strconv.AppendInt(b, int64(v), 10), nil
	case int64:
		return strconv.AppendInt(b, v, 10), nil
	case float64:
		return appendJSONFloat(b, v), nil
	case time.Time:
		return appendJSONTime(b, v), nil
	case []inspect.Header:
		return appendHeaders(b, v), nil
	case *inspect.Flow:
		if v == nil {
			return append(b, "null"...), nil
		}
		return appendFlow(b, v), nil
	}
	j, err := json.Marshal(v)
	return append(b, j...), err
}

// appendFlow appends f as encoding/json writes it (its json tags, in order).
func appendFlow(b []byte, f *inspect.Flow) []byte {
	return appendFlowHeaders(b, f, f.Request, f.Response)
}

// appendFlowHeaders is appendFlow with req and resp as f's request and
// response headers.
func appendFlowHeaders(b []byte, f *inspect.Flow, req, resp []inspect.Header) []byte {
	b = appendHeaders(append(appendFlowHead(b, f), `,"request_headers":`...), req)
	b = appendHeaders(append(b, `,"response_headers":`...), resp)
	return appendFlowTail(b, f)
}

// appendFlowHead appends f's JSON up to its headers, appendFlowTail the
// rest.
func appendFlowHead(b []byte, f *inspect.Flow) []byte {
	b = append(b, '{')
	if !f.Time.IsZero() {
		b = appendJSONTime(append(b, `"time":`...), f.Time)
		b = append(b, ',')
	}
	return appendFlowID(b, f)
}

// appendFlowID appends f's keys from id to status.
func appendFlowID(b []byte, f *inspect.Flow) []byte {
	b = appendJSONString(append(b, `"id":`...), f.ID)
	b = appendJSONString(append(b, `,"method":`...), f.Method)
	b = appendJSONString(append(b, `,"url":`...), f.URL)
	b = appendJSONString(append(b, `,"http_version":`...), f.Proto)
	if f.Status != 0 {
		b = append(b, `,"status":`...)
		b = strconv.AppendInt(b, int64(f.Status), 10)
	}
	return b
}

func appendFlowTail(b []byte, f *inspect.Flow) []byte {
	b = appendFlowSizes(b, f)
	b = appendJSONTime(append(b, `,"start":`...), f.Start)
	return appendFlowTimings(b, f)
}

// appendFlowSizes appends f's keys from request_size to content_type.
func appendFlowSizes(b []byte, f *inspect.Flow) []byte {
	b = strconv.AppendInt(append(b, `,"request_size":`...), f.RequestSize, 10)
	b = strconv.AppendInt(append(b, `,"response_size":`...), f.ResponseSize, 10)
	if f.ContentType != "" {
		b = appendJSONString(append(b, `,"content_type":`...), f.ContentType)
	}
	return b
}

// appendFlowTimings appends f's keys from sent_ms to error, and its end.
func appendFlowTimings(b []byte, f *inspect.Flow) []byte {
	b = appendJSONFloat(append(b, `,"sent_ms":`...), f.SentMS)
	b = appendJSONFloat(append(b, `,"first_byte_ms":`...), f.FirstByteMS)
	b = appendJSONFloat(append(b, `,"done_ms":`...), f.DoneMS)
	if f.Error != "" {
		b = appendJSONString(append(b, `,"error":`...), f.Error)
	}
	return append(b, '}')
}

// appendJSONFloat appends v as encoding/json writes a float64: as
// ECMAScript does, with an exponent only below 1e-6 or from 1e21 (a
// flow's milliseconds never have one).
func appendJSONFloat(b []byte, v float64) []byte {
	// A flow's durations are whole microseconds in milliseconds (ms):
	// below 2^53 thousandths their shortest form is the thousandths' digits,
	// written at once where strconv would search for it.
	if n := int64(math.Round(v * 1000)); float64(n)/1000 == v && n > -1<<53 && n < 1<<53 {
		if n < 0 {
			b = append(b, '-')
			n = -n
		}
		b = strconv.AppendInt(b, n/1000, 10)
		if frac := int(n % 1000); frac != 0 {
			width := 3
			for frac%10 == 0 {
				frac /= 10
				width--
			}
			b = appendDigits(append(b, '.'), frac, width)
		}
		return b
	}
	if abs := math.Abs(v); abs == 0 || abs >= 1e-6 && abs < 1e21 {
		return strconv.AppendFloat(b, v, 'f', -1, 64)
	}
	b = strconv.AppendFloat(b, v, 'e', -1, 64)
	if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
		b[n-2] = b[n-1] // e-07 is written e-7
		b = b[:n-1]
	}
	return b
}

// appendJSONTime appends t as encoding/json writes it (RFC 3339 with
// nanoseconds), without formatting it into a string first.
func appendJSONTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

// appendJSONFields appends what appendHeaders would of headerList(host,
// h), h's fields being fields (headerFields), with the values redacted as
// inspect.Redact redacts them when redact is set.
func appendJSONFields(b []byte, host string, fields []headerField, redact bool) []byte {
	b = append(b, '[')
	if host != "" {
		b = append(appendJSONString(append(b, `{"name":"Host","value":`...), host), '}')
	}
	for _, f := range fields {
		for _, v := range f.values {
			if b[len(b)-1] != '[' {
				b = append(b, ',')
			}
			b = appendJSONString(append(b, `{"name":`...), f.name)
			if redact {
				v = inspect.RedactValue(f.name, v)
			}
			b = append(appendJSONString(append(b, `,"value":`...), v), '}')
		}
	}
	return append(b, ']')
}

func appendHeaders(b []byte, hs []inspect.Header) []byte {
	if hs == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, h := range hs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"name":`...)
		b = appendJSONString(b, h.Name)
		b = append(b, `,"value":`...)
		b = appendJSONString(b, h.Value)
		b = append(b, '}')
	}
	return append(b, ']')
}

// appendJSONString appends s as a JSON string, as encoding/json writes it
// with HTML escaping (logrus's JSONFormatter's): <, > and & as \u003c,
// \u003e and \u0026, U+2028 and U+2029 escaped too, invalid UTF-8 as
// U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	plain := 0 // most values need no escape: copy them at once
	for plain < len(s) && jsonPlain(s[plain]) {
		plain++
	}
	b = append(b, s[:plain]...)
	for i := plain; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case jsonPlain(c):
				b = append(b, c)
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\b':
				b = append(b, '\\', 'b')
			case c == '\f':
				b = append(b, '\\', 'f')
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			default: // other controls, <, >, &
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029': // valid JSON, but not JavaScript's
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}

// jsonPlain reports whether c is an ASCII byte encoding/json with HTML
// escaping writes as it is in a string: a bit of jsonPlainSet.
func jsonPlain(c byte) bool { return c < utf8.RuneSelf && jsonPlainSet[c>>6]>>(c&63)&1 != 0 }

// jsonPlainSet: printable ASCII but for ", &, <, > (bytes 0 to 63) and \
// (64 to 127); DEL is written as it is.
var jsonPlainSet = [2]uint64{
	0xffffffff_00000000 &^ (1<<'"' | 1<<'&' | 1<<'<' | 1<<'>'),
	^uint64(0) &^ (1 << ('\\' - 64)),
}
