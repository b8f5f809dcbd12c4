package report

import (
	"regexp"
	"strings"
	"testing"

	"github.com/tlslens/tlslens/inspect"
)

// Records for the terminal tests, built by hand: formatting is a pure
// function of the record. Findings are set directly so that these tests do
// not depend on inspect.Findings.

func termHello() *inspect.Hello {
	return &inspect.Hello{
		Version:             "TLS 1.2",
		SupportedVersions:   []string{"GREASE", "TLS 1.3", "TLS 1.2"},
		CipherSuites:        []string{"GREASE", "TLS_AES_128_GCM_SHA256", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"},
		Extensions:          []string{"GREASE", "server_name", "supported_groups", "key_share"},
		SNI:                 "example.test",
		ALPN:                []string{"h2", "http/1.1"},
		Groups:              []string{"GREASE", "X25519MLKEM768", "x25519"},
		KeyShares:           []inspect.KeyShare{{Group: "GREASE", Length: 1}, {Group: "X25519MLKEM768", Length: 1216}},
		SignatureAlgorithms: []string{"ecdsa_secp256r1_sha256", "rsa_pss_rsae_sha256"},
		Grease:              true,
		SessionTicket:       true,
		JA3:                 "cd08e31494f9531f560d64c695473da9",
		JA4:                 "t13d1516h2_8daaf6152771_d8a2da3f94cd",
		Size:                512,
	}
}

func termOKRecord() *inspect.Record {
	return &inspect.Record{
		Schema: inspect.Schema, ID: "c1", Mode: inspect.ModeMITM, Target: "example.test:443", Outcome: inspect.OutcomeOK,
		Client: &inspect.Side{
			Addr: "127.0.0.1:53211", Local: "127.0.0.1:8080", DurationMS: 1.5,
			Hello:      termHello(),
			Negotiated: &inspect.Negotiated{Version: "TLS 1.3", CipherSuite: "TLS_AES_128_GCM_SHA256", Group: "X25519MLKEM768", ALPN: "h2"},
			Chain: []inspect.Cert{{Subject: "CN=example.test", Issuer: "CN=tlslens CA", Key: "ECDSA P-256",
				NotAfter: "2026-12-22T00:00:00Z"}},
		},
		Upstream: &inspect.Side{
			Addr: "127.0.0.1:8443",
			Hello: &inspect.Hello{Version: "TLS 1.2", SupportedVersions: []string{"TLS 1.3", "TLS 1.2"},
				CipherSuites: []string{"TLS_AES_128_GCM_SHA256"}, SNI: "example.test", ALPN: []string{"h2"},
				JA4: "t13d0101h2_aaaaaaaaaaaa_bbbbbbbbbbbb", Size: 300},
			ServerHello: &inspect.ServerHello{Version: "TLS 1.3", CipherSuite: "TLS_AES_256_GCM_SHA384", Group: "x25519", JA3S: "eb1d94daa7e0344597e756a1fb6e7054"},
			Negotiated:  &inspect.Negotiated{Version: "TLS 1.3", CipherSuite: "TLS_AES_256_GCM_SHA384", Group: "x25519", ALPN: "h2"},
			Chain: []inspect.Cert{
				{Subject: "CN=example.test", Issuer: "CN=Example Intermediate", Key: "RSA 2048", NotAfter: "2027-01-01T00:00:00Z"},
				{Subject: "CN=Example Intermediate", Issuer: "CN=Example Root", Key: "ECDSA P-384", NotAfter: "2030-01-01T00:00:00Z"},
			},
			Verify:      &inspect.Verify{OK: true, Roots: "system"},
			KeyExchange: &inspect.KeyExchange{Kind: "ECDHE", Group: "x25519", SignatureAlgorithm: "rsa_pss_rsae_sha256"},
		},
		Findings: []inspect.Finding{
			{Side: "upstream", Severity: inspect.SeverityWarn, Code: "downgrade_across_proxy", Message: "the client leg uses the post-quantum group X25519MLKEM768 but the upstream leg uses x25519"},
			{Side: "upstream", Severity: inspect.SeverityInfo, Code: "fingerprint_drift", Message: "the server saw the proxy's JA4"},
		},
	}
}

func termVerifyFailedRecord() *inspect.Record {
	r := termOKRecord()
	r.ID, r.Outcome = "c2", inspect.OutcomeUpstreamVerifyFailed
	r.Upstream.Negotiated = nil
	r.Upstream.ServerHello.CipherSuite = "TLS_AES_128_GCM_SHA256"
	r.Upstream.Chain = r.Upstream.Chain[:1]
	r.Upstream.Verify = &inspect.Verify{OK: false, Error: "x509: certificate signed by unknown authority", Roots: "system"}
	r.Upstream.KeyExchange = nil
	r.Upstream.Error = "the server's certificate is not trusted: x509: certificate signed by unknown authority"
	r.Findings = []inspect.Finding{
		{Side: "upstream", Severity: inspect.SeverityWarn, Code: "upstream_verify_failed", Message: "the proxy could not verify the upstream certificate"},
		{Side: "upstream", Severity: inspect.SeverityWarn, Code: "incomplete_chain", Message: "the server sent only its leaf"},
	}
	return r
}

func termRejectedRecord() *inspect.Record {
	r := termOKRecord()
	r.ID, r.Outcome = "c3", inspect.OutcomeClientRejectedCertificate
	r.Client.Negotiated = nil
	r.Client.Alert = "unknown_ca"
	r.Client.Error = "the client rejected the certificate: install the tlslens CA"
	r.Upstream.Hello.JA4 = r.Client.Hello.JA4
	r.Findings = []inspect.Finding{
		{Side: "client", Severity: inspect.SeverityWarn, Code: "client_rejected_certificate", Message: "the client rejected the proxy's certificate for example.test (alert unknown_ca)"},
		{Side: "upstream", Severity: inspect.SeverityWarn, Code: "downgrade_across_proxy", Message: "the client leg uses the post-quantum group X25519MLKEM768 but the upstream leg uses x25519"},
	}
	return r
}

func termNotTLSRecord() *inspect.Record {
	return &inspect.Record{
		Schema: inspect.Schema, ID: "c4", Mode: inspect.ModeTunnel, Target: "example.test:80", Outcome: inspect.OutcomeNotTLS,
		Client:   &inspect.Side{Addr: "127.0.0.1:53300", Error: `the client sent "GET / HTTP/1.1", not a TLS handshake`},
		Findings: []inspect.Finding{},
	}
}

func termPassthroughRecord() *inspect.Record {
	return &inspect.Record{
		Schema: inspect.Schema, ID: "c5", Mode: inspect.ModePassthrough, Target: "pinned.test:443", Outcome: inspect.OutcomeOK,
		Reason:   "auto_passthrough: 3 certificate rejections within 5m0s, until 15:04:05Z",
		Client:   &inspect.Side{Addr: "127.0.0.1:53400", Hello: termHello()},
		Upstream: &inspect.Side{Addr: "127.0.0.1:443", ServerHello: &inspect.ServerHello{Version: "TLS 1.2", CipherSuite: "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", ALPN: "h2"}},
		Findings: []inspect.Finding{},
	}
}

const (
	escRed    = "\x1b[31m"
	escGreen  = "\x1b[32m"
	escYellow = "\x1b[33m"
	escReset  = "\x1b[0m"
)

var lineTests = []struct {
	name   string
	record func() *inspect.Record
	plain  string
	color  string
}{
	{
		name:   "ok mitm",
		record: termOKRecord,
		plain:  "ok  example.test:443  client TLS 1.3 AES_128_GCM_SHA256 X25519MLKEM768 h2  upstream TLS 1.3 AES_256_GCM_SHA384 x25519 h2  ja4 t13d1516h2_8daaf6152771_d8a2da3f94cd  findings: 1 warn, 1 info",
		color:  escGreen + "ok" + escReset + "  example.test:443  client TLS 1.3 AES_128_GCM_SHA256 X25519MLKEM768 h2  upstream TLS 1.3 AES_256_GCM_SHA384 x25519 h2  ja4 t13d1516h2_8daaf6152771_d8a2da3f94cd  findings: " + escYellow + "1 warn" + escReset + ", 1 info",
	},
	{
		name:   "upstream_verify_failed",
		record: termVerifyFailedRecord,
		plain:  "upstream_verify_failed  example.test:443  client TLS 1.3 AES_128_GCM_SHA256 X25519MLKEM768 h2  upstream TLS 1.3 AES_128_GCM_SHA256 x25519  ja4 t13d1516h2_8daaf6152771_d8a2da3f94cd  findings: 2 warn  error: the server's certificate is not trusted: x509: certificate signed by unknown authority",
		color:  escRed + "upstream_verify_failed" + escReset + "  example.test:443  client TLS 1.3 AES_128_GCM_SHA256 X25519MLKEM768 h2  upstream TLS 1.3 AES_128_GCM_SHA256 x25519  ja4 t13d1516h2_8daaf6152771_d8a2da3f94cd  findings: " + escYellow + "2 warn" + escReset + "  error: the server's certificate is not trusted: x509: certificate signed by unknown authority",
	},
	{
		name:   "client_rejected_certificate",
		record: termRejectedRecord,
		plain:  "client_rejected_certificate  example.test:443  client -  upstream TLS 1.3 AES_256_GCM_SHA384 x25519 h2  ja4 t13d1516h2_8daaf6152771_d8a2da3f94cd  findings: 2 warn  error: the client rejected the certificate: install the tlslens CA (alert unknown_ca)",
		color:  escRed + "client_rejected_certificate" + escReset + "  example.test:443  client -  upstream TLS 1.3 AES_256_GCM_SHA384 x25519 h2  ja4 t13d1516h2_8daaf6152771_d8a2da3f94cd  findings: " + escYellow + "2 warn" + escReset + "  error: the client rejected the certificate: install the tlslens CA (alert unknown_ca)",
	},
	{
		name:   "not_tls",
		record: termNotTLSRecord,
		plain:  `not_tls  example.test:80  error: the client sent "GET / HTTP/1.1", not a TLS handshake`,
		color:  escYellow + "not_tls" + escReset + `  example.test:80  error: the client sent "GET / HTTP/1.1", not a TLS handshake`,
	},
	{
		name:   "passthrough",
		record: termPassthroughRecord,
		plain:  "ok  passthrough  pinned.test:443  client -  upstream TLS 1.2 ECDHE_ECDSA_AES_128_GCM_SHA256 h2  ja4 t13d1516h2_8daaf6152771_d8a2da3f94cd  reason: auto_passthrough: 3 certificate rejections within 5m0s, until 15:04:05Z",
		color:  escYellow + "ok" + escReset + "  " + escYellow + "passthrough" + escReset + "  pinned.test:443  client -  upstream TLS 1.2 ECDHE_ECDSA_AES_128_GCM_SHA256 h2  ja4 t13d1516h2_8daaf6152771_d8a2da3f94cd  reason: auto_passthrough: 3 certificate rejections within 5m0s, until 15:04:05Z",
	},
	{
		name: "denied",
		record: func() *inspect.Record {
			return &inspect.Record{Schema: inspect.Schema, ID: "c6", Mode: inspect.ModeTunnel, Target: "blocked.test:443",
				Outcome: inspect.OutcomeDenied, Reason: "policy: deny *.blocked.test", Client: &inspect.Side{Addr: "127.0.0.1:53500"}}
		},
		plain: "denied  blocked.test:443  reason: policy: deny *.blocked.test",
		color: escYellow + "denied" + escReset + "  blocked.test:443  reason: policy: deny *.blocked.test",
	},
}

func TestLine(t *testing.T) {
	for _, tt := range lineTests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Line(tt.record(), false); got != tt.plain {
				t.Errorf("Line(%s, false) =\n%q\nwant\n%q", tt.name, got, tt.plain)
			}
			if got := Line(tt.record(), true); got != tt.color {
				t.Errorf("Line(%s, true) =\n%q\nwant\n%q", tt.name, got, tt.color)
			}
			if got := Line(tt.record(), false); strings.Contains(got, "\n") {
				t.Errorf("Line(%s) spans lines: %q", tt.name, got)
			}
		})
	}
}

