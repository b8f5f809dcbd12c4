package proxy

import (
	"bufio"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/websocket"

	"github.com/tlslens/tlslens/ca/testpki"
	"github.com/tlslens/tlslens/inspect"
)

// startH2Upstream is startUpstream with HTTP/2 enabled, counting the TCP
// connections it accepts.
func startH2Upstream(t *testing.T, cfg *tls.Config, conns *atomic.Int64) *upstream {
	t.Helper()
	u := &upstream{requests: make(chan *http.Request, 100)}
	u.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.requests <- r
		io.WriteString(w, "hello from upstream "+r.URL.Path+" over "+r.Proto)
	}))
	u.EnableHTTP2 = true
	u.TLS = cfg
	u.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			conns.Add(1)
		}
	}
	u.StartTLS()
	t.Cleanup(u.Close)
	return u
}

// TestHTTP2BothLegs: a client offering h2 gets h2 because the server chose
// it (ALPN mirroring); concurrent requests share one client connection and
// one upstream connection; a request for another host on it gets 421.
func TestHTTP2BothLegs(t *testing.T) {
	t.Parallel()
	pki := testpki.Root(t, "Upstream Test Root")
	var conns atomic.Int64
	up := startH2Upstream(t, &tls.Config{Certificates: []tls.Certificate{
		pki.Leaf(t, "example.com")}}, &conns)
	h := newHarness(t, func(o *Options) { o.UpstreamRoots = pki.Pool() })
	proxyURL, _ := url.Parse("http://" + h.addr)
	tr := &http.Transport{Proxy: http.ProxyURL(proxyURL), TLSClientConfig: &tls.Config{RootCAs: h.roots()}, ForceAttemptHTTP2: true}
	t.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr, Timeout: 15 * time.Second}
	base := "https://example.com:" + up.port()

	resp, body := get(t, client, base+"/first")
	if resp.Proto != "HTTP/2.0" || body != "hello from upstream /first over HTTP/2.0" {
		t.Fatalf("client got %s %q, want HTTP/2.0 on both legs", resp.Proto, body)
	}
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := client.Get(base + "/concurrent")
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || resp.Proto != "HTTP/2.0" {
				t.Errorf("concurrent request: %s %s", resp.Proto, resp.Status)
			}
		}()
	}
	wg.Wait()
	for i := 0; i < 9; i++ {
		if r := <-up.requests; r.Proto != "HTTP/2.0" {
			t.Errorf("upstream saw %s, want HTTP/2.0", r.Proto)
		}
	}

	// Another host on this connection (HTTP/2 coalescing): 421.
	req, _ := http.NewRequest(http.MethodGet, base+"/coalesced", nil)
	req.Host = "other.test"
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMisdirectedRequest || resp.Proto != "HTTP/2.0" {
		t.Errorf("request for another host: %s %s, want HTTP/2.0 421", resp.Proto, resp.Status)
	}

	r := h.record()
	if r.Outcome != inspect.OutcomeOK || r.Client.Negotiated.ALPN != "h2" || r.Upstream.Negotiated.ALPN != "h2" {
		t.Fatalf("outcome %s ALPN client %q upstream %q, want h2 on both legs", r.Outcome, r.Client.Negotiated.ALPN, r.Upstream.Negotiated.ALPN)
	}
	if a := r.Upstream.Hello.ALPN; len(a) != 2 || a[0] != "h2" || a[1] != "http/1.1" {
		t.Errorf("upstream hello ALPN %v, want the client's [h2 http/1.1]", a)
	}
	h.recordCount(1)
	if n := conns.Load(); n != 1 {
		t.Errorf("upstream accepted %d connections, want 1", n)
	}
}

// TestALPNMirrorHTTP1: a client offering h2 and http/1.1 to a server that
// picks http/1.1 is given http/1.1.
func TestALPNMirrorHTTP1(t *testing.T) {
	t.Parallel()
	pki := testpki.Root(t, "Upstream Test Root")
	up := startUpstream(t, &tls.Config{Certificates: []tls.Certificate{
		pki.Leaf(t, "example.com")}, NextProtos: []string{"http/1.1"}})
	h := newHarness(t, func(o *Options) { o.UpstreamRoots = pki.Pool() })
	c := tls.Client(h.connect("example.com:"+up.port()), &tls.Config{ServerName: "example.com", RootCAs: h.roots(), NextProtos: []string{"h2", "http/1.1"}})
	if err := c.Handshake(); err != nil {
		t.Fatal(err)
	}
	if p := c.ConnectionState().NegotiatedProtocol; p != "http/1.1" {
		t.Fatalf("client negotiated %q, want http/1.1 as the server chose", p)
	}
	if resp := newReaderClient(t, c).do("GET", "/h1", "example.com"); resp.status != http.StatusOK || resp.body != "hello from upstream /h1 over HTTP/1.1" {
		t.Errorf("got %d %q", resp.status, resp.body)
	}
	if r := h.record(); r.Client.Negotiated.ALPN != "http/1.1" || r.Upstream.Negotiated.ALPN != "http/1.1" {
		t.Errorf("ALPN client %q upstream %q", r.Client.Negotiated.ALPN, r.Upstream.Negotiated.ALPN)
	}
}

