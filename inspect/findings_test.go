package inspect

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"math/big"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tlslens/tlslens/ca/testpki"
)

var findingsNow = time.Date(2026, 11, 22, 15, 0, 0, 0, time.UTC)

// cleanRecord is a modern intercepted connection with nothing to report:
// TLS 1.3 on both legs, the same AEAD suite and PQ group, a valid chain that
// verified, and the same JA4 on both hellos.
func cleanRecord() *Record {
	hello := func() *Hello {
		return &Hello{
			Version:             "TLS 1.2",
			SupportedVersions:   []string{"GREASE", "TLS 1.3", "TLS 1.2"},
			CipherSuites:        []string{"GREASE", "TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"},
			SNI:                 "example.test",
			ALPN:                []string{"h2", "http/1.1"},
			Groups:              []string{"X25519MLKEM768", "x25519"},
			SignatureAlgorithms: []string{"ecdsa_secp256r1_sha256", "rsa_pss_rsae_sha256"},
			JA4:                 "t13d0402h2_aaaaaaaaaaaa_bbbbbbbbbbbb",
		}
	}
	neg := func() *Negotiated {
		return &Negotiated{Version: "TLS 1.3", CipherSuite: "TLS_AES_128_GCM_SHA256", Group: "X25519MLKEM768", ALPN: "h2"}
	}
	return &Record{
		Schema:  Schema,
		ID:      "c1",
		Mode:    ModeMITM,
		Target:  "example.test:443",
		Outcome: OutcomeOK,
		Client: &Side{
			Hello:      hello(),
			Negotiated: neg(),
			Chain:      []Cert{{Subject: "CN=example.test", Issuer: "CN=tlslens CA", SANs: []string{"example.test"}, Key: "ECDSA P-256", Signature: "ECDSA-SHA256"}},
		},
		Upstream: &Side{
			Hello: hello(),
			ServerHello: &ServerHello{
				Version: "TLS 1.3", CipherSuite: "TLS_AES_128_GCM_SHA256", Group: "X25519MLKEM768",
			},
			Negotiated: neg(),
			Chain: []Cert{
				{Subject: "CN=example.test", Issuer: "CN=Example Intermediate", SANs: []string{"example.test", "*.example.test"},
					NotBefore: "2026-01-01T00:00:00Z", NotAfter: "2027-01-01T00:00:00Z", Key: "RSA 2048", Signature: "SHA256-RSA"},
				{Subject: "CN=Example Intermediate", Issuer: "CN=Example Root", NotBefore: "2020-01-01T00:00:00Z",
					NotAfter: "2030-01-01T00:00:00Z", Key: "ECDSA P-384", Signature: "ECDSA-SHA384", IsCA: true},
			},
			Verify:      &Verify{OK: true, Roots: "system"},
			KeyExchange: &KeyExchange{Kind: "ECDHE", Group: "X25519MLKEM768", SignatureAlgorithm: "rsa_pss_rsae_sha256"},
		},
	}
}

// tls12 makes both legs agree suite in TLS 1.2 with group.
func tls12(r *Record, suite, group string) {
	for _, s := range []*Side{r.Client, r.Upstream} {
		s.Negotiated.Version, s.Negotiated.CipherSuite, s.Negotiated.Group = "TLS 1.2", suite, group
	}
	r.Upstream.ServerHello.Version, r.Upstream.ServerHello.CipherSuite, r.Upstream.ServerHello.Group = "TLS 1.2", suite, ""
}

// upstreamLeg sets what the upstream leg alone agreed.
func upstreamLeg(r *Record, version, suite, group string) {
	r.Upstream.Negotiated.Version, r.Upstream.Negotiated.CipherSuite, r.Upstream.Negotiated.Group = version, suite, group
	r.Upstream.ServerHello.Version, r.Upstream.ServerHello.CipherSuite, r.Upstream.ServerHello.Group = version, suite, group
}

// want is a finding expected from Findings: its side, severity and code,
// and words its message must name.
type want struct {
	side     string
	severity Severity
	code     string
	names    []string
}

