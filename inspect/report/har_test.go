package report_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/tlslens/tlslens/inspect"
	"github.com/tlslens/tlslens/inspect/report"
	"github.com/tlslens/tlslens/inspect/report/hartest"
)

// harInput is a connection's record and three flows on it: a GET with a
// query and cookies, a POST with a kept body, and one that got no answer.
func harInput() ([]*inspect.Record, []*inspect.Flow) {
	start := time.Date(2026, 12, 3, 6, 0, 0, 0, time.UTC)
	rec := &inspect.Record{Schema: inspect.Schema, ID: "01CONN", Mode: inspect.ModeMITM, Target: "example.com:443",
		Outcome: inspect.OutcomeOK,
		Client: &inspect.Side{Hello: &inspect.Hello{JA4: "t13d1516h2_8daaf6152771_02713d6af862"},
			Negotiated: &inspect.Negotiated{Version: "TLS 1.3", CipherSuite: "TLS_AES_128_GCM_SHA256", ALPN: "h2"}},
		Upstream: &inspect.Side{Addr: "93.184.216.34:443",
			Negotiated: &inspect.Negotiated{Version: "TLS 1.2", CipherSuite: "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"}}}
	get := &inspect.Flow{ID: "01CONN", Method: "GET", URL: "https://example.com/search?q=a%20b&lang=en&flag", Proto: "HTTP/2.0",
		Status: 302, Start: start.Add(time.Second), SentMS: 0, FirstByteMS: 12.5, DoneMS: 13,
		Request: []inspect.Header{{Name: "Host", Value: "example.com"}, {Name: "Cookie", Value: "sid=[redacted]; theme=dark"}},
		Response: []inspect.Header{{Name: "Location", Value: "/next"},
			{Name: "Set-Cookie", Value: "sid=[redacted]; Path=/; Secure; HttpOnly"}},
		ResponseSize: 0}
	post := &inspect.Flow{ID: "01CONN", Method: "POST", URL: "https://example.com/form", Proto: "HTTP/2.0",
		Status: 200, Start: start, SentMS: 2, FirstByteMS: 10, DoneMS: 15,
		Request:     []inspect.Header{{Name: "Content-Type", Value: "application/x-www-form-urlencoded"}},
		Response:    []inspect.Header{{Name: "Content-Type", Value: "image/png"}},
		RequestSize: 7, RequestBody: []byte("a=1&b=2"), ResponseSize: 4, ResponseBody: []byte{0x89, 'P', 'N', 'G'},
		ContentType: "image/png"}
	failed := &inspect.Flow{ID: "01OTHER", Method: "GET", URL: "http://plain.test/", Proto: "HTTP/1.1",
		Start: start.Add(2 * time.Second), SentMS: 0, FirstByteMS: -1, DoneMS: 30, Error: "reading the upstream's answer: EOF",
		Request: []inspect.Header{}, Response: nil}
	return []*inspect.Record{rec}, []*inspect.Flow{get, post, failed}
}

func TestHAR(t *testing.T) {
	recs, flows := harInput()
	b, err := report.HAR(recs, flows, "v1.2.3")
	if err != nil {
		t.Fatal(err)
	}
	if err := hartest.Check(b); err != nil {
		t.Fatalf("HAR fails the HAR 1.2 check:\n%v\n%s", err, b)
	}
	var h struct {
		Log struct {
			Creator struct{ Name, Version string }
			Entries []map[string]any
		}
	}
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatal(err)
	}
	if h.Log.Creator.Name != "tlslens" || h.Log.Creator.Version != "v1.2.3" || len(h.Log.Entries) != 3 {
		t.Fatalf("creator %+v, %d entries", h.Log.Creator, len(h.Log.Entries))
	}
	post, get, failed := h.Log.Entries[0], h.Log.Entries[1], h.Log.Entries[2] // by start time
	tests := []struct {
		name string
		got  any
		want string
	}{
		{"post method", post["request"].(map[string]any)["method"], "POST"},
		{"post startedDateTime", post["startedDateTime"], "2026-12-03T06:00:00.000Z"},
		{"post time", post["time"], "15"},
		{"post timings", post["timings"], `{"blocked":-1,"connect":-1,"dns":-1,"receive":5,"send":2,"ssl":-1,"wait":8}`},
		{"post postData", post["request"].(map[string]any)["postData"], `{"mimeType":"application/x-www-form-urlencoded","params":[],"text":"a=1\u0026b=2"}`},
		{"post content", post["response"].(map[string]any)["content"], `{"encoding":"base64","mimeType":"image/png","size":4,"text":"iVBORw=="}`},
		{"get connection", get["connection"], "01CONN"},
		{"get serverIPAddress", get["serverIPAddress"], "93.184.216.34"},
		{"get _tls", get["_tls"], `{"alpn":"h2","cipher_suite":"TLS_AES_128_GCM_SHA256","client_ja4":"t13d1516h2_8daaf6152771_02713d6af862","version":"TLS 1.3"}`},
		{"get queryString", get["request"].(map[string]any)["queryString"], `[{"name":"q","value":"a b"},{"name":"lang","value":"en"},{"name":"flag","value":""}]`},
		{"get request cookies", get["request"].(map[string]any)["cookies"], `[{"name":"sid","value":"[redacted]"},{"name":"theme","value":"dark"}]`},
		{"get response cookies", get["response"].(map[string]any)["cookies"], `[{"httpOnly":true,"name":"sid","path":"/","secure":true,"value":"[redacted]"}]`},
		{"get redirectURL", get["response"].(map[string]any)["redirectURL"], "/next"},
		{"get statusText", get["response"].(map[string]any)["statusText"], "Found"},
		{"failed status", failed["response"].(map[string]any)["status"], "0"},
		{"failed _tls", failed["_tls"], "<nil>"},
		{"failed error", failed["_error"], "reading the upstream's answer: EOF"},
		{"failed timings", failed["timings"], `{"blocked":-1,"connect":-1,"dns":-1,"receive":0,"send":0,"ssl":-1,"wait":30}`},
	}
	for _, tc := range tests {
		got := ""
		switch v := tc.got.(type) {
		case string:
			got = v
		case nil:
			got = "<nil>"
		default:
			j, _ := json.Marshal(v)
			got = string(j)
		}
		if got != tc.want {
			t.Errorf("%s = %s, want %s", tc.name, got, tc.want)
		}
	}
}

