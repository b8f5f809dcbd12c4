package proxy

import (
	"context"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"slices"
	"syscall"
	"time"

	"github.com/tlslens/tlslens/inspect"
	"github.com/tlslens/tlslens/proxy/internal/advice"
	"github.com/tlslens/tlslens/proxy/internal/gotls"
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
// offer (docs/design.md, step 3), and fills the record's upstream side. It retries
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
	side.Resolved = s.resolved()
	if err != nil {
		msg := advice.Dial(s.target, err, p.opts.DialTimeout)
		att.Error = msg
		return nil, att, &upstreamError{outcome: inspect.OutcomeUpstreamUnreachable, msg: msg, err: err}
	}
	side.Addr, side.Local = raw.RemoteAddr().String(), raw.LocalAddr().String()

	rc := newRecordingConn(s.cap.upstreamConn(raw), 256<<10)
	rc.readSize = recordingSize // the server's flight, with its chain
	keys := &keyLog{out: p.keyLogOut()}
	var verify *inspect.Verify
	var verr error // why verify failed, for advice.Verify
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
	side.Chain, side.Verify, side.OfferDelta = nil, nil, nil // a compat retry's facts replace the first attempt's
	if h, perr := inspect.ParseClientHello(written); perr == nil {
		side.Hello = h.Hello()
		side.OfferDelta = inspect.OfferDelta(s.hello, h, gotls.Stack(), compat)
	}
	flight, _ := inspect.ParseServerFlight(read, keys.Bytes())
	s.cap.keyLog(keys.Bytes())
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
		var verdict *verdictError
		facts := advice.HandshakeFacts{Compat: compat, Asked: asked, SentCert: sentCert != nil,
			Name: name, Hello: s.hello, Timeout: p.opts.HandshakeTimeout, Read: read, SNI: cfg.ServerName,
			AfterHandshake: errors.As(err, &verdict)}
		if compat && len(side.Attempts) > 0 {
			facts.FirstAlert = side.Attempts[len(side.Attempts)-1].Alert
		}
		if flight != nil {
			if certs, _ := inspect.ParseChain(flight.Certificates); len(certs) > 0 {
				// The server presented its chain before the handshake
				// failed (a client certificate refused, say): keep it, and
				// its verification if crypto/tls got that far.
				side.Chain, side.Verify = inspect.Chain(certs), verify
				if k, ok := certs[0].PublicKey.(*rsa.PublicKey); ok {
					facts.RSABits = k.N.BitLen()
				}
			}
			if flight.KeyExchange != nil {
				facts.SigAlg = flight.KeyExchange.SignatureAlgorithm
			}
		}
		msg := advice.Handshake(err, side.Alert, facts)
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
		msg := advice.Verify(verr, st.PeerCertificates)
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

// upstreamConfig is "mirror-lite" (docs/design.md, step 3): the client's versions,
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
		cfg.CipherSuites = gotls.AllSuites()
		return cfg
	}
	cfg.MinVersion, cfg.MaxVersion = h.VersionRange()
	go12 := gotls.AllSuites()
	for _, id := range h.CipherSuites {
		if slices.Contains(go12, id) {
			cfg.CipherSuites = append(cfg.CipherSuites, id)
		}
	}
	for _, g := range h.Groups {
		if gotls.Group(g) {
			cfg.CurvePreferences = append(cfg.CurvePreferences, tls.CurveID(g))
		}
	}
	return cfg
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
	for {
		if n, ok := inspect.RecordLen(c.ahead); ok && len(c.ahead) >= n {
			return
		}
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
