package proxy

import (
	"bytes"
	"context"
	"crypto/rsa"
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
)

var errConnReset = syscall.ECONNRESET

// An upstreamError is why the upstream connection cannot be used, in words a
// person can act on, with the outcome it gives the record.
type upstreamError struct {
	outcome inspect.Outcome
	msg     string
	err     error
	// certAsked: the server asked for a client certificate, so a failure
	// is about that, and the compat retry would fail the same way.
	certAsked bool
}

func (e *upstreamError) Error() string { return e.msg }
func (e *upstreamError) Unwrap() error { return e.err }

// dialUpstream dials the target and handshakes with it, mirroring the client's
// offer (DESIGN.md step 3), and fills the record's upstream side. It retries
// once with a legacy-compatible offer when the server refuses the first one.
func (p *Proxy) dialUpstream(ctx context.Context, s *session) (*tls.Conn, error) {
	side := &inspect.Side{}
	s.rec.Upstream = side
	start := time.Now()
	defer func() { side.DurationMS = msSince(start) }()

	conn, att, err := p.upstreamAttempt(ctx, s, side, false)
	if err != nil && retryable(err, att) {
		side.Attempts = append(side.Attempts, att)
		conn, _, err = p.upstreamAttempt(ctx, s, side, true)
		s.compat = err == nil
	}
	if err != nil {
		var ue *upstreamError
		if errors.As(err, &ue) && side.Error == "" {
			side.Error = ue.msg
		}
		return nil, err
	}
	return conn, nil
}

// retryable reports whether a failed first attempt may succeed with the compat
// offer: the server refused the version or suites, or hung up on the hello.
func retryable(err error, att inspect.Attempt) bool {
	var ue *upstreamError
	if !errors.As(err, &ue) || ue.outcome != inspect.OutcomeUpstreamHandshakeFailed || ue.certAsked {
		return false
	}
	switch att.Alert {
	case "handshake_failure", "protocol_version", "insufficient_security", "illegal_parameter", "decode_error":
		return true
	case "":
		return isClosed(ue.err)
	}
	return false
}

