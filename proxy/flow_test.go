package proxy

import (
	"crypto/tls"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/sirupsen/logrus/hooks/test"
	"golang.org/x/net/websocket"

	"github.com/tlslens/tlslens/ca/testpki"
	"github.com/tlslens/tlslens/inspect"
)

// flowHarness is a harness with flows on: written to fhook's logger and sent
// to flows as they end.
type flowHarness struct {
	*harness
	fhook *test.Hook
	flows chan *inspect.Flow
}

func newFlowHarness(t *testing.T, configure func(*Options)) *flowHarness {
	t.Helper()
	flog, fhook := test.NewNullLogger()
	fh := &flowHarness{fhook: fhook, flows: make(chan *inspect.Flow, 100)}
	fh.harness = newHarness(t, func(o *Options) {
		o.Flows = flog
		o.OnFlow = func(f *inspect.Flow) { fh.flows <- f }
		if configure != nil {
			configure(o)
		}
	})
	return fh
}

// flow waits for the next flow.
func (fh *flowHarness) flow() *inspect.Flow {
	fh.tb.Helper()
	select {
	case f := <-fh.flows:
		return f
	case <-time.After(15 * time.Second):
		fh.tb.Fatal("no flow within 15s")
		return nil
	}
}

// flowUpstream answers every request with its method, path and request body
// size, a JSON content type and a cookie; /big answers 100000 bytes.
func flowUpstream(t *testing.T, h2 bool) (*httptest.Server, string, *testpki.CA) {
	t.Helper()
	pki := testpki.Root(t, "Upstream Test Root")
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Set-Cookie", "sid=secret-session; Path=/; HttpOnly")
		if r.URL.Path == "/big" {
			w.Write([]byte(strings.Repeat("b", 100000)))
			return
		}
		fmt.Fprintf(w, `{"method":%q,"path":%q,"got":%d}`, r.Method, r.URL.Path, n)
	}))
	up.EnableHTTP2 = h2
	up.TLS = &tls.Config{Certificates: []tls.Certificate{pki.Leaf(t, "example.com", "other.test")}}
	up.StartTLS()
	t.Cleanup(up.Close)
	_, port, _ := net.SplitHostPort(up.Listener.Addr().String())
	return up, port, pki
}

// checkFlow checks a flow's request line, status, sizes and record id.
func checkFlow(t *testing.T, f *inspect.Flow, id, method, url, proto string, status int, reqSize, respSize int64) {
	t.Helper()
	if f.ID != id || f.Method != method || f.URL != url || f.Proto != proto || f.Status != status ||
		f.RequestSize != reqSize || f.ResponseSize != respSize {
		t.Errorf("flow %s %s %s %d (id %s), sizes %d/%d; want %s %s %s %d (id %s), sizes %d/%d",
			f.Method, f.URL, f.Proto, f.Status, f.ID, f.RequestSize, f.ResponseSize,
			method, url, proto, status, id, reqSize, respSize)
	}
	if f.Status != 0 && (f.FirstByteMS < 0 || f.DoneMS < f.FirstByteMS || f.Start.IsZero()) {
		t.Errorf("flow timings start %v first byte %v done %v", f.Start, f.FirstByteMS, f.DoneMS)
	}
}

