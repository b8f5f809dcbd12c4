package proxy

import (
	"crypto/tls"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tlslens/tlslens/ca/testpki"
	"github.com/tlslens/tlslens/inspect"
)

// Tests from driving tlslens against real servers of many configurations
// (openssl s_server, gnutls-serv, nginx): each failure found there, rebuilt
// with crypto/tls servers on 127.0.0.1.

// TestQAUpstreamRefusalsNameTheCause: a server that refuses what Go's TLS
// stack can offer gets an error naming the real cause: a TLS 1.3-only server
// refusing the parameters is not "SSL 3.0 only"; a plain-HTTP port, a silent
// one, an ALPN mismatch and a server that needs SNI each say so. Each
// connection has one record.
func TestQAUpstreamRefusalsNameTheCause(t *testing.T) {
	t.Parallel()
	pki := testpki.Root(t, "Upstream Test Root")
	leaf := pki.Leaf(t, "localhost", "127.0.0.1")
	tlsServer := func(cfg *tls.Config) string {
		cfg.Certificates = []tls.Certificate{leaf}
		return "127.0.0.1:" + startUpstream(t, cfg).port()
	}
	httpServer := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(httpServer.Close)
	silent, err := net.Listen("tcp", "127.0.0.1:0")
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
			t.Cleanup(func() { c.Close() }) // held open, never answered
		}
	}()
	// httptest adds a certificate to a config without one: serve by hand.
	sniOnly, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sniSrv := &http.Server{Handler: http.NotFoundHandler(), ErrorLog: log.New(io.Discard, "", 0)}
	t.Cleanup(func() { sniSrv.Close() })
	go sniSrv.Serve(tls.NewListener(sniOnly, &tls.Config{GetCertificate: func(hi *tls.ClientHelloInfo) (*tls.Certificate, error) {
		if hi.ServerName == "" {
			return nil, nil // and no Certificates: crypto/tls refuses with unrecognized_name
		}
		return &leaf, nil
	}}))
	classic := &tls.Config{CurvePreferences: []tls.CurveID{tls.X25519, tls.CurveP256}} // no hybrid groups

	cases := []struct {
		name       string
		target     string
		client     *tls.Config
		firstAlert string // of the refused first attempt; "" when none
		alert      string
		want       []string
		notWant    []string
	}{
		{"TLS 1.3 only, no group in common",
			tlsServer(&tls.Config{MinVersion: tls.VersionTLS13, CurvePreferences: []tls.CurveID{tls.CurveP521}}),
			classic, "handshake_failure", "protocol_version",
			[]string{"speaks only TLS 1.3", "alert handshake_failure", "x448"}, []string{"SSL 3.0"}},
		{"TLS 1.2 only, no suite in common",
			tlsServer(&tls.Config{MaxVersion: tls.VersionTLS12, CurvePreferences: []tls.CurveID{tls.X25519MLKEM768},
				CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}}),
			nil, "handshake_failure", "handshake_failure",
			[]string{"even with every version and cipher suite Go implements"}, []string{"SSL 3.0"}},
		{"plain HTTP on the port", strings.TrimPrefix(httpServer.URL, "http://"), nil, "", "",
			[]string{"did not answer with TLS", "HTTP/1.1 400", "speaks plain HTTP"}, nil},
		{"no answer", silent.Addr().String(), nil, "", "",
			[]string{"did not complete the TLS handshake within", "sending nothing"}, nil},
		{"no ALPN in common", tlsServer(&tls.Config{NextProtos: []string{"imap"}}), &tls.Config{NextProtos: []string{"http/1.1"}},
			"", "no_application_protocol", []string{"ALPN http/1.1"}, nil},
		{"SNI required, none sent", sniOnly.Addr().String(), nil, "", "unrecognized_name",
			[]string{"sent none (SNI)", "connect by host name"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, func(o *Options) { o.UpstreamRoots = pki.Pool(); o.HandshakeTimeout = time.Second })
			resp, body := get(t, h.httpClient(tc.client), "https://"+tc.target+"/")
			if resp.StatusCode != http.StatusBadGateway {
				t.Errorf("got %s %q, want 502", resp.Status, body)
			}
			r := h.record()
			h.recordCount(1)
			u := r.Upstream
			if r.Outcome != inspect.OutcomeUpstreamHandshakeFailed || u == nil {
				t.Fatalf("outcome %s, want upstream_handshake_failed: %s", r.Outcome, recordJSON(r))
			}
			if u.Alert != tc.alert {
				t.Errorf("upstream alert %q, want %q", u.Alert, tc.alert)
			}
			switch {
			case tc.firstAlert == "" && len(u.Attempts) != 0:
				t.Errorf("attempts %+v, want no compat retry", u.Attempts)
			case tc.firstAlert != "" && (len(u.Attempts) != 1 || u.Attempts[0].Alert != tc.firstAlert):
				t.Errorf("attempts %+v, want one refused with %s", u.Attempts, tc.firstAlert)
			}
			for _, w := range tc.want {
				if !strings.Contains(u.Error, w) {
					t.Errorf("error %q, want it to name %q", u.Error, w)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(u.Error, w) {
					t.Errorf("error %q names %q", u.Error, w)
				}
			}
		})
	}
}

