package proxy

import (
	"crypto/tls"
	"crypto/x509"
	"strings"
	"testing"
	"time"

	"github.com/tlslens/tlslens/ca/testpki"
	"github.com/tlslens/tlslens/inspect"
)

// TestAutoPassthroughEngagesAndExpires: after two clients reject the proxy's
// certificate for a host, the host is passed through (a client trusting only
// the real server's root completes its handshake through the tunnel), and
// after the TTL it is intercepted again.
func TestAutoPassthroughEngagesAndExpires(t *testing.T) {
	pki := testpki.Root(t, "Upstream Test Root")
	up := startUpstream(t, &tls.Config{Certificates: []tls.Certificate{pki.Leaf(t, "example.com")}})
	h := newHarness(t, func(o *Options) {
		o.UpstreamRoots = pki.Pool()
		o.AutoPassthrough = AutoPassthrough{Threshold: 2, Window: time.Minute, TTL: time.Hour}
	})
	clock := newTestClock()
	h.p.auto = newAutoPassthrough(2, time.Minute, time.Hour, clock.now)
	target := "example.com:" + up.port()

	pinned := func() { // a client that trusts neither tlslens nor anything else
		c := h.connect(target)
		tls.Client(c, &tls.Config{ServerName: "example.com", RootCAs: x509.NewCertPool()}).Handshake()
		c.Close()
	}
	for i := 0; i < 2; i++ {
		pinned()
		if r := h.record(); r.Outcome != inspect.OutcomeClientRejectedCertificate || r.Mode != inspect.ModeMITM {
			t.Fatalf("rejection %d: outcome %s mode %s", i, r.Outcome, r.Mode)
		}
	}
	if !logged(h, "auto passthrough engaged") {
		t.Error("no \"auto passthrough engaged\" log line")
	}

	// Passed through: the client talks to the real server, trusting its root.
	c := h.connect(target)
	tc := tls.Client(c, &tls.Config{ServerName: "example.com", RootCAs: pki.Pool()})
	if err := tc.Handshake(); err != nil {
		t.Fatalf("handshake through the passed-through tunnel: %v", err)
	}
	r := h.record()
	if r.Mode != inspect.ModePassthrough || !strings.HasPrefix(r.Reason, "auto_passthrough") {
		t.Fatalf("third connection: mode %s reason %q, want passthrough by auto_passthrough", r.Mode, r.Reason)
	}
	tc.Close()

	clock.set(time.Hour + time.Second)
	resp, body := get(t, h.httpClient(nil), "https://"+target+"/after")
	if resp.StatusCode != 200 || !strings.Contains(body, "/after") {
		t.Fatalf("after the TTL: %s %q", resp.Status, body)
	}
	if r := h.record(); r.Mode != inspect.ModeMITM || r.Outcome != inspect.OutcomeOK {
		t.Fatalf("after the TTL: mode %s outcome %s, want intercepted again", r.Mode, r.Outcome)
	}
	if !logged(h, "auto passthrough expired") {
		t.Error("no \"auto passthrough expired\" log line")
	}
}

func logged(h *harness, msg string) bool {
	for _, e := range h.logHook.AllEntries() {
		if e.Message == msg {
			return true
		}
	}
	return false
}
