package proxy

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/tlslens/tlslens/ca/testpki"
)

// TestH2CancelReachesUpstream: an HTTP/2 client that cancels a stream (its
// RST_STREAM) cancels the upstream request it started, rather than leaving
// it running to completion.
func TestH2CancelReachesUpstream(t *testing.T) {
	pki := testpki.Root(t, "Upstream Test Root")
	started, cancelled := make(chan struct{}, 1), make(chan struct{}, 1)
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		select {
		case <-r.Context().Done():
			cancelled <- struct{}{}
		case <-time.After(30 * time.Second):
		}
	}))
	up.EnableHTTP2 = true
	up.TLS = &tls.Config{Certificates: []tls.Certificate{pki.Leaf(t, "example.com")}}
	up.StartTLS()
	t.Cleanup(up.Close)
	h := newHarness(t, func(o *Options) { o.UpstreamRoots = pki.Pool() })
	u, _ := url.Parse("http://" + h.addr)
	tr := &http.Transport{Proxy: http.ProxyURL(u), TLSClientConfig: &tls.Config{RootCAs: h.roots()}, ForceAttemptHTTP2: true}
	t.Cleanup(tr.CloseIdleConnections)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, port, _ := net.SplitHostPort(up.Listener.Addr().String())
	req, _ := http.NewRequestWithContext(ctx, "GET", "https://example.com:"+port+"/hold", nil)
	done := make(chan error, 1)
	go func() {
		resp, err := tr.RoundTrip(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	select {
	case <-started:
	case err := <-done:
		t.Fatalf("request ended before reaching the upstream: %v", err)
	case <-time.After(15 * time.Second):
		t.Fatal("request did not reach the upstream within 15s")
	}
	cancel()
	select {
	case <-cancelled:
	case <-time.After(5 * time.Second):
		t.Fatal("the upstream request was not cancelled within 5s of the client's RST_STREAM")
	}
	if r := h.record(); r.Client.Negotiated == nil || r.Client.Negotiated.ALPN != "h2" {
		t.Fatalf("client leg %+v, want h2", r.Client.Negotiated)
	}
}
