package proxy

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tlslens/tlslens/ca/testpki"
)

// h1Env is a proxy, an HTTP/1.1 upstream running handler and a client
// connection through the proxy to it, in TLS with ALPN http/1.1.
type h1Env struct {
	h    *harness
	up   *httptest.Server
	rc   *readerClient
	conn *tls.Conn

	mu    sync.Mutex
	peers []string // the upstream connection of each request, in order
}

func newH1Env(t *testing.T, handler http.HandlerFunc, configure func(*httptest.Server)) *h1Env {
	t.Helper()
	e := &h1Env{}
	pki := testpki.Root(t, "Upstream Test Root")
	e.up = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		e.peers = append(e.peers, r.RemoteAddr)
		e.mu.Unlock()
		handler(w, r)
	}))
	e.up.TLS = &tls.Config{Certificates: []tls.Certificate{pki.Leaf(t, "example.com")}, NextProtos: []string{"http/1.1"}}
	if configure != nil {
		configure(e.up)
	}
	e.up.StartTLS()
	t.Cleanup(e.up.Close)
	_, port, _ := net.SplitHostPort(e.up.Listener.Addr().String())
	e.h = newHarness(t, func(o *Options) { o.UpstreamRoots = pki.Pool() })
	c := e.h.connect("example.com:" + port)
	e.conn = tls.Client(c, &tls.Config{ServerName: "example.com", RootCAs: e.h.roots(), NextProtos: []string{"http/1.1"}})
	e.rc = newReaderClient(t, e.conn)
	return e
}

func (e *h1Env) upstreamConns() map[string]bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	m := map[string]bool{}
	for _, p := range e.peers {
		m[p] = true
	}
	return m
}

// send writes raw (a request) and reads the response.
func (e *h1Env) send(t *testing.T, raw string, method string) (*http.Response, string) {
	t.Helper()
	if _, err := io.WriteString(e.conn, raw); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(e.rc.br, &http.Request{Method: method})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// TestH1UpstreamRequests: HTTP/1.1 requests of every shape (bodies both
// ways, chunked, HEAD, 1xx before the answer, trailers) go over the one
// upstream connection and arrive as sent.
func TestH1UpstreamRequests(t *testing.T) {
	e := newH1Env(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		switch r.URL.Path {
		case "/chunked":
			w.Header().Set("Trailer", "X-Sum")
			for i := 0; i < 3; i++ {
				fmt.Fprintf(w, "part %d;", i)
				w.(http.Flusher).Flush()
			}
			w.Header().Set("X-Sum", "3")
		case "/early-hints":
			w.Header().Set("Link", "</a.css>; rel=preload")
			w.WriteHeader(http.StatusEarlyHints)
			io.WriteString(w, "after hints")
		default:
			w.Header().Set("Content-Type", "text/plain")
			fmt.Fprintf(w, "%s %s %q te=%v", r.Method, r.URL.Path, b, r.TransferEncoding)
		}
	}, nil)

	cases := []struct {
		name, raw, method string
		status            int
		body              string
	}{
		{"get", "GET /a HTTP/1.1\r\nHost: example.com\r\n\r\n", "GET", 200, `GET /a "" te=[]`},
		{"post", "POST /p HTTP/1.1\r\nHost: example.com\r\nContent-Length: 5\r\n\r\nhello", "POST", 200, `POST /p "hello" te=[]`},
		{"chunked request", "PUT /c HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n", "PUT", 200, `PUT /c "abcde" te=[chunked]`},
		{"head", "HEAD /h HTTP/1.1\r\nHost: example.com\r\n\r\n", "HEAD", 200, ""},
		{"chunked response", "GET /chunked HTTP/1.1\r\nHost: example.com\r\n\r\n", "GET", 200, "part 0;part 1;part 2;"},
		{"1xx first", "GET /early-hints HTTP/1.1\r\nHost: example.com\r\n\r\n", "GET", 200, "after hints"},
		{"get again", "GET /z HTTP/1.1\r\nHost: example.com\r\n\r\n", "GET", 200, `GET /z "" te=[]`},
	}
	for _, tc := range cases {
		resp, body := e.send(t, tc.raw, tc.method)
		if resp.StatusCode != tc.status || body != tc.body {
			t.Errorf("%s: %d %q, want %d %q", tc.name, resp.StatusCode, body, tc.status, tc.body)
		}
		if tc.name == "chunked response" && resp.Trailer.Get("X-Sum") != "3" {
			t.Errorf("%s: trailer %v, want X-Sum: 3", tc.name, resp.Trailer)
		}
	}
	if n := len(e.upstreamConns()); n != 1 {
		t.Errorf("upstream saw requests from %d connections, want 1", n)
	}
	e.h.record()
	e.h.recordCount(1)
}

// TestH1UpstreamServerClosesIdle: an upstream that closes an idle
// keep-alive connection has the next request sent over a new one (a
// redial), and the client's connection goes on.
func TestH1UpstreamServerClosesIdle(t *testing.T) {
	e := newH1Env(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok "+r.URL.Path)
	}, func(s *httptest.Server) { s.Config.IdleTimeout = 50 * time.Millisecond })
	for i := 0; i < 3; i++ {
		if resp := e.rc.do("GET", fmt.Sprintf("/%d", i), "example.com"); resp.status != 200 || resp.body != fmt.Sprintf("ok /%d", i) {
			t.Fatalf("request %d: %d %q", i, resp.status, resp.body)
		}
		time.Sleep(200 * time.Millisecond) // the upstream closes the idle connection
	}
	if n := len(e.upstreamConns()); n != 3 {
		t.Errorf("upstream saw requests from %d connections, want 3 (one per idle close)", n)
	}
	e.h.record()
	e.h.recordCount(1)
}