var findingsTests = []struct {
	name   string
	modify func(r *Record)
	want   []want
}{
	{
		name:   "clean",
		modify: func(r *Record) {},
	},
	{
		name: "legacy_version_offered/supported_versions",
		modify: func(r *Record) {
			r.Client.Hello.SupportedVersions = []string{"GREASE", "TLS 1.3", "TLS 1.2", "TLS 1.1", "TLS 1.0"}
		},
		want: []want{{"client", SeverityWarn, CodeLegacyVersionOffered, []string{"TLS 1.1, TLS 1.0"}}},
	},
	{
		name: "legacy_version_offered/legacy_version",
		modify: func(r *Record) {
			r.Client.Hello.SupportedVersions = nil
			r.Client.Hello.Version = "TLS 1.0"
			upstreamLeg(r, "TLS 1.0", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "x25519")
			*r.Client.Negotiated = *r.Upstream.Negotiated
		},
		want: []want{
			{"client", SeverityCritical, CodeLegacyVersionNegotiated, []string{"client leg", "TLS 1.0"}},
			{"upstream", SeverityCritical, CodeLegacyVersionNegotiated, []string{"upstream leg", "TLS 1.0"}},
			{"client", SeverityWarn, CodeLegacyVersionOffered, []string{"highest version is TLS 1.0"}},
		},
	},
	{
		name: "legacy_version_offered/ssl3",
		modify: func(r *Record) {
			r.Client.Hello.SupportedVersions = []string{"TLS 1.2", "SSL 3.0"}
		},
		want: []want{{"client", SeverityWarn, CodeLegacyVersionOffered, []string{"SSL 3.0"}}},
	},
	{
		name: "legacy_version_offered/not_for_grease_or_unknown",
		modify: func(r *Record) {
			r.Client.Hello.SupportedVersions = []string{"GREASE", "0x7f1c", "TLS 1.3"}
		},
	},
	{
		name: "legacy_version_negotiated/upstream_only",
		modify: func(r *Record) {
			upstreamLeg(r, "TLS 1.1", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "")
			r.Upstream.KeyExchange = &KeyExchange{Kind: "ECDHE", Group: "x25519"}
		},
		want: []want{
			{"upstream", SeverityCritical, CodeLegacyVersionNegotiated, []string{"TLS 1.1"}},
			{"upstream", SeverityWarn, CodeCBCCipherNegotiated, []string{"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "TLS 1.1"}},
			{"upstream", SeverityWarn, CodeDowngradeAcrossProxy, []string{"TLS 1.3", "TLS 1.1"}},
			{"upstream", SeverityWarn, CodeDowngradeAcrossProxy, []string{"TLS_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"}},
		},
	},
	{
		name: "weak_cipher_offered/each_named",
		modify: func(r *Record) {
			r.Client.Hello.CipherSuites = append(r.Client.Hello.CipherSuites,
				"TLS_ECDHE_RSA_WITH_RC4_128_SHA", "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA", "TLS_ECDHE_ECDSA_WITH_NULL_SHA",
				"TLS_DH_anon_WITH_AES_128_CBC_SHA", "TLS_DHE_RSA_EXPORT_WITH_DES40_CBC_SHA", "TLS_DHE_RSA_WITH_DES_CBC_SHA",
				"TLS_EMPTY_RENEGOTIATION_INFO_SCSV", "0x1a2b")
		},
		want: []want{{"client", SeverityWarn, CodeWeakCipherOffered, []string{
			"TLS_ECDHE_RSA_WITH_RC4_128_SHA (RC4)", "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA (3DES)",
			"TLS_ECDHE_ECDSA_WITH_NULL_SHA (NULL)", "TLS_DH_anon_WITH_AES_128_CBC_SHA (anon)",
			"TLS_DHE_RSA_EXPORT_WITH_DES40_CBC_SHA (EXPORT, DES)", "TLS_DHE_RSA_WITH_DES_CBC_SHA (DES)",
		}}},
	},
	{
		name: "weak_cipher_negotiated/3des",
		modify: func(r *Record) {
			tls12(r, "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA", "x25519")
		},
		want: []want{
			{"client", SeverityCritical, CodeWeakCipherNegotiated, []string{"client leg", "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA (3DES)"}},
			{"upstream", SeverityCritical, CodeWeakCipherNegotiated, []string{"upstream leg", "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA (3DES)"}},
			{"client", SeverityWarn, CodeCBCCipherNegotiated, []string{"TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA"}},
			{"upstream", SeverityWarn, CodeCBCCipherNegotiated, []string{"TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA"}},
		},
	},
	{
		name: "weak_cipher_negotiated/rc4_passthrough",
		modify: func(r *Record) {
			// Passthrough: the proxy sees only the ServerHello.
			r.Mode = ModePassthrough
			r.Client.Negotiated, r.Client.Chain = nil, nil
			r.Upstream.Negotiated, r.Upstream.Hello = nil, nil
			r.Upstream.ServerHello = &ServerHello{Version: "TLS 1.2", CipherSuite: "TLS_RSA_WITH_RC4_128_SHA"}
			r.Upstream.KeyExchange = nil
		},
		want: []want{
			{"upstream", SeverityCritical, CodeWeakCipherNegotiated, []string{"TLS_RSA_WITH_RC4_128_SHA (RC4)"}},
			{"upstream", SeverityWarn, CodeRSAKeyExchangeNegotiated, []string{"TLS_RSA_WITH_RC4_128_SHA"}},
			{"upstream", SeverityWarn, CodeNoForwardSecrecy, []string{"TLS_RSA_WITH_RC4_128_SHA"}},
		},
	},
	{
		name: "cbc_cipher_negotiated",
		modify: func(r *Record) {
			tls12(r, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", "x25519")
		},
		want: []want{
			{"client", SeverityWarn, CodeCBCCipherNegotiated, []string{"client leg", "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", "TLS 1.2"}},
			{"upstream", SeverityWarn, CodeCBCCipherNegotiated, []string{"upstream leg", "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256"}},
		},
	},
	{
		name: "rsa_key_exchange_offered",
		modify: func(r *Record) {
			r.Client.Hello.CipherSuites = append(r.Client.Hello.CipherSuites, "TLS_RSA_WITH_AES_128_GCM_SHA256", "TLS_RSA_WITH_AES_256_CBC_SHA")
		},
		want: []want{{"client", SeverityInfo, CodeRSAKeyExchangeOffered, []string{"TLS_RSA_WITH_AES_128_GCM_SHA256, TLS_RSA_WITH_AES_256_CBC_SHA"}}},
	},
	{
		name: "rsa_key_exchange_negotiated/upstream_only",
		modify: func(r *Record) {
			upstreamLeg(r, "TLS 1.2", "TLS_RSA_WITH_AES_128_GCM_SHA256", "")
			r.Upstream.KeyExchange = &KeyExchange{Kind: "RSA"}
		},
		want: []want{
			{"upstream", SeverityWarn, CodeRSAKeyExchangeNegotiated, []string{"TLS_RSA_WITH_AES_128_GCM_SHA256"}},
			{"upstream", SeverityWarn, CodeNoForwardSecrecy, []string{"TLS_RSA_WITH_AES_128_GCM_SHA256"}},
			{"upstream", SeverityWarn, CodeDowngradeAcrossProxy, []string{"TLS 1.3", "TLS 1.2"}},
			{"upstream", SeverityWarn, CodeDowngradeAcrossProxy, []string{"forward secrecy", "TLS_RSA_WITH_AES_128_GCM_SHA256"}},
		},
	},
	{
		name: "no_forward_secrecy/static_ecdh",
		modify: func(r *Record) {
			tls12(r, "TLS_ECDH_ECDSA_WITH_AES_128_GCM_SHA256", "")
		},
		want: []want{
			{"client", SeverityWarn, CodeNoForwardSecrecy, []string{"client leg", "TLS_ECDH_ECDSA_WITH_AES_128_GCM_SHA256"}},
			{"upstream", SeverityWarn, CodeNoForwardSecrecy, []string{"upstream leg", "TLS_ECDH_ECDSA_WITH_AES_128_GCM_SHA256"}},
		},
	},
	{
		name: "no_forward_secrecy/tls13_psk_ke",
		modify: func(r *Record) {
			r.Upstream.Negotiated.Resumed = true
			r.Upstream.KeyExchange = &KeyExchange{Kind: "PSK"}
			r.Upstream.Chain = nil
		},
		want: []want{
			{"upstream", SeverityWarn, CodeNoForwardSecrecy, []string{"psk_ke"}},
			{"upstream", SeverityWarn, CodeDowngradeAcrossProxy, []string{"forward secrecy"}},
		},
	},
	{
		name: "no_forward_secrecy/not_for_dhe",
		modify: func(r *Record) {
			tls12(r, "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256", "")
			r.Upstream.KeyExchange = &KeyExchange{Kind: "DHE", DHBits: 2048, SignatureAlgorithm: "rsa_pss_rsae_sha256"}
		},
	},
	{
		name: "weak_dh_params",
		modify: func(r *Record) {
			tls12(r, "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256", "")
			r.Upstream.KeyExchange = &KeyExchange{Kind: "DHE", DHBits: 1024, SignatureAlgorithm: "rsa_pss_rsae_sha256"}
		},
		want: []want{{"upstream", SeverityWarn, CodeWeakDHParams, []string{"1024"}}},
	},
	{
		name: "sha1_signature/certificate",
		modify: func(r *Record) {
			r.Upstream.Chain[0].Signature = "SHA1-RSA"
			r.Upstream.Chain[1].Signature = "MD5-RSA"
		},
		want: []want{
			{"upstream", SeverityCritical, CodeSHA1Signature, []string{"CN=example.test", "SHA1-RSA"}},
			{"upstream", SeverityCritical, CodeSHA1Signature, []string{"certificate 1", "CN=Example Intermediate", "MD5-RSA"}},
		},
	},
	{
		name: "sha1_signature/not_for_a_root",
		modify: func(r *Record) {
			r.Upstream.Chain = append(r.Upstream.Chain, Cert{Subject: "CN=Example Root", Issuer: "CN=Example Root",
				NotBefore: "2000-01-01T00:00:00Z", NotAfter: "2040-01-01T00:00:00Z", Key: "RSA 4096", Signature: "SHA1-RSA", IsCA: true})
		},
	},
	{
		name: "sha1_signature/key_exchange",
		modify: func(r *Record) {
			tls12(r, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "x25519")
			r.Upstream.KeyExchange = &KeyExchange{Kind: "ECDHE", Group: "x25519", SignatureAlgorithm: "rsa_pkcs1_sha1"}
		},
		want: []want{{"upstream", SeverityWarn, CodeSHA1Signature, []string{"rsa_pkcs1_sha1"}}},
	},
	{
		name: "sha1_signature/key_exchange_md5",
		modify: func(r *Record) {
			tls12(r, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "x25519")
			r.Upstream.KeyExchange = &KeyExchange{Kind: "ECDHE", Group: "x25519", SignatureAlgorithm: "rsa_pkcs1_md5"}
		},
		want: []want{{"upstream", SeverityCritical, CodeSHA1Signature, []string{"rsa_pkcs1_md5"}}},
	},
	{
		name: "sha1_signature/key_exchange_tls10",
		modify: func(r *Record) {
			upstreamLeg(r, "TLS 1.0", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "x25519")
			*r.Client.Negotiated = *r.Upstream.Negotiated
			r.Upstream.KeyExchange = &KeyExchange{Kind: "ECDHE", Group: "x25519", SignatureAlgorithm: "rsa_pkcs1_md5_sha1"}
		},
		want: []want{
			{"client", SeverityCritical, CodeLegacyVersionNegotiated, []string{"TLS 1.0"}},
			{"upstream", SeverityCritical, CodeLegacyVersionNegotiated, []string{"TLS 1.0"}},
			{"client", SeverityWarn, CodeCBCCipherNegotiated, []string{"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"}},
			{"upstream", SeverityWarn, CodeCBCCipherNegotiated, []string{"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"}},
			{"upstream", SeverityWarn, CodeSHA1Signature, []string{"rsa_pkcs1_md5_sha1", "TLS 1.0/1.1"}},
		},
	},
	{
		name: "short_rsa_key",
		modify: func(r *Record) {
			r.Upstream.Chain[0].Key = "RSA 1024"
			r.Upstream.Chain[1].Key = "RSA 512"
		},
		want: []want{
			{"upstream", SeverityCritical, CodeShortRSAKey, []string{"CN=Example Intermediate", "512-bit"}},
			{"upstream", SeverityWarn, CodeShortRSAKey, []string{"CN=example.test", "1024-bit"}},
		},
	},
	{
		name: "certificate_expired",
		modify: func(r *Record) {
			r.Upstream.Chain[0].NotAfter = "2026-11-22T14:59:59Z"
		},
		want: []want{{"upstream", SeverityCritical, CodeCertificateExpired, []string{"CN=example.test", "2026-11-22T14:59:59Z"}}},
	},
	{
		name: "certificate_expired/not_at_the_last_second",
		modify: func(r *Record) {
			r.Upstream.Chain[0].NotAfter = "2026-11-22T15:00:00Z"
		},
	},
	{
		name: "certificate_not_yet_valid",
		modify: func(r *Record) {
			r.Upstream.Chain[1].NotBefore = "2026-12-01T00:00:00Z"
		},
		want: []want{{"upstream", SeverityCritical, CodeCertificateNotYetValid, []string{"CN=Example Intermediate", "2026-12-01T00:00:00Z"}}},
	},
	{
		name: "hostname_mismatch",
		modify: func(r *Record) {
			r.Upstream.Chain[0].SANs = []string{"other.test", "*.example.test", "admin@example.test", "https://example.test/"}
			r.Upstream.Verify = &Verify{OK: false, Error: "x509: certificate is valid for other.test, not example.test", Roots: "system"}
			r.Outcome = OutcomeUpstreamVerifyFailed
		},
		want: []want{
			{"upstream", SeverityCritical, CodeHostnameMismatch, []string{"other.test, *.example.test", "not example.test"}},
			{"upstream", SeverityWarn, CodeUpstreamVerifyFailed, []string{"valid for other.test"}},
		},
	},
	{
		name: "hostname_mismatch/wildcard_is_one_label",
		modify: func(r *Record) {
			for _, s := range []*Side{r.Client, r.Upstream} {
				s.Hello.SNI = "a.b.example.test"
			}
			r.Upstream.Verify = nil // passthrough-like: nobody verified
		},
		want: []want{{"upstream", SeverityCritical, CodeHostnameMismatch, []string{"not a.b.example.test"}}},
	},
	{
		name: "hostname_mismatch/wildcard_and_case_match",
		modify: func(r *Record) {
			for _, s := range []*Side{r.Client, r.Upstream} {
				s.Hello.SNI = "WWW.Example.Test."
			}
			r.Upstream.Verify = nil
		},
	},
	{
		name: "hostname_mismatch/ip_target",
		modify: func(r *Record) {
			r.Target = "[2001:db8::1]:443"
			r.Client.Hello.SNI, r.Upstream.Hello.SNI = "", ""
			r.Upstream.Chain[0].SANs = []string{"2001:db8::2", "example.test"}
			r.Upstream.Verify = nil
		},
		want: []want{{"upstream", SeverityCritical, CodeHostnameMismatch, []string{"not 2001:db8::1"}}},
	},
	{
		name: "hostname_mismatch/ip_san_match",
		modify: func(r *Record) {
			r.Target = "192.0.2.7:8443"
			r.Client.Hello.SNI, r.Upstream.Hello.SNI = "", ""
			r.Upstream.Chain[0].SANs = []string{"192.0.2.7"}
			r.Upstream.Verify = nil
		},
	},
	{
		name: "self_signed",
		modify: func(r *Record) {
			r.Upstream.Chain = []Cert{{Subject: "O=Acme Co", Issuer: "O=Acme Co", SANs: []string{"example.test"},
				NotBefore: "2026-01-01T00:00:00Z", NotAfter: "2027-01-01T00:00:00Z", Key: "ECDSA P-256", Signature: "ECDSA-SHA256", IsCA: true}}
			r.Upstream.Verify = &Verify{OK: false, Error: "x509: certificate signed by unknown authority", Roots: "system"}
			r.Outcome = OutcomeUpstreamVerifyFailed
		},
		want: []want{
			{"upstream", SeverityWarn, CodeSelfSigned, []string{"O=Acme Co"}},
			{"upstream", SeverityWarn, CodeUpstreamVerifyFailed, []string{"unknown authority"}},
		},
	},
	{
		name: "self_signed/trusted_is_info",
		modify: func(r *Record) {
			r.Upstream.Chain = []Cert{{Subject: "O=Acme Co", Issuer: "O=Acme Co", SANs: []string{"example.test"},
				NotBefore: "2026-01-01T00:00:00Z", NotAfter: "2027-01-01T00:00:00Z", Key: "ECDSA P-256", Signature: "ECDSA-SHA256", IsCA: true}}
			r.Upstream.Verify.Roots = "system+upstream.pem"
		},
		want: []want{{"upstream", SeverityInfo, CodeSelfSigned, []string{"O=Acme Co", "trusted"}}},
	},
	{
		name: "incomplete_chain",
		modify: func(r *Record) {
			r.Upstream.Chain = r.Upstream.Chain[:1]
			r.Upstream.Verify = &Verify{OK: false, Error: "x509: certificate signed by unknown authority", Roots: "system"}
			r.Outcome = OutcomeUpstreamVerifyFailed
		},
		want: []want{
			{"upstream", SeverityWarn, CodeUpstreamVerifyFailed, []string{"unknown authority"}},
			{"upstream", SeverityWarn, CodeIncompleteChain, []string{"CN=Example Intermediate", "intermediate"}},
		},
	},
	{
		name: "incomplete_chain/not_when_verified",
		modify: func(r *Record) {
			// A private CA that issues leaves directly: one certificate, fine.
			r.Upstream.Chain = r.Upstream.Chain[:1]
		},
	},
	{
		name: "upstream_verify_failed/error_from_side",
		modify: func(r *Record) {
			r.Outcome = OutcomeUpstreamVerifyFailed
			r.Upstream.Verify = nil
			r.Upstream.Error = "the server's certificate is not trusted"
		},
		want: []want{{"upstream", SeverityWarn, CodeUpstreamVerifyFailed, []string{"is not trusted"}}},
	},
	{
		name: "verification_bypassed",
		modify: func(r *Record) {
			r.Upstream.Verify = &Verify{OK: false, Error: "x509: certificate has expired or is not yet valid", Roots: "system"}
			r.Upstream.Chain[0].NotAfter = "2025-01-01T00:00:00Z"
		},
		want: []want{
			{"upstream", SeverityCritical, CodeCertificateExpired, []string{"2025-01-01T00:00:00Z"}},
			{"upstream", SeverityCritical, CodeVerificationBypassed, []string{"expired", "by policy"}},
		},
	},
	{
		name: "verification_bypassed/not_in_passthrough",
		modify: func(r *Record) {
			r.Mode = ModePassthrough
			r.Client.Negotiated, r.Upstream.Negotiated, r.Upstream.Hello = nil, nil, nil
			r.Upstream.Verify = &Verify{OK: false, Error: "x509: certificate signed by unknown authority", Roots: "system"}
		},
		want: []want{{"upstream", SeverityWarn, CodeUpstreamVerifyFailed, []string{"unknown authority"}}},
	},
	{
		name: "upstream_requests_client_cert",
		modify: func(r *Record) {
			r.Upstream.CertificateRequest = &CertRequest{Authorities: []string{"CN=Corp Client CA", "CN=Other CA"}}
		},
		want: []want{{"upstream", SeverityInfo, CodeUpstreamRequestsClientCert, []string{"2 authorities", "CN=Corp Client CA"}}},
	},
	{
		name: "upstream_requests_client_cert/no_authorities",
		modify: func(r *Record) {
			r.Upstream.CertificateRequest = &CertRequest{SignatureAlgorithms: []string{"ecdsa_secp256r1_sha256"}}
		},
		want: []want{{"upstream", SeverityInfo, CodeUpstreamRequestsClientCert, []string{"without naming"}}},
	},
	{
		name: "client_rejected_certificate",
		modify: func(r *Record) {
			r.Outcome = OutcomeClientRejectedCertificate
			r.Client.Negotiated = nil
			r.Client.Alert = "unknown_ca"
		},
		want: []want{{"client", SeverityWarn, CodeClientRejectedCertificate, []string{"example.test", "unknown_ca", "install the tlslens CA"}}},
	},
	{
		name: "downgrade_across_proxy/offered_1.3_got_1.2",
		modify: func(r *Record) {
			r.Outcome = OutcomeClientRejectedCertificate
			r.Client.Negotiated = nil
			upstreamLeg(r, "TLS 1.2", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "x25519")
		},
		want: []want{
			{"client", SeverityWarn, CodeClientRejectedCertificate, []string{"example.test"}},
			{"upstream", SeverityWarn, CodeDowngradeAcrossProxy, []string{"client offered TLS 1.3", "upstream leg negotiated TLS 1.2"}},
		},
	},
	{
		name: "downgrade_across_proxy/pq_group",
		modify: func(r *Record) {
			r.Upstream.Negotiated.Group = "x25519"
		},
		want: []want{{"upstream", SeverityWarn, CodeDowngradeAcrossProxy, []string{"X25519MLKEM768", "x25519"}}},
	},
	{
		name: "downgrade_across_proxy/not_when_upstream_is_stronger",
		modify: func(r *Record) {
			r.Client.Negotiated = &Negotiated{Version: "TLS 1.2", CipherSuite: "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", Group: "x25519"}
		},
		want: []want{{"client", SeverityWarn, CodeCBCCipherNegotiated, []string{"client leg"}}},
	},
	{
		name: "fingerprint_drift",
		modify: func(r *Record) {
			r.Upstream.Hello.JA4 = "t13d0302h2_cccccccccccc_dddddddddddd"
		},
		want: []want{{"upstream", SeverityInfo, CodeFingerprintDrift, []string{"t13d0302h2_cccccccccccc_dddddddddddd", "t13d0402h2_aaaaaaaaaaaa_bbbbbbbbbbbb"}}},
	},
	{
		name: "fingerprint_drift/upstream_failed",
		modify: func(r *Record) {
			r.Outcome = OutcomeUpstreamHandshakeFailed
			r.Upstream.Hello.JA4 = "t13d0302h2_cccccccccccc_dddddddddddd"
			r.Upstream.ServerHello, r.Upstream.Negotiated, r.Upstream.Chain, r.Upstream.Verify = nil, nil, nil, nil
			r.Upstream.Alert = "handshake_failure"
		},
		want: []want{{"upstream", SeverityInfo, CodeFingerprintDrift, []string{"t13d0302h2_cccccccccccc_dddddddddddd"}}},
	},
	{
		name: "fingerprint_drift/not_in_passthrough",
		modify: func(r *Record) {
			r.Mode = ModePassthrough
			r.Upstream.Hello.JA4 = "t13d0302h2_cccccccccccc_dddddddddddd"
		},
	},
	{
		name: "downgrade_sentinel",
		modify: func(r *Record) {
			tls12(r, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "x25519")
			r.Upstream.ServerHello.Downgrade = "TLS 1.2"
		},
		want: []want{{"upstream", SeverityInfo, CodeDowngradeSentinel, []string{"TLS 1.2"}}},
	},
	{
		name: "ech_offered",
		modify: func(r *Record) {
			r.Client.Hello.ECH = true
		},
		want: []want{{"client", SeverityInfo, CodeECHOffered, []string{"encrypted_client_hello"}}},
	},
	{
		name: "not_tls",
		modify: func(r *Record) {
			r.Mode, r.Outcome = ModeTunnel, OutcomeNotTLS
			r.Client = &Side{Addr: "127.0.0.1:5000", Error: "the client did not speak TLS"}
			r.Upstream = nil
		},
	},
}

func TestFindings(t *testing.T) {
	for _, tt := range findingsTests {
		t.Run(tt.name, func(t *testing.T) {
			r := cleanRecord()
			tt.modify(r)
			got := Findings(r, findingsNow)
			if len(got) != len(tt.want) {
				t.Fatalf("Findings(%s) = %s, want %d findings", tt.name, describe(got), len(tt.want))
			}
			for i, w := range tt.want {
				g := got[i]
				if g.Side != w.side || g.Severity != w.severity || g.Code != w.code {
					t.Errorf("finding %d = %s/%s/%s, want %s/%s/%s (all: %s)", i, g.Side, g.Severity, g.Code, w.side, w.severity, w.code, describe(got))
				}
				for _, n := range w.names {
					if !strings.Contains(g.Message, n) {
						t.Errorf("finding %d (%s) message %q does not name %q", i, g.Code, g.Message, n)
					}
				}
				if strings.Count(g.Message, ". ") > 0 || strings.HasSuffix(g.Message, ".") {
					t.Errorf("finding %d message %q is not one sentence without a final period", i, g.Message)
				}
			}
		})
	}
}

func describe(fs []Finding) string {
	var b strings.Builder
	for _, f := range fs {
		fmt.Fprintf(&b, "\n\t%s/%s/%s: %s", f.Side, f.Severity, f.Code, f.Message)
	}
	return b.String()
}

// TestFindingsOrder checks the sort: most severe first, and within a
// severity the order in which the findings were derived.
func TestFindingsOrder(t *testing.T) {
	r := cleanRecord()
	r.Client.Hello.ECH = true                                                                            // info, client
	r.Client.Hello.SupportedVersions = []string{"TLS 1.3", "TLS 1.2", "TLS 1.0"}                         // warn, client
	r.Upstream.CertificateRequest = &CertRequest{}                                                       // info, upstream
	r.Upstream.Chain[0].NotAfter = "2020-01-01T00:00:00Z"                                                // critical, upstream
	r.Upstream.Chain[1].Key = "RSA 1024"                                                                 // warn, upstream
	r.Upstream.Verify = &Verify{OK: false, Error: "x509: expired", Roots: "system"}                      // critical (bypassed)
	r.Client.Hello.CipherSuites = append(r.Client.Hello.CipherSuites, "TLS_RSA_WITH_AES_128_GCM_SHA256") // info, client

	got := Findings(r, findingsNow)
	var codes []string
	for _, f := range got {
		codes = append(codes, string(f.Severity)+" "+f.Code)
	}
	wantCodes := []string{
		"critical " + CodeCertificateExpired,
		"critical " + CodeVerificationBypassed,
		"warn " + CodeLegacyVersionOffered,
		"warn " + CodeShortRSAKey,
		"info " + CodeRSAKeyExchangeOffered,
		"info " + CodeECHOffered,
		"info " + CodeUpstreamRequestsClientCert,
	}
	if strings.Join(codes, "\n") != strings.Join(wantCodes, "\n") {
		t.Errorf("Findings order =\n%s\nwant\n%s", strings.Join(codes, "\n"), strings.Join(wantCodes, "\n"))
	}
}

func TestFindingsEmpty(t *testing.T) {
	for _, tt := range []struct {
		name string
		r    *Record
	}{
		{"nil", nil},
		{"zero", &Record{}},
		{"clean", cleanRecord()},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := Findings(tt.r, findingsNow)
			b, err := json.Marshal(got)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != "[]" {
				t.Errorf("Findings(%s) encodes as %s, want []", tt.name, b)
			}
		})
	}
}

func TestMatchesHost(t *testing.T) {
	for _, tt := range []struct {
		sans []string
		host string
		want bool
	}{
		{[]string{"example.test"}, "example.test", true},
		{[]string{"Example.Test."}, "example.test", true},
		{[]string{"*.example.test"}, "www.example.test", true},
		{[]string{"*.example.test"}, "example.test", false},
		{[]string{"*.example.test"}, "a.b.example.test", false},
		{[]string{"*.example.test"}, ".example.test", false},
		{[]string{"w*.example.test"}, "www.example.test", false},
		{[]string{"192.0.2.1"}, "192.0.2.1", true},
		{[]string{"192.0.2.1"}, "192.0.2.2", false},
		{[]string{"2001:db8::1"}, "[2001:DB8:0::1]", true},
		{[]string{"192.0.2.1.example.test", "*.0.2.1"}, "192.0.2.1", false},
		{[]string{"user@example.test", "https://example.test/"}, "example.test", false},
		{nil, "example.test", false},
	} {
		t.Run(tt.host+"/"+strings.Join(tt.sans, ","), func(t *testing.T) {
			if got := matchesHost(tt.sans, tt.host); got != tt.want {
				t.Errorf("matchesHost(%q, %q) = %v, want %v", tt.sans, tt.host, got, tt.want)
			}
		})
	}
}

// TestFindingsFromCertificates runs Findings on chains summarised by
// Certificate from real certificates, so that the key, signature and date
// formats it reads are the ones the record carries.
func TestFindingsFromCertificates(t *testing.T) {
	rsaKey, ecKey := testpki.RSAKey(t, 1024), testpki.ECDSAKey(t)
	root := testpki.RootWithKey(t, "Test Root", ecKey)
	for _, tt := range []struct {
		name  string
		key   any
		tmpl  x509.Certificate
		codes []string
	}{
		{
			name: "good",
			key:  &ecKey.PublicKey,
			tmpl: x509.Certificate{DNSNames: []string{"example.test"}, SignatureAlgorithm: x509.ECDSAWithSHA256,
				NotBefore: findingsNow.Add(-time.Hour), NotAfter: findingsNow.Add(time.Hour)},
		},
		{
			name: "short key, SHA-1, expired, wrong name",
			key:  &rsaKey.PublicKey,
			tmpl: x509.Certificate{DNSNames: []string{"other.test"}, IPAddresses: []net.IP{net.ParseIP("192.0.2.1")},
				SignatureAlgorithm: x509.ECDSAWithSHA1,
				NotBefore:          findingsNow.Add(-2 * time.Hour), NotAfter: findingsNow.Add(-time.Hour)},
			codes: []string{CodeSHA1Signature, CodeShortRSAKey, CodeCertificateExpired, CodeHostnameMismatch},
		},
		{
			name: "not yet valid",
			key:  &ecKey.PublicKey,
			tmpl: x509.Certificate{DNSNames: []string{"*.test"}, SignatureAlgorithm: x509.ECDSAWithSHA384,
				NotBefore: findingsNow.Add(time.Minute), NotAfter: findingsNow.Add(time.Hour)},
			codes: []string{CodeCertificateNotYetValid},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tmpl := tt.tmpl
			tmpl.SerialNumber, tmpl.Subject = big.NewInt(2), pkix.Name{CommonName: "leaf"}
			leaf := testpki.Cert(t, &tmpl, tt.key, root.Cert, root.Key)
			r := cleanRecord()
			r.Upstream.Chain = []Cert{Certificate(leaf)}
			r.Upstream.Verify = nil // judged by Findings alone
			var codes []string
			for _, f := range Findings(r, findingsNow) {
				codes = append(codes, f.Code)
			}
			slices.Sort(codes)
			want := slices.Clone(tt.codes)
			slices.Sort(want)
			if !slices.Equal(codes, want) {
				t.Errorf("Findings codes = %q, want %q", codes, want)
			}
		})
	}
}
