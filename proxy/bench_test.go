package proxy

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/sirupsen/logrus"

	"github.com/tlslens/tlslens/ca/testpki"
	"github.com/tlslens/tlslens/inspect"
)

// benchDial opens a TLS connection to example.com on lh's upstream, through
// tlslens when intercept is set. The Direct and Intercept benchmarks run the
// same client against each; their ns/op ratio is the cost of interception
// (bench/load prints it as a ratio in one run).
func benchDial(lh *loadHarness, intercept bool) (*tls.Conn, error) {
	addr, roots := lh.upAddr, lh.upRoots
	if intercept {
		addr, roots = lh.addr, lh.roots()
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	if intercept {
		fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: example.com\r\n\r\n", lh.target)
		resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: http.MethodConnect})
		if err != nil || resp.StatusCode != http.StatusOK {
			c.Close()
			return nil, fmt.Errorf("CONNECT: %v %v", resp, err)
		}
	}
	tc := tls.Client(c, &tls.Config{ServerName: "example.com", RootCAs: roots, NextProtos: []string{"http/1.1"}})
	if err := tc.Handshake(); err != nil {
		c.Close()
		return nil, err
	}
	return tc, nil
}

var benchRequest = []byte("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n")

func benchGet(c *tls.Conn, br *bufio.Reader) error {
	if _, err := c.Write(benchRequest); err != nil {
		return err
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return err
}

// benchNewConn: a new connection per request (TCP, CONNECT, TLS, GET, close),
// 8 per GOMAXPROCS at once so that the CPU, not the round trips, limits.
func benchNewConn(b *testing.B, intercept bool) {
	benchNewConnOn(b, newLoadHarness(b, 0), intercept)
}

func benchNewConnOn(b *testing.B, lh *loadHarness, intercept bool) {
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c, err := benchDial(lh, intercept)
			if err != nil {
				b.Error(err)
				return
			}
			if err := benchGet(c, bufio.NewReader(c)); err != nil {
				b.Error(err)
			}
			c.Close()
		}
	})
}

func BenchmarkDirectNewConn(b *testing.B)    { benchNewConn(b, false) }
func BenchmarkInterceptNewConn(b *testing.B) { benchNewConn(b, true) }

// benchKeepAlive: requests over one persistent connection per goroutine,
// 8 per GOMAXPROCS.
func benchKeepAlive(b *testing.B, intercept bool) {
	benchKeepAliveOn(b, newLoadHarness(b, 0), intercept)
}

func benchKeepAliveOn(b *testing.B, lh *loadHarness, intercept bool) {
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		c, err := benchDial(lh, intercept)
		if err != nil {
			b.Error(err)
			return
		}
		defer c.Close()
		br := bufio.NewReader(c)
		for pb.Next() {
			if err := benchGet(c, br); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkDirectKeepAlive(b *testing.B)    { benchKeepAlive(b, false) }
func BenchmarkInterceptKeepAlive(b *testing.B) { benchKeepAlive(b, true) }

// BenchmarkInterceptKeepAliveCapture: keep-alive requests with both legs'
// bytes captured, as cmd/tlslens runs with its web view (1 MiB per leg).
func BenchmarkInterceptKeepAliveCapture(b *testing.B) {
	benchKeepAliveOn(b, newLoadHarness(b, 0, func(o *Options) { o.Capture = &Capture{} }), true)
}

// BenchmarkInterceptH2: requests multiplexed on one intercepted HTTP/2
// connection, 8 streams at once per GOMAXPROCS; the rapid-reset guard reads
// every frame header of it.
func BenchmarkInterceptH2(b *testing.B) {
	pki := testpki.Root(b, "Upstream Test Root")
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	up.EnableHTTP2 = true
	up.TLS = &tls.Config{Certificates: []tls.Certificate{pki.Leaf(b, "example.com")}}
	up.StartTLS()
	b.Cleanup(up.Close)
	h := newHarness(b, func(o *Options) {
		o.UpstreamRoots = pki.Pool()
		o.Log = nil
		recs := logrus.New()
		recs.Formatter, recs.Out = &logrus.JSONFormatter{}, io.Discard
		o.Records = recs
		o.OnRecord = nil
	})
	u, _ := url.Parse("http://" + h.addr)
	tr := &http.Transport{Proxy: http.ProxyURL(u), TLSClientConfig: &tls.Config{RootCAs: h.roots()}, ForceAttemptHTTP2: true}
	b.Cleanup(tr.CloseIdleConnections)
	target := "https://example.com:" + listenerPort(up.Listener) + "/"
	get := func() error {
		req, _ := http.NewRequest("GET", target, nil)
		resp, err := tr.RoundTrip(req)
		if err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err == nil && resp.ProtoMajor != 2 {
			err = fmt.Errorf("%s, want HTTP/2", resp.Proto)
		}
		return err
	}
	if err := get(); err != nil { // the one connection, before the clock starts
		b.Fatal(err)
	}
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := get(); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// benchRecord returns a full record from a real intercepted connection.
func benchRecord(b *testing.B) (*loadHarness, *inspect.Record) {
	lh := newLoadHarness(b, 0)
	interceptOnce(b, lh)
	return lh, <-lh.last
}

// interceptOnce makes one request on a new intercepted connection through
// lh, and closes it.
func interceptOnce(t testing.TB, lh *loadHarness) {
	t.Helper()
	c, err := benchDial(lh, true)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := benchGet(c, bufio.NewReader(c)); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkRecordEncode is emit: findings, then the JSON line through
// logrus's JSON formatter (to io.Discard), for a full record of an
// intercepted connection (both hellos, both chains).
func BenchmarkRecordEncode(b *testing.B) {
	lh, r := benchRecord(b)
	lh.p.opts.OnRecord = nil
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		lh.p.emit(r)
	}
}

// benchHello is the ClientHello a Go client sends by default (with ML-KEM).
func benchHello(b *testing.B) []byte {
	rec, err := captureHello(&tls.Config{ServerName: "example.com"})
	if err != nil {
		b.Fatal(err)
	}
	return rec
}

// BenchmarkReadClientHello is the engine's hello path: framing, parsing,
// JA3/JA3N/JA4 and the record's Hello.
func BenchmarkReadClientHello(b *testing.B) {
	rec := benchHello(b)
	b.SetBytes(int64(len(rec)))
	b.ReportAllocs()
	for b.Loop() {
		if done, err := inspect.HelloComplete(rec); !done || err != nil {
			b.Fatal(done, err)
		}
		h, err := inspect.ParseClientHello(rec)
		if err != nil {
			b.Fatal(err)
		}
		if h.Hello().JA4 == "" {
			b.Fatal("no JA4")
		}
	}
}

// BenchmarkFingerprints is JA3, JA3N and JA4 of a parsed Go ClientHello.
func BenchmarkFingerprints(b *testing.B) {
	h, err := inspect.ParseClientHello(benchHello(b))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		ja3, _ := inspect.JA3(h)
		ja3n, _ := inspect.JA3N(h)
		ja4, _ := inspect.JA4(h)
		if ja3 == "" || ja3n == "" || ja4 == "" {
			b.Fatal("empty fingerprint")
		}
	}
}