var verboseTests = []struct {
	name   string
	record func() *inspect.Record
	want   string
}{
	{
		name:   "ok mitm",
		record: termOKRecord,
		want: `ok  example.test:443  client TLS 1.3 AES_128_GCM_SHA256 X25519MLKEM768 h2  upstream TLS 1.3 AES_256_GCM_SHA384 x25519 h2  ja4 t13d1516h2_8daaf6152771_d8a2da3f94cd  findings: 1 warn, 1 info
  id c1  mode mitm
  client 127.0.0.1:53211 via 127.0.0.1:8080  1.5ms
    hello         legacy TLS 1.2, 512 bytes, sni example.test, session_ticket grease
    versions      GREASE, TLS 1.3, TLS 1.2
    suites        GREASE, TLS_AES_128_GCM_SHA256, TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
    groups        GREASE, X25519MLKEM768, x25519
    key shares    GREASE (1), X25519MLKEM768 (1216)
    sigalgs       ecdsa_secp256r1_sha256, rsa_pss_rsae_sha256
    alpn          h2, http/1.1
    extensions    GREASE, server_name, supported_groups, key_share
    ja3           cd08e31494f9531f560d64c695473da9
    ja4           t13d1516h2_8daaf6152771_d8a2da3f94cd
    negotiated    TLS 1.3 TLS_AES_128_GCM_SHA256 X25519MLKEM768 h2
    chain
      0 CN=example.test  issuer CN=tlslens CA  ECDSA P-256  not after 2026-12-22T00:00:00Z
  upstream 127.0.0.1:8443
    hello         legacy TLS 1.2, 300 bytes, sni example.test
    versions      TLS 1.3, TLS 1.2
    suites        TLS_AES_128_GCM_SHA256
    alpn          h2
    ja4           t13d0101h2_aaaaaaaaaaaa_bbbbbbbbbbbb
    server hello  TLS 1.3 TLS_AES_256_GCM_SHA384 x25519
    ja3s          eb1d94daa7e0344597e756a1fb6e7054
    negotiated    TLS 1.3 TLS_AES_256_GCM_SHA384 x25519 h2
    chain
      0 CN=example.test  issuer CN=Example Intermediate  RSA 2048  not after 2027-01-01T00:00:00Z
      1 CN=Example Intermediate  issuer CN=Example Root  ECDSA P-384  not after 2030-01-01T00:00:00Z
    verify        ok (roots system)
    key exchange  ECDHE x25519 rsa_pss_rsae_sha256
  findings
    warn upstream downgrade_across_proxy: the client leg uses the post-quantum group X25519MLKEM768 but the upstream leg uses x25519
    info upstream fingerprint_drift: the server saw the proxy's JA4`,
	},
	{
		name: "upstream_verify_failed",
		record: func() *inspect.Record {
			r := termVerifyFailedRecord()
			r.Client, r.Upstream.Hello = &inspect.Side{Addr: "127.0.0.1:53211"}, nil
			r.Upstream.CertificateRequest = &inspect.CertRequest{Authorities: []string{"CN=Corp CA"}}
			r.Upstream.Attempts = []inspect.Attempt{{Error: "the server closed the connection", Alert: "protocol_version"}}
			r.Upstream.Alert = "bad_certificate"
			return r
		},
		want: `upstream_verify_failed  example.test:443  upstream TLS 1.3 AES_128_GCM_SHA256 x25519  findings: 2 warn  error: the server's certificate is not trusted: x509: certificate signed by unknown authority (alert bad_certificate)
  id c2  mode mitm
  client 127.0.0.1:53211
  upstream 127.0.0.1:8443
    server hello  TLS 1.3 TLS_AES_128_GCM_SHA256 x25519
    ja3s          eb1d94daa7e0344597e756a1fb6e7054
    chain
      0 CN=example.test  issuer CN=Example Intermediate  RSA 2048  not after 2027-01-01T00:00:00Z
    verify        failed (roots system): x509: certificate signed by unknown authority
    cert request  sigalgs none; authorities CN=Corp CA
    attempt 1     the server closed the connection (alert protocol_version)
    alert         bad_certificate
    error         the server's certificate is not trusted: x509: certificate signed by unknown authority
  findings
    warn upstream upstream_verify_failed: the proxy could not verify the upstream certificate
    warn upstream incomplete_chain: the server sent only its leaf`,
	},
	{
		name: "client_rejected_certificate",
		record: func() *inspect.Record {
			r := termRejectedRecord()
			r.Upstream = nil
			r.Client.Hello = &inspect.Hello{Version: "TLS 1.2", CipherSuites: []string{"TLS_AES_128_GCM_SHA256"}, Size: 100}
			r.Findings = r.Findings[:1]
			return r
		},
		want: `client_rejected_certificate  example.test:443  client -  findings: 1 warn  error: the client rejected the certificate: install the tlslens CA (alert unknown_ca)
  id c3  mode mitm
  client 127.0.0.1:53211 via 127.0.0.1:8080  1.5ms
    hello         legacy TLS 1.2, 100 bytes
    suites        TLS_AES_128_GCM_SHA256
    chain
      0 CN=example.test  issuer CN=tlslens CA  ECDSA P-256  not after 2026-12-22T00:00:00Z
    alert         unknown_ca
    error         the client rejected the certificate: install the tlslens CA
  findings
    warn client client_rejected_certificate: the client rejected the proxy's certificate for example.test (alert unknown_ca)`,
	},
	{
		name:   "not_tls",
		record: termNotTLSRecord,
		want: `not_tls  example.test:80  error: the client sent "GET / HTTP/1.1", not a TLS handshake
  id c4  mode tunnel
  client 127.0.0.1:53300
    error         the client sent "GET / HTTP/1.1", not a TLS handshake`,
	},
}

