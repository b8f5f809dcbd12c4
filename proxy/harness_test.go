package proxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/sirupsen/logrus/hooks/test"

	"github.com/tlslens/tlslens/ca"
	"github.com/tlslens/tlslens/ca/testpki"
	"github.com/tlslens/tlslens/inspect"
)

// harness is a running proxy on 127.0.0.1 with a test CA, a record channel
// and the logrus hook holding the written records. Tests and benchmarks
// share it (newLoadHarness adds an upstream and records encoded as in
// production).
type harness struct {
	tb      testing.TB
	auth    *ca.Authority
	p       *Proxy
	addr    string
	records chan *inspect.Record
	hook    *test.Hook
	logHook *test.Hook

	stop   context.CancelFunc // ends Serve, as SIGTERM does
	served chan struct{}      // closed when Serve has returned
	err    error              // what Serve returned, once served is closed
}

// names maps test host names to 127.0.0.1 in the proxy's dialer, so tests can
// use SNI without DNS.
var testNames = map[string]bool{"example.com": true, "www.example.com": true, "other.test": true, "upstream.test": true}

// testResolver resolves testNames to 127.0.0.1 and no other name: the
// tests never ask DNS.
type testResolver struct{}

func (testResolver) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	if testNames[host] {
		return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
	}
	return nil, &net.DNSError{Err: "no such host (test resolver)", Name: host, IsNotFound: true}
}

func loopbackDial(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	if testNames[host] {
		addr = net.JoinHostPort("127.0.0.1", port)
	} else if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("test dialer: %s is not loopback", host)
	}
	var d net.Dialer
	return d.DialContext(ctx, network, addr)
}

// newHarness starts a proxy on 127.0.0.1:0 with a test Authority, trusting no
// upstream, its records sent to h.records; configure, if not nil, changes the
// options first. The proxy is closed when tb ends.
func newHarness(tb testing.TB, configure func(*Options)) *harness {
	tb.Helper()
	return newHarnessOn(tb, "127.0.0.1:0", configure)
}

// newHarnessOn is newHarness with the proxy listening on listen.
func newHarnessOn(tb testing.TB, listen string, configure func(*Options)) *harness {
	tb.Helper()
	recs, hook := test.NewNullLogger()
	log, logHook := test.NewNullLogger()
	log.SetLevel(logrus.DebugLevel)
	h := &harness{tb: tb, auth: testpki.Authority(tb), records: make(chan *inspect.Record, 100), hook: hook, logHook: logHook}
	opts := Options{
		Authority:        h.auth,
		Log:              log,
		Records:          recs,
		OnRecord:         func(r *inspect.Record) { h.records <- r },
		UpstreamRoots:    x509.NewCertPool(),
		HandshakeTimeout: 5 * time.Second,
		Dial:             loopbackDial,
		Resolver:         testResolver{},
	}
	if configure != nil {
		configure(&opts)
	}
	p, err := New(opts)
	if err != nil {
		tb.Fatal(err)
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.stop, h.served = cancel, make(chan struct{})
	go func() { defer close(h.served); h.err = p.Serve(ctx, ln) }()
	tb.Cleanup(func() { cancel(); p.Close(); <-h.served })
	h.p, h.addr = p, ln.Addr().String()
	return h
}

// record waits for the next record.
func (h *harness) record() *inspect.Record {
	h.tb.Helper()
	select {
	case r := <-h.records:
		return r
	case <-time.After(15 * time.Second):
		h.tb.Fatal("no record written within 15s")
		return nil
	}
}

// noMoreRecords checks that exactly n records were written in all.
func (h *harness) recordCount(n int) {
	h.tb.Helper()
	got := 0
	for _, e := range h.hook.AllEntries() {
		if e.Message == "handshake" {
			got++
		}
	}
	if got != n {
		h.tb.Errorf("%d handshake records written, want %d", got, n)
	}
}

// roots is a pool trusting only the proxy's CA.
func (h *harness) roots() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(h.auth.Certificate())
	return pool
}

// httpClient is an HTTP client using the proxy and trusting only its CA.
func (h *harness) httpClient(tlsCfg *tls.Config) *http.Client {
	if tlsCfg == nil {
		tlsCfg = &tls.Config{}
	}
	if tlsCfg.RootCAs == nil {
		tlsCfg.RootCAs = h.roots()
	}
	u, _ := url.Parse("http://" + h.addr)
	tr := &http.Transport{Proxy: http.ProxyURL(u), TLSClientConfig: tlsCfg, DisableKeepAlives: true}
	h.tb.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 15 * time.Second}
}

// connect opens a tunnel through the proxy to target and returns the raw conn.
func (h *harness) connect(target string) net.Conn {
	h.tb.Helper()
	c, err := net.Dial("tcp", h.addr)
	if err != nil {
		h.tb.Fatal(err)
	}
	h.tb.Cleanup(func() { c.Close() })
	fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", target, target)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil {
		h.tb.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		h.tb.Fatalf("CONNECT %s: %s", target, resp.Status)
	}
	if br.Buffered() > 0 {
		h.tb.Fatal("bytes after the CONNECT response")
	}
	return c
}

// recordJSON is the record as the JSON line logrus writes for it.
func (h *harness) recordJSON() map[string]any {
	h.tb.Helper()
	var last *logrus.Entry
	for _, e := range h.hook.AllEntries() {
		if e.Message == "handshake" {
			last = e
		}
	}
	if last == nil {
		h.tb.Fatal("no handshake entry")
	}
	b, err := (&logrus.JSONFormatter{}).Format(last)
	if err != nil {
		h.tb.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		h.tb.Fatal(err)
	}
	return m
}

// upstream starts an HTTPS server on 127.0.0.1 with cert, answering "hello
// from upstream" and counting requests.
type upstream struct {
	*httptest.Server
	requests chan *http.Request
}

func startUpstream(t *testing.T, cfg *tls.Config) *upstream {
	t.Helper()
	u := &upstream{requests: make(chan *http.Request, 100)}
	u.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.requests <- r
		w.Header().Set("X-Upstream", "yes")
		io.WriteString(w, "hello from upstream "+r.URL.Path+" over "+r.Proto)
	}))
	u.TLS = cfg
	u.StartTLS()
	t.Cleanup(u.Close)
	return u
}

func (u *upstream) port() string {
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(u.URL, "https://"))
	return port
}

// readerClient speaks HTTP/1.1 over one connection, for tests that need to
// control which connection each request uses.
type readerClient struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

type simpleResponse struct {
	status int
	body   string
}

func newReaderClient(t *testing.T, c net.Conn) *readerClient {
	return &readerClient{t: t, c: c, br: bufio.NewReader(c)}
}

func (rc *readerClient) do(method, path, host string) simpleResponse {
	rc.t.Helper()
	if _, err := fmt.Fprintf(rc.c, "%s %s HTTP/1.1\r\nHost: %s\r\n\r\n", method, path, host); err != nil {
		rc.t.Fatal(err)
	}
	resp, err := http.ReadResponse(rc.br, nil)
	if err != nil {
		rc.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return simpleResponse{resp.StatusCode, string(b)}
}
