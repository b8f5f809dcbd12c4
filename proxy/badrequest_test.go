package proxy

import (
	"bufio"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tlslens/tlslens/ca/testpki"
	"github.com/tlslens/tlslens/inspect"
)

// TestEveryConnectionRecorded: after a mix of connections that never
// complete a proxy request (malformed, over the header limit, slowloris,
// connect-and-close, TLS to the proxy port, HTTP/2 without TLS), plain http://
// keep-alive requests, a CONNECT tunnel and intercepted connections, the
// records written equal tlslens_connections_total, and each bad connection's
// record says bad_request, the status sent and what happened.
func TestEveryConnectionRecorded(t *testing.T) {
	pki := testpki.Root(t, "Upstream Test Root")
	up := startUpstream(t, &tls.Config{Certificates: []tls.Certificate{pki.Leaf(t, "example.com")}})
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "plain") }))
	t.Cleanup(plain.Close)
	reg := prometheus.NewRegistry()
	h := newHarness(t, func(o *Options) {
		o.UpstreamRoots = pki.Pool()
		o.Metrics = reg
		o.HandshakeTimeout = time.Second // the slowloris client is closed after it
		o.MaxHeaderBytes = 4 << 10
	})
	dial := func() net.Conn {
		c, err := net.Dial("tcp", h.addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	// answer sends b on a new connection and returns the status of the
	// answer, 0 if the proxy closed without one.
	answer := func(b string) int {
		c := dial()
		io.WriteString(c, b)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		c.Close()
		return resp.StatusCode
	}

	type bad struct {
		status int    // the answer the client got and the record names
		error  string // in the record's client.error
	}
	var bads []bad
	for _, tc := range []struct {
		name, send string
		want       bad
	}{
		// The whole answer, quoted: the missing Host header's record also says "could not parse".
		{"malformed CONNECT", "CONNECT\r\n\r\n", bad{400, `could not parse: tlslens answered "400 Bad Request";`}},
		{"request without Host", "GET http://example.com/ HTTP/1.1\r\n\r\n", bad{400, "missing required Host header"}},
		{"unknown transfer coding", "POST http://example.com/ HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: foo\r\n\r\n", bad{501, "Unsupported transfer encoding"}},
		{"headers over the limit", "GET http://example.com/ HTTP/1.1\r\nHost: example.com\r\nX-Big: " + strings.Repeat("a", 64<<10) + "\r\n\r\n",
			bad{431, "max_header_bytes"}},
		{"HTTP/2 without TLS", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", bad{505, "HTTP/1.1"}},
	} {
		if got := answer(tc.send); got != tc.want.status {
			t.Errorf("%s: answered %d, want %d", tc.name, got, tc.want.status)
		}
		bads = append(bads, tc.want)
	}
	// Slowloris: half a request line, then silence until the proxy closes.
	slow := dial()
	io.WriteString(slow, "CONNECT example.com:443 HTTP/1.1\r\nHost: exa")
	bads = append(bads, bad{0, "no complete request within handshake_timeout"})
	// Churn: connect and close without a byte.
	for range 5 {
		dial().Close()
		bads = append(bads, bad{0, "without sending anything"})
	}
	// A client whose proxy URL says https://: TLS to the plain HTTP port.
	tc := tls.Client(dial(), &tls.Config{ServerName: "example.com", RootCAs: h.roots()})
	tc.SetDeadline(time.Now().Add(5 * time.Second))
	if err := tc.Handshake(); err == nil {
		t.Error("a TLS handshake with the proxy port succeeded")
	}
	tc.Close()
	bads = append(bads, bad{-1, "started a TLS handshake on the proxy port"}) // 400 or none: the hello may hold a '\n'

	// Plain http:// requests, three on one keep-alive connection: one record.
	rc := newReaderClient(t, dial())
	plainTarget := strings.TrimPrefix(plain.URL, "http://")
	for range 3 {
		if resp := rc.do("GET", plain.URL+"/", plainTarget); resp.status != 200 || resp.body != "plain" {
			t.Fatalf("plain GET = %d %q", resp.status, resp.body)
		}
	}
	rc.c.Close()
	// A CONNECT tunnel that does not speak TLS, and intercepted connections.
	tun := h.connect(plainTarget)
	rt := newReaderClient(t, tun)
	if resp := rt.do("GET", "/", plainTarget); resp.body != "plain" {
		t.Errorf("GET through the tunnel = %d %q", resp.status, resp.body)
	}
	tun.Close()
	client := h.httpClient(nil)
	for range 3 {
		resp, err := client.Get("https://example.com:" + up.port() + "/")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	good := 1 + 1 + 3 // plain, tunnel, intercepted

	var got []*inspect.Record
	for range len(bads) + good {
		got = append(got, h.record())
	}
	var gotBad []*inspect.Record
	outcomes := map[inspect.Outcome]int{}
	for _, r := range got {
		outcomes[r.Outcome]++
		if r.Outcome == inspect.OutcomeBadRequest {
			gotBad = append(gotBad, r)
		}
		if r.Outcome == inspect.OutcomeOK && r.Mode == inspect.ModeHTTP && r.Target != plainTarget {
			t.Errorf("plain http record target %q, want %q", r.Target, plainTarget)
		}
	}
	if outcomes[inspect.OutcomeBadRequest] != len(bads) || outcomes[inspect.OutcomeOK] != 4 || outcomes[inspect.OutcomeNotTLS] != 1 {
		t.Errorf("outcomes %v, want %d bad_request, 4 ok, 1 not_tls", outcomes, len(bads))
	}
	// Each bad connection's record, matched by its error (they close in
	// their own order).
	for _, want := range bads {
		found := false
		for i, r := range gotBad {
			if r != nil && strings.Contains(r.Client.Error, want.error) && (want.status < 0 || r.Client.Status == want.status) {
				if r.Mode != inspect.ModeHTTP || r.Client.Addr == "" || r.Client.Local != h.addr {
					t.Errorf("bad_request record mode %s client %+v, want mode http and both addresses", r.Mode, r.Client)
				}
				gotBad[i], found = nil, true
				break
			}
		}
		if !found {
			t.Errorf("no bad_request record with status %d and an error saying %q", want.status, want.error)
		}
	}
	for _, r := range gotBad {
		if r != nil {
			t.Errorf("unexpected bad_request record: status %d, %s", r.Client.Status, r.Client.Error)
		}
	}

	total := metricValue(t, reg, "tlslens_connections_total")
	if int(total) != len(got) {
		t.Errorf("tlslens_connections_total = %v, %d records written", total, len(got))
	}
	if w := metricValue(t, reg, "tlslens_records_written_total"); w != total {
		t.Errorf("tlslens_records_written_total = %v, want tlslens_connections_total %v", w, total)
	}
	h.recordCount(len(got))
}