var ansiEscape = regexp.MustCompile("\x1b\\[[0-9;]*m")

func TestVerbose(t *testing.T) {
	for _, tt := range verboseTests {
		t.Run(tt.name, func(t *testing.T) {
			got := Verbose(tt.record(), false)
			if got != tt.want {
				t.Errorf("Verbose(%s, false) =\n%s\nwant\n%s", tt.name, got, tt.want)
			}
			if ansiEscape.MatchString(got) {
				t.Errorf("Verbose(%s, false) has colour escapes", tt.name)
			}
			colored := Verbose(tt.record(), true)
			if !strings.HasPrefix(colored, Line(tt.record(), true)+"\n") {
				t.Errorf("Verbose(%s, true) does not start with the coloured line:\n%q", tt.name, colored)
			}
			if !ansiEscape.MatchString(colored) {
				t.Errorf("Verbose(%s, true) has no colour", tt.name)
			}
			if stripped := ansiEscape.ReplaceAllString(colored, ""); stripped != tt.want {
				t.Errorf("Verbose(%s, true) without escapes =\n%s\nwant\n%s", tt.name, stripped, tt.want)
			}
		})
	}
}

// TestVerboseColour checks what is coloured beyond the line: the
// verification result and each finding's severity.
func TestVerboseColour(t *testing.T) {
	for _, tt := range []struct {
		name   string
		record func() *inspect.Record
		want   []string
	}{
		{"verified", termOKRecord, []string{"verify        " + escGreen + "ok" + escReset, escYellow + "warn" + escReset + " upstream downgrade_across_proxy", "\n    info upstream fingerprint_drift"}},
		{"verify failed", termVerifyFailedRecord, []string{"verify        " + escRed + "failed" + escReset + " (roots system)"}},
		{"critical", func() *inspect.Record {
			r := termOKRecord()
			r.Findings = []inspect.Finding{{Side: "upstream", Severity: inspect.SeverityCritical, Code: "certificate_expired", Message: "expired"}}
			return r
		}, []string{"findings: " + escRed + "1 critical" + escReset, escRed + "critical" + escReset + " upstream certificate_expired: expired"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := Verbose(tt.record(), true)
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("Verbose(%s, true) lacks %q:\n%q", tt.name, w, got)
				}
			}
		})
	}
}