// TestQAFailedHandshakeKeepsServerChain: when the server refuses after
// presenting its certificates (here: it requires a client certificate and
// none is configured), the record keeps the chain it sent and its
// verification, in TLS 1.2 (clear) and TLS 1.3 (decrypted).
func TestQAFailedHandshakeKeepsServerChain(t *testing.T) {
	t.Parallel()
	pki := testpki.Root(t, "Upstream Test Root")
	leaf := pki.Leaf(t, "www.example.com")
	for _, version := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(tls.VersionName(version), func(t *testing.T) {
			t.Parallel()
			up := startUpstream(t, &tls.Config{Certificates: []tls.Certificate{leaf}, MaxVersion: version,
				ClientAuth: tls.RequireAnyClientCert})
			h := newHarness(t, func(o *Options) { o.UpstreamRoots = pki.Pool() })
			resp, body := get(t, h.httpClient(nil), "https://www.example.com:"+up.port()+"/")
			if resp.StatusCode != http.StatusBadGateway {
				t.Errorf("got %s %q, want 502", resp.Status, body)
			}
			r := h.record()
			h.recordCount(1)
			u := r.Upstream
			if r.Outcome != inspect.OutcomeUpstreamHandshakeFailed || u.CertificateRequest == nil {
				t.Fatalf("outcome %s certificate_request %+v, want a refusal after a CertificateRequest", r.Outcome, u.CertificateRequest)
			}
			if len(u.Chain) != 1 || u.Chain[0].Subject != "CN=www.example.com" || u.Chain[0].SHA256 != inspect.Certificate(leaf.Leaf).SHA256 {
				t.Errorf("chain %+v, want the server's leaf", u.Chain)
			}
			if u.Verify == nil || !u.Verify.OK {
				t.Errorf("verify %+v, want the chain's successful verification", u.Verify)
			}
			if u.Negotiated != nil {
				t.Errorf("negotiated %+v on a failed handshake", u.Negotiated)
			}
		})
	}
}

// TestQAVerifyFailures: each verification failure gets an error saying what
// to do, and the incomplete_chain finding only when a missing intermediate
// can explain it (not for an expired leaf or one for another name, which
// crypto/x509 rejects before it looks for issuers).
func TestQAVerifyFailures(t *testing.T) {
	t.Parallel()
	pki := testpki.Root(t, "Upstream Test Root")
	inter := pki.Intermediate(t, "Upstream Test Intermediate")
	cases := []struct {
		name       string
		cert       tls.Certificate
		want       string // in the error
		finding    string // a finding the record must have
		incomplete bool   // incomplete_chain expected
	}{
		{"expired", pki.Expired(t, "www.example.com"),
			"renew it", inspect.CodeCertificateExpired, false},
		{"another name", pki.Leaf(t, "other.test"),
			"for another name", inspect.CodeHostnameMismatch, false},
		{"intermediate omitted", testpki.WithoutIntermediates(inter.Leaf(t, "www.example.com")),
			"upstream_ca", inspect.CodeUpstreamVerifyFailed, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			up := startUpstream(t, &tls.Config{Certificates: []tls.Certificate{tc.cert}})
			h := newHarness(t, func(o *Options) { o.UpstreamRoots = pki.Pool() })
			resp, body := get(t, h.httpClient(nil), "https://www.example.com:"+up.port()+"/")
			if resp.StatusCode != http.StatusBadGateway {
				t.Errorf("got %s %q, want 502", resp.Status, body)
			}
			r := h.record()
			h.recordCount(1)
			if r.Outcome != inspect.OutcomeUpstreamVerifyFailed || !strings.Contains(r.Upstream.Error, tc.want) {
				t.Fatalf("outcome %s error %q, want upstream_verify_failed naming %q", r.Outcome, r.Upstream.Error, tc.want)
			}
			if len(findingsWith(r.Findings, tc.finding)) == 0 {
				t.Errorf("findings %+v, want %s", r.Findings, tc.finding)
			}
			if got := len(findingsWith(r.Findings, inspect.CodeIncompleteChain)) > 0; got != tc.incomplete {
				t.Errorf("incomplete_chain %v, want %v: %+v", got, tc.incomplete, r.Findings)
			}
		})
	}
}

// TestQALocalhostReachesIPv6Loopback: a CONNECT to localhost reaches a
// server listening on [::1] only, as curl and browsers do directly, with the
// default dialer, whatever /etc/hosts says about localhost.
func TestQALocalhostReachesIPv6Loopback(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	pki := testpki.Root(t, "Upstream Test Root")
	leaf := pki.Leaf(t, "localhost")
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello over IPv6")
	}))
	srv.Listener.Close()
	srv.Listener = ln
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{leaf}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	_, port, _ := net.SplitHostPort(ln.Addr().String())

	h := newHarness(t, func(o *Options) { o.UpstreamRoots = pki.Pool(); o.Dial = nil })
	resp, body := get(t, h.httpClient(nil), "https://localhost:"+port+"/")
	if resp.StatusCode != http.StatusOK || body != "hello over IPv6" {
		t.Fatalf("got %s %q", resp.Status, body)
	}
	r := h.record()
	h.recordCount(1)
	if r.Outcome != inspect.OutcomeOK || r.Upstream.Addr != net.JoinHostPort("::1", port) {
		t.Errorf("outcome %s upstream addr %q, want ok from [::1]:%s", r.Outcome, r.Upstream.Addr, port)
	}
}
