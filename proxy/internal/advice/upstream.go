package advice

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/tlslens/tlslens/inspect"
	"github.com/tlslens/tlslens/proxy/internal/gotls"
)

// Dial says why the TCP connection to target failed with err: a name that
// does not resolve, a refusal, no route, or no answer within timeout.
func Dial(target string, err error, timeout time.Duration) string {
	var dnsErr *net.DNSError
	var ne net.Error
	switch {
	case errors.As(err, &dnsErr):
		return fmt.Sprintf("the name %q does not resolve: %s", dnsErr.Name, dnsErr.Err)
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Sprintf("connection to %s refused: nothing listens on that port", target)
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return fmt.Sprintf("no route to %s", target)
	case errors.As(err, &ne) && ne.Timeout():
		return fmt.Sprintf("no answer from %s within %s", target, timeout)
	}
	return fmt.Sprintf("cannot connect to %s: %v", target, err)
}

// HandshakeFacts is what Handshake needs to know about an upstream attempt
// besides its error and the alert the server sent.
type HandshakeFacts struct {
	Compat   bool                 // the legacy-compatible retry offer was used
	Asked    bool                 // the server sent a CertificateRequest
	SentCert bool                 // a configured client certificate was sent
	Name     string               // the server's name
	Hello    *inspect.ClientHello // the client's own offer
	Timeout  time.Duration        // what bounded the handshake
	RSABits  int                  // the server's leaf has an RSA key of this size; 0 otherwise
	SigAlg   string               // the server's key exchange signature scheme, when seen
	// FirstAlert is the alert that refused the first offer, when this is
	// the compat retry: it says whether the server refused TLS 1.3's
	// version or its parameters.
	FirstAlert string
	Read       []byte // what the server sent on this attempt
	SNI        string // the server name tlslens sent; "" for none
	// AfterHandshake: the server refused after the client's handshake was
	// over (a TLS 1.3 server's verdict on a client certificate).
	AfterHandshake bool
}

