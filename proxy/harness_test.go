package proxy

import (
	"bufio"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
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
	"github.com/tlslens/tlslens/inspect"
)

// harness is a running proxy on 127.0.0.1 with a test CA, a record channel
// and the logrus hook holding the written records.
type harness struct {
	t       *testing.T
	auth    *ca.Authority
	p       *Proxy
	addr    string
	records chan *inspect.Record
	hook    *test.Hook
	logHook *test.Hook
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

func newHarness(t *testing.T, configure func(*Options)) *harness {
	t.Helper()
	return newHarnessOn(t, "127.0.0.1:0", configure)
}

// newHarnessOn is newHarness with the proxy listening on listen.
func newHarnessOn(t *testing.T, listen string, configure func(*Options)) *harness {
	t.Helper()
	auth, err := ca.New(ca.Options{})
	if err != nil {
		t.Fatal(err)
	}
	recs, hook := test.NewNullLogger()
	log, logHook := test.NewNullLogger()
	log.SetLevel(logrus.DebugLevel)
	h := &harness{t: t, auth: auth, records: make(chan *inspect.Record, 100), hook: hook, logHook: logHook}
	opts := Options{
		Authority:        auth,
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
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); p.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); p.Close(); <-done })
	h.p, h.addr = p, ln.Addr().String()
	return h
}

// record waits for the next record.
func (h *harness) record() *inspect.Record {
	h.t.Helper()
	select {
	case r := <-h.records:
		return r
	case <-time.After(15 * time.Second):
		h.t.Fatal("no record written within 15s")
		return nil
	}
}

// noMoreRecords checks that exactly n records were written in all.
func (h *harness) recordCount(n int) {
	h.t.Helper()
	got := 0
	for _, e := range h.hook.AllEntries() {
		if e.Message == "handshake" {
			got++
		}
	}
	if got != n {
		h.t.Errorf("%d handshake records written, want %d", got, n)
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
	h.t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 15 * time.Second}
}

// connect opens a tunnel through the proxy to target and returns the raw conn.
func (h *harness) connect(target string) net.Conn {
	h.t.Helper()
	c, err := net.Dial("tcp", h.addr)
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { c.Close() })
	fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", target, target)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil {
		h.t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		h.t.Fatalf("CONNECT %s: %s", target, resp.Status)
	}
	if br.Buffered() > 0 {
		h.t.Fatal("bytes after the CONNECT response")
	}
	return c
}

// recordJSON is the record as the JSON line logrus writes for it.
func (h *harness) recordJSON() map[string]any {
	h.t.Helper()
	var last *logrus.Entry
	for _, e := range h.hook.AllEntries() {
		if e.Message == "handshake" {
			last = e
		}
	}
	if last == nil {
		h.t.Fatal("no handshake entry")
	}
	b, err := (&logrus.JSONFormatter{}).Format(last)
	if err != nil {
		h.t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		h.t.Fatal(err)
	}
	return m
}

// testPKI makes certificates at test time: a root and leaves with chosen
// names and validity.
type testPKI struct {
	t    *testing.T
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newTestPKI(t *testing.T, cn string) *testPKI {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"tlslens tests"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testPKI{t: t, cert: cert, key: key}
}

func (p *testPKI) pool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(p.cert)
	return pool
}

// leaf issues a server certificate for names (DNS names or IPs).
func (p *testPKI) leaf(notBefore, notAfter time.Time, names ...string) tls.Certificate {
	p.t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		p.t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: names[0]},
		NotBefore:   notBefore,
		NotAfter:    notAfter,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	return p.issue(tmpl, key)
}

// issue signs tmpl for key with p's root (a fresh random serial) and returns
// it ready for a tls.Config.
func (p *testPKI) issue(tmpl *x509.Certificate, key crypto.Signer) tls.Certificate {
	p.t.Helper()
	leaf := signCert(p.t, tmpl, key.Public(), p.cert, p.key)
	return tls.Certificate{Certificate: [][]byte{leaf.Raw}, PrivateKey: key, Leaf: leaf}
}

// signCert signs tmpl for pub by parent (tmpl itself when nil) with
// parentKey, using tmpl.SignatureAlgorithm (SHA-1 included: crypto/x509 still
// creates what it refuses to verify).
func signCert(t *testing.T, tmpl *x509.Certificate, pub any, parent *x509.Certificate, parentKey crypto.Signer) *x509.Certificate {
	t.Helper()
	if parent == nil {
		parent = tmpl
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl.SerialNumber = serial
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
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
