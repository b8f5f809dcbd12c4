package proxy

import (
	"crypto/tls"
	"crypto/x509"
	"testing"
	"time"

	"github.com/tlslens/tlslens/inspect"
)

// TestRejectionAfterHandshake drives a crypto/tls client that completes
// the handshake and closes without a request, as a client that checks or
// pins the certificate only after the handshake does (OkHttp's
// CertificatePinner, wget without the CA): the record says it rejected the
// certificate, after the handshake, rather than ok.
func TestRejectionAfterHandshake(t *testing.T) {
	t.Parallel()
	up, roots := failuresUpstream(t)
	target := "example.com:" + up.port()
	cases := []struct {
		name  string
		trust bool // the client trusts the tlslens CA (and pins something else)
	}{
		{"trusts the CA, pins", true},
		{"checks the certificate after the handshake", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, func(o *Options) { o.UpstreamRoots = roots })
			cfg := &tls.Config{ServerName: "example.com", NextProtos: []string{"h2", "http/1.1"}}
			if tc.trust {
				cfg.RootCAs = h.roots()
			} else {
				cfg.RootCAs, cfg.InsecureSkipVerify = x509.NewCertPool(), true
			}
			c := tls.Client(h.connect(target), cfg)
			if err := c.Handshake(); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			c.Close()
			r := h.record()
			if r.Outcome != inspect.OutcomeClientRejectedCertificate || r.Client.Stage != "after_handshake" {
				t.Fatalf("outcome %s stage %q error %q, want client_rejected_certificate after_handshake", r.Outcome, r.Client.Stage, r.Client.Error)
			}
			if r.Client.Negotiated == nil || r.Upstream == nil || r.Upstream.Negotiated == nil {
				t.Errorf("client negotiated %+v upstream %+v: both handshakes should be on the record", r.Client.Negotiated, r.Upstream)
			}
			if d := time.Since(start); d > time.Second {
				t.Errorf("record written %s after the close, want at once", d)
			}
			if j := h.recordJSON(); j["client"].(map[string]any)["stage"] != "after_handshake" {
				t.Errorf("record JSON client.stage = %v, want after_handshake", j["client"].(map[string]any)["stage"])
			}
		})
	}
}

// TestRecordAtFirstRequest checks that a client that sends a request at once
// gets its record then, ok and without a stage, and one that stays idle gets
// it once pinningCloseWindow has passed.
func TestRecordAtFirstRequest(t *testing.T) {
	t.Parallel()
	up, roots := failuresUpstream(t)
	target := "example.com:" + up.port()
	h := newHarness(t, func(o *Options) { o.UpstreamRoots = roots })

	c := tls.Client(h.connect(target), &tls.Config{ServerName: "example.com", RootCAs: h.roots(), NextProtos: []string{"http/1.1"}})
	start := time.Now()
	if resp := newReaderClient(t, c).do("GET", "/", "example.com"); resp.status != 200 {
		t.Fatalf("GET /: %d %q", resp.status, resp.body)
	}
	r := h.record()
	if r.Outcome != inspect.OutcomeOK || r.Client.Stage != "" {
		t.Fatalf("outcome %s stage %q error %q, want ok without a stage", r.Outcome, r.Client.Stage, r.Client.Error)
	}
	if d := time.Since(start); d >= pinningCloseWindow {
		t.Errorf("record written %s after the connection began, want at the first request", d)
	}
	c.Close()

	idle := tls.Client(h.connect(target), &tls.Config{ServerName: "example.com", RootCAs: h.roots(), NextProtos: []string{"http/1.1"}})
	defer idle.Close()
	if err := idle.Handshake(); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	r = h.record()
	if r.Outcome != inspect.OutcomeOK || r.Client.Stage != "" {
		t.Fatalf("idle: outcome %s stage %q, want ok", r.Outcome, r.Client.Stage)
	}
	if d := time.Since(start); d < pinningCloseWindow/2 || d > pinningCloseWindow+2*time.Second {
		t.Errorf("idle connection's record written %s after its handshake, want about %s", d, pinningCloseWindow)
	}
}