// Handshake says why an upstream handshake failed with err (and alert, the
// one the server sent, "" for none), naming what is missing: a client
// certificate, a version, or a capability Go's TLS stack does not implement.
func Handshake(err error, alert string, f HandshakeFacts) string {
	var ne net.Error
	var rhe tls.RecordHeaderError
	after := ""
	if f.AfterHandshake {
		after = " after the handshake"
	}
	switch {
	case alert == "" && f.RSABits > 0 && f.RSABits < 1024:
		return fmt.Sprintf("the server's certificate has a %d-bit RSA key, which Go's TLS stack refuses (the minimum is 1024 bits): legacy_crypto: true accepts it", f.RSABits)
	case alert == "" && strings.HasSuffix(f.SigAlg, "_sha1"):
		return fmt.Sprintf("the server signed its TLS 1.2 key exchange with %s, a SHA-1 signature, which Go's TLS stack refuses: legacy_crypto: true accepts it", f.SigAlg)
	// GnuTLS refuses a missing certificate with decode_error (TLS 1.2).
	case f.Asked && !f.SentCert && (certRequiredAlerts[alert] || alert == "handshake_failure" || alert == "decode_error"):
		return fmt.Sprintf("the server requires a client certificate: it sent a CertificateRequest and refused the connection%s with alert %s when none was sent. None is configured for %s: add one under client_certs", after, alert, f.Name)
	case f.Asked && f.SentCert && certRequiredAlerts[alert]:
		return fmt.Sprintf("the server rejected the client certificate configured for %s (alert %s%s): check that it is issued by a CA the server trusts, not expired, and meant for client authentication", f.Name, alert, after)
	case errors.As(err, &rhe):
		return notTLSReply(f.Read, rhe)
	case alert == "unrecognized_name" && f.SNI == "":
		return fmt.Sprintf("the server requires a server name it knows (alert unrecognized_name), and the client sent none (SNI) for %s: connect by host name rather than address", f.Name)
	case alert == "unrecognized_name":
		return fmt.Sprintf("the server does not serve the name %q (alert unrecognized_name): check the host name", f.SNI)
	case alert == "no_application_protocol":
		offered := "none"
		if f.Hello != nil && len(f.Hello.ALPN) > 0 {
			offered = strings.Join(f.Hello.ALPN, ", ")
		}
		return fmt.Sprintf("the server accepts none of the application protocols offered (ALPN %s; alert no_application_protocol): it serves another protocol on this port", offered)
	case alert == "protocol_version":
		lo, hi := f.Hello.VersionRange()
		switch {
		case f.Compat && hi >= tls.VersionTLS13 && paramAlerts[f.FirstAlert]:
			// The first offer (with TLS 1.3) was refused for its
			// parameters, the compat one (without) for its version.
			msg := fmt.Sprintf("the server speaks only TLS 1.3 (it refused TLS 1.0 to 1.2 with alert protocol_version) and refused tlslens's TLS 1.3 offer with alert %s: it shares no key exchange group, cipher suite or signature algorithm with what Go's TLS stack implements", f.FirstAlert)
			if missing := unsupportedParams(f.Hello, true); missing != "" {
				return msg + ". The client also offers " + missing + ", which Go's TLS stack does not implement: the server likely requires one of those"
			}
			return msg + ": it likely requires a group such as x448 or ffdhe2048, AES-CCM, or an RSA-PSS (rsa_pss_pss_*) or Ed448 certificate, none of which Go implements"
		case f.Compat:
			if hi < tls.VersionTLS13 {
				return fmt.Sprintf("the server refused TLS 1.0 to 1.2 (alert protocol_version): it likely requires TLS 1.3, which the client does not offer (the client's highest is %s)", inspect.VersionName(hi))
			}
			return "the server refused every TLS version from 1.0 to 1.2 and the client's own (alert protocol_version): it likely speaks only SSL 3.0, which Go's TLS stack does not implement"
		case lo == hi:
			return fmt.Sprintf("the server refused %s, the only version offered (alert protocol_version)", inspect.VersionName(lo))
		}
		return fmt.Sprintf("the server refused %s to %s (alert protocol_version)", inspect.VersionName(lo), inspect.VersionName(hi))
	case alert == "handshake_failure" || alert == "insufficient_security" || alert == "illegal_parameter":
		if !f.Compat {
			return fmt.Sprintf("the server refused the handshake (alert %s): it shares no cipher suite, group or signature algorithm with what the client offered", alert)
		}
		missing := unsupportedOffers(f.Hello)
		if params := unsupportedParams(f.Hello, false); params != "" {
			missing = strings.TrimPrefix(missing+", "+params, ", ")
		}
		if missing != "" {
			return fmt.Sprintf("the server refused the handshake (alert %s) even with every version and cipher suite Go implements. The client also offers %s, which Go's TLS stack does not implement: the server likely requires one of those", alert, missing)
		}
		return fmt.Sprintf("the server refused the handshake (alert %s) even with every version and cipher suite Go implements: it likely requires DHE or DSS key exchange, a cipher suite such as AES-CCM or Camellia, or SHA-1 signatures in TLS 1.2 (legacy_crypto: true enables those), none of which Go's TLS stack implements by default", alert)
	case alert != "":
		return fmt.Sprintf("the server aborted the handshake%s with alert %s", after, alert)
	case errors.As(err, &ne) && ne.Timeout() && len(f.Read) == 0:
		return fmt.Sprintf("the server accepted the TCP connection but did not answer tlslens's ClientHello: it did not complete the TLS handshake within %s, sending nothing. It may serve another protocol than TLS on this port, or be overloaded", f.Timeout)
	case errors.As(err, &ne) && ne.Timeout():
		return fmt.Sprintf("the server did not complete the TLS handshake within %s (it stalled after sending %d bytes)", f.Timeout, len(f.Read))
	case closed(err):
		if f.Compat {
			return "the server closed the connection during the TLS handshake, also with the legacy-compatible offer (TLS 1.0 to 1.2, every cipher suite Go implements): it may not speak TLS on this port, or only SSL 3.0"
		}
		return "the server closed the connection during the TLS handshake: it may not speak TLS on this port"
	}
	return "the TLS handshake with the server failed: " + err.Error()
}

// paramAlerts are the alerts a server sends when it shares no cipher suite,
// group or signature algorithm with the offer (RFC 8446 §4.1.1, §6.2).
var paramAlerts = map[string]bool{"handshake_failure": true, "insufficient_security": true, "illegal_parameter": true}

