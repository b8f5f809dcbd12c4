package proxy

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/tlslens/tlslens/ca/testpki"
	"github.com/tlslens/tlslens/inspect"
)

// h2Transport is an HTTP/2 client through h's proxy, trusting only its CA.
func h2Transport(t *testing.T, h *harness) *http.Transport {
	u, _ := url.Parse("http://" + h.addr)
	tr := &http.Transport{Proxy: http.ProxyURL(u), TLSClientConfig: &tls.Config{RootCAs: h.roots()}, ForceAttemptHTTP2: true}
	t.Cleanup(tr.CloseIdleConnections)
	return tr
}

// rapidReset opens n streams on one HTTP/2 connection through h's proxy and
// resets each at once (CVE-2023-44487), then waits for the connection to
// end. It closes started (if not nil) as it starts resetting, and returns
// the GOAWAY the proxy sent, nil if none.
func rapidReset(t *testing.T, h *harness, port string, n int, started chan<- struct{}) *http2.GoAwayFrame {
	t.Helper()
	raw := h.connect("example.com:" + port)
	tc := tls.Client(raw, &tls.Config{ServerName: "example.com", RootCAs: h.roots(), NextProtos: []string{"h2"}})
	tc.SetDeadline(time.Now().Add(60 * time.Second))
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	if p := tc.ConnectionState().NegotiatedProtocol; p != "h2" {
		t.Fatalf("ALPN %q, want h2", p)
	}
	if _, err := io.WriteString(tc, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(tc, tc)
	if err := fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	for { // the server's SETTINGS, acknowledged, or it closes the connection
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatalf("reading the server's SETTINGS: %v", err)
		}
		if sf, ok := f.(*http2.SettingsFrame); ok && !sf.IsAck() {
			break
		}
	}
	if err := fr.WriteSettingsAck(); err != nil {
		t.Fatal(err)
	}

	var goaway *http2.GoAwayFrame
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		for {
			f, err := fr.ReadFrame()
			if err != nil {
				return
			}
			if g, ok := f.(*http2.GoAwayFrame); ok && goaway == nil {
				goaway = &http2.GoAwayFrame{LastStreamID: g.LastStreamID, ErrCode: g.ErrCode}
			}
		}
	}()

	var block bytes.Buffer
	enc := hpack.NewEncoder(&block)
	if started != nil {
		close(started) // the attack is on
	}
	for i := range n {
		block.Reset()
		enc.WriteField(hpack.HeaderField{Name: ":method", Value: "GET"})
		enc.WriteField(hpack.HeaderField{Name: ":scheme", Value: "https"})
		enc.WriteField(hpack.HeaderField{Name: ":authority", Value: "example.com:" + port})
		enc.WriteField(hpack.HeaderField{Name: ":path", Value: "/"})
		id := uint32(2*i + 1)
		err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: block.Bytes(), EndStream: true, EndHeaders: true})
		if err == nil {
			err = fr.WriteRSTStream(id, http2.ErrCodeCancel)
		}
		if err != nil {
			break // closed by the proxy
		}
	}
	select {
	case <-readDone:
	case <-time.After(30 * time.Second):
		t.Fatal("the rapid-reset connection was still open 30s after its last stream")
	}
	return goaway
}

