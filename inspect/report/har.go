package report

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tlslens/tlslens/inspect"
)

// HAR 1.2 (http://www.softwareishard.com/blog/har-12-spec/), the format
// browsers' DevTools, HTTP Toolkit and Charles import: one entry per flow,
// joined to its connection's record by id for the server address and the
// _tls custom field (the spec allows fields starting with "_").

type harFile struct {
	Log harLog `json:"log"`
}

type harLog struct {
	Version string     `json:"version"`
	Creator harCreator `json:"creator"`
	Entries []harEntry `json:"entries"`
}

type harCreator struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

type harEntry struct {
	StartedDateTime string      `json:"startedDateTime"`
	Time            float64     `json:"time"`
	Request         harRequest  `json:"request"`
	Response        harResponse `json:"response"`
	Cache           struct{}    `json:"cache"`
	Timings         harTimings  `json:"timings"`
	ServerIPAddress string      `json:"serverIPAddress,omitempty"`
	Connection      string      `json:"connection,omitempty"`
	TLS             *harTLS     `json:"_tls,omitempty"`
	Error           string      `json:"_error,omitempty"`
}

type harRequest struct {
	Method      string       `json:"method"`
	URL         string       `json:"url"`
	HTTPVersion string       `json:"httpVersion"`
	Cookies     []harCookie  `json:"cookies"`
	Headers     []harNV      `json:"headers"`
	QueryString []harNV      `json:"queryString"`
	PostData    *harPostData `json:"postData,omitempty"`
	HeadersSize int          `json:"headersSize"`
	BodySize    int64        `json:"bodySize"`
}

type harResponse struct {
	Status      int         `json:"status"`
	StatusText  string      `json:"statusText"`
	HTTPVersion string      `json:"httpVersion"`
	Cookies     []harCookie `json:"cookies"`
	Headers     []harNV     `json:"headers"`
	Content     harContent  `json:"content"`
	RedirectURL string      `json:"redirectURL"`
	HeadersSize int         `json:"headersSize"`
	BodySize    int64       `json:"bodySize"`
}

type harNV struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type harCookie struct {
	Name     string `json:"name"`
	Value    string `json:"value"`
	Path     string `json:"path,omitempty"`
	Domain   string `json:"domain,omitempty"`
	Expires  string `json:"expires,omitempty"`
	HTTPOnly bool   `json:"httpOnly,omitempty"`
	Secure   bool   `json:"secure,omitempty"`
}

type harPostData struct {
	MimeType string  `json:"mimeType"`
	Params   []harNV `json:"params"`
	Text     string  `json:"text"`
}

type harContent struct {
	Size     int64  `json:"size"`
	MimeType string `json:"mimeType"`
	Text     string `json:"text,omitempty"`
	Encoding string `json:"encoding,omitempty"`
}

// harTimings are in milliseconds. send, wait and receive are required and
// never negative (HAR 1.2); the steps tlslens does not see apart (blocked,
// dns, connect, ssl: the connection was open before the request) are -1.
type harTimings struct {
	Blocked float64 `json:"blocked"`
	DNS     float64 `json:"dns"`
	Connect float64 `json:"connect"`
	SSL     float64 `json:"ssl"`
	Send    float64 `json:"send"`
	Wait    float64 `json:"wait"`
	Receive float64 `json:"receive"`
}

// harTLS is what the connection negotiated with the client (the upstream's
// when the client spoke no TLS: an https:// URL without CONNECT) and the
// client's JA4.
type harTLS struct {
	Version     string `json:"version,omitempty"`
	CipherSuite string `json:"cipher_suite,omitempty"`
	ALPN        string `json:"alpn,omitempty"`
	ClientJA4   string `json:"client_ja4,omitempty"`
}