// upstreamAttempt makes one TCP connection and TLS handshake upstream. The
// side gets this attempt's facts; the Attempt summarises it if it failed.
func (p *Proxy) upstreamAttempt(ctx context.Context, s *session, side *inspect.Side, compat bool) (*tls.Conn, inspect.Attempt, error) {
	var att inspect.Attempt
	dialStart := time.Now()
	raw, err := p.dial(ctx, s)
	rtt := time.Since(dialStart) // a TCP handshake: about one round trip
	if err != nil {
		msg := describeDialErr(s.target, err, p.opts.DialTimeout)
		att.Error = msg
		return nil, att, &upstreamError{outcome: inspect.OutcomeUpstreamUnreachable, msg: msg, err: err}
	}
	side.Addr, side.Local = raw.RemoteAddr().String(), raw.LocalAddr().String()

	rc := newRecordingConn(raw, 256<<10)
	rc.readSize = recordingSize // the server's flight, with its chain
	keys := &keyLog{out: p.keyLogOut()}
	var verify *inspect.Verify
	var verr error // why verify failed, for describeVerifyErr
	name := s.name()
	cfg := upstreamConfig(s.hello, s.sni, s.host, compat)
	cfg.KeyLogWriter = keys
	// Verification runs here rather than in crypto/tls so that its result is
	// recorded whatever the policy; strict policy acts on it after the handshake.
	cfg.InsecureSkipVerify = true
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		err := p.verified.verify(cs.PeerCertificates, name, p.opts.UpstreamRoots, time.Now())
		verr = err
		verify = &inspect.Verify{OK: err == nil, Roots: p.opts.UpstreamRootsName}
		if err != nil {
			verify.Error = err.Error()
		}
		return nil
	}
	var asked bool                // the server sent a CertificateRequest
	var sentCert *tls.Certificate // what tlslens answered it with; nil: an empty Certificate
	cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		asked = true
		if p.opts.ClientCertificate != nil {
			if c := p.opts.ClientCertificate(name); c != nil {
				sentCert = c
				return c, nil
			}
		}
		return &tls.Certificate{}, nil // an empty Certificate: the server decides
	}
	pc := &peekConn{Conn: rc}
	tc := tls.Client(pc, cfg)
	// A deadline rather than a context bounds the handshake: a context
	// would cost crypto/tls a goroutine per handshake to watch it.
	raw.SetDeadline(time.Now().Add(p.opts.HandshakeTimeout))
	err = tc.Handshake()
	raw.SetDeadline(time.Time{})
	if err == nil && asked && tc.ConnectionState().Version == tls.VersionTLS13 {
		// In TLS 1.3 the client's handshake is over before the server has
		// read the client's Certificate: its verdict (an alert such as
		// certificate_required, or session tickets) comes after. Read it
		// now, so the record says whether the server accepted.
		pc.readRecord(min(max(verdictWait, 4*rtt), p.opts.HandshakeTimeout))
	}
	read, written := rc.stop()
	if sentCert != nil {
		if leaf, perr := leafOf(sentCert); perr == nil {
			cc := inspect.Certificate(leaf)
			side.ClientCertificate = &cc
		}
	} else {
		side.ClientCertificate = nil
	}

	side.Hello, side.ServerHello, side.KeyExchange, side.CertificateRequest, side.Alert = nil, nil, nil, nil, ""
	side.Chain, side.Verify = nil, nil // a compat retry's facts replace the first attempt's
	if h, perr := inspect.ParseClientHello(written); perr == nil {
		side.Hello = h.Hello()
	}
	flight, _ := inspect.ParseServerFlight(read, keys.Bytes())
	keys.release()
	if flight != nil {
		side.ServerHello = flight.ServerHelloRecord()
		side.KeyExchange = flight.KeyExchange
		side.CertificateRequest = flight.CertificateRequest
		side.Alert = flight.Alert
	}
	if side.Alert == "" {
		side.Alert = remoteAlert(err)
	}
	if err == nil && flight != nil && flight.Alert != "" && flight.AlertLevel != "warning" {
		err = &verdictError{alert: flight.Alert} // the server refused after the handshake (TLS 1.3 mTLS)
	}
	if err != nil {
		tc.Close()
		facts := handshakeFacts{compat: compat, asked: asked, sentCert: sentCert != nil,
			name: name, hello: s.hello, timeout: p.opts.HandshakeTimeout, read: read, sni: cfg.ServerName}
		if compat && len(side.Attempts) > 0 {
			facts.firstAlert = side.Attempts[len(side.Attempts)-1].Alert
		}
		if flight != nil {
			if certs, _ := inspect.ParseChain(flight.Certificates); len(certs) > 0 {
				// The server presented its chain before the handshake
				// failed (a client certificate refused, say): keep it, and
				// its verification if crypto/tls got that far.
				side.Chain, side.Verify = inspect.Chain(certs), verify
				if k, ok := certs[0].PublicKey.(*rsa.PublicKey); ok {
					facts.rsaBits = k.N.BitLen()
				}
			}
			if flight.KeyExchange != nil {
				facts.sigAlg = flight.KeyExchange.SignatureAlgorithm
			}
		}
		msg := describeHandshakeErr(err, side.Alert, facts)
		att = inspect.Attempt{Hello: side.Hello, ServerHello: side.ServerHello, Alert: side.Alert, Error: msg}
		return nil, att, &upstreamError{outcome: inspect.OutcomeUpstreamHandshakeFailed, msg: msg, err: err, certAsked: asked}
	}

	st := tc.ConnectionState()
	side.Negotiated = negotiated(st)
	side.Chain = p.certs.chain(st.PeerCertificates)
	stapled, scts := len(st.OCSPResponse) > 0, len(st.SignedCertificateTimestamps)
	side.OCSPStapled, side.SCTs = &stapled, &scts
	side.Verify = verify
	if verify != nil && !verify.OK && p.opts.Verify == VerifyStrict {
		tc.Close()
		msg := describeVerifyErr(verr, st.PeerCertificates)
		return nil, att, &upstreamError{outcome: inspect.OutcomeUpstreamVerifyFailed, msg: msg}
	}
	return tc, att, nil
}

