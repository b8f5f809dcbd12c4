package proxy

import (
	"crypto/tls"
	"net/http"
	"strings"
	"testing"

	"github.com/tlslens/tlslens/ca/testpki"
	"github.com/tlslens/tlslens/inspect"
)

// TestUpstreamClientCertificate: a server requiring a client certificate is
// reached with the one configured for its name; without one, or with one it
// does not trust, the record shows its CertificateRequest and its verdict,
// in TLS 1.2 (during the handshake) and TLS 1.3 (an alert after it).
func TestUpstreamClientCertificate(t *testing.T) {
	t.Parallel()
	serverPKI := testpki.Root(t, "Upstream Test Root")
	clientPKI := testpki.Root(t, "Client Auth Root")
	stranger := testpki.Root(t, "Stranger Root")
	good := clientPKI.ClientLeaf(t, "tlslens client")
	untrusted := stranger.ClientLeaf(t, "tlslens client")
	leaf := serverPKI.Leaf(t, "www.example.com")
	cases := []struct {
		name    string
		cert    *tls.Certificate // configured for *.example.com
		outcome inspect.Outcome
		alert   map[uint16]string // by upstream version, as crypto/tls servers send them
		error   string
	}{
		{"configured", &good, inspect.OutcomeOK, nil, ""},
		{"none configured", nil, inspect.OutcomeUpstreamHandshakeFailed,
			map[uint16]string{tls.VersionTLS12: "handshake_failure", tls.VersionTLS13: "certificate_required"},
			"None is configured for www.example.com: add one under client_certs"},
		{"untrusted", &untrusted, inspect.OutcomeUpstreamHandshakeFailed,
			map[uint16]string{tls.VersionTLS12: "unknown_ca", tls.VersionTLS13: "unknown_ca"},
			"rejected the client certificate configured for www.example.com"},
	}
	for _, version := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		for _, tc := range cases {
			t.Run(tls.VersionName(version)+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				up := startUpstream(t, &tls.Config{Certificates: []tls.Certificate{leaf}, MaxVersion: version,
					ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: clientPKI.Pool()})
				var certs []ClientCert
				if tc.cert != nil {
					certs = []ClientCert{{Match: "*.example.com", Certificate: tc.cert}}
				}
				clientCert, err := ClientCertificates(certs)
				if err != nil {
					t.Fatal(err)
				}
				h := newHarness(t, func(o *Options) { o.UpstreamRoots = serverPKI.Pool(); o.ClientCertificate = clientCert })
				resp, body := get(t, h.httpClient(nil), "https://www.example.com:"+up.port()+"/mtls")
				r := h.record()
				if r.Outcome != tc.outcome {
					t.Fatalf("outcome %s, want %s (upstream error %q)", r.Outcome, tc.outcome, r.Upstream.Error)
				}
				u := r.Upstream
				req := u.CertificateRequest
				if req == nil || len(req.SignatureAlgorithms) == 0 || len(req.Authorities) != 1 || !strings.Contains(req.Authorities[0], "Client Auth Root") {
					t.Errorf("certificate_request %+v: want the server's algorithms and its one CA", req)
				}
				if tc.outcome == inspect.OutcomeOK {
					if resp.StatusCode != http.StatusOK {
						t.Fatalf("got %s %q", resp.Status, body)
					}
					seen := <-up.requests
					if len(seen.TLS.PeerCertificates) == 0 || seen.TLS.PeerCertificates[0].Subject.CommonName != "tlslens client" {
						t.Errorf("the server saw no client certificate")
					}
					if u.ClientCertificate == nil || u.ClientCertificate.Subject != "CN=tlslens client" || u.Negotiated.Version != inspect.VersionName(version) {
						t.Errorf("client_certificate %+v negotiated %+v", u.ClientCertificate, u.Negotiated)
					}
					return
				}
				if resp.StatusCode != http.StatusBadGateway || !strings.Contains(body, "client") {
					t.Errorf("got %s %q, want a 502 naming the client certificate problem", resp.Status, body)
				}
				if u.Alert != tc.alert[version] || !strings.Contains(u.Error, tc.error) || len(u.Attempts) != 0 {
					t.Errorf("alert %q error %q attempts %d; want alert %q, an error naming %q, no compat retry",
						u.Alert, u.Error, len(u.Attempts), tc.alert[version], tc.error)
				}
				if (tc.cert != nil) != (u.ClientCertificate != nil) {
					t.Errorf("client_certificate %+v, configured %v", u.ClientCertificate, tc.cert != nil)
				}
				select {
				case seen := <-up.requests:
					t.Errorf("a request reached the server: %s", seen.URL)
				default:
				}
			})
		}
	}
}

func TestClientCertificatesMatch(t *testing.T) {
	t.Parallel()
	pki := testpki.Root(t, "Client Auth Root")
	a, b := pki.ClientLeaf(t, "a"), pki.ClientLeaf(t, "b")
	pick, err := ClientCertificates([]ClientCert{{Match: "api.example.com", Certificate: &a}, {Match: "*.example.com", Certificate: &b}})
	if err != nil {
		t.Fatal(err)
	}
	for host, want := range map[string]*tls.Certificate{"api.example.com": &a, "API.example.com.": &a,
		"www.example.com": &b, "example.com": nil, "other.test": nil} {
		if got := pick(host); got != want {
			t.Errorf("ClientCertificates(...)(%q) = %p, want %p", host, got, want)
		}
	}
	if _, err := ClientCertificates([]ClientCert{{Match: "a*b", Certificate: &a}, {Match: "x.test"}}); err == nil ||
		!strings.Contains(err.Error(), "a*b") || !strings.Contains(err.Error(), "x.test") {
		t.Errorf("bad entries: error %v, want one naming each", err)
	}
}
