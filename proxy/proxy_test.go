package proxy

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/tlslens/tlslens/ca/testpki"
	"github.com/tlslens/tlslens/inspect"
)

// get fetches url through the proxy and returns the response and body.
func get(t *testing.T, c *http.Client, url string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func TestInterceptOK(t *testing.T) {
	pki := testpki.Root(t, "Upstream Test Root")
	up := startUpstream(t, &tls.Config{Certificates: []tls.Certificate{pki.Leaf(t, "example.com")}})
	h := newHarness(t, func(o *Options) { o.UpstreamRoots = pki.Pool(); o.UpstreamRootsName = "test-root.pem" })

	resp, body := get(t, h.httpClient(nil), "https://example.com:"+up.port()+"/hi")
	if resp.StatusCode != http.StatusOK || body != "hello from upstream /hi over HTTP/1.1" {
		t.Fatalf("got %s %q, want 200 and the upstream's body", resp.Status, body)
	}
	if resp.Header.Get("X-Upstream") != "yes" {
		t.Error("upstream header not relayed")
	}
	r := h.record()
	h.recordCount(1)
	if r.Outcome != inspect.OutcomeOK || r.Mode != inspect.ModeMITM || r.Target != "example.com:"+up.port() {
		t.Fatalf("record outcome/mode/target = %s/%s/%s", r.Outcome, r.Mode, r.Target)
	}
	if r.ID == "" || r.Schema != 1 {
		t.Errorf("id %q schema %d", r.ID, r.Schema)
	}
	c := r.Client
	if c.Hello == nil || c.Hello.SNI != "example.com" || len(c.Hello.CipherSuites) == 0 || c.Hello.JA4 == "" {
		t.Fatalf("client hello = %+v", c.Hello)
	}
	if c.Negotiated == nil || c.Negotiated.Version != "TLS 1.3" || c.Negotiated.CipherSuite == "" {
		t.Errorf("client negotiated = %+v", c.Negotiated)
	}
	if len(c.Chain) != 1 || c.Chain[0].Subject == "" || !strings.Contains(strings.Join(c.Chain[0].SANs, ","), "example.com") {
		t.Errorf("client chain = %+v", c.Chain)
	}
	if c.ServerHello == nil || c.ServerHello.Version != "TLS 1.3" {
		t.Errorf("client server_hello = %+v", c.ServerHello)
	}
	u := r.Upstream
	if u == nil || u.Verify == nil || !u.Verify.OK || u.Verify.Roots != "test-root.pem" {
		t.Fatalf("upstream verify = %+v", u)
	}
	if u.Negotiated == nil || u.Negotiated.Version != "TLS 1.3" || u.Negotiated.Group == "" {
		t.Errorf("upstream negotiated = %+v", u.Negotiated)
	}
	if len(u.Chain) != 1 || u.Chain[0].Issuer == "" || !strings.Contains(u.Chain[0].Issuer, "Upstream Test Root") {
		t.Errorf("upstream chain = %+v", u.Chain)
	}
	if u.Hello == nil || u.Hello.SNI != "example.com" {
		t.Errorf("upstream hello (what tlslens sent) = %+v", u.Hello)
	}
	if u.ServerHello == nil || u.ServerHello.CipherSuite != u.Negotiated.CipherSuite {
		t.Errorf("upstream server_hello = %+v, negotiated %+v", u.ServerHello, u.Negotiated)
	}
	if u.KeyExchange == nil || u.KeyExchange.Group != u.Negotiated.Group || u.KeyExchange.SignatureAlgorithm != "ecdsa_secp256r1_sha256" {
		t.Errorf("upstream key_exchange = %+v", u.KeyExchange)
	}
	if u.OCSPStapled == nil || u.SCTs == nil || u.Addr == "" || u.Local == "" || c.Addr == "" || c.Local == "" {
		t.Errorf("addresses or ocsp/scts missing: client %s/%s upstream %s/%s", c.Addr, c.Local, u.Addr, u.Local)
	}
	// The JSON line carries the same keys.
	m := h.recordJSON()
	for _, key := range []string{"schema", "id", "mode", "target", "outcome", "client", "upstream", "findings", "time"} {
		if _, ok := m[key]; !ok {
			t.Errorf("record JSON lacks %q", key)
		}
	}
	if m["msg"] != "handshake" {
		t.Errorf("msg = %v", m["msg"])
	}
}

// TestUpstreamVerifyFailed: the client's handshake completes, it gets a 502
// naming the problem, and the record says why.
func TestUpstreamVerifyFailed(t *testing.T) {
	pki := testpki.Root(t, "Upstream Test Root")
	stranger := testpki.Root(t, "Unknown Root")
	cases := []struct {
		name string
		cert tls.Certificate
		want string // in the record's verify error and the 502 body
	}{
		{"expired", pki.Expired(t, "example.com"), "expired"},
		{"other host", pki.Leaf(t, "other.test"), "other.test"},
		{"unknown root", stranger.Leaf(t, "example.com"), "unknown authority"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			up := startUpstream(t, &tls.Config{Certificates: []tls.Certificate{tc.cert}})
			h := newHarness(t, func(o *Options) { o.UpstreamRoots = pki.Pool() })
			resp, body := get(t, h.httpClient(nil), "https://example.com:"+up.port()+"/")
			if resp.StatusCode != http.StatusBadGateway || !strings.Contains(body, tc.want) {
				t.Errorf("got %s, body %q; want 502 naming %q", resp.Status, body, tc.want)
			}
			r := h.record()
			if r.Outcome != inspect.OutcomeUpstreamVerifyFailed {
				t.Fatalf("outcome = %s, want upstream_verify_failed", r.Outcome)
			}
			if v := r.Upstream.Verify; v == nil || v.OK || !strings.Contains(v.Error, tc.want) {
				t.Errorf("verify = %+v, want an error naming %q", v, tc.want)
			}
			if r.Client.Negotiated == nil {
				t.Error("the client handshake should have completed")
			}
			select {
			case req := <-up.requests:
				t.Errorf("a request reached the untrusted upstream: %s", req.URL)
			default:
			}
			h.recordCount(1)
		})
	}
}