// TestWebSocket: an HTTP/1.1 upgrade through the intercepted connection is
// relayed both ways.
func TestWebSocket(t *testing.T) {
	t.Parallel()
	pki := testpki.Root(t, "Upstream Test Root")
	up := httptest.NewUnstartedServer(websocket.Handler(func(ws *websocket.Conn) {
		for { // echo each message whole
			var msg string
			if websocket.Message.Receive(ws, &msg) != nil || websocket.Message.Send(ws, msg) != nil {
				return
			}
		}
	}))
	up.TLS = &tls.Config{Certificates: []tls.Certificate{pki.Leaf(t, "example.com")}}
	up.StartTLS()
	t.Cleanup(up.Close)
	_, port, _ := net.SplitHostPort(up.Listener.Addr().String())
	h := newHarness(t, func(o *Options) { o.UpstreamRoots = pki.Pool() })

	tc := tls.Client(h.connect("example.com:"+port), &tls.Config{ServerName: "example.com", RootCAs: h.roots(), NextProtos: []string{"http/1.1"}})
	cfg, err := websocket.NewConfig("wss://example.com:"+port+"/echo", "https://example.com:"+port)
	if err != nil {
		t.Fatal(err)
	}
	ws, err := websocket.NewClient(cfg, tc)
	if err != nil {
		t.Fatalf("WebSocket handshake through tlslens: %v", err)
	}
	defer ws.Close()
	for _, msg := range []string{"hello", strings.Repeat("x", 70000), "bye"} {
		if err := websocket.Message.Send(ws, msg); err != nil {
			t.Fatal(err)
		}
		var got string
		if err := websocket.Message.Receive(ws, &got); err != nil {
			t.Fatal(err)
		}
		if got != msg {
			t.Fatalf("echo of %d bytes came back as %d bytes", len(msg), len(got))
		}
	}
	if r := h.record(); r.Outcome != inspect.OutcomeOK || r.Upstream.Negotiated.ALPN != "http/1.1" {
		t.Errorf("outcome %s upstream ALPN %q", r.Outcome, r.Upstream.Negotiated.ALPN)
	}
}

// startLineServer runs a TLS server speaking a line protocol: with
// serverFirst it greets first (like IMAP or SMTP), then answers each line
// with "OK " and the line.
func startLineServer(t *testing.T, cfg *tls.Config, serverFirst bool) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if serverFirst {
					io.WriteString(c, "* OK tlslens line server ready\r\n")
				}
				br := bufio.NewReader(c)
				for {
					line, err := br.ReadString('\n')
					if err != nil {
						return
					}
					io.WriteString(c, "OK "+line)
				}
			}()
		}
	}()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// TestRawProtocols: TLS that is not HTTP (another ALPN, or none on a
// server-first protocol) is relayed as decrypted bytes, and both handshakes
// are recorded.
func TestRawProtocols(t *testing.T) {
	t.Parallel()
	pki := testpki.Root(t, "Upstream Test Root")
	leaf := pki.Leaf(t, "example.com")
	cases := []struct {
		name        string
		alpn        []string
		serverFirst bool
	}{
		{"imap ALPN, server first", []string{"imap"}, true},
		{"no ALPN, server first", nil, true},
		{"no ALPN, client first", nil, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			port := startLineServer(t, &tls.Config{Certificates: []tls.Certificate{leaf}, NextProtos: tc.alpn}, tc.serverFirst)
			h := newHarness(t, func(o *Options) { o.UpstreamRoots = pki.Pool() })
			c := tls.Client(h.connect("example.com:"+port), &tls.Config{ServerName: "example.com", RootCAs: h.roots(), NextProtos: tc.alpn})
			c.SetDeadline(time.Now().Add(10 * time.Second))
			br := bufio.NewReader(c)
			if tc.serverFirst {
				if greeting, err := br.ReadString('\n'); err != nil || greeting != "* OK tlslens line server ready\r\n" {
					t.Fatalf("greeting %q, %v", greeting, err)
				}
			}
			for _, line := range []string{"a1 NOOP\r\n", "a2 LOGOUT\r\n"} {
				io.WriteString(c, line)
				if got, err := br.ReadString('\n'); err != nil || got != "OK "+line {
					t.Fatalf("answer %q, %v; want %q", got, err, "OK "+line)
				}
			}
			r := h.record()
			want := ""
			if len(tc.alpn) > 0 {
				want = tc.alpn[0]
			}
			if r.Outcome != inspect.OutcomeOK || r.Client.Negotiated == nil || r.Upstream.Negotiated == nil ||
				r.Client.Negotiated.ALPN != want || r.Upstream.Negotiated.ALPN != want {
				t.Fatalf("outcome %s client %+v upstream %+v, want both handshakes with ALPN %q", r.Outcome, r.Client.Negotiated, r.Upstream.Negotiated, want)
			}
			if r.Upstream.ServerHello == nil || r.Client.ServerHello == nil || len(r.Upstream.Chain) != 1 {
				t.Errorf("server hellos %+v / %+v, chain %d", r.Client.ServerHello, r.Upstream.ServerHello, len(r.Upstream.Chain))
			}
			h.recordCount(1)
		})
	}
}
