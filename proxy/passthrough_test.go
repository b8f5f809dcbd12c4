package proxy

import (
	"crypto/tls"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tlslens/tlslens/ca/testpki"
	"github.com/tlslens/tlslens/inspect"
)

// passthroughHarness is a proxy passing example.com through and intercepting
// everything else.
func passthroughHarness(t *testing.T) *harness {
	t.Helper()
	policy, err := Rules([]Rule{{Match: "example.com", Action: ActionPassthrough}})
	if err != nil {
		t.Fatal(err)
	}
	return newHarness(t, func(o *Options) { o.Policy = policy })
}

// TestPassthrough: a client completes its handshake with the real server
// through the tunnel, trusting the server's root and not tlslens's, and the
// record holds both clear hellos, and in TLS 1.2 the chain and key exchange.
func TestPassthrough(t *testing.T) {
	t.Parallel()
	pki := testpki.Root(t, "Upstream Test Root")
	leaf := pki.Leaf(t, "example.com")
	cases := []struct {
		name      string
		server    *tls.Config
		client    *tls.Config
		connect   string // CONNECT host: the policy must also match the SNI
		wantRetry bool
	}{
		{name: "TLS 1.3", client: &tls.Config{MaxVersion: tls.VersionTLS13}, connect: "example.com"},
		{name: "TLS 1.2", client: &tls.Config{MaxVersion: tls.VersionTLS12}, connect: "example.com"},
		{name: "TLS 1.2 by SNI", client: &tls.Config{MaxVersion: tls.VersionTLS12}, connect: "127.0.0.1"},
		{name: "TLS 1.3 by SNI", client: &tls.Config{MaxVersion: tls.VersionTLS13}, connect: "127.0.0.1"},
		{name: "TLS 1.3 HelloRetryRequest", connect: "example.com", wantRetry: true,
			server: &tls.Config{CurvePreferences: []tls.CurveID{tls.CurveP384}},
			client: &tls.Config{CurvePreferences: []tls.CurveID{tls.CurveP256, tls.CurveP384}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := tc.server.Clone()
			if srv == nil {
				srv = &tls.Config{}
			}
			srv.Certificates = []tls.Certificate{leaf}
			up := startUpstream(t, srv)
			h := passthroughHarness(t)
			cfg := tc.client.Clone()
			cfg.ServerName, cfg.RootCAs = "example.com", pki.Pool() // the real server's root only
			tc1 := tls.Client(h.connect(tc.connect+":"+up.port()), cfg)
			if err := tc1.Handshake(); err != nil {
				t.Fatalf("handshake with the real server through the tunnel: %v", err)
			}
			// The record is written once the server's clear flight is in,
			// before any application data.
			r := h.record()
			resp := newReaderClient(t, tc1).do("GET", "/through", "example.com")
			if resp.status != http.StatusOK || resp.body != "hello from upstream /through over HTTP/1.1" {
				t.Fatalf("request through the tunnel: %d %q", resp.status, resp.body)
			}
			st := tc1.ConnectionState()
			if r.Mode != inspect.ModePassthrough || r.Outcome != inspect.OutcomeOK || !strings.HasPrefix(r.Reason, "policy: passthrough") {
				t.Fatalf("mode %s outcome %s reason %q: want passthrough, ok, the policy", r.Mode, r.Outcome, r.Reason)
			}
			if r.Client.Hello == nil || r.Client.Hello.SNI != "example.com" || r.Upstream.Hello == nil || r.Upstream.Hello.JA4 != r.Client.Hello.JA4 {
				t.Errorf("client hello %+v, upstream hello %+v: want the same, forwarded untouched", r.Client.Hello, r.Upstream.Hello)
			}
			if r.Client.Negotiated != nil || r.Upstream.Negotiated != nil {
				t.Errorf("negotiated %+v / %+v: tlslens cannot know what was agreed", r.Client.Negotiated, r.Upstream.Negotiated)
			}
			sh := r.Upstream.ServerHello
			if sh == nil || sh.Version != inspect.VersionName(st.Version) || sh.CipherSuite != inspect.CipherSuiteName(st.CipherSuite) || sh.JA3S == "" {
				t.Fatalf("server_hello %+v, want %s %s as the client negotiated", sh, tls.VersionName(st.Version), tls.CipherSuiteName(st.CipherSuite))
			}
			if sh.HelloRetry != tc.wantRetry || st.HelloRetryRequest != tc.wantRetry {
				t.Errorf("server_hello hello_retry %v, client saw %v, want %v", sh.HelloRetry, st.HelloRetryRequest, tc.wantRetry)
			}
			kx := r.Upstream.KeyExchange
			if kx == nil || kx.Kind != "ECDHE" || kx.Group != inspect.GroupName(uint16(st.CurveID)) {
				t.Errorf("key_exchange %+v, want ECDHE %s", kx, inspect.GroupName(uint16(st.CurveID)))
			}
			if st.Version == tls.VersionTLS13 {
				if sh.Group != inspect.GroupName(uint16(st.CurveID)) || len(r.Upstream.Chain) != 0 {
					t.Errorf("TLS 1.3: group %q chain %d: want %s and no chain (it is encrypted)", sh.Group, len(r.Upstream.Chain), inspect.GroupName(uint16(st.CurveID)))
				}
			} else {
				if len(r.Upstream.Chain) != 1 || r.Upstream.Chain[0].SHA256 != inspect.Certificate(st.PeerCertificates[0]).SHA256 {
					t.Errorf("TLS 1.2 chain %+v: want the server's leaf", r.Upstream.Chain)
				}
				if kx == nil || kx.SignatureAlgorithm != "ecdsa_secp256r1_sha256" {
					t.Errorf("TLS 1.2 key_exchange %+v: want the ServerKeyExchange signature", kx)
				}
			}
			if r.Upstream.Addr == "" || r.Upstream.Local == "" {
				t.Errorf("upstream addr %q local %q", r.Upstream.Addr, r.Upstream.Local)
			}
			tc1.Close()
			h.recordCount(1)
		})
	}
}

