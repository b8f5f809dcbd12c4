package inspect

import (
	"strings"
	"time"
)

// A Flow is one HTTP request and its answer on a recorded connection: an
// intercepted one (HTTP/1.1, HTTP/2, a WebSocket upgrade), a plain http://
// request through the proxy, or an https:// URL sent without CONNECT. ID is
// the record id of the connection that carried it, so that flows join their
// record. Flows are written apart from records (docs/record.md "Flows"):
// the record file holds records only.
type Flow struct {
	// Time is when the flow was written, filled by the logger on output and
	// by decoding on input, like Record.Time; the proxy leaves it zero.
	Time     time.Time `json:"time,omitzero"`
	ID       string    `json:"id"` // the connection's record id
	Method   string    `json:"method"`
	URL      string    `json:"url"`
	Proto    string    `json:"http_version"`     // the client's: "HTTP/1.1", "HTTP/2.0"
	Status   int       `json:"status,omitempty"` // 0 when no answer was sent
	Request  []Header  `json:"request_headers"`
	Response []Header  `json:"response_headers"`
	// RequestSize and ResponseSize are the bytes of each body as they
	// streamed through tlslens (after any transfer coding, before any
	// content coding: a gzip body counts its compressed bytes).
	RequestSize  int64  `json:"request_size"`
	ResponseSize int64  `json:"response_size"`
	ContentType  string `json:"content_type,omitempty"` // the response's
	// Start is when tlslens had the request's headers; the durations after
	// it are in milliseconds: Sent when the request body was read whole (0
	// without a body), FirstByte when the answer's headers were written,
	// Done when its body was. -1 for a step never reached.
	Start       time.Time `json:"start"`
	SentMS      float64   `json:"sent_ms"`
	FirstByteMS float64   `json:"first_byte_ms"`
	DoneMS      float64   `json:"done_ms"`
	Error       string    `json:"error,omitempty"` // why the exchange failed, if it did

	// The bodies, as far as kept in memory (never written to a file), and
	// whether each was cut at the bound.
	RequestBody       []byte `json:"-"`
	ResponseBody      []byte `json:"-"`
	RequestTruncated  bool   `json:"-"`
	ResponseTruncated bool   `json:"-"`
}

// A Header is one header field value, as Go's HTTP stack keeps it: its
// canonical name (field order across names is not kept, the order of one
// name's values is).
type Header struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Redacted is what a secret header value is replaced with.
const Redacted = "[redacted]"

// secretHeader reports whether the values of the field name are
// credentials.
func secretHeader(name string) bool {
	switch name {
	case "Authorization", "Proxy-Authorization", "Cookie", "Set-Cookie":
		return true
	}
	return false
}

// Redact returns hs with the values of Authorization, Proxy-Authorization,
// Cookie and Set-Cookie replaced as RedactValue replaces them. hs itself is
// not modified; without a secret it is returned as is.
func Redact(hs []Header) []Header {
	var out []Header
	for i, h := range hs {
		if !secretHeader(h.Name) {
			continue
		}
		if out == nil {
			out = append([]Header(nil), hs...)
		}
		out[i].Value = redactValue(h.Name, h.Value)
	}
	if out == nil {
		return hs
	}
	return out
}

// RedactValue returns v, a value of the header field name (canonical
// form), with its credentials replaced when name is Authorization,
// Proxy-Authorization, Cookie or Set-Cookie: an authorization keeps its
// scheme ("Bearer [redacted]"), a cookie its names ("sid=[redacted];
// lang=[redacted]"). Any other field's value is returned as is.
func RedactValue(name, v string) string {
	if !secretHeader(name) {
		return v
	}
	return redactValue(name, v)
}

func redactValue(name, v string) string {
	switch name {
	case "Authorization", "Proxy-Authorization":
		if scheme, _, ok := strings.Cut(strings.TrimSpace(v), " "); ok {
			return scheme + " " + Redacted
		}
		return Redacted
	case "Set-Cookie":
		// name=value; attributes: the attributes are not secret.
		pair, attrs, _ := strings.Cut(v, ";")
		n, _, _ := strings.Cut(pair, "=")
		if attrs != "" {
			attrs = ";" + attrs
		}
		return strings.TrimSpace(n) + "=" + Redacted + attrs
	}
	parts := strings.Split(v, ";")
	for i, p := range parts {
		n, _, _ := strings.Cut(strings.TrimSpace(p), "=")
		parts[i] = n + "=" + Redacted
	}
	return strings.Join(parts, "; ")
}

// HeaderValue returns the first value of name in hs (canonical form), or "".
func HeaderValue(hs []Header, name string) string {
	for _, h := range hs {
		if h.Name == name {
			return h.Value
		}
	}
	return ""
}
