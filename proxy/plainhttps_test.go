package proxy

import (
	"crypto/tls"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tlslens/tlslens/ca/testpki"
	"github.com/tlslens/tlslens/inspect"
)

// TestPlainHTTPSRequest: a client that sends an https:// URL to the proxy in
// plain HTTP, without CONNECT (RFC 9112 §3.2.2 absolute form), gets the
// upstream's answer over a TLS connection tlslens opens and records: one
// record per client connection and target, with no TLS on the client side,
// the reason, and a finding that the request crossed to the proxy in clear.
func TestPlainHTTPSRequest(t *testing.T) {
	pki := testpki.Root(t, "Upstream Test Root")
	up := startUpstream(t, &tls.Config{Certificates: []tls.Certificate{
		pki.Leaf(t, "example.com", "other.test")}})
	reg := prometheus.NewRegistry()
	h := newHarness(t, func(o *Options) {
		o.UpstreamRoots, o.UpstreamRootsName, o.Metrics = pki.Pool(), "test-root.pem", reg
	})

	c, err := net.Dial("tcp", h.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rc := newReaderClient(t, c)
	target := "example.com:" + up.port()
	for i, path := range []string{"/one", "/two"} {
		resp := rc.do("GET", "https://"+target+path, target)
		if resp.status != http.StatusOK || resp.body != "hello from upstream "+path+" over HTTP/1.1" {
			t.Fatalf("request %d: %d %q, want the upstream's answer", i, resp.status, resp.body)
		}
	}
	r := h.record()
	if r.Outcome != inspect.OutcomeOK || r.Mode != inspect.ModeMITM || r.Target != target || r.Reason != inspect.ReasonPlainHTTPS {
		t.Fatalf("record outcome/mode/target/reason = %s/%s/%s/%s", r.Outcome, r.Mode, r.Target, r.Reason)
	}
	if c := r.Client; c == nil || c.Addr != rc.c.LocalAddr().String() || c.Hello != nil || c.Negotiated != nil || len(c.Chain) != 0 {
		t.Errorf("client side %+v: want its address and no TLS", r.Client)
	}
	u := r.Upstream
	if u == nil || u.Hello == nil || u.Hello.SNI != "example.com" || u.Hello.JA4 == "" || !slices.Equal(u.Hello.ALPN, []string{"http/1.1"}) {
		t.Fatalf("upstream hello %+v: want tlslens's own offer for example.com", u)
	}
	if u.Negotiated == nil || u.Negotiated.Version != "TLS 1.3" || u.Verify == nil || !u.Verify.OK || len(u.Chain) != 1 {
		t.Errorf("upstream negotiated %+v verify %+v chain %d", u.Negotiated, u.Verify, len(u.Chain))
	}
	if len(findingsWith(r.Findings, inspect.CodePlaintextToProxy)) != 1 {
		t.Errorf("findings %+v: want %s", r.Findings, inspect.CodePlaintextToProxy)
	}
	if r1, r2 := <-up.requests, <-up.requests; r1.RemoteAddr != r2.RemoteAddr {
		t.Errorf("two requests on one client connection came from %s and %s upstream, want one connection", r1.RemoteAddr, r2.RemoteAddr)
	}

	// Another target on the same connection is a connection of its own
	// upstream, with its own record.
	other := "other.test:" + up.port()
	if resp := rc.do("GET", "https://"+other+"/three", other); resp.status != http.StatusOK {
		t.Fatalf("second target: %d %q", resp.status, resp.body)
	}
	r2 := h.record()
	if r2.Target != other || r2.ID == r.ID || r2.Outcome != inspect.OutcomeOK {
		t.Errorf("second record target %s id %s (first %s) outcome %s", r2.Target, r2.ID, r.ID, r2.Outcome)
	}
	h.recordCount(2)
	// Two upstream handshakes and no client one: the client spoke no TLS.
	client := 0.0
	for _, o := range legOutcomes["client"] {
		client += metricValue(t, reg, "tlslens_handshakes_total", "leg", "client", "outcome", o)
	}
	if up := metricValue(t, reg, "tlslens_handshakes_total", "leg", "upstream", "outcome", "ok"); up != 2 || client != 0 {
		t.Errorf("upstream handshakes %v, client handshakes %v; want 2 and 0", up, client)
	}
}

// TestPlainHTTPSRequestUntrusted: the upstream's certificate does not verify,
// so the client gets a 502 naming the failure and the record says why.
func TestPlainHTTPSRequestUntrusted(t *testing.T) {
	pki := testpki.Root(t, "Untrusted Root")
	up := startUpstream(t, &tls.Config{Certificates: []tls.Certificate{pki.Leaf(t, "example.com")}})
	h := newHarness(t, nil) // trusts no upstream root

	c, err := net.Dial("tcp", h.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	target := "example.com:" + up.port()
	resp := newReaderClient(t, c).do("GET", "https://"+target+"/", target)
	if resp.status != http.StatusBadGateway || !strings.Contains(resp.body, "certificate") {
		t.Errorf("got %d %q, want a 502 about the certificate", resp.status, resp.body)
	}
	r := h.record()
	if r.Outcome != inspect.OutcomeUpstreamVerifyFailed || r.Reason != inspect.ReasonPlainHTTPS || r.Upstream == nil || r.Upstream.Verify == nil || r.Upstream.Verify.OK {
		t.Errorf("record outcome %s reason %q upstream %+v", r.Outcome, r.Reason, r.Upstream)
	}
	h.recordCount(1)
}

// TestPlainHTTPSTargetsBounded: one client connection cannot hold more than
// maxPlainTargets upstream connections open; past it the oldest session ends,
// and a later request for its target dials (and records) anew.
func TestPlainHTTPSTargetsBounded(t *testing.T) {
	defer func(n int) { maxPlainTargets = n }(maxPlainTargets)
	maxPlainTargets = 2
	pki := testpki.Root(t, "Upstream Test Root")
	up := startUpstream(t, &tls.Config{Certificates: []tls.Certificate{
		pki.Leaf(t, "example.com", "other.test", "www.example.com")}})
	h := newHarness(t, func(o *Options) { o.UpstreamRoots = pki.Pool() })
	base := quietGoroutines(t)
	c, err := net.Dial("tcp", h.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rc := newReaderClient(t, c)
	var addrs []string
	for _, host := range []string{"example.com", "other.test", "www.example.com", "example.com"} {
		target := host + ":" + up.port()
		if resp := rc.do("GET", "https://"+target+"/", target); resp.status != http.StatusOK {
			t.Fatalf("%s: %d %q", target, resp.status, resp.body)
		}
		if r := h.record(); r.Target != target || r.Outcome != inspect.OutcomeOK {
			t.Fatalf("record target %s outcome %s, want %s ok", r.Target, r.Outcome, target)
		}
		addrs = append(addrs, (<-up.requests).RemoteAddr)
	}
	if addrs[0] == addrs[3] {
		t.Errorf("example.com served again over its first upstream connection (%s): the oldest session should have ended", addrs[0])
	}
	h.recordCount(4)
	// Closing the client connection ends its sessions: every upstream
	// connection and transport goroutine goes with it.
	c.Close()
	settled(t, base)
}
