package web

import (
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
	"time"

	"github.com/sirupsen/logrus/hooks/test"

	"github.com/tlslens/tlslens/ca/testpki"
	"github.com/tlslens/tlslens/inspect"
	"github.com/tlslens/tlslens/proxy"
)

// liveProxy is a real tlslens proxy on loopback whose records go to ring
// and, once added, to the records channel.
type liveProxy struct {
	t       *testing.T
	addr    string
	roots   *x509.CertPool // the proxy's CA
	records chan *inspect.Record
	up      *x509.CertPool // the upstreams' certificates, trusted upstream
	p       *proxy.Proxy   // flows on: p.Flows has each connection's
}

func newLiveProxy(t *testing.T, ring *Ring, upstreams ...*httptest.Server) *liveProxy {
	t.Helper()
	auth := testpki.Authority(t)
	lp := &liveProxy{t: t, roots: x509.NewCertPool(), records: make(chan *inspect.Record, 100), up: x509.NewCertPool()}
	lp.roots.AddCert(auth.Certificate())
	for _, u := range upstreams {
		lp.up.AddCert(u.Certificate())
	}
	recs, _ := test.NewNullLogger()
	p, err := proxy.New(proxy.Options{
		Authority:        auth,
		Records:          recs,
		OnRecord:         func(r *inspect.Record) { ring.Add(r); c := *r; lp.records <- &c },
		UpstreamRoots:    lp.up,
		HandshakeTimeout: 5 * time.Second,
		OnFlow:           func(*inspect.Flow) {}, // flows kept in memory
	})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan struct{})
	go func() { defer close(served); p.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); p.Close(); <-served })
	lp.addr, lp.p = ln.Addr().String(), p
	return lp
}

// get requests u through the proxy with a client offering TLS 1.3, h2 and
// http/1.1, as a browser does, and returns the status.
func (lp *liveProxy) get(u string) int {
	lp.t.Helper()
	pu, _ := url.Parse("http://" + lp.addr)
	tr := &http.Transport{Proxy: http.ProxyURL(pu), TLSClientConfig: &tls.Config{RootCAs: lp.roots}, ForceAttemptHTTP2: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get(u)
	if err != nil {
		return 0 // a failed handshake: its record says why
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// record waits for the next record.
func (lp *liveProxy) record() *inspect.Record {
	lp.t.Helper()
	select {
	case r := <-lp.records:
		return r
	case <-time.After(15 * time.Second):
		lp.t.Fatal("no record written within 15s")
		return nil
	}
}

// tls12Upstream is an HTTPS server that speaks TLS 1.2 and HTTP/1.1 only:
// a browser's TLS 1.3 and h2 become TLS 1.2 and http/1.1 upstream.
func tls12Upstream(t *testing.T) *httptest.Server {
	t.Helper()
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "hello from a TLS 1.2 server")
	}))
	up.TLS = &tls.Config{MaxVersion: tls.VersionTLS12}
	up.StartTLS()
	t.Cleanup(up.Close)
	return up
}

// modernUpstream is an HTTPS server with Go's defaults: TLS 1.3 and h2.
func modernUpstream(t *testing.T) *httptest.Server {
	t.Helper()
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "hello")
	}))
	up.EnableHTTP2 = true
	up.StartTLS()
	t.Cleanup(up.Close)
	return up
}

// downgraded returns the real record of a connection through the proxy
// with TLS 1.3 and h2 on the client leg's offer, TLS 1.2 and http/1.1
// upstream.
func downgraded(t *testing.T, ring *Ring) *inspect.Record {
	t.Helper()
	up := tls12Upstream(t)
	lp := newLiveProxy(t, ring, up)
	if got := lp.get(up.URL + "/"); got != 200 {
		t.Fatalf("GET through the proxy: status %d, want 200", got)
	}
	return lp.record()
}

// synthetic returns a copy of r as connection n: its own id and target.
func synthetic(r *inspect.Record, n int, outcome inspect.Outcome) *inspect.Record {
	c := *r
	c.ID = fmt.Sprintf("SYN%06d", n)
	c.Target = fmt.Sprintf("host%d.example:443", n)
	c.Outcome = outcome
	c.Time = time.Time{}
	return &c
}

// untrustedUpstream is an HTTPS server whose certificate comes from a CA
// the proxy does not trust.
func untrustedUpstream(t *testing.T) *httptest.Server {
	t.Helper()
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	up.TLS = &tls.Config{Certificates: []tls.Certificate{testpki.Root(t, "not trusted by tlslens").Leaf(t, "127.0.0.1")}}
	up.StartTLS()
	t.Cleanup(up.Close)
	return up
}
