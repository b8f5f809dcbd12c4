package proxy

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/tlslens/tlslens/ca/testpki"
	"github.com/tlslens/tlslens/inspect"
)

// Client-side regressions found by driving real clients (curl, openssl
// s_client, gnutls-cli, wget, Chromium) through tlslens: each test here
// reproduces one with a crypto/tls client or raw bytes on loopback, or with
// openssl when it is installed.

// TestQAClientUnservable: a client whose offer neither of tlslens's leaves
// (ECDSA P-256, RSA 2048) can satisfy with Go's TLS stack (ECDHE suites and
// no elliptic curve) gets a record that says what
// the client lacks and that no certificate was presented, not crypto/tls's
// "no cipher suite supported". Clients that only an RSA leaf serves are
// TestClientRSALeaf's.
func TestQAClientUnservable(t *testing.T) {
	t.Parallel()
	up, roots := failuresUpstream(t)
	target := "example.com:" + up.port()
	const ffdhe2048 = tls.CurveID(0x0100)
	cases := []struct {
		name string
		cfg  *tls.Config
		want []string
	}{
		// crypto/tls leaves the group it lacks out: no supported_groups.
		{"ECDHE only, ffdhe2048 only", &tls.Config{MaxVersion: tls.VersionTLS12,
			CipherSuites:     []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256},
			CurvePreferences: []tls.CurveID{ffdhe2048}},
			[]string{"ECDSA P-256, RSA 2048", "TLS 1.2", "its suites are all ECDHE", "sends no supported_groups", "passthrough"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, func(o *Options) { o.UpstreamRoots = roots })
			cfg := tc.cfg.Clone()
			cfg.ServerName, cfg.RootCAs = "example.com", h.roots()
			err := tls.Client(h.connect(target), cfg).Handshake()
			if err == nil {
				t.Fatal("handshake succeeded, want a refusal")
			}
			r := h.record()
			if r.Outcome != inspect.OutcomeClientHandshakeFailed {
				t.Fatalf("outcome %s, want client_handshake_failed (error %q)", r.Outcome, r.Client.Error)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.Client.Error, w) {
					t.Errorf("client error %q does not say %q", r.Client.Error, w)
				}
			}
			if strings.Contains(r.Client.Error, "no cipher suite supported by both") {
				t.Errorf("client error %q is crypto/tls's, not an explanation", r.Client.Error)
			}
			if r.Client.Chain != nil {
				t.Errorf("client chain %+v, want none: no certificate was sent", r.Client.Chain)
			}
			h.recordCount(1)
		})
	}
}

// TestQAClientResumption: a client resuming on a new connection (a session
// ticket in TLS 1.2, a PSK in TLS 1.3, as openssl s_client -sess_in does)
// resumes on the client leg; the record says so and lists no chain, since
// none was sent.
func TestQAClientResumption(t *testing.T) {
	t.Parallel()
	up, roots := failuresUpstream(t)
	target := "example.com:" + up.port()
	for _, v := range []uint16{tls.VersionTLS13, tls.VersionTLS12} {
		t.Run(inspect.VersionName(v), func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, func(o *Options) { o.UpstreamRoots = roots })
			cfg := &tls.Config{ServerName: "example.com", RootCAs: h.roots(), MinVersion: v, MaxVersion: v,
				NextProtos: []string{"http/1.1"}, ClientSessionCache: tls.NewLRUClientSessionCache(4)}
			for i, wantResumed := range []bool{false, true} {
				c := tls.Client(h.connect(target), cfg)
				// A request, so that a TLS 1.3 ticket (sent after the
				// handshake) is read before the connection closes.
				if resp := newReaderClient(t, c).do("GET", "/resume", "example.com"); resp.status != 200 {
					t.Fatalf("connection %d: GET: %d %q", i, resp.status, resp.body)
				}
				if got := c.ConnectionState().DidResume; got != wantResumed {
					t.Errorf("connection %d: client DidResume %v, want %v", i, got, wantResumed)
				}
				c.Close()
				r := h.record()
				if r.Outcome != inspect.OutcomeOK || r.Client.Negotiated == nil {
					t.Fatalf("connection %d: outcome %s error %q", i, r.Outcome, r.Client.Error)
				}
				if r.Client.Negotiated.Resumed != wantResumed {
					t.Errorf("connection %d: negotiated.resumed %v, want %v", i, r.Client.Negotiated.Resumed, wantResumed)
				}
				offered := r.Client.Hello.PSK || r.Client.Hello.SessionTicket
				if offered != wantResumed {
					t.Errorf("connection %d: hello psk %v session_ticket %v, want an offer only on the second", i, r.Client.Hello.PSK, r.Client.Hello.SessionTicket)
				}
				if gotChain := len(r.Client.Chain) > 0; gotChain == wantResumed {
					t.Errorf("connection %d: client chain %d certificates with resumed %v: want one only when a certificate was sent", i, len(r.Client.Chain), wantResumed)
				}
			}
			h.recordCount(2)
		})
	}
}