// TestFlowsCurlHTTP1: curl over HTTP/1.1 through the proxy, a GET and a POST
// with a body on one connection: two flows carrying the connection's record
// id, with the bodies kept in memory.
func TestFlowsCurlHTTP1(t *testing.T) {
	t.Parallel()
	curl := lookPath(t, "curl", "curl")
	_, port, pki := flowUpstream(t, false)
	fh := newFlowHarness(t, func(o *Options) { o.UpstreamRoots = pki.Pool() })
	caFile := writeFile(t, t.TempDir(), "ca.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: fh.auth.Certificate().Raw}))
	base := "https://example.com:" + port
	out, err := exec.Command(curl, "--silent", "--show-error", "--max-time", "30", "--http1.1",
		"--proxy", "http://"+fh.addr, "--cacert", caFile,
		"-H", "Authorization: Bearer top-secret", "-H", "Cookie: a=1; b=2",
		base+"/get", "--next", "--http1.1", "--proxy", "http://"+fh.addr, "--cacert", caFile,
		"--data-binary", "hello body", base+"/post").CombinedOutput()
	if err != nil {
		t.Fatalf("curl: %v\n%s", err, out)
	}
	r := fh.record()
	get, post := fh.flow(), fh.flow()
	getBody := `{"method":"GET","path":"/get","got":0}`
	checkFlow(t, get, r.ID, "GET", base+"/get", "HTTP/1.1", 200, 0, int64(len(getBody)))
	checkFlow(t, post, r.ID, "POST", base+"/post", "HTTP/1.1", 200, 10, int64(len(`{"method":"POST","path":"/post","got":10}`)))
	if get.ContentType != "application/json" || inspect.HeaderValue(get.Request, "Host") != "example.com:"+port ||
		!strings.HasPrefix(inspect.HeaderValue(get.Request, "User-Agent"), "curl/") {
		t.Errorf("content type %q, request headers %v", get.ContentType, get.Request)
	}
	if string(get.ResponseBody) != getBody || string(post.RequestBody) != "hello body" || post.SentMS < 0 {
		t.Errorf("bodies kept: response %q, request %q (sent at %v ms)", get.ResponseBody, post.RequestBody, post.SentMS)
	}
	// In memory, the values are kept; in the file, redacted.
	if inspect.HeaderValue(get.Request, "Authorization") != "Bearer top-secret" {
		t.Errorf("Authorization in memory %q", inspect.HeaderValue(get.Request, "Authorization"))
	}
	if kept := fh.p.Flows(r.ID); len(kept) != 2 || kept[0] != get || kept[1] != post {
		t.Errorf("Proxy.Flows(%s) = %d flows, want the two", r.ID, len(kept))
	}
	line := flowLine(t, fh.fhook, 0)
	for _, secret := range []string{"top-secret", "secret-session", "a=1"} {
		if strings.Contains(line, secret) {
			t.Errorf("flow line holds %q: %s", secret, line)
		}
	}
	for _, want := range []string{`"Bearer [redacted]"`, `"a=[redacted]; b=[redacted]"`, `"sid=[redacted]; Path=/; HttpOnly"`, `"msg":"flow"`} {
		if !strings.Contains(line, want) {
			t.Errorf("flow line lacks %s: %s", want, line)
		}
	}
	fh.recordCount(1)
}

// flowLine is the i-th entry of hook as the JSON line logrus writes.
func flowLine(t *testing.T, hook *test.Hook, i int) string {
	t.Helper()
	entries := hook.AllEntries()
	if len(entries) <= i {
		t.Fatalf("%d flow entries, want more than %d", len(entries), i)
	}
	for _, e := range entries {
		if e.Message != "flow" {
			t.Errorf("entry %q on the flows logger", e.Message)
		}
	}
	b, err := (&logrus.JSONFormatter{}).Format(entries[i])
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestFlowsHTTP2: a Go client over h2, several requests on one connection
// (one of them for another host, answered 421 by tlslens): one flow each, the
// 421 with its error.
func TestFlowsHTTP2(t *testing.T) {
	t.Parallel()
	_, port, pki := flowUpstream(t, true)
	fh := newFlowHarness(t, func(o *Options) { o.UpstreamRoots = pki.Pool() })
	proxyURL, _ := url.Parse("http://" + fh.addr)
	tr := &http.Transport{Proxy: http.ProxyURL(proxyURL), TLSClientConfig: &tls.Config{RootCAs: fh.roots()}, ForceAttemptHTTP2: true}
	t.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr, Timeout: 15 * time.Second}
	base := "https://example.com:" + port
	resp, body := get(t, client, base+"/one?q=1")
	if resp.Proto != "HTTP/2.0" {
		t.Fatalf("client got %s %q", resp.Proto, body)
	}
	r := fh.record()
	checkFlow(t, fh.flow(), r.ID, "GET", base+"/one?q=1", "HTTP/2.0", 200, 0, int64(len(body)))

	resp, err := client.Post(base+"/two", "text/plain", strings.NewReader(strings.Repeat("p", 5000)))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	checkFlow(t, fh.flow(), r.ID, "POST", base+"/two", "HTTP/2.0", 200, 5000, int64(len(b)))

	_, body = get(t, client, base+"/big")
	f := fh.flow()
	checkFlow(t, f, r.ID, "GET", base+"/big", "HTTP/2.0", 200, 0, 100000)
	if len(body) != 100000 || len(f.ResponseBody) != 100000 {
		t.Errorf("client got %d bytes, flow kept %d", len(body), len(f.ResponseBody))
	}

	req, _ := http.NewRequest(http.MethodGet, base+"/coalesced", nil)
	req.Host = "other.test"
	resp, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	f = fh.flow()
	checkFlow(t, f, r.ID, "GET", "https://other.test/coalesced", "HTTP/2.0", http.StatusMisdirectedRequest, 0, int64(len(b)))
	if !strings.Contains(f.Error, "this connection is for example.com") || f.ContentType != "text/html; charset=utf-8" {
		t.Errorf("421 flow error %q content type %q", f.Error, f.ContentType)
	}
	fh.recordCount(1)
}

// TestFlowsPlainHTTP: plain http:// requests through the proxy carry the id
// of the connection's mode http record.
func TestFlowsPlainHTTP(t *testing.T) {
	t.Parallel()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "plain "+r.URL.Path)
	}))
	t.Cleanup(up.Close)
	fh := newFlowHarness(t, nil)
	c, err := net.Dial("tcp", fh.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rc := newReaderClient(t, c)
	for _, path := range []string{"/a", "/bb"} {
		if resp := rc.do("GET", up.URL+path, strings.TrimPrefix(up.URL, "http://")); resp.body != "plain "+path {
			t.Fatalf("got %d %q", resp.status, resp.body)
		}
	}
	r := fh.record()
	if r.Mode != inspect.ModeHTTP {
		t.Fatalf("record mode %s", r.Mode)
	}
	checkFlow(t, fh.flow(), r.ID, "GET", up.URL+"/a", "HTTP/1.1", 200, 0, 8)
	f := fh.flow()
	checkFlow(t, f, r.ID, "GET", up.URL+"/bb", "HTTP/1.1", 200, 0, 9)
	if f.ContentType != "text/plain" {
		t.Errorf("content type %q", f.ContentType)
	}
	fh.recordCount(1)
}