func TestUpstreamVerifyLogPolicy(t *testing.T) {
	stranger := testpki.Root(t, "Unknown Root")
	up := startUpstream(t, &tls.Config{Certificates: []tls.Certificate{
		stranger.Leaf(t, "example.com")}})
	h := newHarness(t, func(o *Options) { o.Verify = VerifyLog })
	resp, body := get(t, h.httpClient(nil), "https://example.com:"+up.port()+"/x")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "hello from upstream") {
		t.Fatalf("got %s %q, want the upstream's answer under the log policy", resp.Status, body)
	}
	r := h.record()
	if r.Outcome != inspect.OutcomeOK || r.Upstream.Verify == nil || r.Upstream.Verify.OK {
		t.Fatalf("outcome %s verify %+v: want ok with a failed verification recorded", r.Outcome, r.Upstream.Verify)
	}
	critical := false
	for _, f := range r.Findings {
		critical = critical || f.Severity == inspect.SeverityCritical
	}
	if !critical {
		t.Errorf("findings %+v: want a critical finding for the bypassed verification", r.Findings)
	}
}

func TestUpstreamUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	ln.Close() // nothing listens there now
	h := newHarness(t, nil)
	resp, body := get(t, h.httpClient(nil), "https://example.com:"+port+"/")
	if resp.StatusCode != http.StatusBadGateway || !strings.Contains(body, "refused") {
		t.Errorf("got %s %q, want 502 saying the connection was refused", resp.Status, body)
	}
	r := h.record()
	if r.Outcome != inspect.OutcomeUpstreamUnreachable || r.Upstream == nil || !strings.Contains(r.Upstream.Error, "refused") {
		t.Fatalf("outcome %s upstream %+v", r.Outcome, r.Upstream)
	}
	h.recordCount(1)
}