// TestQAClientH2ProhibitedSuite: a client that negotiates h2 over a TLS 1.2
// CBC suite (curl --ciphers ECDHE-ECDSA-AES128-SHA) is served, not reset
// with INADEQUATE_SECURITY under an ok record.
func TestQAClientH2ProhibitedSuite(t *testing.T) {
	t.Parallel()
	pki := testpki.Root(t, "H2 Upstream Root")
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello from upstream "+r.URL.Path+" over "+r.Proto)
	}))
	up.EnableHTTP2 = true
	// The upstream leg mirrors the client's one suite, so the upstream must
	// accept it for h2 too.
	up.Config.HTTP2 = &http.HTTP2Config{PermitProhibitedCipherSuites: true}
	up.TLS = &tls.Config{Certificates: []tls.Certificate{pki.Leaf(t, "example.com")}}
	up.StartTLS()
	t.Cleanup(up.Close)
	_, port, _ := net.SplitHostPort(up.Listener.Addr().String())
	h := newHarness(t, func(o *Options) { o.UpstreamRoots = pki.Pool() })
	u, _ := url.Parse("http://" + h.addr)
	tr := &http.Transport{Proxy: http.ProxyURL(u), ForceAttemptHTTP2: true, TLSClientConfig: &tls.Config{
		RootCAs: h.roots(), MaxVersion: tls.VersionTLS12,
		CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA},
	}}
	t.Cleanup(tr.CloseIdleConnections)
	resp, err := (&http.Client{Transport: tr, Timeout: 15 * time.Second}).Get("https://example.com:" + port + "/cbc")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.ProtoMajor != 2 || !strings.Contains(string(body), "hello from upstream /cbc over HTTP/2.0") {
		t.Fatalf("got %s %s %q, want 200 over HTTP/2 from the upstream", resp.Proto, resp.Status, body)
	}
	r := h.record()
	if n := r.Client.Negotiated; r.Outcome != inspect.OutcomeOK || n.ALPN != "h2" || n.CipherSuite != "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA" {
		t.Errorf("outcome %s negotiated %+v, want ok, h2 over TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", r.Outcome, n)
	}
}

// TestQAServerFirst: a CONNECT to a server that speaks first (an SSH
// banner) with a client that waits for it is relayed and recorded as
// not_tls, instead of waiting for a ClientHello that never comes.
func TestQAServerFirst(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	const banner = "SSH-2.0-tlslens_test\r\n"
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.WriteString(c, banner)
				line, _ := bufio.NewReader(c).ReadString('\n')
				io.WriteString(c, "echo "+line)
			}()
		}
	}()
	h := newHarness(t, nil)
	c := h.connect(ln.Addr().String())
	c.SetDeadline(time.Now().Add(15 * time.Second))
	br := bufio.NewReader(c)
	got, err := br.ReadString('\n')
	if err != nil || got != banner {
		t.Fatalf("read %q, %v: want the server's banner %q", got, err, banner)
	}
	io.WriteString(c, "SSH-2.0-client\r\n")
	if got, err := br.ReadString('\n'); err != nil || got != "echo SSH-2.0-client\r\n" {
		t.Fatalf("read %q, %v: want the server's echo of the client's line", got, err)
	}
	r := h.record()
	if r.Outcome != inspect.OutcomeNotTLS || r.Mode != inspect.ModeTunnel || !strings.Contains(r.Client.Error, "server spoke first") ||
		!strings.Contains(r.Client.Error, "SSH-2.0-tlslens_") {
		t.Errorf("outcome %s mode %s error %q, want not_tls tunnel naming the server's first bytes", r.Outcome, r.Mode, r.Client.Error)
	}
	if r.Upstream == nil || r.Upstream.Addr != ln.Addr().String() {
		t.Errorf("upstream %+v, want the server's address", r.Upstream)
	}
	h.recordCount(1)
}