// TestH2RapidResetClosed: a client that opens and resets 20 000 streams on
// one connection is sent GOAWAY ENHANCE_YOUR_CALM and closed long before
// most of them reach the upstream, the metric counts it, and another
// client is served meanwhile.
func TestH2RapidResetClosed(t *testing.T) {
	pki := testpki.Root(t, "Upstream Test Root")
	var hits atomic.Int64
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		select {
		case <-r.Context().Done():
			return
		case <-time.After(50 * time.Millisecond): // some work for each request
		}
		w.Write([]byte("ok"))
	}))
	up.EnableHTTP2 = true
	up.TLS = &tls.Config{Certificates: []tls.Certificate{pki.Leaf(t, "example.com")}}
	up.StartTLS()
	t.Cleanup(up.Close)
	_, port, _ := net.SplitHostPort(up.Listener.Addr().String())
	reg := prometheus.NewRegistry()
	h := newHarness(t, func(o *Options) { o.UpstreamRoots = pki.Pool(); o.Metrics = reg })

	started := make(chan struct{})
	normal := make(chan error, 1)
	go func() {
		<-started
		client := &http.Client{Transport: h2Transport(t, h), Timeout: 15 * time.Second}
		resp, err := client.Get("https://example.com:" + port + "/normal")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || resp.ProtoMajor != 2 {
				err = errors.New("normal client: " + resp.Proto + " " + resp.Status)
			}
		}
		normal <- err
	}()

	const streams = 20000
	g := rapidReset(t, h, port, streams, started)
	if g == nil || g.ErrCode != http2.ErrCodeEnhanceYourCalm {
		t.Errorf("GOAWAY %+v, want one with ENHANCE_YOUR_CALM", g)
	}
	// The bound lets a few hundred streams through before it trips; before
	// it, thousands reached the upstream.
	if n := hits.Load(); n > 1500 {
		t.Errorf("%d of %d reset streams reached the upstream, want at most 1500", n, streams)
	}
	if err := <-normal; err != nil {
		t.Errorf("a normal client during the attack: %v", err)
	}
	if v := metricValue(t, reg, "tlslens_h2_rapid_reset_total"); v != 1 {
		t.Errorf("tlslens_h2_rapid_reset_total = %v, want 1", v)
	}
	for range 2 { // the attack's connection and the normal one
		if r := h.record(); r.Outcome != inspect.OutcomeOK {
			t.Errorf("record outcome %q (%s), want ok", r.Outcome, r.Client.Error)
		}
	}
	warned := 0
	for _, e := range h.logHook.AllEntries() {
		if e.Level == logrus.WarnLevel && strings.Contains(e.Message, "reset http/2 streams too fast") {
			warned++
			if e.Data["id"] == nil || e.Data["id"] == "" {
				t.Errorf("warning %q without the connection's id", e.Message)
			}
		}
	}
	if warned != 1 {
		t.Errorf("%d rapid-reset warnings logged, want 1", warned)
	}
	t.Logf("%d of %d reset streams reached the upstream", hits.Load(), streams)
}

// TestH2BrowserResetsServed: a browser-like client, a few hundred requests
// on one connection with some cancelled (and, as on leaving a page, every
// request in flight cancelled at once), is never closed for rapid reset.
func TestH2BrowserResetsServed(t *testing.T) {
	pki := testpki.Root(t, "Upstream Test Root")
	var cancels sync.Map // query → the client's cancel, called once the request is upstream
	held := make(chan struct{}, 1000)
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			held <- struct{}{}
			if c, ok := cancels.LoadAndDelete(r.URL.RawQuery); ok {
				c.(context.CancelFunc)()
			}
			<-r.Context().Done()
			return
		}
		w.Write([]byte("ok"))
	}))
	up.EnableHTTP2 = true
	up.TLS = &tls.Config{Certificates: []tls.Certificate{pki.Leaf(t, "example.com")}}
	up.StartTLS()
	t.Cleanup(up.Close)
	_, port, _ := net.SplitHostPort(up.Listener.Addr().String())
	reg := prometheus.NewRegistry()
	h := newHarness(t, func(o *Options) { o.UpstreamRoots = pki.Pool(); o.Metrics = reg })
	tr := h2Transport(t, h)
	base := "https://example.com:" + port

	var conns sync.Map // every connection the client used
	trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { conns.Store(i.Conn, true) }}
	get := func(ctx context.Context, path string) error {
		req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), "GET", base+path, nil)
		resp, err := tr.RoundTrip(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK || resp.ProtoMajor != 2 {
			return errors.New(resp.Proto + " " + resp.Status)
		}
		return nil
	}
	if err := get(context.Background(), "/"); err != nil {
		t.Fatal(err)
	}

	// A page: 300 requests, 20 at a time, every fifth cancelled once it
	// has reached the upstream.
	var wg sync.WaitGroup
	errs := make(chan error, 400)
	sem := make(chan struct{}, 20)
	for i := range 300 {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if i%5 != 0 {
				if err := get(context.Background(), "/"); err != nil {
					errs <- err
				}
				return
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			q := fmt.Sprint(i)
			cancels.Store(q, cancel)
			if err := get(ctx, "/slow?"+q); !errors.Is(err, context.Canceled) {
				errs <- fmt.Errorf("cancelled request: %v, want context.Canceled", err)
			}
		}()
	}
	wg.Wait()
	// Leaving the page: 200 requests in flight, all cancelled together.
	ctx, cancel := context.WithCancel(context.Background())
	for range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			get(ctx, "/slow")
		}()
	}
	for range 200 + 60 { // the 60 of the page, then these
		<-held
	}
	cancel()
	wg.Wait()
	// The next page, on the same connection.
	for range 50 {
		if err := get(context.Background(), "/"); err != nil {
			errs <- err
		}
	}
	close(errs)
	for err := range errs {
		t.Errorf("request on the browser-like connection: %v", err)
	}
	if v := metricValue(t, reg, "tlslens_h2_rapid_reset_total"); v != 0 {
		t.Errorf("tlslens_h2_rapid_reset_total = %v, want 0", v)
	}
	n := 0
	conns.Range(func(_, _ any) bool { n++; return true })
	if n != 1 {
		t.Errorf("the client used %d connections, want 1: the proxy closed it", n)
	}
}

