package proxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/sirupsen/logrus"

	"github.com/tlslens/tlslens/ca"
	"github.com/tlslens/tlslens/inspect"
)

// benchEnv is an HTTPS upstream and a tlslens proxy on 127.0.0.1, records
// encoded as JSON to io.Discard as in production. The Direct and Intercept
// benchmarks run the same client against each; their ns/op ratio is the cost
// of interception (bench/load prints it as a ratio in one run).
type benchEnv struct {
	p          *Proxy
	proxyAddr  string
	upAddr     string
	upRoots    *x509.CertPool
	proxyRoots *x509.CertPool
	last       chan *inspect.Record
}

func newBenchEnv(b *testing.B) *benchEnv {
	b.Helper()
	// The upstream's certificate comes from a second authority: a CA is a CA.
	upCA, err := ca.New(ca.Options{})
	if err != nil {
		b.Fatal(err)
	}
	upLeaf, err := upCA.Leaf("example.com")
	if err != nil {
		b.Fatal(err)
	}
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	up.EnableHTTP2 = true // for the H2 benchmark; the others offer http/1.1 only
	up.TLS = &tls.Config{Certificates: []tls.Certificate{*upLeaf}}
	up.StartTLS()
	b.Cleanup(up.Close)
	auth, err := ca.New(ca.Options{})
	if err != nil {
		b.Fatal(err)
	}
	recs := logrus.New()
	recs.Formatter, recs.Out = &logrus.JSONFormatter{}, io.Discard
	e := &benchEnv{upAddr: up.Listener.Addr().String(), upRoots: x509.NewCertPool(), proxyRoots: x509.NewCertPool(), last: make(chan *inspect.Record, 1)}
	e.upRoots.AddCert(upCA.Certificate())
	e.proxyRoots.AddCert(auth.Certificate())
	e.p, err = New(Options{Authority: auth, Records: recs, UpstreamRoots: e.upRoots, Dial: loopbackDial,
		OnRecord: func(r *inspect.Record) {
			select {
			case e.last <- r:
			default:
			}
		}})
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	e.proxyAddr = ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); e.p.Serve(ctx, ln) }()
	b.Cleanup(func() { cancel(); e.p.Close(); <-done })
	return e
}

// dial opens a TLS connection to example.com on the upstream, through
// tlslens when intercept is set.
func (e *benchEnv) dial(intercept bool) (*tls.Conn, error) {
	addr, roots := e.upAddr, e.upRoots
	if intercept {
		addr, roots = e.proxyAddr, e.proxyRoots
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	if intercept {
		_, port, _ := net.SplitHostPort(e.upAddr)
		fmt.Fprintf(c, "CONNECT example.com:%s HTTP/1.1\r\nHost: example.com\r\n\r\n", port)
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
	e := newBenchEnv(b)
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c, err := e.dial(intercept)
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
	e := newBenchEnv(b)
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		c, err := e.dial(intercept)
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

// BenchmarkInterceptH2: requests multiplexed on one intercepted HTTP/2
// connection, 8 streams at once per GOMAXPROCS; the rapid-reset guard reads
// every frame header of it.
func BenchmarkInterceptH2(b *testing.B) {
	e := newBenchEnv(b)
	u, _ := url.Parse("http://" + e.proxyAddr)
	tr := &http.Transport{Proxy: http.ProxyURL(u), TLSClientConfig: &tls.Config{RootCAs: e.proxyRoots}, ForceAttemptHTTP2: true}
	b.Cleanup(tr.CloseIdleConnections)
	_, port, _ := net.SplitHostPort(e.upAddr)
	target := "https://example.com:" + port + "/"
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
func benchRecord(b *testing.B) (*benchEnv, *inspect.Record) {
	e := newBenchEnv(b)
	c, err := e.dial(true)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	if err := benchGet(c, bufio.NewReader(c)); err != nil {
		b.Fatal(err)
	}
	return e, <-e.last
}

// BenchmarkRecordEncode is emit: findings, then the JSON line through
// logrus's JSON formatter (to io.Discard), for a full record of an
// intercepted connection (both hellos, both chains).
func BenchmarkRecordEncode(b *testing.B) {
	e, r := benchRecord(b)
	e.p.opts.OnRecord = nil
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		e.p.emit(r)
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
		if done, err := helloComplete(rec); !done || err != nil {
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

// BenchmarkHelloByteAtATime walks the framing once per byte, as the engine
// does for a client writing its hello a byte at a time.
func BenchmarkHelloByteAtATime(b *testing.B) {
	rec := benchHello(b)
	b.SetBytes(int64(len(rec)))
	for b.Loop() {
		for i := 1; i <= len(rec); i++ {
			if done, err := helloComplete(rec[:i]); err != nil || done != (i == len(rec)) {
				b.Fatal(i, done, err)
			}
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
