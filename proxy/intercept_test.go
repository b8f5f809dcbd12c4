package proxy

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tlslens/tlslens/ca/testpki"
	"github.com/tlslens/tlslens/inspect"
)

// interceptListener accepts on a loopback listener of its own and hands each
// connection to h's proxy's Intercept with a fixed target, as the
// transparent and WireGuard listeners do with each connection's original
// destination. It returns the listener's address, and a channel that
// receives each time an Intercept returns.
func interceptListener(t *testing.T, h *harness, target string, via inspect.Via) (string, <-chan struct{}) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	returned := make(chan struct{}, 10)
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				h.p.Intercept(ctx, c, target, via)
				returned <- struct{}{}
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); cancel(); <-done })
	return ln.Addr().String(), returned
}

// returns waits for an Intercept to return.
func returns(t *testing.T, returned <-chan struct{}) {
	t.Helper()
	select {
	case <-returned:
	case <-time.After(15 * time.Second):
		t.Fatal("Intercept did not return within 15s of the connection's end")
	}
}

// TestInterceptTLS: a TLS client that connects without a CONNECT (its
// connection handed to Intercept with its original destination) gets the
// upstream's page through a leaf for its SNI, and one record with both legs,
// the original destination as target and via.
func TestInterceptTLS(t *testing.T) {
	pki := testpki.Root(t, "Upstream Test Root")
	up := startUpstream(t, &tls.Config{Certificates: []tls.Certificate{pki.Leaf(t, "example.com")}})
	h := newHarness(t, func(o *Options) { o.UpstreamRoots = pki.Pool() })
	target := net.JoinHostPort("127.0.0.1", up.port())
	addr, returned := interceptListener(t, h, target, inspect.ViaTransparent)

	tr := &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: h.roots(), ServerName: "example.com"},
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "tcp", addr) // as if redirected
		},
		DisableKeepAlives: true,
	}
	t.Cleanup(tr.CloseIdleConnections)
	resp, err := (&http.Client{Transport: tr}).Get("https://example.com/page")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.HasPrefix(string(body), "hello from upstream /page") {
		t.Errorf("body = %q, want the upstream's page", body)
	}
	r := h.record()
	if r.Outcome != inspect.OutcomeOK || r.Mode != inspect.ModeMITM || r.Target != target || r.Via != inspect.ViaTransparent {
		t.Errorf("record = %s %s %s via %q, want ok mitm %s via transparent", r.Outcome, r.Mode, r.Target, r.Via, target)
	}
	if r.Client.Hello == nil || r.Client.Hello.SNI != "example.com" || r.Client.Negotiated == nil {
		t.Errorf("client side = %+v, want the hello (SNI example.com) and what was negotiated", r.Client)
	}
	if r.Upstream == nil || r.Upstream.Negotiated == nil || r.Upstream.Verify == nil || !r.Upstream.Verify.OK {
		t.Errorf("upstream side = %+v, want a verified handshake", r.Upstream)
	}
	if m := h.recordJSON(); m["via"] != "transparent" {
		t.Errorf("JSON via = %v, want \"transparent\"", m["via"])
	}
	returns(t, returned) // the client closed its connection (DisableKeepAlives)
	h.recordCount(1)
}

// TestInterceptPlainHTTP: plain HTTP without a CONNECT is served as a plain
// proxy request to its Host, and recorded as one (mode http) with via.
func TestInterceptPlainHTTP(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "plain %s for %s", r.URL.Path, r.Host)
	}))
	t.Cleanup(up.Close)
	h := newHarness(t, nil)
	target := strings.TrimPrefix(up.URL, "http://")
	addr, returned := interceptListener(t, h, target, inspect.ViaWireGuard)

	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	got := newReaderClient(t, c).do("GET", "/x", target)
	if got.status != http.StatusOK || got.body != "plain /x for "+target {
		t.Errorf("response = %d %q, want 200 from the upstream", got.status, got.body)
	}
	r := h.record()
	if r.Mode != inspect.ModeHTTP || r.Outcome != inspect.OutcomeOK || r.Target != target || r.Via != inspect.ViaWireGuard {
		t.Errorf("record = %s %s %s via %q, want http ok %s via wireguard", r.Mode, r.Outcome, r.Target, r.Via, target)
	}
	c.Close()
	returns(t, returned)
	h.recordCount(1)
}

// TestInterceptTunnel: anything else is relayed to the original destination
// and recorded as a tunnel, with via.
func TestInterceptTunnel(t *testing.T) {
	echo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { echo.Close() })
	go func() {
		for {
			c, err := echo.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	h := newHarness(t, nil)
	target := echo.Addr().String()
	addr, returned := interceptListener(t, h, target, inspect.ViaTransparent)

	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	msg := "\x00\x01 not tls, not http\n"
	io.WriteString(c, msg)
	buf := make([]byte, len(msg))
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != msg {
		t.Fatalf("echo = %q, %v; want %q", buf, err, msg)
	}
	r := h.record()
	if r.Mode != inspect.ModeTunnel || r.Outcome != inspect.OutcomeNotTLS || r.Target != target || r.Via != inspect.ViaTransparent || r.Upstream == nil {
		t.Errorf("record = %s %s %s via %q upstream %v, want tunnel not_tls %s via transparent", r.Mode, r.Outcome, r.Target, r.Via, r.Upstream, target)
	}
	c.Close()
	returns(t, returned)
}

// TestInterceptPolicyDeny: a policy that denies the original destination
// closes the connection with a denied record.
func TestInterceptPolicyDeny(t *testing.T) {
	policy, err := Rules([]Rule{{Match: "127.0.0.1", Action: ActionDeny}})
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, func(o *Options) { o.Policy = policy })
	addr, returned := interceptListener(t, h, "127.0.0.1:9", inspect.ViaTransparent)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if n, err := c.Read(make([]byte, 1)); err == nil {
		t.Errorf("read %d bytes from a denied connection, want it closed", n)
	}
	r := h.record()
	if r.Outcome != inspect.OutcomeDenied || r.Via != inspect.ViaTransparent || !strings.HasPrefix(r.Reason, "policy: deny") {
		t.Errorf("record = %s via %q reason %q, want denied via transparent by policy", r.Outcome, r.Via, r.Reason)
	}
	returns(t, returned)
}