// HAR returns a HAR 1.2 log of flows, oldest first, each entry joined to the
// record of its connection (the flow's id) when records has it. version is
// tlslens's, for the log's creator. Bodies kept with a flow (in memory) are
// the entries' content and postData text; flows read from a file have none.
func HAR(records []*inspect.Record, flows []*inspect.Flow, version string) ([]byte, error) {
	byID := make(map[string]*inspect.Record, len(records))
	for _, r := range records {
		byID[r.ID] = r
	}
	sorted := slices.Clone(flows)
	slices.SortStableFunc(sorted, func(a, b *inspect.Flow) int { return a.Start.Compare(b.Start) })
	h := harFile{Log: harLog{Version: "1.2", Creator: harCreator{Name: "tlslens", Version: version},
		Entries: make([]harEntry, 0, len(sorted))}}
	for _, f := range sorted {
		h.Log.Entries = append(h.Log.Entries, harEntryOf(f, byID[f.ID]))
	}
	return json.MarshalIndent(h, "", "  ")
}

func harEntryOf(f *inspect.Flow, r *inspect.Record) harEntry {
	e := harEntry{
		StartedDateTime: f.Start.UTC().Format("2006-01-02T15:04:05.000Z07:00"),
		Request: harRequest{Method: f.Method, URL: f.URL, HTTPVersion: f.Proto,
			Cookies: requestCookies(f.Request), Headers: harHeaders(f.Request), QueryString: queryString(f.URL),
			HeadersSize: -1, BodySize: f.RequestSize},
		Response: harResponse{Status: f.Status, StatusText: http.StatusText(f.Status), HTTPVersion: f.Proto,
			Cookies: responseCookies(f.Response), Headers: harHeaders(f.Response),
			Content:     harContent{Size: f.ResponseSize, MimeType: f.ContentType},
			RedirectURL: inspect.HeaderValue(f.Response, "Location"), HeadersSize: -1, BodySize: f.ResponseSize},
		Timings:    timings(f),
		Connection: f.ID,
		Error:      f.Error,
	}
	if e.Response.Content.MimeType == "" {
		e.Response.Content.MimeType = "x-unknown"
	}
	if f.Status == 0 {
		e.Response.BodySize = -1 // no answer
	}
	e.Response.Content.Text, e.Response.Content.Encoding = bodyText(f.ResponseBody)
	if f.RequestSize > 0 || len(f.RequestBody) > 0 {
		text, _ := bodyText(f.RequestBody) // HAR's postData has no encoding: binary stays out
		e.Request.PostData = &harPostData{MimeType: inspect.HeaderValue(f.Request, "Content-Type"), Params: []harNV{}, Text: text}
	}
	t := e.Timings
	e.Time = t.Send + t.Wait + t.Receive
	if r == nil {
		return e
	}
	if r.Upstream != nil && r.Upstream.Addr != "" {
		if host, _, err := net.SplitHostPort(r.Upstream.Addr); err == nil {
			e.ServerIPAddress = host
		}
	}
	side := r.Client
	if _, ok := side.Agreed(); !ok {
		side = r.Upstream // no TLS from the client: what tlslens negotiated upstream
	}
	if a, ok := side.Agreed(); ok {
		e.TLS = &harTLS{Version: a.Version, CipherSuite: a.CipherSuite, ALPN: a.ALPN}
	}
	if r.Client != nil && r.Client.Hello != nil && r.Client.Hello.JA4 != "" {
		if e.TLS == nil {
			e.TLS = &harTLS{}
		}
		e.TLS.ClientJA4 = r.Client.Hello.JA4
	}
	return e
}

// timings splits a flow's time: send until its request body was read,
// wait until the answer's headers, receive until its body's end.
func timings(f *inspect.Flow) harTimings {
	t := harTimings{Blocked: -1, DNS: -1, Connect: -1, SSL: -1}
	done := max(f.DoneMS, 0)
	t.Send = min(max(f.SentMS, 0), done)
	if f.FirstByteMS >= 0 {
		first := min(f.FirstByteMS, done)
		t.Wait = max(first-t.Send, 0)
		t.Receive = max(done-t.Send-t.Wait, 0)
	} else {
		t.Wait = max(done-t.Send, 0) // no answer: waited until the end
	}
	return t
}

func harHeaders(hs []inspect.Header) []harNV {
	out := make([]harNV, len(hs))
	for i, h := range hs {
		out[i] = harNV(h)
	}
	return out
}

