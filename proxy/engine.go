package proxy

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/elazarl/goproxy"
	"github.com/sirupsen/logrus"

	"github.com/tlslens/tlslens/inspect"
	"github.com/tlslens/tlslens/proxy/internal/advice"
	"github.com/tlslens/tlslens/proxy/internal/gotls"
)

// session is one intercepted client connection and its upstream connection.
type session struct {
	id     string
	target string // host:port from the CONNECT line
	host   string // host of target, without port or brackets
	// dest is target resolved once and judged: every upstream connection
	// of the session dials its addresses, and no others.
	dest  *destination
	sni   string
	rec   *inspect.Record
	hello *inspect.ClientHello

	// upstream is the connection dialled for this client, handed to the
	// transport on its first dial; nil when the upstream failed.
	upstream atomic.Pointer[tls.Conn]
	upErr    error // why the upstream cannot be used; served as a 502
	compat   bool  // the upstream needed the legacy-compatible offer
	tr       *http.Transport
	requests atomic.Int64
	closed   sync.Once
	ready    time.Time // when both handshakes were done
	clientIP string    // the client's address without its port
}

// name is the host the client meant: its SNI, else the CONNECT host.
func (s *session) name() string {
	if s.sni != "" {
		return s.sni
	}
	return s.host
}

func (s *session) close() {
	s.closed.Do(func() {
		if c := s.upstream.Swap(nil); c != nil {
			c.Close()
		}
		if s.tr != nil {
			s.tr.CloseIdleConnections()
		}
	})
}

// hijack takes over a CONNECT: goproxy hands us the accepted connection.
func (p *Proxy) hijack(req *http.Request, c net.Conn, _ *goproxy.ProxyCtx) {
	s := p.newSession(req, c)
	if ref := p.admitConnect(req, c, s); ref != nil {
		p.refuse(c, s, ref) // access control, or CONNECT to the onboarding host
		return
	}
	if p.policy(s.host) == ActionDeny {
		p.deny(c, s)
		return
	}
	if ref := p.admitDestination(req.Context(), s); ref != nil {
		p.refuse(c, s, ref) // a bad port, or an address denied
		return
	}
	if _, err := io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		s.rec.Outcome = inspect.OutcomeClientHandshakeFailed
		s.rec.Client.Error = "the client went away before the tunnel was established: " + err.Error()
		p.emit(s.rec)
		c.Close()
		return
	}
	p.intercept(req.Context(), c, s)
}

func (p *Proxy) newSession(req *http.Request, c net.Conn) *session {
	// The connection's id, unless it already has a record (plain requests
	// before the CONNECT), or it is not one of Serve's (a stream of an
	// HTTP/2 server the Proxy is mounted on as a handler).
	return sessionFor(c, claim(c), req.URL.Host)
}

// sessionFor starts the session and record of a connection from c to
// hostport (port 443 when it has none), under id.
func sessionFor(c net.Conn, id, hostport string) *session {
	target := hostport
	host, _, err := net.SplitHostPort(target)
	if err != nil { // no port: HTTPS by default
		host = strings.Trim(target, "[]")
		target = net.JoinHostPort(host, "443")
	}
	return &session{
		id:       id,
		target:   target,
		host:     strings.ToLower(host),
		clientIP: addrHost(c.RemoteAddr().String()),
		rec: &inspect.Record{
			Schema: inspect.Schema,
			ID:     id,
			Mode:   inspect.ModeMITM,
			Target: target,
			Client: &inspect.Side{Addr: c.RemoteAddr().String(), Local: c.LocalAddr().String()},
		},
	}
}

func (p *Proxy) policy(host string) Action {
	if host == "" {
		return ActionMITM
	}
	return p.opts.Policy.Action(host)
}