// pipelinedConn sends a CONNECT request in the same write as the first
// bytes that follow it, as clients that do not wait for the 200 do, and
// reads the proxy's response before handing out tunnel bytes.
type pipelinedConn struct {
	net.Conn
	connect string
	br      *bufio.Reader
	sent    bool
	status  int
}

func (c *pipelinedConn) Write(b []byte) (int, error) {
	if !c.sent {
		c.sent = true
		if _, err := c.Conn.Write(append([]byte(c.connect), b...)); err != nil {
			return 0, err
		}
		return len(b), nil
	}
	return c.Conn.Write(b)
}

func (c *pipelinedConn) Read(b []byte) (int, error) {
	if c.status == 0 {
		resp, err := http.ReadResponse(c.br, &http.Request{Method: http.MethodConnect})
		if err != nil {
			return 0, err
		}
		c.status = resp.StatusCode
	}
	return c.br.Read(b)
}

func dialPipelined(t *testing.T, proxyAddr, target string) *pipelinedConn {
	t.Helper()
	raw, err := net.Dial("tcp", proxyAddr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	raw.SetDeadline(time.Now().Add(15 * time.Second))
	return &pipelinedConn{Conn: raw, br: bufio.NewReader(raw),
		connect: fmt.Sprintf("CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", target, target)}
}

// TestQAPipelinedConnect: bytes a client sends in the same packet as its
// CONNECT (a ClientHello, or another protocol) reach the engine: goproxy's
// hijack drops what the HTTP server had buffered past the request.
func TestQAPipelinedConnect(t *testing.T) {
	t.Parallel()
	up, roots := failuresUpstream(t)
	target := "example.com:" + up.port()
	h := newHarness(t, func(o *Options) { o.UpstreamRoots = roots })

	t.Run("ClientHello", func(t *testing.T) {
		pc := dialPipelined(t, h.addr, target)
		c := tls.Client(pc, &tls.Config{ServerName: "example.com", RootCAs: h.roots(), NextProtos: []string{"http/1.1"}})
		if resp := newReaderClient(t, c).do("GET", "/pipelined", "example.com"); resp.status != 200 || !strings.Contains(resp.body, "/pipelined") {
			t.Fatalf("GET: %d %q", resp.status, resp.body)
		}
		if pc.status != http.StatusOK {
			t.Errorf("CONNECT status %d", pc.status)
		}
		if r := h.record(); r.Outcome != inspect.OutcomeOK || r.Client.Hello == nil || r.Client.Hello.SNI != "example.com" {
			t.Errorf("outcome %s hello %+v, want ok with the pipelined hello", r.Outcome, r.Client.Hello)
		}
	})
	t.Run("not TLS", func(t *testing.T) {
		pc := dialPipelined(t, h.addr, target)
		if _, err := pc.Write([]byte("hello, not TLS\r\n")); err != nil {
			t.Fatal(err)
		}
		r := h.record()
		if r.Outcome != inspect.OutcomeNotTLS || !strings.Contains(r.Client.Error, `hello, not TLS`) {
			t.Errorf("outcome %s error %q, want not_tls quoting the client's bytes", r.Outcome, r.Client.Error)
		}
	})
	h.recordCount(2)
}

// TestQAClientLeavesWithoutALPN: a client without ALPN that closes right
// after the handshake (wget, which checks the certificate after it) is
// logged like one with ALPN, with the record's id.
func TestQAClientLeavesWithoutALPN(t *testing.T) {
	t.Parallel()
	up, roots := failuresUpstream(t)
	events := make(logChanHook, 256)
	h := newHarness(t, func(o *Options) {
		o.UpstreamRoots = roots
		o.Log.(*logrus.Logger).AddHook(events)
	})
	c := tls.Client(h.connect("example.com:"+up.port()), &tls.Config{ServerName: "example.com", RootCAs: h.roots()})
	if err := c.Handshake(); err != nil {
		t.Fatal(err)
	}
	c.Close()
	r := h.record()
	got := waitLog(t, events, logrus.WarnLevel, "client closed without sending a request")
	if got.id != r.ID {
		t.Errorf("warning id %v, want the record's %s", got.id, r.ID)
	}
}

// TestQAOpenSSLClient drives openssl s_client (Debian package openssl)
// through tlslens with offers tlslens cannot serve with either leaf, and checks that each
// record explains the failure in the client's own terms.
func TestQAOpenSSLClient(t *testing.T) {
	t.Parallel()
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not installed (Debian package openssl)")
	}
	up, roots := failuresUpstream(t)
	h := newHarness(t, func(o *Options) { o.UpstreamRoots = roots })
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, h.auth.PEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		args []string
		want []string
	}{
		{"TLS 1.3 PKCS1 signatures only", []string{"-tls1_3", "-sigalgs", "rsa_pkcs1_sha256"},
			[]string{"over TLS 1.3", "rsa_pkcs1_sha256", "ecdsa_secp256r1_sha256", "rsa_pss_rsae_*"}},
		{"TLS 1.3 ffdhe2048 only", []string{"-tls1_3", "-groups", "ffdhe2048"},
			[]string{"no key exchange group Go implements", "ffdhe2048"}},
		// OpenSSL 3 refuses the SHA-1 signature TLS 1.0 requires unless the
		// security level is 0; with it, the same client succeeds.
		{"TLS 1.0 at the default security level", []string{"-tls1", "-cipher", "DEFAULT"},
			[]string{"SHA-1", "ecdsa_sha1", "@SECLEVEL=0"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			args := append([]string{"s_client", "-proxy", h.addr, "-connect", "example.com:" + up.port(),
				"-servername", "example.com", "-CAfile", caFile}, tc.args...)
			cmd := exec.CommandContext(ctx, openssl, args...)
			cmd.Stdin = strings.NewReader("")
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			cmd.Run() // fails by design; the record says why
			r := h.record()
			if r.Outcome != inspect.OutcomeClientHandshakeFailed {
				t.Fatalf("outcome %s error %q, want client_handshake_failed\nopenssl: %s", r.Outcome, r.Client.Error, out.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(r.Client.Error, w) {
					t.Errorf("client error %q does not say %q", r.Client.Error, w)
				}
			}
		})
	}
}

