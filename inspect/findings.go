package inspect

import (
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Finding codes. They are stable: users filter and count on them, and
// reports aggregate by them. Add codes freely; never rename one.
const (
	// CodeLegacyVersionOffered: the client offers SSL 3.0, TLS 1.0 or
	// TLS 1.1 (RFC 8996 deprecates them).
	CodeLegacyVersionOffered = "legacy_version_offered"
	// CodeLegacyVersionNegotiated: a leg agreed SSL 3.0, TLS 1.0 or TLS 1.1.
	CodeLegacyVersionNegotiated = "legacy_version_negotiated"
	// CodeWeakCipherOffered: the client offers a NULL, EXPORT, anonymous,
	// RC4, RC2, DES, 3DES or IDEA suite.
	CodeWeakCipherOffered = "weak_cipher_offered"
	// CodeWeakCipherNegotiated: a leg agreed such a suite.
	CodeWeakCipherNegotiated = "weak_cipher_negotiated"
	// CodeCBCCipherNegotiated: a leg agreed a CBC-mode suite (MAC-then-encrypt,
	// the source of Lucky13 and POODLE-style padding oracles).
	CodeCBCCipherNegotiated = "cbc_cipher_negotiated"
	// CodeRSAKeyExchangeOffered: the client offers suites with RSA key
	// transport (TLS_RSA_*).
	CodeRSAKeyExchangeOffered = "rsa_key_exchange_offered"
	// CodeRSAKeyExchangeNegotiated: a leg agreed RSA key transport.
	CodeRSAKeyExchangeNegotiated = "rsa_key_exchange_negotiated"
	// CodeNoForwardSecrecy: a leg's key exchange is not ephemeral: a
	// TLS 1.2 or older suite without ECDHE or DHE, or TLS 1.3 psk_ke.
	CodeNoForwardSecrecy = "no_forward_secrecy"
	// CodeWeakDHParams: the server's DHE prime is shorter than 2048 bits.
	CodeWeakDHParams = "weak_dh_params"
	// CodeSHA1Signature: an upstream certificate is signed with SHA-1 or MD5,
	// or the server signed its key exchange with a SHA-1 or MD5 scheme.
	CodeSHA1Signature = "sha1_signature"
	// CodeShortRSAKey: an upstream certificate has an RSA key under 2048 bits.
	CodeShortRSAKey = "short_rsa_key"
	// CodeCertificateExpired: an upstream certificate's not_after has passed.
	CodeCertificateExpired = "certificate_expired"
	// CodeCertificateNotYetValid: an upstream certificate's not_before is in
	// the future.
	CodeCertificateNotYetValid = "certificate_not_yet_valid"
	// CodeHostnameMismatch: the upstream leaf's SANs do not cover the name
	// the proxy connected to.
	CodeHostnameMismatch = "hostname_mismatch"
	// CodeIncompleteChain: verification failed and the server sent a single,
	// non-self-issued certificate: its intermediate is probably missing.
	CodeIncompleteChain = "incomplete_chain"
	// CodeSelfSigned: the upstream leaf's issuer is its own subject.
	CodeSelfSigned = "self_signed"
	// CodeUpstreamVerifyFailed: the proxy could not verify the upstream
	// chain.
	CodeUpstreamVerifyFailed = "upstream_verify_failed"
	// CodeVerificationBypassed: verification failed but the proxy
	// intercepted the connection anyway, by policy.
	CodeVerificationBypassed = "verification_bypassed"
	// CodeUpstreamRequestsClientCert: the server sent a CertificateRequest.
	CodeUpstreamRequestsClientCert = "upstream_requests_client_cert"
	// CodeClientRejectedCertificate: the client refused the proxy's
	// certificate.
	CodeClientRejectedCertificate = "client_rejected_certificate"
	// CodeDowngradeAcrossProxy: the upstream leg is weaker than the client
	// leg (see Findings for what "weaker" means).
	CodeDowngradeAcrossProxy = "downgrade_across_proxy"
	// CodeDowngradeSentinel: the ServerHello random carries the RFC 8446
	// §4.1.3 sentinel: the server supports a newer version than it agreed.
	CodeDowngradeSentinel = "downgrade_sentinel"
	// CodeFingerprintDrift: the server saw the proxy's JA4, not the
	// client's.
	CodeFingerprintDrift = "fingerprint_drift"
	// CodeECHOffered: the client sent encrypted_client_hello, which the
	// proxy cannot decrypt.
	CodeECHOffered = "ech_offered"
	// CodePlaintextToProxy: the client sent an https:// request to the
	// proxy in plain HTTP, without CONNECT (ReasonPlainHTTPS).
	CodePlaintextToProxy = "plaintext_to_proxy"
)

// Sides of a finding.
const (
	sideClient   = "client"
	sideUpstream = "upstream"
)

// versionOrder orders the version names of VersionName; 0 for anything else.
var versionOrder = map[string]int{
	"SSL 3.0": 0x0300,
	"TLS 1.0": 0x0301,
	"TLS 1.1": 0x0302,
	"TLS 1.2": 0x0303,
	"TLS 1.3": 0x0304,
}

func isLegacyVersion(v string) bool {
	r := versionOrder[v]
	return r != 0 && r < versionOrder["TLS 1.2"]
}

// Findings derives what an auditor should notice from a filled record,
// most severe first (critical, warn, info), in a fixed order within a
// severity. now is the time certificates are judged against. It never returns
// nil, so an empty result encodes as [] in the record; a nil r has no
// findings.
//
// Offers are judged on the client's hello only: the upstream hello is the
// proxy's own, derived from it. Certificates are judged on the upstream chain
// only: the client chain is the one tlslens minted. What a leg agreed is its
// Negotiated, or failing that its ServerHello (passthrough sees no more).
//
// downgrade_across_proxy compares the two legs of an intercepted (mitm)
// connection and reports each way the upstream leg is weaker: an older
// version; a non-AEAD suite where the client leg has an AEAD one (AES-GCM,
// AES-CCM, ChaCha20-Poly1305, every TLS 1.3 suite); no forward secrecy where
// the client leg has it; a classical group where the client leg has a
// post-quantum hybrid (a name containing MLKEM or Kyber).
func Findings(r *Record, now time.Time) []Finding {
	fs := []Finding{}
	if r == nil {
		return fs
	}
	add := func(side string, sev Severity, code, format string, args ...any) {
		fs = append(fs, Finding{Side: side, Severity: sev, Code: code, Message: fmt.Sprintf(format, args...)})
	}

	if c := r.Client; c != nil && c.Hello != nil {
		offerFindings(c.Hello, add)
	}
	if r.Reason == ReasonPlainHTTPS {
		add(sideClient, SeverityWarn, CodePlaintextToProxy,
			"the client sent its https:// request for %s to the proxy in plain HTTP, without CONNECT: the request and the response crossed the network between the client and the proxy unencrypted", targetHost(r))
	}
	if r.Outcome == OutcomeClientRejectedCertificate {
		host := targetHost(r)
		if r.Client != nil && r.Client.Alert != "" {
			add(sideClient, SeverityWarn, CodeClientRejectedCertificate,
				"the client rejected the proxy's certificate for %s (alert %s): install the tlslens CA on it, or pass the host through if the app pins its certificate", host, r.Client.Alert)
		} else {
			add(sideClient, SeverityWarn, CodeClientRejectedCertificate,
				"the client rejected the proxy's certificate for %s: install the tlslens CA on it, or pass the host through if the app pins its certificate", host)
		}
	}
	if r.Client != nil {
		agreedFindings(sideClient, r.Client, add)
	}
	if u := r.Upstream; u != nil {
		agreedFindings(sideUpstream, u, add)
		keyExchangeFindings(u.KeyExchange, add)
		chainFindings(r, u, now, add)
		if cr := u.CertificateRequest; cr != nil {
			if len(cr.Authorities) > 0 {
				add(sideUpstream, SeverityInfo, CodeUpstreamRequestsClientCert,
					"the server asked for a client certificate issued by one of %d authorities, first %s", len(cr.Authorities), cr.Authorities[0])
			} else {
				add(sideUpstream, SeverityInfo, CodeUpstreamRequestsClientCert,
					"the server asked for a client certificate without naming acceptable authorities")
			}
		}
		if sh := u.ServerHello; sh != nil && sh.Downgrade != "" {
			add(sideUpstream, SeverityInfo, CodeDowngradeSentinel,
				"the server's random carries the %s downgrade sentinel: it supports a newer version than the %s agreed", sh.Downgrade, dashIfEmpty(sh.Version))
		}
	}
	if r.Mode == ModeMITM && r.Client != nil && r.Upstream != nil {
		acrossFindings(r.Client, r.Upstream, add)
	}
	if r.Mode == ModeMITM && r.Client != nil {
		identityFindings(r.Client, add)
	}
	if r.Probe != nil && r.Upstream != nil {
		serverChoiceFindings(r.Probe, r.Upstream, add)
	}

	slices.SortStableFunc(fs, func(a, b Finding) int { return severityRank(b.Severity) - severityRank(a.Severity) })
	return fs
}

type addFunc func(side string, sev Severity, code, format string, args ...any)

func severityRank(s Severity) int {
	switch s {
	case SeverityCritical:
		return 2
	case SeverityWarn:
		return 1
	}
	return 0
}

// offerFindings judges what the client offered.
func offerFindings(h *Hello, add addFunc) {
	if len(h.SupportedVersions) > 0 {
		var legacy []string
		for _, v := range h.SupportedVersions {
			if isLegacyVersion(v) {
				legacy = append(legacy, v)
			}
		}
		if len(legacy) > 0 {
			add(sideClient, SeverityWarn, CodeLegacyVersionOffered,
				"the client offers %s, deprecated by RFC 8996", strings.Join(legacy, ", "))
		}
	} else if isLegacyVersion(h.Version) {
		// Without supported_versions, legacy_version is the highest the
		// client speaks (RFC 5246 §7.4.1.2).
		add(sideClient, SeverityWarn, CodeLegacyVersionOffered,
			"the client's highest version is %s, deprecated by RFC 8996", h.Version)
	}

	var weak, rsa []string
	for _, s := range h.CipherSuites {
		if why := weakCipher(s); len(why) > 0 {
			weak = append(weak, s+" ("+strings.Join(why, ", ")+")")
		}
		if suiteKex(s) == "RSA" {
			rsa = append(rsa, s)
		}
	}
	if len(weak) > 0 {
		add(sideClient, SeverityWarn, CodeWeakCipherOffered,
			"the client offers weak cipher suites: %s", strings.Join(weak, ", "))
	}
	if len(rsa) > 0 {
		add(sideClient, SeverityInfo, CodeRSAKeyExchangeOffered,
			"the client offers RSA key transport, which has no forward secrecy: %s", strings.Join(rsa, ", "))
	}
	if h.ECH {
		add(sideClient, SeverityInfo, CodeECHOffered,
			"the client sent encrypted_client_hello (real or GREASE), which the proxy cannot decrypt: the server sees the outer hello")
	}
}

// agreedFindings judges what one leg agreed.
func agreedFindings(side string, s *Side, add addFunc) {
	a, ok := s.Agreed()
	if !ok {
		return
	}
	version, suite := a.Version, a.CipherSuite
	leg := legName(side)
	if isLegacyVersion(version) {
		add(side, SeverityCritical, CodeLegacyVersionNegotiated,
			"the %s negotiated %s, which RFC 8996 forbids", leg, version)
	}
	if why := weakCipher(suite); len(why) > 0 {
		add(side, SeverityCritical, CodeWeakCipherNegotiated,
			"the %s negotiated the weak cipher suite %s (%s)", leg, suite, strings.Join(why, ", "))
	}
	if version != "TLS 1.3" && isCBC(suite) {
		add(side, SeverityWarn, CodeCBCCipherNegotiated,
			"the %s negotiated the CBC-mode suite %s in %s", leg, suite, dashIfEmpty(version))
	}
	if suiteKex(suite) == "RSA" {
		add(side, SeverityWarn, CodeRSAKeyExchangeNegotiated,
			"the %s negotiated RSA key transport with %s", leg, suite)
	}
	if !forwardSecret(version, suite, s.KeyExchange) {
		if version == "TLS 1.3" {
			add(side, SeverityWarn, CodeNoForwardSecrecy,
				"the %s resumed TLS 1.3 with psk_ke, without an ephemeral key exchange", leg)
		} else {
			add(side, SeverityWarn, CodeNoForwardSecrecy,
				"the %s negotiated %s, whose key exchange is not ephemeral", leg, suite)
		}
	}
}

func legName(side string) string {
	if side == sideClient {
		return "client leg"
	}
	return "upstream leg"
}

// keyExchangeFindings judges the server's key exchange parameters.
func keyExchangeFindings(kx *KeyExchange, add addFunc) {
	if kx == nil {
		return
	}
	switch alg := strings.ToLower(kx.SignatureAlgorithm); {
	case strings.Contains(alg, "md5_sha1"):
		// TLS 1.0 and 1.1 fix RSA signatures to MD5 and SHA-1 concatenated
		// (RFC 4346 §7.4.3): no stronger than SHA-1 (SLOTH).
		add(sideUpstream, SeverityWarn, CodeSHA1Signature,
			"the server signed its key exchange with %s, the fixed TLS 1.0/1.1 signature", kx.SignatureAlgorithm)
	case strings.Contains(alg, "md5"):
		add(sideUpstream, SeverityCritical, CodeSHA1Signature,
			"the server signed its key exchange with %s", kx.SignatureAlgorithm)
	case strings.Contains(alg, "sha1"):
		// RFC 9155 deprecates SHA-1 signatures in TLS 1.2.
		add(sideUpstream, SeverityWarn, CodeSHA1Signature,
			"the server signed its key exchange with %s, deprecated by RFC 9155", kx.SignatureAlgorithm)
	}
	if kx.Kind == "DHE" && kx.DHBits > 0 && kx.DHBits < 2048 {
		sev := SeverityWarn
		if kx.DHBits < 1024 {
			sev = SeverityCritical // Logjam: 512-bit groups are broken, 768 close
		}
		add(sideUpstream, sev, CodeWeakDHParams,
			"the server's DHE prime has %d bits, under the 2048 recommended", kx.DHBits)
	}
}

// chainFindings judges the upstream certificates and their verification.
func chainFindings(r *Record, u *Side, now time.Time, add addFunc) {
	// leafFault: the leaf itself explains a failed verification (expired,
	// not yet valid, another name, a SHA-1 signature); crypto/x509 checks
	// those before it looks for issuers, so a missing intermediate is no
	// inference to draw.
	leafFault := false
	for i, c := range u.Chain {
		name := certName(i, c)
		// A self-issued certificate after the leaf is a root: its own
		// signature is never checked, so its algorithm does not matter.
		if i == 0 || c.Subject != c.Issuer {
			switch sig := strings.ToUpper(c.Signature); {
			case strings.Contains(sig, "MD5"), strings.Contains(sig, "MD2"), strings.Contains(sig, "SHA1"):
				add(sideUpstream, SeverityCritical, CodeSHA1Signature,
					"%s is signed with %s", name, c.Signature)
				leafFault = leafFault || i == 0
			}
		}
		if bits, ok := rsaBits(c.Key); ok && bits < 2048 {
			sev := SeverityWarn
			if bits < 1024 {
				sev = SeverityCritical
			}
			add(sideUpstream, sev, CodeShortRSAKey, "%s has a %d-bit RSA key, under 2048", name, bits)
		}
		if t, err := time.Parse(time.RFC3339, c.NotAfter); err == nil && now.After(t) {
			leafFault = leafFault || i == 0
			add(sideUpstream, SeverityCritical, CodeCertificateExpired, "%s expired at %s", name, c.NotAfter)
		}
		if t, err := time.Parse(time.RFC3339, c.NotBefore); err == nil && now.Before(t) {
			leafFault = leafFault || i == 0
			add(sideUpstream, SeverityCritical, CodeCertificateNotYetValid, "%s is not valid before %s", name, c.NotBefore)
		}
	}

	if len(u.Chain) > 0 {
		leaf := u.Chain[0]
		// A chain that verified has been matched against the name already,
		// by crypto/x509, which knows IDNA and other corners better.
		verified := u.Verify != nil && u.Verify.OK
		if host := verifiedName(r); host != "" && !verified && !matchesHost(leaf.SANs, host) {
			leafFault = true
			if len(leaf.SANs) == 0 {
				add(sideUpstream, SeverityCritical, CodeHostnameMismatch,
					"the upstream leaf %s has no subject alternative names, so it covers no host, not %s", leaf.Subject, host)
			} else {
				add(sideUpstream, SeverityCritical, CodeHostnameMismatch,
					"the upstream leaf %s covers %s, not %s", leaf.Subject, strings.Join(leaf.SANs, ", "), host)
			}
		}
		if leaf.Subject != "" && leaf.Subject == leaf.Issuer {
			if verified {
				add(sideUpstream, SeverityInfo, CodeSelfSigned,
					"the upstream leaf %s is self-signed and trusted through the configured roots", leaf.Subject)
			} else {
				add(sideUpstream, SeverityWarn, CodeSelfSigned, "the upstream leaf %s is self-signed", leaf.Subject)
			}
		}
	}

	verifyFailed := (u.Verify != nil && !u.Verify.OK) || r.Outcome == OutcomeUpstreamVerifyFailed
	if !verifyFailed {
		return
	}
	why := ""
	if u.Verify != nil {
		why = u.Verify.Error
	}
	if why == "" {
		why = u.Error
	}
	if why == "" {
		why = "no reason recorded"
	}
	if r.Mode == ModeMITM && r.Outcome == OutcomeOK {
		add(sideUpstream, SeverityCritical, CodeVerificationBypassed,
			"the proxy could not verify the upstream certificate (%s) but intercepted anyway, by policy: the client trusted a server nobody verified", why)
	} else {
		add(sideUpstream, SeverityWarn, CodeUpstreamVerifyFailed,
			"the proxy could not verify the upstream certificate: %s", why)
	}
	// One certificate, not self-issued, not verifiable: the server most
	// likely omits its intermediate. Verification cannot say which link is
	// missing, and the error's text is not a contract, so the message names
	// the other possibility too.
	if len(u.Chain) == 1 && u.Chain[0].Subject != u.Chain[0].Issuer && !leafFault {
		add(sideUpstream, SeverityWarn, CodeIncompleteChain,
			"the server sent only its leaf, issued by %s, and it did not verify: the server likely omits its intermediate certificate, unless that issuer is a root the proxy does not trust", u.Chain[0].Issuer)
	}
}

func certName(i int, c Cert) string {
	if i == 0 {
		return "the upstream leaf " + c.Subject
	}
	return fmt.Sprintf("upstream chain certificate %d (%s)", i, c.Subject)
}

// rsaBits reads the size from a key summary such as "RSA 2048".
func rsaBits(key string) (int, bool) {
	s, ok := strings.CutPrefix(key, "RSA ")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	return n, err == nil
}

// acrossFindings compares the two legs of an intercepted connection.
func acrossFindings(c, u *Side, add addFunc) {
	// The server saw the proxy's hello whether or not either leg finished.
	if cj, uj := helloJA4(c.Hello), helloJA4(u.Hello); cj != "" && uj != "" && cj != uj {
		add(sideUpstream, SeverityInfo, CodeFingerprintDrift,
			"the server saw the proxy's JA4 %s, not the client's %s: servers that fingerprint clients may answer differently than without the proxy", uj, cj)
	}
	up, ok := u.Agreed()
	if !ok {
		return
	}
	uVersion, uSuite, uGroup := up.Version, up.CipherSuite, up.Group
	cl, cOK := c.Agreed()
	cVersion, cSuite, cGroup := cl.Version, cl.CipherSuite, cl.Group
	if !cOK {
		// The client leg did not finish (e.g. the client rejected the
		// certificate): judge against its best offer.
		if c.Hello == nil {
			return
		}
		cVersion = highestOffered(c.Hello)
	}

	if cr, ur := versionOrder[cVersion], versionOrder[uVersion]; cr != 0 && ur != 0 && ur < cr {
		verb := "negotiated"
		if !cOK {
			verb = "offered"
		}
		add(sideUpstream, SeverityWarn, CodeDowngradeAcrossProxy,
			"the client %s %s with the proxy but the upstream leg negotiated %s", verb, cVersion, uVersion)
	}
	if !cOK {
		return
	}
	if isAEAD(cVersion, cSuite) && !isAEAD(uVersion, uSuite) && uSuite != "" {
		add(sideUpstream, SeverityWarn, CodeDowngradeAcrossProxy,
			"the client leg uses the AEAD suite %s but the upstream leg uses %s, which is not AEAD", cSuite, uSuite)
	}
	if forwardSecret(cVersion, cSuite, c.KeyExchange) && !forwardSecret(uVersion, uSuite, u.KeyExchange) {
		add(sideUpstream, SeverityWarn, CodeDowngradeAcrossProxy,
			"the client leg has forward secrecy but the upstream leg (%s) does not", dashIfEmpty(uSuite))
	}
	if isPQ(cGroup) && uGroup != "" && !isPQ(uGroup) {
		add(sideUpstream, SeverityWarn, CodeDowngradeAcrossProxy,
			"the client leg uses the post-quantum group %s but the upstream leg uses %s", cGroup, uGroup)
	}
}

func helloJA4(h *Hello) string {
	if h == nil {
		return ""
	}
	return h.JA4
}

func highestOffered(h *Hello) string {
	best := h.Version
	for _, v := range h.SupportedVersions {
		if versionOrder[v] > versionOrder[best] {
			best = v
		}
	}
	return best
}

// verifiedName is the name the upstream leaf must cover: the SNI the proxy
// sent, the client's SNI, or the target's host.
func verifiedName(r *Record) string {
	if r.Upstream != nil && r.Upstream.Hello != nil && r.Upstream.Hello.SNI != "" {
		return r.Upstream.Hello.SNI
	}
	if r.Client != nil && r.Client.Hello != nil && r.Client.Hello.SNI != "" {
		return r.Client.Hello.SNI
	}
	return targetHost(r)
}

func targetHost(r *Record) string {
	if h, _, err := net.SplitHostPort(r.Target); err == nil {
		return h
	}
	return r.Target
}

// matchesHost reports whether a certificate with these SANs covers host, by
// RFC 6125 §6.4: case-insensitive, a wildcard only as the whole leftmost
// label and matching exactly one label, IP addresses only against IP SANs.
// Emails and URIs never match. There is no common-name fallback (Go dropped
// it in 1.15).
func matchesHost(sans []string, host string) bool {
	host = strings.TrimSuffix(strings.ToLower(strings.Trim(host, "[]")), ".")
	if ip := net.ParseIP(host); ip != nil {
		for _, s := range sans {
			if sip := net.ParseIP(s); sip != nil && sip.Equal(ip) {
				return true
			}
		}
		return false
	}
	for _, s := range sans {
		if strings.Contains(s, "@") || strings.Contains(s, "://") || net.ParseIP(s) != nil {
			continue
		}
		p := strings.TrimSuffix(strings.ToLower(s), ".")
		if p == host {
			return true
		}
		if rest, ok := strings.CutPrefix(p, "*."); ok {
			if label, parent, ok := strings.Cut(host, "."); ok && label != "" && parent == rest {
				return true
			}
		}
	}
	return false
}

// suiteNamed describes the suite the record names s, from the IANA suite
// table; false for a code ("0x1a2b"), GREASE or any other unknown name.
func suiteNamed(s string) (CipherSuite, bool) {
	cs, ok := cipherSuiteByName()[s]
	return cs, ok
}

// suiteKex names a suite's key exchange family: "RSA" for RSA key transport
// (TLS_RSA_*, including EXPORT and PSK variants), "" for TLS 1.3 suites and
// unknown names.
func suiteKex(s string) string {
	cs, _ := suiteNamed(s)
	return cs.KeyExchange
}

// weakCipher names what makes a suite weak, nil if nothing does.
func weakCipher(s string) []string {
	if why, ok := weakCiphers.Load(s); ok {
		return why.([]string)
	}
	why := weakCipherUncached(s)
	if !strings.HasPrefix(s, "0x") { // IANA's names only, a bounded set; not every unknown code
		weakCiphers.Store(s, why)
	}
	return why
}

// weakCiphers memoises weakCipher, which runs for every suite of every
// hello. The slices it holds are shared: callers only read them.
var weakCiphers sync.Map // suite name -> []string

func weakCipherUncached(s string) []string {
	cs, ok := suiteNamed(s)
	if !ok {
		return nil
	}
	var why []string
	if cs.KeyExchange == "NULL" || cs.Cipher == "NULL" {
		why = append(why, "NULL")
	}
	if cs.Export {
		why = append(why, "EXPORT")
	}
	if cs.Auth == "anon" {
		why = append(why, "anon")
	}
	for _, c := range []struct{ cipher, why string }{
		{"RC4-128", "RC4"}, {"RC4-40", "RC4"}, {"RC2-40", "RC2"}, {"3DES", "3DES"}, {"IDEA", "IDEA"},
		{"DES", "DES"}, {"DES40", "DES"},
	} {
		if cs.Cipher == c.cipher {
			why = append(why, c.why)
		}
	}
	return why
}

func isCBC(s string) bool {
	cs, _ := suiteNamed(s)
	return cs.Mode == "CBC"
}

// isAEAD reports whether a suite encrypts with an AEAD: every TLS 1.3
// suite, and GCM, CCM and ChaCha20-Poly1305 before it.
func isAEAD(version, s string) bool {
	if version == "TLS 1.3" {
		return true
	}
	cs, _ := suiteNamed(s)
	return cs.AEAD
}

// forwardSecret reports whether a leg's key exchange is ephemeral. TLS 1.3
// always is, unless it resumed with psk_ke (KeyExchange kind "PSK").
// Before 1.3 the suite decides: ECDHE, DHE, SRP and anonymous suites are
// ephemeral (anonymous ones are weak for another reason), the rest are not.
// For an unknown suite the recorded key exchange kind decides.
func forwardSecret(version, suite string, kx *KeyExchange) bool {
	if version == "TLS 1.3" {
		return kx == nil || kx.Kind != "PSK"
	}
	cs, ok := suiteNamed(suite)
	if !ok || cs.KeyExchange == "" { // an unknown code: the recorded key exchange decides
		return kx == nil || kx.Kind != "RSA" && kx.Kind != "PSK"
	}
	switch {
	case cs.KeyExchange == "ECDHE", cs.KeyExchange == "DHE", cs.KeyExchange == "SRP":
		return true
	case cs.Auth == "anon":
		return true
	}
	return false
}

func isPQ(group string) bool {
	return strings.Contains(group, "MLKEM") || strings.Contains(strings.ToLower(group), "kyber")
}

func dashIfEmpty(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
