package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/tlslens/tlslens/inspect"
	"github.com/tlslens/tlslens/proxy/internal/advice"
)

// maxClearFlight caps the server bytes kept for parsing in passthrough: a
// TLS 1.2 flight with a long chain is a few KiB; 256 KiB is generous.
const maxClearFlight = 256 << 10

// passthrough relays a client's TLS connection to the target without
// decrypting it (docs/design.md, "Passthrough mode"). The ClientHello already read
// (raw) is forwarded untouched, so the server sees the client's own offer and
// the client verifies the server's own certificate. What the server sends in
// clear (ServerHello; in TLS 1.2 also Certificate, ServerKeyExchange and
// CertificateRequest) is parsed for the record, which is written as soon as
// that flight is complete, or when the connection ends or times out first.
//
// The caller has set s.hello and the record's client hello; reason, if not
// empty, becomes the record's reason.
func (p *Proxy) passthrough(ctx context.Context, c net.Conn, s *session, raw []byte, reason string) {
	s.rec.Mode = inspect.ModePassthrough
	s.rec.Reason = reason
	side := &inspect.Side{Hello: s.rec.Client.Hello} // forwarded untouched: the same bytes
	s.rec.Upstream = side
	start := time.Now()

	dctx, cancel := context.WithTimeout(ctx, p.opts.DialTimeout)
	up, err := p.dial(dctx, s)
	cancel()
	side.Resolved = s.resolved()
	if err != nil {
		side.DurationMS = msSince(start)
		side.Error = advice.Dial(s.target, err, p.opts.DialTimeout)
		s.rec.Outcome = inspect.OutcomeUpstreamUnreachable
		p.emit(s.rec)
		c.Close()
		return
	}
	side.Addr, side.Local = up.RemoteAddr().String(), up.LocalAddr().String()
	if _, err := up.Write(raw); err != nil {
		side.DurationMS = msSince(start)
		side.Error = fmt.Sprintf("the server closed the connection before the ClientHello could be forwarded: %v", err)
		s.rec.Outcome = inspect.OutcomeUpstreamHandshakeFailed
		p.emit(s.rec)
		up.Close()
		c.Close()
		return
	}
	c.SetDeadline(time.Time{}) // the client's reads are bounded by idleReader from now on

	var wg sync.WaitGroup
	wg.Add(1)
	answer := newClientAnswer()
	go func() { // client → server: the rest of the client's handshake, then its data
		defer wg.Done()
		io.Copy(up, io.TeeReader(&idleReader{Conn: c, idle: p.opts.IdleTimeout}, answer))
		answer.end()
		closeWrite(up)
	}()

	// server → client: forward every byte at once, keeping a copy until the
	// clear part of the server's flight is complete.
	up.SetReadDeadline(time.Now().Add(p.opts.HandshakeTimeout))
	var flight []byte
	buf := make([]byte, 32<<10)
	var readErr error
	for {
		n, err := up.Read(buf)
		if n > 0 {
			if _, werr := c.Write(buf[:n]); werr != nil && readErr == nil {
				readErr = werr
			}
			flight = append(flight, buf[:n]...)
		}
		if err != nil && readErr == nil {
			readErr = err
		}
		if readErr != nil || inspect.ServerFlightDone(flight) || len(flight) > maxClearFlight {
			break
		}
	}
	side.DurationMS = msSince(start)
	p.recordPassthrough(s, flight, readErr)
	if s.rec.Outcome == inspect.OutcomeOK && side.ServerHello != nil && side.ServerHello.Version != "TLS 1.3" {
		p.clientVerdict(s, answer)
	}
	p.emit(s.rec)

	if readErr == nil {
		up.SetReadDeadline(time.Time{})
		io.Copy(c, &idleReader{Conn: up, idle: p.opts.IdleTimeout})
	}
	closeWrite(c)
	if readErr != nil {
		c.Close() // the server is gone or stalled: end the client's side too
		up.Close()
	}
	wg.Wait()
	c.Close()
	up.Close()
}

// closeWrite half-closes c when it can, so the peer sees EOF while the other
// direction keeps flowing, and closes it otherwise.
func closeWrite(c net.Conn) {
	for {
		switch v := c.(type) {
		case interface{ CloseWrite() error }:
			v.CloseWrite()
			return
		case *acceptedConn:
			c = v.Conn
			continue
		}
		c.Close()
		return
	}
}

// clientAnswer keeps the start of what a passthrough client sends after its
// ClientHello: the first record's type, and an alert's description. Safe for
// concurrent use.
type clientAnswer struct {
	mu    sync.Mutex
	b     []byte
	ready chan struct{}
	once  sync.Once
}

func newClientAnswer() *clientAnswer { return &clientAnswer{ready: make(chan struct{})} }

// Write keeps the first inspect.AlertRecordLen bytes (an alert record:
// header, level, description) and signals once it knows what the first
// record is.
func (a *clientAnswer) Write(p []byte) (int, error) {
	a.mu.Lock()
	if need := inspect.AlertRecordLen - len(a.b); need > 0 {
		a.b = append(a.b, p[:min(need, len(p))]...)
	}
	known := len(a.b) == inspect.AlertRecordLen || len(a.b) > 0 && a.b[0] != inspect.RecordTypeAlert
	a.mu.Unlock()
	if known {
		a.end()
	}
	return len(p), nil
}

func (a *clientAnswer) end() { a.once.Do(func() { close(a.ready) }) }