// TestQAPlainHalfClose: a plain-HTTP proxy request from a client that
// half-closes after sending it (printf | socat) gets the upstream's
// response, not a 502 "context canceled".
func TestQAPlainHalfClose(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "plain upstream "+r.URL.Path)
	}))
	t.Cleanup(srv.Close)
	h := newHarness(t, nil)
	c, err := net.Dial("tcp", h.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(15 * time.Second))
	fmt.Fprintf(c, "GET %s/halfclose HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", srv.URL, srv.Listener.Addr())
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(body) != "plain upstream /halfclose" {
		t.Errorf("got %d %q, want 200 from the upstream", resp.StatusCode, body)
	}
}

// TestQATLSToProxyPort: a client configured with an https:// proxy URL
// starts TLS on the proxy port; tlslens says what to change.
func TestQATLSToProxyPort(t *testing.T) {
	t.Parallel()
	events := make(logChanHook, 256)
	h := newHarness(t, func(o *Options) { o.Log.(*logrus.Logger).AddHook(events) })
	c, err := net.Dial("tcp", h.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(15 * time.Second))
	if err := tls.Client(c, &tls.Config{ServerName: "127.0.0.1", RootCAs: h.roots()}).Handshake(); err == nil {
		t.Fatal("TLS handshake with the plain proxy port succeeded")
	}
	got := waitLog(t, events, logrus.WarnLevel, "TLS handshake on the proxy port")
	if got.id == nil || !strings.Contains(got.msg, "not https://") {
		t.Errorf("warning %q id %v, want one naming the fix with the connection id", got.msg, got.id)
	}
	c.Close()
	// Its record, at close, says the same (badrequest.go).
	if r := h.record(); r.Outcome != inspect.OutcomeBadRequest || r.ID != got.id || !strings.Contains(r.Client.Error, "not https://") {
		t.Errorf("record id %s outcome %s error %q, want bad_request naming the fix under the warning's id %v", r.ID, r.Outcome, r.Client.Error, got.id)
	}
	h.recordCount(1)
}