// TestClientRejectsCertificate: a client that does not trust the tlslens CA
// sends an alert; nothing reaches the upstream.
func TestClientRejectsCertificate(t *testing.T) {
	pki := testpki.Root(t, "Upstream Test Root")
	up := startUpstream(t, &tls.Config{Certificates: []tls.Certificate{pki.Leaf(t, "example.com")}})
	h := newHarness(t, func(o *Options) { o.UpstreamRoots = pki.Pool() })
	for _, version := range []uint16{tls.VersionTLS13, tls.VersionTLS12} {
		t.Run(tls.VersionName(version), func(t *testing.T) {
			c := h.connect("example.com:" + up.port())
			tc := tls.Client(c, &tls.Config{ServerName: "example.com", RootCAs: x509.NewCertPool(), MaxVersion: version})
			if err := tc.Handshake(); err == nil {
				t.Fatal("handshake succeeded with a client that trusts nothing")
			}
			r := h.record()
			if r.Outcome != inspect.OutcomeClientRejectedCertificate || r.Client.Alert != "bad_certificate" {
				t.Fatalf("outcome %s alert %q error %q", r.Outcome, r.Client.Alert, r.Client.Error)
			}
			if !strings.Contains(r.Client.Error, "install the tlslens CA") {
				t.Errorf("error %q should say what to do", r.Client.Error)
			}
		})
	}
	select {
	case req := <-up.requests:
		t.Errorf("a request reached the upstream: %s", req.URL)
	default:
	}
	h.recordCount(2)
}

func TestNotTLS(t *testing.T) {
	plain := newPlainServer(t)
	h := newHarness(t, nil)
	c := h.connect(plain)
	io.WriteString(c, "GET /plain HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	b, _ := io.ReadAll(c)
	if !strings.Contains(string(b), "plain hello") {
		t.Errorf("relayed answer = %q, want the plain server's", b)
	}
	r := h.record()
	if r.Outcome != inspect.OutcomeNotTLS || r.Mode != inspect.ModeTunnel || !strings.Contains(r.Client.Error, "GET /plain") {
		t.Fatalf("outcome %s mode %s error %q", r.Outcome, r.Mode, r.Client.Error)
	}
	h.recordCount(1)
}

func newPlainServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "plain hello")
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// TestIPTargetWithoutSNI: a client without SNI to an IP target gets a leaf
// with that IP as SAN.
func TestIPTargetWithoutSNI(t *testing.T) {
	pki := testpki.Root(t, "Upstream Test Root")
	up := startUpstream(t, &tls.Config{Certificates: []tls.Certificate{pki.Leaf(t, "127.0.0.1")}})
	h := newHarness(t, func(o *Options) { o.UpstreamRoots = pki.Pool() })
	// crypto/tls sends no SNI for an IP ServerName, and verifies the IP SAN.
	resp, body := get(t, h.httpClient(nil), "https://127.0.0.1:"+up.port()+"/ip")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "/ip") {
		t.Fatalf("got %s %q", resp.Status, body)
	}
	r := h.record()
	if r.Client.Hello.SNI != "" {
		t.Errorf("client sent SNI %q", r.Client.Hello.SNI)
	}
	if r.Outcome != inspect.OutcomeOK || len(r.Client.Chain) == 0 || !strings.Contains(strings.Join(r.Client.Chain[0].SANs, " "), "127.0.0.1") {
		t.Fatalf("outcome %s chain %+v", r.Outcome, r.Client.Chain)
	}
}

func TestDenyPolicy(t *testing.T) {
	policy, err := Rules([]Rule{{Match: "127.0.0.0/8", Action: ActionMITM}, {Match: "*", Action: ActionDeny}})
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, func(o *Options) { o.Policy = policy })
	resp, err := h.httpClient(nil).Get("https://accounts.google.com/")
	if err == nil {
		resp.Body.Close()
		t.Fatal("CONNECT to a denied host succeeded")
	}
	r := h.record()
	if r.Outcome != inspect.OutcomeDenied || r.Upstream != nil {
		t.Fatalf("outcome %s upstream %+v", r.Outcome, r.Upstream)
	}
}