// redial opens another upstream connection for a session whose first one
// was closed (keep-alive expiry, or HTTP/1.1 concurrency). It is verified
// like the first; its facts are not in the record, which is already written.
func (p *Proxy) redial(ctx context.Context, s *session) (net.Conn, error) {
	p.log.WithField("id", s.id).Debug("upstream redial")
	var side inspect.Side
	c, _, err := p.upstreamAttempt(ctx, s, &side, s.compat)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// dialLoopback wraps dial so that "localhost" and names under ".localhost"
// reach a server that listens on only one of the loopback addresses: they
// are the loopback addresses (RFC 6761 §6.3), and curl and browsers try
// both whatever /etc/hosts lists, so a server on [::1] alone works for them
// directly where localhost resolves to 127.0.0.1 only.
func dialLoopback(dial func(ctx context.Context, network, addr string) (net.Conn, error)) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		host, port, serr := net.SplitHostPort(addr)
		host = strings.ToLower(strings.TrimSuffix(host, "."))
		if err == nil || serr != nil || ctx.Err() != nil || (host != "localhost" && !strings.HasSuffix(host, ".localhost")) {
			return c, err
		}
		for _, ip := range []string{"::1", "127.0.0.1"} {
			if c, lerr := dial(ctx, network, net.JoinHostPort(ip, port)); lerr == nil {
				return c, nil
			}
		}
		return nil, err
	}
}

// goCurves are the groups crypto/tls implements, for mirroring the client's.
var goCurves = []tls.CurveID{tls.X25519MLKEM768, tls.SecP256r1MLKEM768, tls.SecP384r1MLKEM1024,
	tls.X25519, tls.CurveP256, tls.CurveP384, tls.CurveP521}

// upstreamConfig is "mirror-lite" (DESIGN.md step 3): the client's versions,
// suites, groups and ALPN intersected with what crypto/tls implements. compat
// is the retry offer for legacy servers: TLS 1.0-1.2 and every suite Go has.
func upstreamConfig(h *inspect.ClientHello, sni, host string, compat bool) *tls.Config {
	cfg := &tls.Config{ServerName: sni}
	if sni == "" && net.ParseIP(host) == nil {
		cfg.ServerName = host // a client without SNI to a named host: name it anyway, servers need it
	}
	for _, proto := range h.ALPN {
		if proto != "" {
			cfg.NextProtos = append(cfg.NextProtos, proto)
		}
	}
	if compat {
		cfg.MinVersion, cfg.MaxVersion = tls.VersionTLS10, tls.VersionTLS12
		cfg.CipherSuites = allSuites()
		return cfg
	}
	cfg.MinVersion, cfg.MaxVersion = versionRange(h)
	go12 := allSuites()
	for _, id := range h.CipherSuites {
		if slices.Contains(go12, id) {
			cfg.CipherSuites = append(cfg.CipherSuites, id)
		}
	}
	for _, g := range h.Groups {
		if slices.Contains(goCurves, tls.CurveID(g)) {
			cfg.CurvePreferences = append(cfg.CurvePreferences, tls.CurveID(g))
		}
	}
	return cfg
}