// notTLSReply says what a server that answered the ClientHello with
// something other than TLS records is, from its first bytes.
func notTLSReply(read []byte, rhe tls.RecordHeaderError) string {
	first := read
	if len(first) == 0 {
		first = rhe.RecordHeader[:]
	}
	first = first[:min(len(first), 32)]
	what := "it does not speak TLS on this port"
	switch s := string(first); {
	case strings.HasPrefix(s, "HTTP/"):
		what = "it speaks plain HTTP on this port: use http:// for it, or the port where it serves HTTPS"
	case strings.HasPrefix(s, "SSH-"):
		what = "it is an SSH server"
	case strings.HasPrefix(s, "220 ") || strings.HasPrefix(s, "220-") || strings.HasPrefix(s, "* OK") || strings.HasPrefix(s, "+OK"):
		what = "it speaks a clear-text protocol first (SMTP, IMAP or POP3): it may need STARTTLS, which tlslens does not do, or the implicit-TLS port"
	}
	return fmt.Sprintf("the server did not answer with TLS: its first bytes were %q, so %s", first, what)
}

// Verify says why the upstream chain certs did not verify (err, from
// crypto/x509) and what to do about it.
func Verify(err error, certs []*x509.Certificate) string {
	msg := "the upstream certificate is not trusted: " + err.Error()
	var ua x509.UnknownAuthorityError
	var he x509.HostnameError
	var ci x509.CertificateInvalidError
	sha1 := false // a signature crypto/x509 checks is SHA-1 (a root's own is not checked)
	for i, c := range certs {
		self := i > 0 && bytes.Equal(c.RawSubject, c.RawIssuer)
		sha1 = sha1 || !self && (c.SignatureAlgorithm == x509.SHA1WithRSA || c.SignatureAlgorithm == x509.ECDSAWithSHA1)
	}
	switch {
	case errors.As(err, &ua) && sha1:
		msg += ". The chain has a SHA-1 signature, which Go's crypto/x509 refuses whatever the settings (legacy_crypto included): the server needs a certificate signed with SHA-256 or better"
	case errors.As(err, &ua):
		msg += ". If the server uses a private or test CA or a self-signed certificate, add that to upstream_ca (--upstream-ca); if the server omits its intermediate certificate, fix the server"
	case errors.As(err, &he):
		msg += ". The certificate is for another name: check the host, or the server's configuration for it"
	case errors.As(err, &ci) && ci.Reason == x509.Expired:
		msg += ". The certificate is expired or not yet valid: renew it on the server (or check this machine's clock)"
	}
	return msg + "; upstream_verify: log intercepts anyway, with a critical finding"
}

// certRequiredAlerts are the alerts a server sends when it refuses a
// client's certificate or the lack of one (RFC 8446 §4.4.2.4, §6.2).
var certRequiredAlerts = map[string]bool{
	"certificate_required": true, "bad_certificate": true, "unsupported_certificate": true,
	"certificate_revoked": true, "certificate_expired": true, "certificate_unknown": true,
	"unknown_ca": true, "access_denied": true, "decrypt_error": true,
}

// otherSuites is unsupportedOffers's kind for suites of no named kind.
const otherSuites = "other cipher suites"

// unsupportedOffers names what the client offered that Go's TLS stack
// cannot, e.g. "DHE key exchange (TLS_DHE_RSA_WITH_AES_128_GCM_SHA256, …)",
// or "" when everything it offered was forwarded.
func unsupportedOffers(h *inspect.ClientHello) string {
	if h == nil {
		return ""
	}
	implemented := gotls.AllSuites()
	found := map[string][]string{}
	var order []string
	for _, id := range h.CipherSuites {
		s, known := inspect.LookupCipherSuite(id)
		if slices.Contains(implemented, id) || inspect.IsGREASE(id) || gotls.TLS13Suite(id) || s.SCSV {
			continue
		}
		what := offerKind(s, known)
		if found[what] == nil {
			order = append(order, what)
		}
		found[what] = append(found[what], inspect.CipherSuiteName(id))
	}
	for _, v := range h.SupportedVersions {
		if v == 0x0300 {
			order = append(order, "SSL 3.0")
		}
	}
	if len(h.SupportedVersions) == 0 && h.LegacyVersion == 0x0300 {
		order = append(order, "SSL 3.0")
	}
	var parts []string
	for _, what := range order {
		names := found[what]
		switch {
		case len(names) == 0:
			parts = append(parts, what)
		case len(names) == 1:
			parts = append(parts, fmt.Sprintf("%s (%s)", what, names[0]))
		case what == otherSuites && len(names) <= 3:
			parts = append(parts, fmt.Sprintf("%s (%s)", what, strings.Join(names, ", ")))
		case what == otherSuites:
			parts = append(parts, fmt.Sprintf("%s (%s, …)", what, strings.Join(names[:3], ", ")))
		default:
			parts = append(parts, fmt.Sprintf("%s (%s, …)", what, names[0]))
		}
	}
	return strings.Join(parts, ", ")
}