func TestTermSuite(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"TLS_AES_128_GCM_SHA256", "AES_128_GCM_SHA256"},
		{"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "ECDHE_RSA_AES_128_GCM_SHA256"},
		{"TLS_RSA_WITH_3DES_EDE_CBC_SHA", "RSA_3DES_EDE_CBC_SHA"},
		{"TLS_EMPTY_RENEGOTIATION_INFO_SCSV", "TLS_EMPTY_RENEGOTIATION_INFO_SCSV"},
		{"0x1a2b", "0x1a2b"},
		{"", ""},
	} {
		t.Run(tt.in, func(t *testing.T) {
			if got := termSuite(tt.in); got != tt.want {
				t.Errorf("termSuite(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// TestVerboseHTTP2Fingerprint: the client leg's HTTP/2 fingerprint follows
// its hello's fingerprints.
func TestVerboseHTTP2Fingerprint(t *testing.T) {
	r := termOKRecord()
	r.Client.HTTP2Fingerprint = "1:65536;2:0;4:6291456;6:262144|15663105|0|m,a,s,p"
	got := Verbose(r, false)
	want := "\n    ja4           " + r.Client.Hello.JA4 + "\n    http2         1:65536;2:0;4:6291456;6:262144|15663105|0|m,a,s,p\n"
	if !strings.Contains(got, want) {
		t.Errorf("Verbose(a record with an HTTP/2 fingerprint, false) lacks %q:\n%s", want, got)
	}
}

// TestIdentityTerminal: the one-line view names the known client after its
// JA4, and --verbose gives it a line with the kind of match.
func TestIdentityTerminal(t *testing.T) {
	r := termOKRecord()
	r.Client.Identity = &inspect.Identity{Name: "Chromium 156", Match: "ja4"}
	if got, want := Line(r, false), "ja4 "+r.Client.Hello.JA4+" (Chromium 156)"; !strings.Contains(got, want) {
		t.Errorf("Line = %q, want it to contain %q", got, want)
	}
	if got, want := Verbose(r, false), "\n    identity      Chromium 156 (ja4 match)\n"; !strings.Contains(got, want) {
		t.Errorf("Verbose lacks %q:\n%s", want, got)
	}
}
