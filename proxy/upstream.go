package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
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
	if !errors.As(err, &ue) || ue.outcome != inspect.OutcomeUpstreamHandshakeFailed {
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
	dctx, cancel := context.WithTimeout(ctx, p.opts.DialTimeout)
	raw, err := p.opts.Dial(dctx, "tcp", s.target)
	cancel()
	if err != nil {
		msg := describeDialErr(s.target, err, p.opts.DialTimeout)
		att.Error = msg
		return nil, att, &upstreamError{outcome: inspect.OutcomeUpstreamUnreachable, msg: msg, err: err}
	}
	side.Addr, side.Local = raw.RemoteAddr().String(), raw.LocalAddr().String()

	rc := newRecordingConn(raw, 256<<10)
	var keys keyLog
	var verify *inspect.Verify
	name := s.name()
	cfg := upstreamConfig(s.hello, s.sni, s.host, compat)
	cfg.KeyLogWriter = io.MultiWriter(&keys, keyLogFunc(p.writeKeyLog))
	// Verification runs here rather than in crypto/tls so that its result is
	// recorded whatever the policy; strict policy acts on it after the handshake.
	cfg.InsecureSkipVerify = true
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		err := verifyChain(cs.PeerCertificates, name, p.opts.UpstreamRoots, time.Now())
		verify = &inspect.Verify{OK: err == nil, Roots: p.opts.UpstreamRootsName}
		if err != nil {
			verify.Error = err.Error()
		}
		return nil
	}
	cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		if p.opts.ClientCertificate != nil {
			if c := p.opts.ClientCertificate(name); c != nil {
				return c, nil
			}
		}
		return &tls.Certificate{}, nil // an empty Certificate: the server decides
	}
	tc := tls.Client(rc, cfg)
	hctx, cancel := context.WithTimeout(ctx, p.opts.HandshakeTimeout)
	err = tc.HandshakeContext(hctx)
	cancel()
	read, written := rc.stop()

	side.Hello, side.ServerHello, side.KeyExchange, side.CertificateRequest, side.Alert = nil, nil, nil, nil, ""
	if h, perr := inspect.ParseClientHello(written); perr == nil {
		side.Hello = h.Hello()
	}
	flight, _ := inspect.ParseServerFlight(read, keys.Bytes())
	if flight != nil {
		if flight.ServerHello != nil {
			side.ServerHello = flight.ServerHello.ServerHello()
			side.ServerHello.HelloRetry = flight.HelloRetry != nil
			if flight.ALPN != "" {
				side.ServerHello.ALPN = flight.ALPN
			}
		}
		side.KeyExchange = flight.KeyExchange
		side.CertificateRequest = flight.CertificateRequest
		side.Alert = flight.Alert
	}
	if side.Alert == "" {
		side.Alert = remoteAlert(err)
	}
	if err != nil {
		tc.Close()
		msg := describeHandshakeErr(err, side.Alert, compat, p.opts.HandshakeTimeout)
		att = inspect.Attempt{Hello: side.Hello, ServerHello: side.ServerHello, Alert: side.Alert, Error: msg}
		return nil, att, &upstreamError{outcome: inspect.OutcomeUpstreamHandshakeFailed, msg: msg, err: err}
	}

	st := tc.ConnectionState()
	side.Negotiated = negotiated(st)
	side.Chain = inspect.Chain(st.PeerCertificates)
	stapled, scts := len(st.OCSPResponse) > 0, len(st.SignedCertificateTimestamps)
	side.OCSPStapled, side.SCTs = &stapled, &scts
	side.Verify = verify
	if verify != nil && !verify.OK && p.opts.Verify == VerifyStrict {
		tc.Close()
		msg := fmt.Sprintf("the upstream certificate is not trusted: %s", verify.Error)
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

func describeHandshakeErr(err error, alert string, compat bool, timeout time.Duration) string {
	var ne net.Error
	switch {
	case alert == "handshake_failure" || alert == "insufficient_security" || alert == "protocol_version":
		if compat {
			return fmt.Sprintf("the server refused the handshake (alert %s) even with every version and cipher suite Go implements: it likely requires DHE or DSS key exchange or SSL 3.0, which Go's TLS stack does not implement", alert)
		}
		return fmt.Sprintf("the server refused the handshake (alert %s): it shares no protocol version, cipher suite or group with what the client offered", alert)
	case alert != "":
		return fmt.Sprintf("the server aborted the handshake with alert %s", alert)
	case errors.As(err, &ne) && ne.Timeout():
		return fmt.Sprintf("the server did not complete the TLS handshake within %s", timeout)
	case isClosed(err):
		if compat {
			return "the server closed the connection during the TLS handshake, also with the legacy-compatible offer: it may not speak TLS on this port"
		}
		return "the server closed the connection during the TLS handshake: it may not speak TLS on this port"
	}
	return "the TLS handshake with the server failed: " + err.Error()
}