// offerKind names the kind of suite s that Go does not implement, for
// unsupportedOffers: its first trait in this order, otherSuites for none.
func offerKind(s inspect.CipherSuite, known bool) string {
	switch {
	case !known:
	case s.KeyExchange == "DHE":
		return "DHE key exchange"
	case s.KeyExchange == "ECDH":
		return "static ECDH key exchange"
	case s.KeyExchange == "DH":
		return "static DH key exchange"
	case s.Auth == "DSS":
		return "DSS certificates"
	case s.Mode == "CCM" || s.Mode == "CCM_8":
		return "AES-CCM"
	case strings.HasPrefix(s.Cipher, "Camellia"):
		return "Camellia"
	case strings.HasPrefix(s.Cipher, "ARIA"):
		return "ARIA"
	case s.Cipher == "SEED":
		return "SEED"
	case s.KeyExchange == "PSK" || s.Auth == "PSK":
		return "PSK key exchange"
	case s.KeyExchange == "SRP":
		return "SRP key exchange"
	case s.Auth == "anon":
		return "anonymous key exchange"
	case s.Export:
		return "export cipher suites"
	case s.KeyExchange == "NULL" || s.Cipher == "NULL":
		return "NULL encryption"
	}
	return otherSuites // e.g. TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384
}

// unsupportedParams names the groups and signature schemes the client
// offered that Go's TLS stack cannot, e.g. "the groups x448, ffdhe2048" or
// "RSA-PSS certificates (rsa_pss_pss_sha256, …)"; with tls13 also the
// TLS 1.3 cipher suites it lacks (AES-CCM). "" when there are none.
func unsupportedParams(h *inspect.ClientHello, tls13 bool) string {
	if h == nil {
		return ""
	}
	var parts []string
	if tls13 {
		var suites []string
		for _, id := range h.CipherSuites {
			if gotls.IsTLS13Suite(id) && !gotls.TLS13Suite(id) {
				suites = append(suites, inspect.CipherSuiteName(id))
			}
		}
		if len(suites) > 0 {
			parts = append(parts, "the TLS 1.3 cipher suites "+strings.Join(suites, ", "))
		}
	}
	var groups []string
	for _, g := range h.Groups {
		if !inspect.IsGREASE(g) && !gotls.Group(g) {
			groups = append(groups, inspect.GroupName(g))
		}
	}
	if len(groups) > 0 {
		parts = append(parts, "the groups "+strings.Join(groups, ", "))
	}
	kinds := []struct{ prefix, what string }{
		{"rsa_pss_pss_", "RSA-PSS certificates"}, {"ed448", "Ed448 certificates"},
		{"dsa_", "DSA certificates"}, {"ecdsa_brainpool", "Brainpool certificates"},
	}
	found := map[string][]string{}
	for _, sc := range h.SignatureAlgorithms {
		if gotls.Scheme(sc) || inspect.IsGREASE(sc) {
			continue
		}
		name := inspect.SignatureSchemeName(sc)
		for _, k := range kinds {
			if strings.HasPrefix(name, k.prefix) {
				found[k.what] = append(found[k.what], name)
				break
			}
		}
	}
	for _, k := range kinds {
		switch names := found[k.what]; len(names) {
		case 0:
		case 1:
			parts = append(parts, fmt.Sprintf("%s (%s)", k.what, names[0]))
		default:
			parts = append(parts, fmt.Sprintf("%s (%s, …)", k.what, names[0]))
		}
	}
	return strings.Join(parts, ", ")
}