// versionRange is the span of TLS versions the client offered that Go speaks.
func versionRange(h *inspect.ClientHello) (lo, hi uint16) {
	vs := h.SupportedVersions
	if len(vs) == 0 {
		vs = []uint16{h.LegacyVersion}
	}
	for _, v := range vs {
		if v < tls.VersionTLS10 || v > tls.VersionTLS13 {
			continue // GREASE, SSL 3.0, DTLS: nothing Go can offer
		}
		if lo == 0 || v < lo {
			lo = v
		}
		if v > hi {
			hi = v
		}
	}
	if lo == 0 {
		return tls.VersionTLS10, tls.VersionTLS13
	}
	if lo < tls.VersionTLS10 {
		lo = tls.VersionTLS10
	}
	return lo, hi
}

func describeDialErr(target string, err error, timeout time.Duration) string {
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

// handshakeFacts is what describeHandshakeErr needs to know about an attempt
// besides its error.
type handshakeFacts struct {
	compat   bool                 // the legacy-compatible retry offer was used
	asked    bool                 // the server sent a CertificateRequest
	sentCert bool                 // a configured client certificate was sent
	name     string               // the server's name
	hello    *inspect.ClientHello // the client's own offer
	timeout  time.Duration
	rsaBits  int    // the server's leaf has an RSA key of this size; 0 otherwise
	sigAlg   string // the server's key exchange signature scheme, when seen
	// firstAlert is the alert that refused the first offer, when this is
	// the compat retry: it says whether the server refused TLS 1.3's
	// version or its parameters.
	firstAlert string
	read       []byte // what the server sent on this attempt
	sni        string // the server name tlslens sent; "" for none
}

// describeHandshakeErr says why an upstream handshake failed, naming what
// is missing: a client certificate, a version, or a capability Go's TLS
// stack does not implement.
func describeHandshakeErr(err error, alert string, f handshakeFacts) string {
	var ne net.Error
	var ve *verdictError
	var rhe tls.RecordHeaderError
	after := ""
	if errors.As(err, &ve) {
		after = " after the handshake"
	}
	switch {
	case alert == "" && f.rsaBits > 0 && f.rsaBits < 1024:
		return fmt.Sprintf("the server's certificate has a %d-bit RSA key, which Go's TLS stack refuses (the minimum is 1024 bits): legacy_crypto: true accepts it", f.rsaBits)
	case alert == "" && strings.HasSuffix(f.sigAlg, "_sha1"):
		return fmt.Sprintf("the server signed its TLS 1.2 key exchange with %s, a SHA-1 signature, which Go's TLS stack refuses: legacy_crypto: true accepts it", f.sigAlg)
	// GnuTLS refuses a missing certificate with decode_error (TLS 1.2).
	case f.asked && !f.sentCert && (certRequiredAlerts[alert] || alert == "handshake_failure" || alert == "decode_error"):
		return fmt.Sprintf("the server requires a client certificate: it sent a CertificateRequest and refused the connection%s with alert %s when none was sent. None is configured for %s: add one under client_certs", after, alert, f.name)
	case f.asked && f.sentCert && certRequiredAlerts[alert]:
		return fmt.Sprintf("the server rejected the client certificate configured for %s (alert %s%s): check that it is issued by a CA the server trusts, not expired, and meant for client authentication", f.name, alert, after)
	case errors.As(err, &rhe):
		return notTLSReply(f.read, rhe)
	case alert == "unrecognized_name" && f.sni == "":
		return fmt.Sprintf("the server requires a server name it knows (alert unrecognized_name), and the client sent none (SNI) for %s: connect by host name rather than address", f.name)
	case alert == "unrecognized_name":
		return fmt.Sprintf("the server does not serve the name %q (alert unrecognized_name): check the host name", f.sni)
	case alert == "no_application_protocol":
		offered := "none"
		if f.hello != nil && len(f.hello.ALPN) > 0 {
			offered = strings.Join(f.hello.ALPN, ", ")
		}
		return fmt.Sprintf("the server accepts none of the application protocols offered (ALPN %s; alert no_application_protocol): it serves another protocol on this port", offered)
	case alert == "protocol_version":
		lo, hi := versionRange(f.hello)
		switch {
		case f.compat && hi >= tls.VersionTLS13 && paramAlerts[f.firstAlert]:
			// The first offer (with TLS 1.3) was refused for its
			// parameters, the compat one (without) for its version.
			msg := fmt.Sprintf("the server speaks only TLS 1.3 (it refused TLS 1.0 to 1.2 with alert protocol_version) and refused tlslens's TLS 1.3 offer with alert %s: it shares no key exchange group, cipher suite or signature algorithm with what Go's TLS stack implements", f.firstAlert)
			if missing := unsupportedParams(f.hello, true); missing != "" {
				return msg + ". The client also offers " + missing + ", which Go's TLS stack does not implement: the server likely requires one of those"
			}
			return msg + ": it likely requires a group such as x448 or ffdhe2048, AES-CCM, or an RSA-PSS (rsa_pss_pss_*) or Ed448 certificate, none of which Go implements"
		case f.compat:
			if hi < tls.VersionTLS13 {
				return fmt.Sprintf("the server refused TLS 1.0 to 1.2 (alert protocol_version): it likely requires TLS 1.3, which the client does not offer (the client's highest is %s)", inspect.VersionName(hi))
			}
			return "the server refused every TLS version from 1.0 to 1.2 and the client's own (alert protocol_version): it likely speaks only SSL 3.0, which Go's TLS stack does not implement"
		case lo == hi:
			return fmt.Sprintf("the server refused %s, the only version offered (alert protocol_version)", inspect.VersionName(lo))
		}
		return fmt.Sprintf("the server refused %s to %s (alert protocol_version)", inspect.VersionName(lo), inspect.VersionName(hi))
	case alert == "handshake_failure" || alert == "insufficient_security" || alert == "illegal_parameter":
		if !f.compat {
			return fmt.Sprintf("the server refused the handshake (alert %s): it shares no cipher suite, group or signature algorithm with what the client offered", alert)
		}
		missing := unsupportedOffers(f.hello)
		if params := unsupportedParams(f.hello, false); params != "" {
			missing = strings.TrimPrefix(missing+", "+params, ", ")
		}
		if missing != "" {
			return fmt.Sprintf("the server refused the handshake (alert %s) even with every version and cipher suite Go implements. The client also offers %s, which Go's TLS stack does not implement: the server likely requires one of those", alert, missing)
		}
		return fmt.Sprintf("the server refused the handshake (alert %s) even with every version and cipher suite Go implements: it likely requires DHE or DSS key exchange, a cipher suite such as AES-CCM or Camellia, or SHA-1 signatures in TLS 1.2 (legacy_crypto: true enables those), none of which Go's TLS stack implements by default", alert)
	case alert != "":
		return fmt.Sprintf("the server aborted the handshake%s with alert %s", after, alert)
	case errors.As(err, &ne) && ne.Timeout() && len(f.read) == 0:
		return fmt.Sprintf("the server accepted the TCP connection but did not answer tlslens's ClientHello: it did not complete the TLS handshake within %s, sending nothing. It may serve another protocol than TLS on this port, or be overloaded", f.timeout)
	case errors.As(err, &ne) && ne.Timeout():
		return fmt.Sprintf("the server did not complete the TLS handshake within %s (it stalled after sending %d bytes)", f.timeout, len(f.read))
	case isClosed(err):
		if f.compat {
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

// describeVerifyErr says why the upstream chain certs did not verify and
// what to do about it.
func describeVerifyErr(err error, certs []*x509.Certificate) string {
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
	implemented := allSuites()
	kinds := []struct{ marker, what string }{
		{"_DHE_", "DHE key exchange"}, {"_ECDH_", "static ECDH key exchange"}, {"_DH_", "static DH key exchange"},
		{"_DSS_", "DSS certificates"}, {"_CCM", "AES-CCM"}, {"CAMELLIA", "Camellia"}, {"ARIA", "ARIA"},
		{"SEED", "SEED"}, {"PSK", "PSK key exchange"}, {"SRP", "SRP key exchange"},
		{"_anon_", "anonymous key exchange"}, {"EXPORT", "export cipher suites"}, {"NULL", "NULL encryption"},
		{"", otherSuites}, // the rest, e.g. TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384
	}
	found := map[string][]string{}
	var order []string
	for _, id := range h.CipherSuites {
		if slices.Contains(implemented, id) || inspect.IsGREASE(id) || (id >= 0x1301 && id <= 0x1303) || id == 0x00ff || id == 0x5600 {
			continue
		}
		name := inspect.CipherSuiteName(id)
		for _, k := range kinds {
			if strings.Contains(name, k.marker) {
				if found[k.what] == nil {
					order = append(order, k.what)
				}
				found[k.what] = append(found[k.what], name)
				break
			}
		}
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

// goSchemes are the signature schemes crypto/tls implements (RFC 8446
// §4.2.3), SHA-1 included: legacy_crypto enables those in TLS 1.2.
var goSchemes = []uint16{0x0804, 0x0805, 0x0806, 0x0403, 0x0503, 0x0603, 0x0807,
	0x0401, 0x0501, 0x0601, 0x0201, 0x0203}

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
			if id>>8 == 0x13 && id > 0x1303 {
				suites = append(suites, inspect.CipherSuiteName(id))
			}
		}
		if len(suites) > 0 {
			parts = append(parts, "the TLS 1.3 cipher suites "+strings.Join(suites, ", "))
		}
	}
	var groups []string
	for _, g := range h.Groups {
		if !inspect.IsGREASE(g) && !slices.Contains(goCurves, tls.CurveID(g)) {
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
		if slices.Contains(goSchemes, sc) || inspect.IsGREASE(sc) {
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

// verdictWait is the least time tlslens waits, after a TLS 1.3 handshake in
// which the server asked for a client certificate, for the server's verdict
// on it; the wait is four round trips when that is longer. A server that
// refuses sends its alert one round trip after the client's Finished. One
// that accepts may send session tickets then, or (crypto/tls servers) not
// until it writes data, so an accepted certificate costs the whole wait. A
// refusal slower than the wait shows on the first request instead: the
// client gets an error and the record says ok.
const verdictWait = 100 * time.Millisecond

// A verdictError is a TLS 1.3 server's refusal after the client's handshake
// completed: an alert such as certificate_required.
type verdictError struct{ alert string }

func (e *verdictError) Error() string {
	return "proxy: the server sent alert " + e.alert + " after the handshake"
}

// peekConn sits under a tls.Conn so that the proxy can read records ahead
// of it: bytes read by readRecord are returned by Read first.
type peekConn struct {
	net.Conn
	ahead []byte
}

func (c *peekConn) Read(b []byte) (int, error) {
	if len(c.ahead) > 0 {
		n := copy(b, c.ahead)
		c.ahead = c.ahead[n:]
		return n, nil
	}
	return c.Conn.Read(b)
}

// readRecord reads until a whole TLS record is ahead, the peer closes or
// wait passes. It must not run concurrently with Read.
func (c *peekConn) readRecord(wait time.Duration) {
	c.Conn.SetReadDeadline(time.Now().Add(wait))
	defer c.Conn.SetReadDeadline(time.Time{})
	buf := make([]byte, 4096)
	for len(c.ahead) < 5 || len(c.ahead) < 5+(int(c.ahead[3])<<8|int(c.ahead[4])) {
		n, err := c.Conn.Read(buf)
		c.ahead = append(c.ahead, buf[:n]...)
		if err != nil {
			return
		}
	}
}

// leafOf returns a certificate's parsed leaf.
func leafOf(c *tls.Certificate) (*x509.Certificate, error) {
	if c.Leaf != nil {
		return c.Leaf, nil
	}
	if len(c.Certificate) == 0 {
		return nil, errors.New("proxy: empty certificate")
	}
	return x509.ParseCertificate(c.Certificate[0])
}
