package proxy

import (
	"crypto/tls"
	"crypto/x509"
	"strings"
	"testing"

	"github.com/tlslens/tlslens/ca/testpki"
	"github.com/tlslens/tlslens/inspect"
)

// TestPassthroughClientRefusal: a TLS 1.2 client that refuses the real
// server's certificate in passthrough sends a clear alert, and the record
// says the client refused rather than ok.
func TestPassthroughClientRefusal(t *testing.T) {
	t.Parallel()
	pki := testpki.Root(t, "Upstream Test Root")
	up := startUpstream(t, &tls.Config{MaxVersion: tls.VersionTLS12, Certificates: []tls.Certificate{pki.Leaf(t, "example.com")}})
	h := passthroughHarness(t)
	// Trusts nothing: it refuses the real server's certificate.
	tc := tls.Client(h.connect("example.com:"+up.port()), &tls.Config{ServerName: "example.com", RootCAs: x509.NewCertPool()})
	if err := tc.Handshake(); err == nil {
		t.Fatal("handshake succeeded with a client that trusts nothing")
	}
	r := h.record()
	if r.Mode != inspect.ModePassthrough || r.Outcome != inspect.OutcomeClientRejectedCertificate || r.Client.Alert != "bad_certificate" {
		t.Fatalf("mode %s outcome %s alert %q error %q", r.Mode, r.Outcome, r.Client.Alert, r.Client.Error)
	}
	if !strings.Contains(r.Client.Error, "server's own certificate") || len(r.Upstream.Chain) != 1 {
		t.Errorf("error %q chain %d: want the refusal explained and the server's chain recorded", r.Client.Error, len(r.Upstream.Chain))
	}
	h.recordCount(1)
}