// TestKeepAliveOneUpstream: several requests on one client connection use
// one upstream connection, and a request for another host gets 421.
func TestKeepAliveOneUpstream(t *testing.T) {
	pki := testpki.Root(t, "Upstream Test Root")
	up := startUpstream(t, &tls.Config{Certificates: []tls.Certificate{
		pki.Leaf(t, "example.com", "www.example.com")}})
	h := newHarness(t, func(o *Options) { o.UpstreamRoots = pki.Pool() })
	c := h.connect("example.com:" + up.port())
	tc := tls.Client(c, &tls.Config{ServerName: "example.com", RootCAs: h.roots()})
	br := newReaderClient(t, tc)
	for i := 0; i < 3; i++ {
		resp := br.do("GET", "/n", "example.com")
		if resp.status != 200 {
			t.Fatalf("request %d: %d", i, resp.status)
		}
	}
	if resp := br.do("GET", "/other", "other.test"); resp.status != http.StatusMisdirectedRequest {
		t.Errorf("request for another host: %d, want 421", resp.status)
	}
	h.record()
	peers := map[string]bool{}
	for len(up.requests) > 0 {
		peers[(<-up.requests).RemoteAddr] = true
	}
	if len(peers) != 1 {
		t.Errorf("upstream saw requests from %d connections, want 1", len(peers))
	}
}

// TestKeyExchangeBothVersions: the record's upstream key_exchange names the
// group and the server's signature scheme, from the CertificateVerify in
// TLS 1.3 (decrypted with the key log) and the ServerKeyExchange in TLS 1.2;
// the client leg shows tlslens's own.
func TestKeyExchangeBothVersions(t *testing.T) {
	pki := testpki.Root(t, "Upstream Test Root")
	rsaLeaf := pki.LeafWithKey(t, testpki.RSAKey(t, 2048), "example.com")
	cases := []struct {
		name    string
		max     uint16
		cert    tls.Certificate
		curves  []tls.CurveID
		version string
		group   string
		scheme  string
	}{
		{"TLS 1.3 ECDSA", tls.VersionTLS13, pki.Leaf(t, "example.com"),
			[]tls.CurveID{tls.X25519}, "TLS 1.3", "x25519", "ecdsa_secp256r1_sha256"},
		{"TLS 1.2 ECDSA P-384", tls.VersionTLS12, pki.Leaf(t, "example.com"),
			[]tls.CurveID{tls.CurveP384}, "TLS 1.2", "secp384r1", "ecdsa_secp256r1_sha256"},
		{"TLS 1.2 RSA", tls.VersionTLS12, rsaLeaf, []tls.CurveID{tls.X25519}, "TLS 1.2", "x25519", "rsa_pss_rsae_sha256"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			up := startUpstream(t, &tls.Config{Certificates: []tls.Certificate{tc.cert}, MaxVersion: tc.max, CurvePreferences: tc.curves})
			h := newHarness(t, func(o *Options) { o.UpstreamRoots = pki.Pool() })
			get(t, h.httpClient(nil), "https://example.com:"+up.port()+"/")
			r := h.record()
			u := r.Upstream
			if u.Negotiated == nil || u.Negotiated.Version != tc.version {
				t.Fatalf("upstream negotiated %+v, want %s", u.Negotiated, tc.version)
			}
			kx := u.KeyExchange
			if kx == nil || kx.Kind != "ECDHE" || kx.Group != tc.group || kx.SignatureAlgorithm != tc.scheme {
				t.Errorf("upstream key_exchange = %+v, want ECDHE %s %s", kx, tc.group, tc.scheme)
			}
			if ck := r.Client.KeyExchange; ck == nil || ck.SignatureAlgorithm != "ecdsa_secp256r1_sha256" || ck.Group == "" {
				t.Errorf("client key_exchange = %+v, want tlslens's ECDSA P-256 signature and a group", ck)
			}
		})
	}
}