// TestPassthroughResumed: an abbreviated TLS 1.2 handshake (session
// resumption) ends the clear flight at the server's ChangeCipherSpec; the
// record is written then, not when the connection times out.
func TestPassthroughResumed(t *testing.T) {
	t.Parallel()
	pki := testpki.Root(t, "Upstream Test Root")
	up := startUpstream(t, &tls.Config{Certificates: []tls.Certificate{pki.Leaf(t, "example.com")}})
	h := passthroughHarness(t)
	cfg := &tls.Config{ServerName: "example.com", RootCAs: pki.Pool(), MaxVersion: tls.VersionTLS12,
		ClientSessionCache: tls.NewLRUClientSessionCache(4)}
	for i, wantResumed := range []bool{false, true} {
		c := tls.Client(h.connect("example.com:"+up.port()), cfg)
		if err := c.Handshake(); err != nil {
			t.Fatal(err)
		}
		r := h.record()
		if resp := newReaderClient(t, c).do("GET", "/", "example.com"); resp.status != http.StatusOK {
			t.Fatalf("connection %d: status %d", i, resp.status)
		}
		if c.ConnectionState().DidResume != wantResumed {
			t.Fatalf("connection %d resumed = %v, want %v", i, c.ConnectionState().DidResume, wantResumed)
		}
		if r.Outcome != inspect.OutcomeOK || r.Upstream.ServerHello == nil || r.Upstream.ServerHello.Version != "TLS 1.2" {
			t.Fatalf("connection %d: outcome %s server_hello %+v", i, r.Outcome, r.Upstream.ServerHello)
		}
		if wantResumed != (len(r.Upstream.Chain) == 0) {
			t.Errorf("connection %d: chain of %d certificates; a resumed handshake sends none", i, len(r.Upstream.Chain))
		}
		c.Close()
	}
	h.recordCount(2)
}