// TestFrameScanner: the scanner finds every frame header of a stream
// however the stream is cut into reads.
func TestFrameScanner(t *testing.T) {
	var buf bytes.Buffer
	buf.WriteString(http2.ClientPreface)
	fr := http2.NewFramer(&buf, nil)
	fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1 << 20})
	fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: []byte{0x82, 0x86}, EndHeaders: true})
	fr.WriteData(1, false, bytes.Repeat([]byte("x"), 20000))
	fr.WriteRSTStream(1, http2.ErrCodeCancel)
	fr.WriteData(3, true, nil)
	fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 0x7ffffff1, BlockFragment: []byte{0x82}, EndStream: true, EndHeaders: true})
	type hdr struct {
		typ, flags byte
		stream     uint32
	}
	want := []hdr{{0x4, 0, 0}, {frameHeaders, 0x4, 1}, {frameData, 0, 1}, {frameRSTStream, 0, 1}, {frameData, flagEndStream, 3}, {frameHeaders, 0x5, 0x7ffffff1}}
	stream := buf.Bytes()
	for _, size := range []int{1, 2, 7, 9, 10, 100, 16384, len(stream)} {
		s := frameScanner{skip: len(clientPreface)}
		var got []hdr
		for b := stream; len(b) > 0; {
			piece := b[:min(size, len(b))]
			b = b[len(piece):]
			for len(piece) > 0 {
				k, ok := s.next(piece)
				piece = piece[k:]
				if ok {
					got = append(got, hdr{s.typ(), s.flags(), s.stream()})
				}
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(want) || !s.atBoundary() {
			t.Errorf("reads of %d: headers %v (at a boundary: %v), want %v", size, got, s.atBoundary(), want)
		}
	}
}

// TestResetDebt: completed responses offset resets but bank no credit, and
// unmatched resets are forgiven at rapidResetLimit per rapidResetWindow.
func TestResetDebt(t *testing.T) {
	var r resetDebt
	at := time.Duration(0)
	for range 100 {
		r.add(at, -1) // completions before any reset: no credit
	}
	for range 300 {
		r.add(at, 1)
	}
	if got := r.add(at, -1); got != 299 {
		t.Fatalf("debt %d after 300 resets and 1 completion, want 299", got)
	}
	at += rapidResetWindow / 2
	if got, want := r.add(at, 0), 299-rapidResetLimit/2; got != want {
		t.Fatalf("debt %d half a window later, want %d", got, want)
	}
	at += rapidResetWindow
	if got := r.add(at, 1); got != 1 {
		t.Fatalf("debt %d a window later and one reset, want 1", got)
	}
}

// TestResetGuardGoawayAtBoundary: a guard that trips while the server is
// half way through a frame lets that frame finish, then sends GOAWAY and
// nothing more.
func TestResetGuardGoawayAtBoundary(t *testing.T) {
	client, server := net.Pipe()
	defer client.Close()
	tripped := make(chan int, 1)
	g := &resetGuard{Conn: server, start: time.Now(), sent: make(chan struct{}), onTrip: func(n int) { tripped <- n }}
	g.in.skip = len(clientPreface)

	frames := make(chan http2.Frame, 10)
	go func() { // the client reads what the server sends
		defer close(frames)
		cfr := http2.NewFramer(nil, client)
		for {
			f, err := cfr.ReadFrame()
			if err != nil {
				return
			}
			if d, ok := f.(*http2.DataFrame); ok {
				f = &http2.DataFrame{FrameHeader: d.FrameHeader} // Data is valid only until the next read
			}
			frames <- f
		}
	}()
	var out bytes.Buffer
	fr := http2.NewFramer(&out, nil)
	fr.WriteData(1, false, bytes.Repeat([]byte("y"), 1000))
	fr.WriteData(1, true, []byte("after"))
	data := out.Bytes()
	if _, err := g.Write(data[:500]); err != nil { // the server's flush ends inside the first frame
		t.Fatal(err)
	}

	var attack bytes.Buffer
	attack.WriteString(http2.ClientPreface)
	afr := http2.NewFramer(&attack, nil)
	for i := range 2 * rapidResetLimit { // more than the bound: a slow machine forgives some
		id := uint32(2*i + 1)
		afr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: []byte{0x82}, EndHeaders: true})
		afr.WriteRSTStream(id, http2.ErrCodeCancel)
	}
	go client.Write(attack.Bytes())
	readErr := make(chan error, 1)
	go func() { // the server reads what the client sends
		buf := make([]byte, 64<<10)
		for {
			if _, err := g.Read(buf); err != nil {
				readErr <- err
				return
			}
		}
	}()
	deadline := time.Now().Add(10 * time.Second)
	for calm := false; !calm; runtime.Gosched() { // wait for the trip
		g.mu.Lock()
		calm = g.calm
		g.mu.Unlock()
		if time.Now().After(deadline) {
			g.debt.mu.Lock()
			debt := g.debt.debt
			g.debt.mu.Unlock()
			t.Fatalf("no trip within 10s: debt %d", debt)
		}
	}
	g.Write(data[500:]) // the rest of the frame, and one after it

	var got []http2.FrameHeader
	var ga *http2.GoAwayFrame
	for f := range frames {
		got = append(got, f.Header())
		if gf, ok := f.(*http2.GoAwayFrame); ok {
			ga = gf
		}
	}
	if len(got) != 2 || got[0].Type != http2.FrameData || got[0].Length != 1000 || ga == nil {
		t.Fatalf("client read %v, want the DATA frame in progress, whole, then GOAWAY", got)
	}
	if ga.ErrCode != http2.ErrCodeEnhanceYourCalm || ga.LastStreamID < 2*rapidResetLimit+1 || ga.LastStreamID%2 != 1 {
		t.Errorf("GOAWAY %v, last stream %d, want ENHANCE_YOUR_CALM, last stream the one of the reset that tripped (%d or later)",
			ga.ErrCode, ga.LastStreamID, 2*rapidResetLimit+1)
	}
	if err := <-readErr; !errors.Is(err, errRapidReset) {
		t.Errorf("server's read: %v, want errRapidReset", err)
	}
	if n := <-tripped; n != rapidResetLimit+1 {
		t.Errorf("tripped at %d unmatched resets, want %d", n, rapidResetLimit+1)
	}
}

// BenchmarkFrameScanner is the guard's work on a read: small frames (a
// request's HEADERS, WINDOW_UPDATE) and a DATA frame, per byte read.
func BenchmarkFrameScanner(b *testing.B) {
	var buf bytes.Buffer
	fr := http2.NewFramer(&buf, nil)
	for i := range 20 {
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: uint32(2*i + 1), BlockFragment: make([]byte, 40), EndStream: true, EndHeaders: true})
		fr.WriteWindowUpdate(0, 1000)
	}
	fr.WriteData(1, true, make([]byte, 16384))
	stream := buf.Bytes()
	b.SetBytes(int64(len(stream)))
	b.ReportAllocs()
	var s frameScanner
	for b.Loop() {
		for p := stream; len(p) > 0; {
			k, ok := s.next(p)
			p = p[k:]
			if ok && s.typ() == frameRSTStream {
				b.Fatal("no RST_STREAM was written")
			}
		}
	}
}