// clientVerdictWait bounds the wait for a TLS 1.2 passthrough client's
// answer to the server's flight, which comes at once.
const clientVerdictWait = 3 * time.Second

// clientVerdict waits for a TLS 1.2 passthrough client's answer to the
// server's clear flight: a client that refuses the server (its certificate,
// or parameters such as a short DH prime) sends a clear alert, which the
// record reports. TLS 1.3 clients answer encrypted, so this is 1.2 only.
func (p *Proxy) clientVerdict(s *session, a *clientAnswer) {
	select {
	case <-a.ready:
	case <-time.After(min(clientVerdictWait, p.opts.HandshakeTimeout)):
		return
	}
	a.mu.Lock()
	b := a.b
	a.mu.Unlock()
	level, alert, ok := inspect.ParseAlert(b)
	if !ok || level != inspect.AlertLevelFatal {
		return
	}
	s.rec.Client.Alert = alert
	s.rec.Outcome = inspect.OutcomeClientHandshakeFailed
	s.rec.Client.Error = fmt.Sprintf("the client refused the server's handshake with alert %s (passthrough: the server's own certificate and parameters)", alert)
	if certRejectAlerts[alert] {
		s.rec.Outcome = inspect.OutcomeClientRejectedCertificate
		s.rec.Client.Error = fmt.Sprintf("the client rejected the server's own certificate with alert %s (passthrough: tlslens presented nothing)", alert)
	}
}

// recordPassthrough fills the upstream side and the outcome of a passthrough
// record from the server's clear flight and how reading it ended.
func (p *Proxy) recordPassthrough(s *session, flight []byte, readErr error) {
	side := s.rec.Upstream
	f, _ := inspect.ParseServerFlight(flight, nil)
	side.ServerHello = f.ServerHelloRecord()
	side.KeyExchange = f.KeyExchange
	side.CertificateRequest = f.CertificateRequest
	side.Alert = f.Alert
	if len(f.Certificates) > 0 { // TLS 1.2 and earlier: the chain is in clear
		certs, _ := inspect.ParseChain(f.Certificates)
		side.Chain = inspect.Chain(certs)
		stapled, scts := len(f.OCSPResponse) > 0, f.SCTs
		side.OCSPStapled, side.SCTs = &stapled, &scts
	}
	var ne net.Error
	switch {
	case f.Alert != "" && f.AlertLevel != "warning":
		s.rec.Outcome = inspect.OutcomeUpstreamHandshakeFailed
		side.Error = fmt.Sprintf("the server refused the client's handshake with alert %s", f.Alert)
	case f.ServerHello != nil && !f.ServerHello.HelloRetry:
		s.rec.Outcome = inspect.OutcomeOK
	case readErr == nil && len(flight) > maxClearFlight:
		s.rec.Outcome = inspect.OutcomeUpstreamHandshakeFailed
		side.Error = fmt.Sprintf("the server sent more than %d bytes without a ServerHello: it is not speaking TLS", maxClearFlight)
	case errors.As(readErr, &ne) && ne.Timeout():
		s.rec.Outcome = inspect.OutcomeUpstreamHandshakeFailed
		side.Error = fmt.Sprintf("the server did not answer the ClientHello within %s", p.opts.HandshakeTimeout)
	case len(flight) == 0:
		s.rec.Outcome = inspect.OutcomeUpstreamHandshakeFailed
		side.Error = "the server closed the connection without answering the ClientHello: it may not speak TLS on this port, or refused the client's offer"
	default:
		s.rec.Outcome = inspect.OutcomeUpstreamHandshakeFailed
		side.Error = "the server's answer is not a TLS ServerHello"
		if readErr != nil {
			side.Error = "the connection ended before the server's ServerHello was complete"
		}
	}
}

// strictness orders actions when the CONNECT host and the SNI get different
// ones: the stricter applies.
var strictness = map[Action]int{ActionMITM: 0, ActionPassthrough: 1, ActionDeny: 2}

// hostAction is the policy for a connection whose ClientHello is in: rules
// match the CONNECT host and the SNI, and when the two get different
// actions the stricter applies (deny, then passthrough, then mitm), so a
// client cannot escape a rule by naming one host in CONNECT and another in
// its SNI. An IP-range rule matching an address the target resolved to
// counts too. The reason names the rule's subject for the record.
func (p *Proxy) hostAction(s *session) (Action, string) {
	act, why := p.policy(s.host), "host "+s.host
	if s.sni != "" && s.sni != s.host {
		if a := p.policy(s.sni); strictness[a] > strictness[act] {
			act, why = a, "server name "+s.sni
		}
	}
	if d := s.dest; d != nil && strictness[d.action] > strictness[act] {
		return d.action, d.reason // an address the target resolved to decided
	}
	return act, fmt.Sprintf("policy: %s (%s)", act, why)
}

// denyTLS ends a connection whose server name is denied by policy, after its
// CONNECT was accepted: the client gets a fatal access_denied alert (RFC 8446
// §6.2), which TLS stacks report as such, and the record says why.
func (p *Proxy) denyTLS(c net.Conn, s *session, reason string) {
	c.Write(inspect.AlertRecord(inspect.AlertLevelFatal, "access_denied"))
	c.Close()
	s.rec.Outcome = inspect.OutcomeDenied
	s.rec.Reason = reason
	s.rec.Client.Error = "denied by policy"
	p.emit(s.rec)
}