// TestPassthroughFailures: what the server or the network does wrong is
// recorded, one record each.
func TestPassthroughFailures(t *testing.T) {
	t.Parallel()
	pki := testpki.Root(t, "Upstream Test Root")
	leaf := pki.Leaf(t, "example.com")
	tls13only := startUpstream(t, &tls.Config{Certificates: []tls.Certificate{leaf}, MinVersion: tls.VersionTLS13})
	silent, err := net.Listen("tcp", "127.0.0.1:0") // accepts and never answers
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { silent.Close() })
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
		}
	}()
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed.Close()
	cases := []struct {
		name      string
		target    string
		outcome   inspect.Outcome
		alert     string
		errorHint string
	}{
		{"server refuses the version", "example.com:" + tls13only.port(), inspect.OutcomeUpstreamHandshakeFailed, "protocol_version", "alert protocol_version"},
		{"server never answers", "example.com:" + portOfAddr(silent.Addr()), inspect.OutcomeUpstreamHandshakeFailed, "", "did not answer the ClientHello within 1s"},
		{"nothing listens", "example.com:" + portOfAddr(closed.Addr()), inspect.OutcomeUpstreamUnreachable, "", "refused"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			policy, _ := Rules([]Rule{{Match: "example.com", Action: ActionPassthrough}})
			h := newHarness(t, func(o *Options) { o.Policy = policy; o.HandshakeTimeout = time.Second })
			c := tls.Client(h.connect(tc.target), &tls.Config{ServerName: "example.com", RootCAs: pki.Pool(), MaxVersion: tls.VersionTLS12})
			if err := c.Handshake(); err == nil {
				t.Fatal("handshake succeeded")
			}
			r := h.record()
			if r.Mode != inspect.ModePassthrough || r.Outcome != tc.outcome || r.Upstream.Alert != tc.alert || !strings.Contains(r.Upstream.Error, tc.errorHint) {
				t.Fatalf("mode %s outcome %s alert %q error %q; want %s, alert %q, error naming %q",
					r.Mode, r.Outcome, r.Upstream.Alert, r.Upstream.Error, tc.outcome, tc.alert, tc.errorHint)
			}
			if r.Client.Hello == nil {
				t.Error("the client's hello is missing")
			}
			h.recordCount(1)
		})
	}
}

// TestDenyBySNI: a CONNECT to an allowed address whose ClientHello names a
// denied host gets a TLS access_denied alert, and nothing is dialled.
func TestDenyBySNI(t *testing.T) {
	t.Parallel()
	pki := testpki.Root(t, "Upstream Test Root")
	up := startUpstream(t, &tls.Config{Certificates: []tls.Certificate{pki.Leaf(t, "other.test")}})
	policy, err := Rules([]Rule{{Match: "other.test", Action: ActionDeny}})
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, func(o *Options) { o.Policy = policy })
	c := tls.Client(h.connect("127.0.0.1:"+up.port()), &tls.Config{ServerName: "other.test", RootCAs: h.roots()})
	err = c.Handshake()
	if err == nil || !strings.Contains(err.Error(), "access denied") {
		t.Fatalf("handshake error %v, want the access_denied alert", err)
	}
	r := h.record()
	if r.Outcome != inspect.OutcomeDenied || r.Upstream != nil || r.Reason != "policy: deny (server name other.test)" || r.Client.Hello.SNI != "other.test" {
		t.Fatalf("outcome %s upstream %+v reason %q hello %+v", r.Outcome, r.Upstream, r.Reason, r.Client.Hello)
	}
	h.recordCount(1)
}

func portOfAddr(a net.Addr) string {
	_, port, _ := net.SplitHostPort(a.String())
	return port
}
