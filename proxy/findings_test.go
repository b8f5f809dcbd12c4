package proxy

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tlslens/tlslens/ca/testpki"
	"github.com/tlslens/tlslens/inspect"
	"github.com/tlslens/tlslens/inspect/report"
)

// Findings from real handshakes through the proxy (issue 4): weak clients and
// servers made with crypto/tls, certificates built at test time, and the
// terminal line written for each connection.

func serverTemplate(cn string, notBefore, notAfter time.Time, names ...string) *x509.Certificate {
	return &x509.Certificate{
		Subject:     pkix.Name{CommonName: cn},
		NotBefore:   notBefore,
		NotAfter:    notAfter,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:    names,
	}
}

func intermediateTemplate(cn string) *x509.Certificate {
	return &x509.Certificate{
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"tlslens tests"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
}

// sha1Chain is a leaf signed with SHA1-RSA by an intermediate signed with
// ECDSA-SHA1 by the root, as a server presents it (leaf, intermediate).
func sha1Chain(t *testing.T, root *testpki.CA) tls.Certificate {
	t.Helper()
	interKey := testpki.RSAKey(t, 2048)
	it := intermediateTemplate("SHA-1 Intermediate")
	it.SignatureAlgorithm = x509.ECDSAWithSHA1
	inter := testpki.Cert(t, it, &interKey.PublicKey, root.Cert, root.Key)
	leafKey := testpki.ECDSAKey(t)
	lt := serverTemplate("example.com", time.Now().Add(-time.Hour), time.Now().Add(time.Hour), "example.com")
	lt.SignatureAlgorithm = x509.SHA1WithRSA
	leaf := testpki.Cert(t, lt, &leafKey.PublicKey, inter, interKey)
	return testpki.Chain(leafKey, leaf, inter)
}

// findingRank orders severities for the "most severe first" check.
func findingRank(s inspect.Severity) int {
	return map[inspect.Severity]int{inspect.SeverityCritical: 2, inspect.SeverityWarn: 1, inspect.SeverityInfo: 0}[s]
}

// checkFindingOrder checks that findings are most severe first and each
// has a known severity, a side and a message.
func checkFindingOrder(t *testing.T, fs []inspect.Finding) {
	t.Helper()
	for i, f := range fs {
		if f.Side != "client" && f.Side != "upstream" || f.Message == "" ||
			f.Severity != inspect.SeverityCritical && f.Severity != inspect.SeverityWarn && f.Severity != inspect.SeverityInfo {
			t.Errorf("finding %d %+v: want a side, a known severity and a message", i, f)
		}
		if i > 0 && findingRank(fs[i-1].Severity) < findingRank(f.Severity) {
			t.Errorf("finding %d (%s %s) follows the less severe %s %s: want most severe first",
				i, f.Severity, f.Code, fs[i-1].Severity, fs[i-1].Code)
		}
	}
}

func hasFinding(fs []inspect.Finding, side, code string, sev inspect.Severity) bool {
	return slices.ContainsFunc(fs, func(f inspect.Finding) bool {
		return f.Side == side && f.Code == code && (sev == "" || f.Severity == sev)
	})
}

func findingList(fs []inspect.Finding) string {
	var b strings.Builder
	for _, f := range fs {
		fmt.Fprintf(&b, "\n\t%s %s %s: %s", f.Severity, f.Side, f.Code, f.Message)
	}
	return b.String()
}

// finding is a want or an absence in TestFindingsFromHandshakes; an absence
// ignores severity.
func finding(side string, sev inspect.Severity, code string) inspect.Finding {
	return inspect.Finding{Side: side, Severity: sev, Code: code}
}

// TestFindingsFromHandshakes: each weakness Go can produce, made by a real
// client or server through the proxy, shows in the record as the finding
// with its side and severity, most severe first.
func TestFindingsFromHandshakes(t *testing.T) {
	t.Parallel()
	const (
		c, u     = "client", "upstream"
		crit     = inspect.SeverityCritical
		warn     = inspect.SeverityWarn
		info     = inspect.SeverityInfo
		bypassed = inspect.CodeVerificationBypassed
	)
	root := testpki.Root(t, "Findings Test Root")
	good := root.Leaf(t, "example.com")
	self, _ := testpki.SelfSigned(t, "example.com")
	rsa2048 := root.LeafWithKey(t, testpki.RSAKey(t, 2048), "example.com")
	cases := []struct {
		name    string
		server  *tls.Config // Certificates default to good
		client  *tls.Config // ServerName and RootCAs are set by the test
		verify  string
		outcome inspect.Outcome
		want    []inspect.Finding
		absent  []inspect.Finding
		check   func(t *testing.T, r *inspect.Record)
	}{
		{
			name:   "modern client and server",
			server: &tls.Config{},
			client: &tls.Config{},
			check: func(t *testing.T, r *inspect.Record) {
				if len(r.Findings) != 0 {
					t.Errorf("findings for a TLS 1.3 crypto/tls client and server: %s", findingList(r.Findings))
				}
			},
		},
		{
			name:   "TLS 1.0 client with a CBC suite",
			server: &tls.Config{},
			client: &tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS10,
				CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA}},
			want: []inspect.Finding{finding(c, warn, inspect.CodeLegacyVersionOffered), finding(c, crit, inspect.CodeLegacyVersionNegotiated),
				finding(c, warn, inspect.CodeCBCCipherNegotiated)},
			// The compat retry reaches the server with TLS 1.2 and AES-GCM.
			absent: []inspect.Finding{finding(u, "", inspect.CodeLegacyVersionNegotiated), finding(u, "", inspect.CodeCBCCipherNegotiated),
				finding(u, "", inspect.CodeDowngradeAcrossProxy), finding(c, "", inspect.CodeNoForwardSecrecy)},
			check: func(t *testing.T, r *inspect.Record) {
				if n := r.Client.Negotiated; n.Version != "TLS 1.0" || n.CipherSuite != "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA" {
					t.Errorf("client negotiated %+v", n)
				}
			},
		},
		{
			name:   "TLS 1.1 client with RC4",
			server: &tls.Config{},
			client: &tls.Config{MinVersion: tls.VersionTLS11, MaxVersion: tls.VersionTLS11,
				CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_RC4_128_SHA}},
			want: []inspect.Finding{finding(c, warn, inspect.CodeLegacyVersionOffered), finding(c, warn, inspect.CodeWeakCipherOffered),
				finding(c, crit, inspect.CodeLegacyVersionNegotiated), finding(c, crit, inspect.CodeWeakCipherNegotiated)},
			absent: []inspect.Finding{finding(c, "", inspect.CodeCBCCipherNegotiated), finding(u, "", inspect.CodeWeakCipherNegotiated)},
		},
		{
			name: "RSA key exchange chosen upstream",
			server: &tls.Config{Certificates: []tls.Certificate{rsa2048}, MaxVersion: tls.VersionTLS12,
				CipherSuites: []uint16{tls.TLS_RSA_WITH_AES_128_GCM_SHA256}},
			client: &tls.Config{CipherSuites: []uint16{tls.TLS_RSA_WITH_AES_128_GCM_SHA256}},
			want: []inspect.Finding{finding(c, info, inspect.CodeRSAKeyExchangeOffered), finding(u, warn, inspect.CodeRSAKeyExchangeNegotiated),
				finding(u, warn, inspect.CodeNoForwardSecrecy), finding(u, warn, inspect.CodeDowngradeAcrossProxy)},
			absent: []inspect.Finding{finding(c, "", inspect.CodeNoForwardSecrecy), finding(c, "", inspect.CodeRSAKeyExchangeNegotiated)},
			check: func(t *testing.T, r *inspect.Record) {
				if kx := r.Upstream.KeyExchange; kx == nil || kx.Kind != "RSA" {
					t.Errorf("upstream key_exchange %+v, want RSA", kx)
				}
			},
		},
		{
			// A TLS 1.2 client offering only RSA key exchange gets tlslens's
			// RSA leaf: both legs use RSA key exchange, and the record
			// judges each.
			name: "RSA key exchange only, TLS 1.2 client",
			server: &tls.Config{Certificates: []tls.Certificate{rsa2048}, MaxVersion: tls.VersionTLS12,
				CipherSuites: []uint16{tls.TLS_RSA_WITH_AES_128_GCM_SHA256}},
			client: &tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_RSA_WITH_AES_128_GCM_SHA256}},
			want: []inspect.Finding{finding(c, info, inspect.CodeRSAKeyExchangeOffered), finding(u, warn, inspect.CodeRSAKeyExchangeNegotiated),
				finding(u, warn, inspect.CodeNoForwardSecrecy)},
			absent: []inspect.Finding{finding(c, "", inspect.CodeClientRejectedCertificate), finding(u, "", inspect.CodeDowngradeAcrossProxy)},
			check: func(t *testing.T, r *inspect.Record) {
				if kx := r.Client.KeyExchange; kx == nil || kx.Kind != "RSA" || len(r.Client.Chain) != 1 || r.Client.Chain[0].Key != "RSA 2048" {
					t.Errorf("client key_exchange %+v chain %+v, want RSA key exchange with the RSA 2048 leaf", kx, r.Client.Chain)
				}
			},
		},
		{
			name: "3DES offered and chosen upstream",
			server: &tls.Config{Certificates: []tls.Certificate{rsa2048}, MaxVersion: tls.VersionTLS12,
				CipherSuites: []uint16{tls.TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA}},
			client: &tls.Config{CipherSuites: []uint16{tls.TLS_RSA_WITH_3DES_EDE_CBC_SHA, tls.TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA}},
			want: []inspect.Finding{finding(c, warn, inspect.CodeWeakCipherOffered), finding(c, info, inspect.CodeRSAKeyExchangeOffered),
				finding(u, crit, inspect.CodeWeakCipherNegotiated), finding(u, warn, inspect.CodeCBCCipherNegotiated),
				finding(u, warn, inspect.CodeDowngradeAcrossProxy)},
			absent: []inspect.Finding{finding(u, "", inspect.CodeNoForwardSecrecy), finding(u, "", inspect.CodeRSAKeyExchangeNegotiated),
				finding(c, "", inspect.CodeWeakCipherNegotiated)},
			check: func(t *testing.T, r *inspect.Record) {
				f := findingsWith(r.Findings, inspect.CodeWeakCipherOffered)[0]
				for _, s := range []string{"TLS_RSA_WITH_3DES_EDE_CBC_SHA", "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA"} {
					if !strings.Contains(f.Message, s) {
						t.Errorf("weak_cipher_offered %q does not name %s", f.Message, s)
					}
				}
				if got := r.Upstream.Negotiated.CipherSuite; got != "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA" {
					t.Errorf("upstream suite %s", got)
				}
				// Every severity is present, so the order check above had work to do.
				for _, sev := range []inspect.Severity{crit, warn, info} {
					if !slices.ContainsFunc(r.Findings, func(f inspect.Finding) bool { return f.Severity == sev }) {
						t.Errorf("no %s finding:%s", sev, findingList(r.Findings))
					}
				}
			},
		},
		{
			name: "TLS 1.0 server",
			server: &tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS10,
				CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA}},
			client: &tls.Config{},
			want: []inspect.Finding{finding(u, crit, inspect.CodeLegacyVersionNegotiated), finding(u, warn, inspect.CodeCBCCipherNegotiated),
				finding(u, warn, inspect.CodeSHA1Signature), finding(u, warn, inspect.CodeDowngradeAcrossProxy)},
			absent: []inspect.Finding{finding(c, "", inspect.CodeLegacyVersionOffered), finding(c, "", inspect.CodeLegacyVersionNegotiated)},
			check: func(t *testing.T, r *inspect.Record) {
				if kx := r.Upstream.KeyExchange; kx == nil || kx.SignatureAlgorithm != "ecdsa_sha1" {
					t.Errorf("upstream key_exchange %+v, want the TLS 1.0 ecdsa_sha1 signature", kx)
				}
			},
		},
		{
			name:   "SHA-1 signed chain",
			server: &tls.Config{Certificates: []tls.Certificate{sha1Chain(t, root)}},
			client: &tls.Config{},
			verify: VerifyLog,
			want:   []inspect.Finding{finding(u, crit, inspect.CodeSHA1Signature), finding(u, crit, bypassed)},
			check: func(t *testing.T, r *inspect.Record) {
				if got := len(findingsWith(r.Findings, inspect.CodeSHA1Signature)); got != 2 {
					t.Errorf("%d sha1_signature findings, want the leaf's and the intermediate's:%s", got, findingList(r.Findings))
				}
				if sigs := []string{r.Upstream.Chain[0].Signature, r.Upstream.Chain[1].Signature}; sigs[0] != "SHA1-RSA" || sigs[1] != "ECDSA-SHA1" {
					t.Errorf("chain signatures %v", sigs)
				}
				if v := r.Upstream.Verify; v == nil || v.OK || !strings.Contains(v.Error, "SHA1") {
					t.Errorf("verify %+v, want crypto/x509's refusal of SHA-1", v)
				}
			},
		},
		{
			name:   "RSA 1024 leaf",
			server: &tls.Config{Certificates: []tls.Certificate{root.LeafWithKey(t, testpki.RSAKey(t, 1024), "example.com")}},
			client: &tls.Config{},
			want:   []inspect.Finding{finding(u, warn, inspect.CodeShortRSAKey)},
			absent: []inspect.Finding{finding(u, "", bypassed), finding(u, "", inspect.CodeUpstreamVerifyFailed)},
			check: func(t *testing.T, r *inspect.Record) {
				if k := r.Upstream.Chain[0].Key; k != "RSA 1024" {
					t.Errorf("upstream leaf key %q", k)
				}
			},
		},
		{
			name:   "expired, log policy",
			server: &tls.Config{Certificates: []tls.Certificate{root.Expired(t, "example.com")}},
			client: &tls.Config{},
			verify: VerifyLog,
			want:   []inspect.Finding{finding(u, crit, inspect.CodeCertificateExpired), finding(u, crit, bypassed)},
			absent: []inspect.Finding{finding(u, "", inspect.CodeUpstreamVerifyFailed)},
		},
		{
			name:    "expired, strict policy",
			server:  &tls.Config{Certificates: []tls.Certificate{root.Expired(t, "example.com")}},
			client:  &tls.Config{},
			outcome: inspect.OutcomeUpstreamVerifyFailed,
			want:    []inspect.Finding{finding(u, crit, inspect.CodeCertificateExpired), finding(u, warn, inspect.CodeUpstreamVerifyFailed)},
			absent:  []inspect.Finding{finding(u, "", bypassed)},
		},
		{
			name:   "not yet valid",
			server: &tls.Config{Certificates: []tls.Certificate{root.NotYetValid(t, "example.com")}},
			client: &tls.Config{},
			verify: VerifyLog,
			want:   []inspect.Finding{finding(u, crit, inspect.CodeCertificateNotYetValid), finding(u, crit, bypassed)},
		},
		{
			name:   "wrong host",
			server: &tls.Config{Certificates: []tls.Certificate{root.Leaf(t, "other.test")}},
			client: &tls.Config{},
			verify: VerifyLog,
			want:   []inspect.Finding{finding(u, crit, inspect.CodeHostnameMismatch), finding(u, crit, bypassed)},
		},
		{
			name:   "self-signed",
			server: &tls.Config{Certificates: []tls.Certificate{self}},
			client: &tls.Config{},
			verify: VerifyLog,
			want:   []inspect.Finding{finding(u, warn, inspect.CodeSelfSigned), finding(u, crit, bypassed)},
			absent: []inspect.Finding{finding(u, "", inspect.CodeIncompleteChain), finding(u, "", inspect.CodeHostnameMismatch)},
		},
		{
			name:   "intermediate missing",
			server: &tls.Config{Certificates: []tls.Certificate{testpki.WithoutIntermediates(root.Intermediate(t, "Missing Intermediate").Leaf(t, "example.com"))}},
			client: &tls.Config{},
			verify: VerifyLog,
			want:   []inspect.Finding{finding(u, warn, inspect.CodeIncompleteChain), finding(u, crit, bypassed)},
			absent: []inspect.Finding{finding(u, "", inspect.CodeSelfSigned)},
		},
		{
			name:   "client certificate requested, TLS 1.3",
			server: &tls.Config{ClientAuth: tls.RequestClientCert, ClientCAs: root.Pool()},
			client: &tls.Config{},
			want:   []inspect.Finding{finding(u, info, inspect.CodeUpstreamRequestsClientCert)},
			check:  checkCertificateRequest(root, "TLS 1.3"),
		},
		{
			name:   "client certificate requested, TLS 1.2",
			server: &tls.Config{ClientAuth: tls.RequestClientCert, ClientCAs: root.Pool(), MaxVersion: tls.VersionTLS12},
			client: &tls.Config{MaxVersion: tls.VersionTLS12},
			want:   []inspect.Finding{finding(u, info, inspect.CodeUpstreamRequestsClientCert)},
			check:  checkCertificateRequest(root, "TLS 1.2"),
		},
		{
			name:   "version downgrade across the proxy",
			server: &tls.Config{MaxVersion: tls.VersionTLS12},
			client: &tls.Config{},
			want:   []inspect.Finding{finding(u, warn, inspect.CodeDowngradeAcrossProxy)},
			absent: []inspect.Finding{finding(u, "", inspect.CodeDowngradeSentinel)},
			check: func(t *testing.T, r *inspect.Record) {
				f := findingsWith(r.Findings, inspect.CodeDowngradeAcrossProxy)[0]
				if !strings.Contains(f.Message, "TLS 1.3") || !strings.Contains(f.Message, "TLS 1.2") {
					t.Errorf("downgrade message %q should name both versions", f.Message)
				}
			},
		},
		{
			name:   "downgrade sentinel from a TLS 1.3 server",
			server: &tls.Config{},
			client: &tls.Config{MaxVersion: tls.VersionTLS12},
			want:   []inspect.Finding{finding(u, info, inspect.CodeDowngradeSentinel)},
			absent: []inspect.Finding{finding(u, "", inspect.CodeDowngradeAcrossProxy)},
		},
		{
			name:   "post-quantum group dropped upstream",
			server: &tls.Config{CurvePreferences: []tls.CurveID{tls.X25519}},
			client: &tls.Config{},
			want:   []inspect.Finding{finding(u, warn, inspect.CodeDowngradeAcrossProxy)},
			check: func(t *testing.T, r *inspect.Record) {
				if cg, ug := r.Client.Negotiated.Group, r.Upstream.Negotiated.Group; cg != "X25519MLKEM768" || ug != "x25519" {
					t.Fatalf("groups client %s upstream %s", cg, ug)
				}
				f := findingsWith(r.Findings, inspect.CodeDowngradeAcrossProxy)[0]
				if !strings.Contains(f.Message, "X25519MLKEM768") {
					t.Errorf("downgrade message %q should name the client's group", f.Message)
				}
			},
		},
		{
			// With a session cache the client's hello carries session_ticket
			// and psk_key_exchange_modes; the proxy's offer does not.
			name:   "fingerprint drift",
			server: &tls.Config{},
			client: &tls.Config{ClientSessionCache: tls.NewLRUClientSessionCache(1)},
			want:   []inspect.Finding{finding(u, info, inspect.CodeFingerprintDrift)},
			check: func(t *testing.T, r *inspect.Record) {
				cj, uj := r.Client.Hello.JA4, r.Upstream.Hello.JA4
				f := findingsWith(r.Findings, inspect.CodeFingerprintDrift)[0]
				if cj == uj || !strings.Contains(f.Message, cj) || !strings.Contains(f.Message, uj) {
					t.Errorf("drift %q for client JA4 %s, upstream JA4 %s", f.Message, cj, uj)
				}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			server := tc.server.Clone()
			if server.Certificates == nil {
				server.Certificates = []tls.Certificate{good}
			}
			up := startUpstream(t, server)
			h := newHarness(t, func(o *Options) { o.UpstreamRoots = root.Pool(); o.Verify = tc.verify })
			cfg := tc.client.Clone()
			cfg.ServerName, cfg.RootCAs = "example.com", h.roots()
			conn := tls.Client(h.connect("example.com:"+up.port()), cfg)
			err := conn.Handshake()
			defer conn.Close() // open until the record: a close without a request is a rejection
			want := tc.outcome
			if want == "" {
				want = inspect.OutcomeOK
			}
			if (err != nil) != (want == inspect.OutcomeClientHandshakeFailed) {
				t.Errorf("client handshake: %v (outcome %s expected)", err, want)
			}
			r := h.record()
			if r.Outcome != want || r.Mode != inspect.ModeMITM {
				t.Fatalf("outcome %s mode %s (client error %q, upstream %+v), want %s mitm", r.Outcome, r.Mode, r.Client.Error, r.Upstream, want)
			}
			checkFindingOrder(t, r.Findings)
			for _, w := range tc.want {
				if !hasFinding(r.Findings, w.Side, w.Code, w.Severity) {
					t.Errorf("no %s %s finding %s; got:%s", w.Severity, w.Side, w.Code, findingList(r.Findings))
				}
			}
			for _, a := range tc.absent {
				if hasFinding(r.Findings, a.Side, a.Code, "") {
					t.Errorf("unexpected %s finding %s; got:%s", a.Side, a.Code, findingList(r.Findings))
				}
			}
			if tc.check != nil && !t.Failed() {
				tc.check(t, r)
			}
			// The JSON line carries the same findings in the same order.
			m := h.recordJSON()
			fs, _ := m["findings"].([]any)
			if len(fs) != len(r.Findings) {
				t.Fatalf("JSON findings %v, record %d", m["findings"], len(r.Findings))
			}
			for i, f := range fs {
				if code := f.(map[string]any)["code"]; code != r.Findings[i].Code {
					t.Errorf("JSON finding %d code %v, record %s", i, code, r.Findings[i].Code)
				}
			}
		})
	}
}