// TestFlowsPlainHTTPS: https:// URLs sent without CONNECT: each target's
// flows carry its session's record id; an upstream that fails verification
// gives a 502 flow with the reason.
func TestFlowsPlainHTTPS(t *testing.T) {
	t.Parallel()
	_, port, pki := flowUpstream(t, false)
	fh := newFlowHarness(t, func(o *Options) { o.UpstreamRoots = pki.Pool() })
	c, err := net.Dial("tcp", fh.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rc := newReaderClient(t, c)
	target, other := "example.com:"+port, "other.test:"+port
	rc.do("GET", "https://"+target+"/one", target)
	r := fh.record()
	checkFlow(t, fh.flow(), r.ID, "GET", "https://"+target+"/one", "HTTP/1.1", 200, 0, int64(len(`{"method":"GET","path":"/one","got":0}`)))
	rc.do("GET", "https://"+other+"/two", other)
	r2 := fh.record()
	checkFlow(t, fh.flow(), r2.ID, "GET", "https://"+other+"/two", "HTTP/1.1", 200, 0, int64(len(`{"method":"GET","path":"/two","got":0}`)))
	if r2.ID == r.ID {
		t.Errorf("two targets share record id %s", r.ID)
	}

	// An upstream tlslens does not trust: the answer is tlslens's 502.
	untrusted := startUpstream(t, &tls.Config{Certificates: []tls.Certificate{testpki.Root(t, "Untrusted").Leaf(t, "example.com")}})
	bad := "example.com:" + untrusted.port()
	resp := rc.do("GET", "https://"+bad+"/x", bad)
	r3 := fh.record()
	f := fh.flow()
	checkFlow(t, f, r3.ID, "GET", "https://"+bad+"/x", "HTTP/1.1", http.StatusBadGateway, 0, int64(len(resp.body)))
	if !strings.Contains(f.Error, "tlslens could not connect securely") {
		t.Errorf("502 flow error %q", f.Error)
	}
}

// TestFlowsWebSocket: the upgrade is one flow (101), written when the
// connection is taken over, not when the WebSocket ends.
func TestFlowsWebSocket(t *testing.T) {
	t.Parallel()
	pki := testpki.Root(t, "Upstream Test Root")
	up := httptest.NewUnstartedServer(websocket.Handler(func(ws *websocket.Conn) {
		for {
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
	fh := newFlowHarness(t, func(o *Options) { o.UpstreamRoots = pki.Pool() })

	tc := tls.Client(fh.connect("example.com:"+port), &tls.Config{ServerName: "example.com", RootCAs: fh.roots(), NextProtos: []string{"http/1.1"}})
	cfg, err := websocket.NewConfig("wss://example.com:"+port+"/echo", "https://example.com:"+port)
	if err != nil {
		t.Fatal(err)
	}
	ws, err := websocket.NewClient(cfg, tc)
	if err != nil {
		t.Fatalf("WebSocket handshake through tlslens: %v", err)
	}
	defer ws.Close()
	r := fh.record()
	f := fh.flow() // before the first message: the upgrade is done
	checkFlow(t, f, r.ID, "GET", "https://example.com:"+port+"/echo", "HTTP/1.1", http.StatusSwitchingProtocols, 0, 0)
	if inspect.HeaderValue(f.Request, "Upgrade") != "websocket" || inspect.HeaderValue(f.Response, "Upgrade") != "websocket" {
		t.Errorf("upgrade headers: request %v response %v", f.Request, f.Response)
	}
	if err := websocket.Message.Send(ws, "hello"); err != nil {
		t.Fatal(err)
	}
	var got string
	if err := websocket.Message.Receive(ws, &got); err != nil || got != "hello" {
		t.Fatalf("echo %q %v", got, err)
	}
}

// TestFlowsBodyBound: bodies are kept up to FlowBodyMax and marked cut;
// FlowMemory bounds them all.
func TestFlowsBodyBound(t *testing.T) {
	t.Parallel()
	_, port, pki := flowUpstream(t, false)
	fh := newFlowHarness(t, func(o *Options) {
		o.UpstreamRoots, o.FlowBodyMax, o.FlowMemory = pki.Pool(), 4096, 64<<10
	})
	client := fh.httpClient(nil)
	base := "https://example.com:" + port
	for i := range 30 {
		resp, body := get(t, client, base+"/big")
		if len(body) != 100000 {
			t.Fatalf("request %d: %s, %d bytes", i, resp.Status, len(body))
		}
		f := fh.flow()
		if f.ResponseSize != 100000 || len(f.ResponseBody) != 4096 || !f.ResponseTruncated {
			t.Fatalf("flow %d: size %d, kept %d, truncated %v", i, f.ResponseSize, len(f.ResponseBody), f.ResponseTruncated)
		}
	}
	if m := fh.p.flows.mem.Load(); m > 64<<10 {
		t.Errorf("bodies hold %d bytes, over the 64 KiB bound", m)
	}
}

// TestFlowsKeepRecord: the record of a connection is the same JSON with
// flows on and off (its id and times aside), and the record logger gets
// only records.
func TestFlowsKeepRecord(t *testing.T) {
	t.Parallel()
	_, port, pki := flowUpstream(t, false)
	recordOf := func(flows bool) map[string]any {
		configure := func(o *Options) { o.UpstreamRoots = pki.Pool() }
		var h *harness
		if flows {
			h = newFlowHarness(t, configure).harness
		} else {
			h = newHarness(t, configure)
		}
		get(t, h.httpClient(&tls.Config{NextProtos: []string{"http/1.1"}}), "https://example.com:"+port+"/same")
		h.record()
		for _, e := range h.hook.AllEntries() {
			if e.Message != "handshake" {
				t.Errorf("record logger got %q", e.Message)
			}
		}
		m := h.recordJSON()
		delete(m, "id")
		delete(m, "time")
		return m
	}
	off, on := recordOf(false), recordOf(true)
	normalise := func(m map[string]any) string {
		blank(m)
		b, _ := json.Marshal(m)
		return string(b)
	}
	if a, b := normalise(off), normalise(on); a != b {
		t.Errorf("record with flows off:\n%s\nwith flows on:\n%s", a, b)
	}
}

// TestFlowsOff: without Flows or OnFlow, no flow is captured.
func TestFlowsOff(t *testing.T) {
	h := newHarness(t, nil)
	if h.p.flows != nil {
		t.Fatal("flow store without Flows or OnFlow")
	}
	if f := h.p.Flows("any"); f != nil {
		t.Errorf("Flows = %v, want nil", f)
	}
}

// volatileKeys are record keys whose values differ between two connections
// alike: addresses, durations, and the minted leaf's serial, hashes,
// validity and issuer (each harness has a CA of its own).
var volatileKeys = map[string]bool{"addr": true, "local": true, "duration_ms": true, "serial": true,
	"sha256": true, "spki_sha256": true, "not_before": true, "not_after": true, "issuer": true}

// blank replaces the values of volatileKeys, at any depth, with "X".
func blank(v any) {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if volatileKeys[k] {
				v[k] = "X"
			} else {
				blank(x)
			}
		}
	case []any:
		for _, x := range v {
			blank(x)
		}
	}
}

// BenchmarkInterceptKeepAliveFlows is BenchmarkInterceptKeepAlive with flows
// on, as tlslens --flows runs them: each written as a JSON line by
// FlowFormatter (to io.Discard) and kept in memory with its bodies. The ratio of the two is
// the cost of flows on the per-request path.
func BenchmarkInterceptKeepAliveFlows(b *testing.B) {
	lh := newLoadHarness(b, 0)
	flows := logrus.New()
	flows.Formatter, flows.Out = FlowFormatter{}, io.Discard
	lh.p.flows = newFlowStore(Options{Flows: flows}) // before any connection
	benchKeepAliveOn(b, lh, true)
}

// BenchmarkInterceptKeepAliveKeepFlows is BenchmarkInterceptKeepAlive with
// flows as tlslens runs them by default (its web view on): kept in memory
// with their bodies, written nowhere. The ratio of the two is the cost of
// the in-memory flow path.
func BenchmarkInterceptKeepAliveKeepFlows(b *testing.B) {
	lh := newLoadHarness(b, 0)
	lh.p.flows = newFlowStore(Options{KeepFlows: true}) // before any connection
	benchKeepAliveOn(b, lh, true)
}

// BenchmarkFlowPath is the in-memory flow path alone, per request: start,
// the answer's headers, a 2-byte body through ReadFrom, end and keep, as
// BenchmarkInterceptKeepAliveKeepFlows's requests take it, on a writer
// that discards instead of a connection. Its ns/op beside tlslens's CPU
// per keep-alive request is the share flows cost.
func BenchmarkFlowPath(b *testing.B) {
	benchFlowPath(b, newFlowStore(Options{KeepFlows: true}))
}

// BenchmarkFlowPathFile is BenchmarkFlowPath as tlslens --flows FILE takes
// it: each flow kept and its line written to a file (here io.Discard).
func BenchmarkFlowPathFile(b *testing.B) {
	benchFlowPath(b, newFlowStore(Options{KeepFlows: true, FlowFile: io.Discard}))
}

func benchFlowPath(b *testing.B, st *flowStore) {
	r := httptest.NewRequest(http.MethodGet, "https://example.com/", nil)
	r.Header.Set("User-Agent", "Go-http-client/1.1")
	r.Header.Set("Accept-Encoding", "gzip")
	body := strings.NewReader("ok")
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		fl, fw := st.start(w, r, "id", "https://example.com/")
		withFlow(r.Context(), fl)
		h := fw.Header()
		h["Content-Type"] = []string{"text/plain; charset=utf-8"}
		h["Content-Length"] = []string{"2"}
		h["Date"] = []string{"Thu, 03 Dec 2026 08:47:42 GMT"}
		fw.WriteHeader(http.StatusOK)
		body.Reset("ok")
		fw.(io.ReaderFrom).ReadFrom(body)
		fl.release()
	}
}

// discardWriter is a ResponseWriter that keeps nothing, with net/http's
// ReadFrom through a buffer of its own.
type discardWriter struct {
	h   http.Header
	buf [512]byte
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) WriteHeader(int)             {}
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *discardWriter) ReadFrom(r io.Reader) (int64, error) {
	return io.CopyBuffer(io.Discard, r, w.buf[:])
}

// TestFlowRelease: once its handler has returned, a flow of a request
// without a body is reused and the context that carried it carries none;
// a flow whose request body the transport may still read is left alone,
// and the body read after it is counted nowhere new.
func TestFlowRelease(t *testing.T) {
	st := newFlowStore(Options{KeepFlows: true})
	w := &discardWriter{h: http.Header{}}
	get := httptest.NewRequest(http.MethodGet, "https://example.com/", nil)
	fl, _ := st.start(w, get, "c1", "https://example.com/")
	ctx := withFlow(get.Context(), fl)
	if flowFrom(ctx) != fl {
		t.Fatal("the context does not carry its flow")
	}
	fl.release()
	if got := flowFrom(ctx); got != nil {
		t.Errorf("the context of a released flow carries %p", got)
	}
	if fl.st != nil || fl.ctx != nil {
		t.Error("a released flow keeps its store or context")
	}

	post := httptest.NewRequest(http.MethodPost, "https://example.com/", strings.NewReader("late body"))
	fl, _ = st.start(w, post, "c1", "https://example.com/")
	ctx = withFlow(post.Context(), fl)
	fl.release()
	if flowFrom(ctx) != fl || fl.st != st {
		t.Error("a flow whose body may still be read was released")
	}
	if b, err := io.ReadAll(post.Body); err != nil || string(b) != "late body" {
		t.Errorf("body read after the flow's end: %q, %v", b, err)
	}
	got := (&Proxy{flows: st}).Flows("c1")
	if len(got) != 2 || got[1].Method != http.MethodPost || got[1].RequestBody != nil {
		t.Errorf("flows kept: %+v", got)
	}
}