// deny refuses a CONNECT with 403 and records it.
func (p *Proxy) deny(c net.Conn, s *session) {
	defer c.Close()
	body := fmt.Sprintf("tlslens: connections to %s are denied by policy\n", s.target)
	fmt.Fprintf(c, "HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len(body), body)
	s.rec.Outcome = inspect.OutcomeDenied
	s.rec.Reason = "policy: deny"
	s.rec.Client.Error = "denied by policy"
	p.emit(s.rec)
}

// intercept runs docs/design.md steps 2-6 on a client connection whose CONNECT has
// been answered.
func (p *Proxy) intercept(ctx context.Context, c net.Conn, s *session) {
	for _, host := range p.auto.sweep() {
		p.log.WithField("host", host).Info("auto passthrough expired")
	}
	ctx = context.WithoutCancel(ctx) // the outer request's context ends with the hijack
	c.SetDeadline(time.Now().Add(p.opts.HandshakeTimeout))
	first := earlyFrom(ctx) // sent behind the CONNECT, before its 200
	if len(first) == 0 {
		var handled bool
		if first, handled = p.serverFirst(ctx, c, s); handled {
			return // a server-first protocol (SSH, SMTP): recorded and relayed
		}
	}
	raw, hello, err := p.readClientHello(c, first)
	if err != nil {
		if errors.Is(err, inspect.ErrNotTLS) && !errors.Is(err, inspect.ErrSSLv2) && len(raw) > 0 {
			p.tunnel(ctx, c, s, raw, err)
			return
		}
		s.rec.Outcome = inspect.OutcomeClientHandshakeFailed
		s.rec.Client.Error = advice.Hello(err, len(raw), p.opts.HandshakeTimeout)
		p.emit(s.rec)
		c.Close()
		return
	}
	s.hello = hello
	s.sni = strings.ToLower(strings.TrimSuffix(hello.SNI, "."))
	s.rec.Client.Hello = hello.Hello()
	switch act, reason := p.hostAction(s); act {
	case ActionDeny:
		p.denyTLS(c, s, reason)
		return
	case ActionPassthrough:
		p.passthrough(ctx, c, s, raw, reason)
		return
	}
	if on, why := p.auto.active(s.name()); on {
		p.passthrough(ctx, c, s, raw, why)
		return
	}

	upCtx, cancel := context.WithTimeout(ctx, p.opts.DialTimeout+p.opts.HandshakeTimeout)
	up, upErr := p.dialUpstream(upCtx, s)
	cancel()
	s.upErr = upErr
	if up != nil {
		s.upstream.Store(up)
	}

	// The upstream's handshake time is not the client's: its own starts now.
	c.SetDeadline(time.Now().Add(p.opts.HandshakeTimeout))
	gone := peerClosed(c)
	dc, ok := p.handshakeClient(ctx, c, s, raw, up)
	if !ok && gone {
		vanished(s)
	}
	s.rec.Outcome = outcome(s, ok)
	if s.rec.Outcome == inspect.OutcomeClientRejectedCertificate && s.rec.Client.Alert == "" && p.spare(s) {
		// No alert, and the client uses another connection to the host
		// with tlslens's certificate: a browser dropping a spare
		// connection mid-handshake, not a rejection.
		s.rec.Outcome = inspect.OutcomeClientHandshakeFailed
		s.rec.Client.Error = "the client closed the connection during the handshake while it had another connection to this host open: a browser dropping a spare connection it no longer needed, not a certificate rejection"
	}
	if s.rec.Outcome == inspect.OutcomeClientRejectedCertificate {
		p.noteRejection(s)
	}
	p.emit(s.rec)
	if !ok {
		s.close()
		c.Close()
		return
	}
	c.SetDeadline(time.Time{})
	s.ready = time.Now()
	p.serve(ctx, dc, s)
}

// outcome is the one place a record's outcome is decided once both
// handshakes are done or one has failed.
func outcome(s *session, clientOK bool) inspect.Outcome {
	if !clientOK && s.rec.Outcome != "" {
		return s.rec.Outcome // set by the client handshake's classification
	}
	if s.upErr != nil {
		var ue *upstreamError
		if errors.As(s.upErr, &ue) {
			return ue.outcome
		}
		return inspect.OutcomeUpstreamHandshakeFailed
	}
	if !clientOK {
		return inspect.OutcomeClientHandshakeFailed
	}
	return inspect.OutcomeOK
}

// readClientHello reads TLS records from c, after the bytes first already
// read from it, until a whole ClientHello is in, and returns every byte read
// and the parsed hello. On error the bytes read so far are returned, so a
// non-TLS client's bytes can still be relayed. It appends to first.
func (p *Proxy) readClientHello(c net.Conn, first []byte) ([]byte, *inspect.ClientHello, error) {
	buf := first
	n, err := len(first), error(nil) // first is taken as the first read
	for {
		if n > 0 {
			switch done, ferr := inspect.HelloComplete(buf); {
			case ferr != nil:
				_, perr := inspect.ParseClientHello(buf)
				if perr == nil {
					perr = ferr
				}
				return buf, nil, perr
			case done:
				h, perr := inspect.ParseClientHello(buf)
				return buf, h, perr
			}
			if len(buf) > p.opts.MaxHelloSize {
				return buf, nil, &advice.HelloTooLargeError{Limit: p.opts.MaxHelloSize}
			}
		}
		if err != nil {
			if len(buf) > 0 {
				_, perr := inspect.ParseClientHello(buf)
				if perr != nil && !errors.Is(perr, inspect.ErrTruncated) {
					return buf, nil, perr
				}
			}
			return buf, nil, &helloReadError{err: err, got: len(buf)}
		}
		if cap(buf)-len(buf) < helloReadMin {
			buf = slices.Grow(buf, helloReadSize)
		}
		n, err = c.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
	}
}

// helloReadSize is how much readClientHello reads at once, and helloReadMin
// the least room it reads into before growing its buffer.
const (
	helloReadSize = 4096
	helloReadMin  = 1024
)

type helloReadError struct {
	err error
	got int
}

func (e *helloReadError) Error() string {
	return fmt.Sprintf("proxy: reading ClientHello (%d bytes read): %v", e.got, e.err)
}

func (e *helloReadError) Unwrap() error { return e.err }

// tunnel relays a client that did not speak TLS after CONNECT to the target,
// after recording it as not_tls.
func (p *Proxy) tunnel(ctx context.Context, c net.Conn, s *session, first []byte, why error) {
	s.rec.Mode = inspect.ModeTunnel
	s.rec.Outcome = inspect.OutcomeNotTLS
	s.rec.Client.Error = fmt.Sprintf("the client did not start a TLS handshake (%v); first bytes %q", why, preview(first))
	start := time.Now()
	dctx, cancel := context.WithTimeout(ctx, p.opts.DialTimeout)
	up, err := p.dial(dctx, s)
	cancel()
	s.rec.Upstream = &inspect.Side{Resolved: s.resolved(), DurationMS: msSince(start)}
	if err != nil {
		s.rec.Upstream.Error = advice.Dial(s.target, err, p.opts.DialTimeout)
		p.emit(s.rec)
		c.Close()
		return
	}
	s.rec.Upstream.Addr, s.rec.Upstream.Local = up.RemoteAddr().String(), up.LocalAddr().String()
	p.emit(s.rec)
	c.SetDeadline(time.Time{})
	if _, err := up.Write(first); err != nil {
		up.Close()
		c.Close()
		return
	}
	p.relay(c, up)
}

func preview(b []byte) []byte {
	if len(b) > 16 {
		return b[:16]
	}
	return b
}

func msSince(t time.Time) float64 {
	return float64(time.Since(t).Microseconds()) / 1000
}

// handshakeClient finishes the client's handshake with a leaf for its SNI,
// replaying the ClientHello already read. It fills the record's client side
// and, on failure, its outcome.
func (p *Proxy) handshakeClient(ctx context.Context, c net.Conn, s *session, hello []byte, up *tls.Conn) (*tls.Conn, bool) {
	side := s.rec.Client
	start := time.Now()
	leaf, err := p.opts.Authority.Leaf(s.name())
	if err != nil {
		s.rec.Outcome = inspect.OutcomeClientHandshakeFailed
		side.Error = fmt.Sprintf("minting a certificate for %q: %v", s.name(), err)
		return nil, false
	}
	rc := newRecordingConn(c, 256<<10)
	rc.writeSize = recordingSize // tlslens's flight, with its chain
	keys := &keyLog{out: p.keyLogOut()}
	cfg := &tls.Config{
		Certificates: []tls.Certificate{*leaf},
		NextProtos:   clientALPN(s.hello, up),
		MinVersion:   p.opts.ClientMinVersion,
		CipherSuites: gotls.AllSuites(),
		KeyLogWriter: keys,
	}
	// Shared by every client leg, so that tickets resume across connections.
	cfg.SetSessionTicketKeys([][32]byte{p.ticketKey})
	dc := tls.Server(newPrefixConn(rc, hello), cfg)
	// The connection's deadline (set by intercept) bounds the handshake: a
	// context would cost crypto/tls a goroutine per handshake to watch it.
	err = dc.Handshake()
	side.DurationMS = msSince(start)
	read, written := rc.stop()
	side.Chain = p.certs.chain([]*x509.Certificate{leaf.Leaf}) // what was sent: the leaf (ca.Authority.Leaf)

	st := dc.ConnectionState()
	flight, _ := inspect.ParseServerFlight(written, keys.Bytes())
	if flight != nil {
		side.ServerHello = flight.ServerHelloRecord()
		side.KeyExchange = flight.KeyExchange
	}
	suite := st.CipherSuite
	if suite == 0 && flight != nil && flight.ServerHello != nil {
		suite = flight.ServerHello.CipherSuite
	}
	if st.DidResume || flight == nil || flight.ServerHello == nil {
		side.Chain = nil // no Certificate was sent: resumed, or failed before the ServerHello
	}
	if err == nil {
		// tlslens asks the client for no certificate, so after a handshake
		// that succeeded the client's flight holds only its Finished:
		// nothing to decrypt for the record.
		keys.release()
		side.Negotiated = negotiated(st)
		return dc, true
	}
	cf, _ := inspect.ParseClientFlight(read, suite, keys.Bytes())
	keys.release()
	if cf != nil && len(cf.Certificates) > 0 {
		if certs, _ := inspect.ParseChain(cf.Certificates); len(certs) > 0 {
			cc := inspect.Certificate(certs[0])
			side.ClientCertificate = &cc
		}
	}
	alert := ""
	if cf != nil {
		alert = cf.Alert
	}
	if alert == "" {
		alert = remoteAlert(err)
	}
	side.Alert = alert
	s.rec.Outcome, side.Error = classifyClientErr(err, alert, len(written) > 0, p.opts.HandshakeTimeout)
	if why := advice.Unservable(s.hello, p.opts.ClientMinVersion); alert == "" && why != "" && !isClosed(err) {
		side.Error = why // crypto/tls refused the offer itself: say what the client lacks
	}
	if side.ServerHello != nil && side.KeyExchange != nil && !certRejectAlerts[alert] {
		if why := advice.SHA1Refused(side.ServerHello.Version, side.KeyExchange.SignatureAlgorithm, alert); why != "" {
			side.Error = why
		}
	}
	if _, hi := s.hello.VersionRange(); hi < p.opts.ClientMinVersion {
		side.Error = fmt.Sprintf("the client offers at most %s, below client_min_version %s: lower client_min_version to observe it",
			inspect.VersionName(hi), inspect.VersionName(p.opts.ClientMinVersion))
	}
	return nil, false
}

// certRejectAlerts are the alerts a client sends when it does not accept the
// server's certificate (RFC 8446 §6.2).
var certRejectAlerts = map[string]bool{
	"bad_certificate": true, "unsupported_certificate": true, "certificate_revoked": true,
	"certificate_expired": true, "certificate_unknown": true, "unknown_ca": true,
	"access_denied": true,
}

func classifyClientErr(err error, alert string, sentFlight bool, timeout time.Duration) (inspect.Outcome, string) {
	var ne net.Error
	switch {
	case certRejectAlerts[alert]:
		return inspect.OutcomeClientRejectedCertificate, fmt.Sprintf(
			"the client rejected tlslens's certificate (alert %s): install the tlslens CA in the client's trust store; if it is installed, the app pins its certificate: add the host to passthrough", alert)
	case alert != "":
		return inspect.OutcomeClientHandshakeFailed, fmt.Sprintf("the client aborted the handshake with alert %s", alert)
	case errors.As(err, &ne) && ne.Timeout():
		return inspect.OutcomeClientHandshakeFailed, fmt.Sprintf("the client stalled: the handshake did not finish within %s", timeout)
	case sentFlight && isClosed(err):
		return inspect.OutcomeClientRejectedCertificate,
			"the client closed the connection after receiving tlslens's certificate, without an alert: it likely does not trust the tlslens CA, or pins the server's certificate (add the host to passthrough)"
	}
	return inspect.OutcomeClientHandshakeFailed, "the client handshake failed: " + err.Error()
}

func isClosed(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, errConnReset)
}