// TestHARCheck: the check finds what HAR 1.2 requires and is missing or of
// the wrong type, so that TestHAR passing means something.
func TestHARCheck(t *testing.T) {
	recs, flows := harInput()
	good, err := report.HAR(recs, flows, "dev")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ from, to, want string }{
		{`"httpVersion"`, `"httpversion"`, `required "httpVersion" missing`},
		{`"cache": {}`, `"cache": []`, `cache: array, want object`},
		{`"redirectURL"`, `"redirectUrl"`, `required "redirectURL" missing`},
		{`"send": 2`, `"send": -1`, `timings.send = -1`},
		{`"time": 15`, `"time": 16`, `time = 16`},
		{`"mimeType": "application/x-www-form-urlencoded"`, `"mimeType": 1`, `postData.mimeType: number, want string`},
		{`"startedDateTime": "2026-12-03T06:00:00.000Z"`, `"startedDateTime": "yesterday"`, `not ISO 8601`},
		{`"value": "dark"`, `"val": "dark"`, `cookies[1]: required "value" missing`},
	} {
		bad := strings.Replace(string(good), tc.from, tc.to, 1)
		if bad == string(good) {
			t.Fatalf("%s is not in the HAR", tc.from)
		}
		if err := hartest.Check([]byte(bad)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("with %s: Check = %v, want an error containing %q", tc.to, err, tc.want)
		}
	}
}

// TestReadFlows: flows and records are read back from the files tlslens
// writes, other lines skipped.
func TestReadFlows(t *testing.T) {
	in := `{"level":"info","msg":"tlslens listening","time":"2026-12-03T06:00:00Z"}
{"flow":{"id":"01CONN","method":"GET","url":"https://example.com/","http_version":"HTTP/1.1","status":200,"request_headers":[{"name":"Host","value":"example.com"}],"response_headers":[],"request_size":0,"response_size":5,"start":"2026-12-03T06:00:00.5Z","sent_ms":0,"first_byte_ms":1,"done_ms":2},"id":"01CONN","level":"info","msg":"flow","time":"2026-12-03T06:00:01.000Z"}
`
	flows, err := report.ReadFlows(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(flows) != 1 || flows[0].ID != "01CONN" || flows[0].ResponseSize != 5 || flows[0].Start.Nanosecond() != 5e8 || flows[0].Time.Second() != 1 ||
		inspect.HeaderValue(flows[0].Request, "Host") != "example.com" {
		t.Fatalf("ReadFlows = %+v", flows)
	}
	if _, err := report.ReadFlows(strings.NewReader(`{"msg":"flow","flow":{"status":"two hundred"}}`)); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("a malformed flow line: %v, want an error naming line 1", err)
	}
	recs, err := report.ReadRecords(strings.NewReader(`{"msg":"handshake","id":"A","schema":1}
{"msg":"handshake","id":"B","schema":1}
`), func(id string) bool { return id == "B" })
	if err != nil || len(recs) != 1 || recs[0].ID != "B" {
		t.Errorf("ReadRecords = %v, %v; want record B only", recs, err)
	}
}