// checkCertificateRequest checks the upstream CertificateRequest of a server
// asking for a certificate issued by root, in version.
func checkCertificateRequest(root *testpki.CA, version string) func(t *testing.T, r *inspect.Record) {
	return func(t *testing.T, r *inspect.Record) {
		u := r.Upstream
		if u.Negotiated.Version != version {
			t.Errorf("upstream version %s, want %s", u.Negotiated.Version, version)
		}
		cr := u.CertificateRequest
		if cr == nil || len(cr.SignatureAlgorithms) == 0 {
			t.Fatalf("certificate_request %+v, want the server's signature algorithms", cr)
		}
		if want := root.Cert.Subject.String(); !slices.Contains(cr.Authorities, want) {
			t.Errorf("certificate_request authorities %q, want %q", cr.Authorities, want)
		}
		f := findingsWith(r.Findings, inspect.CodeUpstreamRequestsClientCert)[0]
		if !strings.Contains(f.Message, root.Cert.Subject.String()) {
			t.Errorf("finding %q should name the acceptable authority", f.Message)
		}
	}
}

// TestTerminalLine: with OnRecord writing report.Line (as cmd/tlslens does),
// each connection gets one line
// naming the outcome, the target, both legs' version, suite, group and
// ALPN, the client's JA4 and the findings, without colour when not asked.
func TestTerminalLine(t *testing.T) {
	t.Parallel()
	pki := testpki.Root(t, "Upstream Test Root")
	// A TLS 1.2 server, so the two legs differ.
	up := startUpstream(t, &tls.Config{MaxVersion: tls.VersionTLS12, Certificates: []tls.Certificate{pki.Leaf(t, "example.com")}})
	target := "example.com:" + up.port()
	cases := []struct {
		name    string
		roots   func(h *harness) *x509.CertPool
		outcome inspect.Outcome
		client  func(r *inspect.Record) (version, suite, group, alpn string)
		extra   []string // also in the line
	}{
		{"ok", (*harness).roots, inspect.OutcomeOK,
			func(r *inspect.Record) (string, string, string, string) {
				n := r.Client.Negotiated
				return n.Version, n.CipherSuite, n.Group, n.ALPN
			}, nil},
		{"rejected", func(*harness) *x509.CertPool { return x509.NewCertPool() }, inspect.OutcomeClientRejectedCertificate,
			func(r *inspect.Record) (string, string, string, string) {
				sh := r.Client.ServerHello // the client leg never finished
				return sh.Version, sh.CipherSuite, sh.Group, sh.ALPN
			}, []string{"error: the client rejected tlslens's certificate (alert bad_certificate)"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer // written before the record reaches the harness
			h := newHarness(t, func(o *Options) {
				o.UpstreamRoots = pki.Pool()
				record := o.OnRecord
				o.OnRecord = func(r *inspect.Record) { buf.WriteString(report.Line(r, false) + "\n"); record(r) }
			})
			conn := tls.Client(h.connect(target), &tls.Config{ServerName: "example.com", RootCAs: tc.roots(h),
				NextProtos: []string{"http/1.1"}})
			conn.Handshake()
			defer conn.Close() // open until the record: a close without a request is a rejection
			r := h.record()
			if r.Outcome != tc.outcome {
				t.Fatalf("outcome %s, want %s", r.Outcome, tc.outcome)
			}
			out := buf.String()
			line, rest, ok := strings.Cut(out, "\n")
			if !ok || rest != "" {
				t.Fatalf("terminal output %q, want one line", out)
			}
			if strings.Contains(line, "\x1b[") {
				t.Errorf("line %q has ANSI colour without color", line)
			}
			if !strings.HasPrefix(line, string(tc.outcome)+"  "+r.Target+"  ") {
				t.Errorf("line %q should start with the outcome and the target", line)
			}
			cv, cs, cg, calpn := tc.client(r)
			n := r.Upstream.Negotiated
			if cv != "TLS 1.3" || n.Version != "TLS 1.2" {
				t.Fatalf("legs %s and %s, want TLS 1.3 to the client and TLS 1.2 upstream", cv, n.Version)
			}
			legs := []string{
				"client " + strings.Join(nonEmpty(cv, strings.TrimPrefix(cs, "TLS_"), cg, calpn), " "),
				"upstream " + strings.Join(nonEmpty(n.Version, strings.Replace(strings.TrimPrefix(n.CipherSuite, "TLS_"), "_WITH_", "_", 1), n.Group, n.ALPN), " "),
			}
			for _, want := range append(append(legs, "ja4 "+r.Client.Hello.JA4), tc.extra...) {
				if !strings.Contains(line, want) {
					t.Errorf("line %q lacks %q", line, want)
				}
			}
			var counts []string
			for _, sev := range []inspect.Severity{inspect.SeverityCritical, inspect.SeverityWarn, inspect.SeverityInfo} {
				if k := len(slices.DeleteFunc(slices.Clone(r.Findings), func(f inspect.Finding) bool { return f.Severity != sev })); k > 0 {
					counts = append(counts, fmt.Sprintf("%d %s", k, sev))
				}
			}
			if len(counts) == 0 {
				t.Fatalf("no findings to count; the TLS 1.2 upstream should give a downgrade")
			}
			if want := "findings: " + strings.Join(counts, ", "); !strings.Contains(line, want) {
				t.Errorf("line %q lacks %q", line, want)
			}
			if r.Outcome == inspect.OutcomeOK && strings.Contains(line, "error:") {
				t.Errorf("line %q names an error for an ok connection", line)
			}
			t.Logf("%s", line)
		})
	}
}

// nonEmpty is v without its empty strings.
func nonEmpty(v ...string) []string {
	var out []string
	for _, s := range v {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}