// queryString is the URL's query, in order, each name and value unescaped
// (escaped as they are when not valid escapes).
func queryString(raw string) []harNV {
	out := []harNV{}
	u, err := url.Parse(raw)
	if err != nil || u.RawQuery == "" {
		return out
	}
	for _, kv := range strings.Split(u.RawQuery, "&") {
		if kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		out = append(out, harNV{Name: unescape(k), Value: unescape(v)})
	}
	return out
}

func unescape(s string) string {
	if u, err := url.QueryUnescape(s); err == nil {
		return u
	}
	return s
}

func requestCookies(hs []inspect.Header) []harCookie {
	out := []harCookie{}
	for _, h := range hs {
		if h.Name != "Cookie" {
			continue
		}
		cs, _ := http.ParseCookie(h.Value)
		for _, c := range cs {
			out = append(out, harCookie{Name: c.Name, Value: c.Value})
		}
	}
	return out
}

func responseCookies(hs []inspect.Header) []harCookie {
	out := []harCookie{}
	for _, h := range hs {
		if h.Name != "Set-Cookie" {
			continue
		}
		c, err := http.ParseSetCookie(h.Value)
		if err != nil {
			continue
		}
		hc := harCookie{Name: c.Name, Value: c.Value, Path: c.Path, Domain: c.Domain, HTTPOnly: c.HttpOnly, Secure: c.Secure}
		if !c.Expires.IsZero() {
			hc.Expires = c.Expires.UTC().Format("2006-01-02T15:04:05.000Z07:00")
		}
		out = append(out, hc)
	}
	return out
}

// bodyText is a kept body as HAR content text: as it is when UTF-8,
// base64 otherwise.
func bodyText(b []byte) (text, encoding string) {
	switch {
	case len(b) == 0:
		return "", ""
	case utf8.Valid(b):
		return string(b), ""
	}
	return base64.StdEncoding.EncodeToString(b), "base64"
}

// ReadFlows decodes the flows of a flow file (JSON Lines: msg "flow", the
// record id and the inspect.Flow under "flow"); other lines are skipped, a malformed flow line is an error naming
// its line.
func ReadFlows(r io.Reader) ([]*inspect.Flow, error) {
	var flows []*inspect.Flow
	err := readLines(r, "flow", func(b []byte) error {
		var line struct {
			Time time.Time     `json:"time"`
			ID   string        `json:"id"`
			Flow *inspect.Flow `json:"flow"`
		}
		if err := json.Unmarshal(b, &line); err != nil {
			return err
		}
		if line.Flow == nil {
			return errors.New(`a flow line without "flow"`)
		}
		line.Flow.Time = line.Time
		if line.Flow.ID == "" {
			line.Flow.ID = line.ID
		}
		flows = append(flows, line.Flow)
		return nil
	})
	return flows, err
}

// ReadRecords decodes the records of a record file whose id keep accepts
// (nil keeps all); other lines are skipped, a malformed record line is an
// error naming its line.
func ReadRecords(r io.Reader, keep func(id string) bool) ([]*inspect.Record, error) {
	var recs []*inspect.Record
	err := readLines(r, "handshake", func(b []byte) error {
		rec := &inspect.Record{}
		if err := json.Unmarshal(b, rec); err != nil {
			return err
		}
		if keep == nil || keep(rec.ID) {
			recs = append(recs, rec)
		}
		return nil
	})
	return recs, err
}

// readLines calls decode with each line of r whose msg is msg. A line may
// be as long as a record may (DefaultMaxLineBytes).
func readLines(r io.Reader, msg string, decode func([]byte) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, DefaultMaxLineBytes)
	for n := 1; sc.Scan(); n++ {
		var head struct {
			Msg string `json:"msg"`
		}
		if json.Unmarshal(sc.Bytes(), &head) != nil || head.Msg != msg {
			continue
		}
		if err := decode(sc.Bytes()); err != nil {
			return fmt.Errorf("line %d: %w", n, err)
		}
	}
	return sc.Err()
}
