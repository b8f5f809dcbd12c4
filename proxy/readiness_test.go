package proxy

import (
	"crypto/tls"
	"reflect"
	"testing"

	"github.com/tlslens/tlslens/ca/testpki"
	"github.com/tlslens/tlslens/inspect"
)

// TestReadinessMITM: a record of an intercepted connection judges the
// client's post-quantum offer and what each leg agreed, with real
// crypto/tls on both sides.
func TestReadinessMITM(t *testing.T) {
	t.Parallel()
	pki := testpki.Root(t, "Upstream Test Root")
	leaf := pki.Leaf(t, "example.com")
	cases := []struct {
		name   string
		server *tls.Config
		client *tls.Config
		want   inspect.Readiness
	}{
		{name: "post-quantum on both legs", server: &tls.Config{}, client: &tls.Config{},
			want: inspect.Readiness{
				PostQuantum: inspect.PostQuantum{Offered: true, Groups: []string{"X25519MLKEM768", "SecP256r1MLKEM768", "SecP384r1MLKEM1024"},
					KeyShare: true, ClientLeg: true, UpstreamLeg: true, ClientGroup: "X25519MLKEM768", UpstreamGroup: "X25519MLKEM768"},
				Legacy: inspect.Legacy{LowestVersion: "TLS 1.2"}}},
		{name: "classical client, server retries", server: &tls.Config{CurvePreferences: []tls.CurveID{tls.CurveP384}},
			client: &tls.Config{CurvePreferences: []tls.CurveID{tls.CurveP256, tls.CurveP384}},
			want: inspect.Readiness{
				PostQuantum: inspect.PostQuantum{ClientGroup: "secp256r1", UpstreamGroup: "secp384r1", UpstreamHelloRetry: true},
				Legacy:      inspect.Legacy{LowestVersion: "TLS 1.2"}}},
		{name: "legacy offer", server: &tls.Config{MaxVersion: tls.VersionTLS12},
			client: &tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS12, CurvePreferences: []tls.CurveID{tls.X25519},
				CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_RSA_WITH_3DES_EDE_CBC_SHA}},
			want: inspect.Readiness{
				// The client offers only x25519, which in TLS 1.2 rules out
				// the ECDSA P-256 leaf: it gets the RSA leaf, and RSA key
				// exchange (TLS_RSA_WITH_3DES_EDE_CBC_SHA) has no group.
				// The upstream leg ran ECDHE over x25519.
				PostQuantum: inspect.PostQuantum{UpstreamGroup: "x25519"},
				Legacy:      inspect.Legacy{LowestVersion: "TLS 1.0", WeakSuites: []string{"TLS_RSA_WITH_3DES_EDE_CBC_SHA"}}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := tc.server.Clone()
			srv.Certificates = []tls.Certificate{leaf}
			up := startUpstream(t, srv)
			h := newHarness(t, func(o *Options) { o.UpstreamRoots = pki.Pool() })
			resp, err := h.httpClient(tc.client.Clone()).Get("https://example.com:" + up.port() + "/")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			r := h.record()
			if r.Outcome != inspect.OutcomeOK {
				t.Fatalf("outcome %s: %+v %+v", r.Outcome, r.Client, r.Upstream)
			}
			if r.Readiness == nil || !reflect.DeepEqual(*r.Readiness, tc.want) {
				t.Errorf("readiness =\n%+v\nwant\n%+v", r.Readiness, tc.want)
			}
			pq, _ := h.recordJSON()["readiness"].(map[string]any)["post_quantum"].(map[string]any)
			if pq["client_leg"] != tc.want.PostQuantum.ClientLeg || pq["upstream_hello_retry"] != tc.want.PostQuantum.UpstreamHelloRetry {
				t.Errorf("JSON readiness.post_quantum = %v, want client_leg %v, upstream_hello_retry %v",
					pq, tc.want.PostQuantum.ClientLeg, tc.want.PostQuantum.UpstreamHelloRetry)
			}
		})
	}
}

// TestReadinessPassthrough: a passthrough's client leg is its upstream leg.
func TestReadinessPassthrough(t *testing.T) {
	t.Parallel()
	pki := testpki.Root(t, "Upstream Test Root")
	up := startUpstream(t, &tls.Config{Certificates: []tls.Certificate{pki.Leaf(t, "example.com")}})
	h := passthroughHarness(t)
	c := tls.Client(h.connect("example.com:"+up.port()), &tls.Config{ServerName: "example.com", RootCAs: pki.Pool()})
	if err := c.Handshake(); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := h.record()
	pq := r.Readiness.PostQuantum
	if !pq.ClientLeg || !pq.UpstreamLeg || pq.ClientGroup != "X25519MLKEM768" || pq.UpstreamGroup != "X25519MLKEM768" {
		t.Errorf("passthrough post_quantum = %+v, want X25519MLKEM768 on both legs", pq)
	}
}