// TestH1UpstreamIdleWatch: an upstream connection the server closes while
// idle is closed by tlslens too, once watched (idleWatchDelay), and the
// next request redials.
func TestH1UpstreamIdleWatch(t *testing.T) {
	var mu sync.Mutex
	var closes []string
	e := newH1Env(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "2")
		io.WriteString(w, "ok")
		if r.URL.Path == "/close-later" {
			w.(http.Flusher).Flush()
			c, _, _ := http.NewResponseController(w).Hijack()
			go func() {
				time.Sleep(idleWatchDelay + 200*time.Millisecond)
				// tlslens's end reads EOF: its watch closes the connection,
				// which this read then sees.
				c.(*tls.Conn).CloseWrite()
				c.SetReadDeadline(time.Now().Add(5 * time.Second))
				_, err := c.Read(make([]byte, 1))
				mu.Lock()
				closes = append(closes, fmt.Sprint(err))
				mu.Unlock()
				c.Close()
			}()
		}
	}, nil)
	if resp := e.rc.do("GET", "/close-later", "example.com"); resp.status != 200 {
		t.Fatalf("first request: %d", resp.status)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := len(closes)
		mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("tlslens did not close the upstream connection the server closed while idle")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if closes[0] != "EOF" {
		t.Errorf("the server's read after its close: %s, want EOF (tlslens closed its end)", closes[0])
	}
	if resp := e.rc.do("GET", "/next", "example.com"); resp.status != 200 {
		t.Fatalf("request after the idle close: %d", resp.status)
	}
	if n := len(e.upstreamConns()); n != 2 {
		t.Errorf("upstream saw requests from %d connections, want 2", n)
	}
}

// TestH1UpstreamEarlyAnswer: a server that answers before reading a large
// request body gets its answer to the client, and the connection is not
// reused (its request body was not all sent).
func TestH1UpstreamEarlyAnswer(t *testing.T) {
	e := newH1Env(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/upload" {
			w.Header().Set("Connection", "close")
			http.Error(w, "too large", http.StatusRequestEntityTooLarge)
			return
		}
		io.WriteString(w, "ok")
	}, nil)
	body := strings.Repeat("x", 8<<20)
	go io.WriteString(e.conn, "POST /upload HTTP/1.1\r\nHost: example.com\r\nContent-Length: 8388608\r\n\r\n"+body)
	resp, err := http.ReadResponse(e.rc.br, &http.Request{Method: "POST"})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("upload: %d, want 413", resp.StatusCode)
	}
}

// TestH1UpstreamUpgradeHandsOff: a WebSocket upgrade after plain requests
// goes over the transport, on the same upstream connection, and the
// requests after it keep to the transport.
func TestH1UpstreamUpgradeHandsOff(t *testing.T) {
	e := newH1Env(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "websocket" {
			io.WriteString(w, "ok")
			return
		}
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n")
		line, _ := brw.ReadString('\n')
		io.WriteString(c, "echo "+line)
	}, nil)
	if resp := e.rc.do("GET", "/first", "example.com"); resp.status != 200 || resp.body != "ok" {
		t.Fatalf("first request: %d %q", resp.status, resp.body)
	}
	io.WriteString(e.conn, "GET /ws HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
	resp, err := http.ReadResponse(e.rc.br, &http.Request{Method: "GET"})
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %d, want 101", resp.StatusCode)
	}
	io.WriteString(e.conn, "hi\n")
	e.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(e.rc.br).ReadString('\n')
	if err != nil || line != "echo hi\n" {
		t.Fatalf("over the upgraded connection: %q, %v", line, err)
	}
	if n := len(e.upstreamConns()); n != 1 {
		t.Errorf("upstream saw requests from %d connections, want 1 (the upgrade over the first)", n)
	}
}

// TestH1UpstreamClientLeavesMidBody: a client that leaves in the middle of
// a large response has the upstream connection closed, not drained: the
// server's writes fail instead of all being read for nobody.
func TestH1UpstreamClientLeavesMidBody(t *testing.T) {
	wrote := make(chan error, 1)
	e := newH1Env(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(256<<20))
		chunk := make([]byte, 32<<10)
		var err error
		for n := 0; n < 256<<20 && err == nil; n += len(chunk) {
			_, err = w.Write(chunk)
		}
		wrote <- err
	}, nil)
	io.WriteString(e.conn, "GET /large HTTP/1.1\r\nHost: example.com\r\n\r\n")
	resp, err := http.ReadResponse(e.rc.br, &http.Request{Method: "GET"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(resp.Body, make([]byte, 1<<10)); err != nil {
		t.Fatal(err)
	}
	e.conn.Close()
	select {
	case err := <-wrote:
		if err == nil {
			t.Error("the server wrote the whole 256 MiB response after the client left, want its write to fail")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the server's response neither ended nor failed within 30s of the client leaving")
	}
}