// alertByText maps crypto/tls's alert messages back to their codes, built
// from crypto/tls's own table (tls.AlertError), so nothing is matched by hand.
var alertByText = func() map[string]uint8 {
	m := make(map[string]uint8, 256)
	for i := 0; i < 256; i++ {
		m[tls.AlertError(i).Error()] = uint8(i)
	}
	return m
}()

// remoteAlert names the alert a peer sent, from crypto/tls's "remote error".
func remoteAlert(err error) string {
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Op == "remote error" && oe.Err != nil {
		if code, ok := alertByText[oe.Err.Error()]; ok {
			return inspect.AlertName(code)
		}
	}
	return ""
}

// clientALPN is the protocol list offered to the client: the one the server
// chose, so both legs speak the same protocol (ALPN mirroring). With no
// upstream, HTTP/1.1 (for the 502 page) when the client offers it.
func clientALPN(h *inspect.ClientHello, up *tls.Conn) []string {
	if up != nil {
		if proto := up.ConnectionState().NegotiatedProtocol; proto != "" {
			return []string{proto}
		}
		return nil
	}
	for _, proto := range h.ALPN {
		if proto == "http/1.1" || proto == "h2" {
			return []string{proto}
		}
	}
	return nil
}

func negotiated(st tls.ConnectionState) *inspect.Negotiated {
	n := &inspect.Negotiated{
		Version:     inspect.VersionName(st.Version),
		CipherSuite: inspect.CipherSuiteName(st.CipherSuite),
		ALPN:        st.NegotiatedProtocol,
		Resumed:     st.DidResume,
		HelloRetry:  st.HelloRetryRequest,
		ECH:         st.ECHAccepted,
	}
	if st.CurveID != 0 {
		n.Group = inspect.GroupName(uint16(st.CurveID))
	}
	return n
}

// keyLog collects one connection's NSS key log lines, and passes each on to
// out (Options.KeyLog) when that is set.
type keyLog struct {
	out func([]byte) // nil: collect only

	mu  sync.Mutex
	buf []byte
}

// keyLogSize holds a TLS 1.3 handshake's five lines (labels, two 64-digit
// hex values, SHA-384 secrets) without growing.
const keyLogSize = 1024

func (k *keyLog) Write(b []byte) (int, error) {
	k.mu.Lock()
	if k.buf == nil {
		k.buf = make([]byte, 0, keyLogSize)
	}
	k.buf = append(k.buf, b...)
	k.mu.Unlock()
	if k.out != nil {
		k.out(b)
	}
	return len(b), nil
}

// Bytes returns the lines collected so far, not copied: crypto/tls writes
// them only during the handshake, so once that has returned they no longer
// change.
func (k *keyLog) Bytes() []byte {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.buf
}

// keyLogOut is where a leg's keyLog passes its lines on: nil without
// Options.KeyLog.
func (p *Proxy) keyLogOut() func([]byte) {
	if p.opts.KeyLog == nil {
		return nil
	}
	return p.writeKeyLog
}

// portOf returns the numeric port of a host:port, or 0.
func portOf(target string) int {
	_, port, _ := net.SplitHostPort(target)
	n, _ := strconv.Atoi(port)
	return n
}

// verifyChain verifies an upstream chain for name (a DNS name or an IP).
func verifyChain(certs []*x509.Certificate, name string, roots *x509.CertPool, now time.Time) error {
	if len(certs) == 0 {
		return errors.New("the server sent no certificate")
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	_, err := certs[0].Verify(x509.VerifyOptions{
		Roots: roots, Intermediates: inter, DNSName: name, CurrentTime: now,
	})
	return err
}

// noteRejection counts a client's rejection of the proxy's certificate
// toward automatic passthrough for its host.
func (p *Proxy) noteRejection(s *session) {
	if p.auto.reject(s.name()) {
		_, why := p.auto.active(s.name())
		p.log.WithFields(logrus.Fields{"id": s.id, "host": s.name(), "reason": why}).Warn("auto passthrough engaged")
	}
}
