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
// The caller has set s.hello, the record's client hello and its reason.
func (p *Proxy) passthrough(ctx context.Context, c net.Conn, s *session, raw []byte) {
	s.rec.Mode = inspect.ModePassthrough
	side := &inspect.Side{Hello: s.rec.Client.Hello} // forwarded untouched: the same bytes
	s.rec.Upstream = side
	start := time.Now()

	up, err := p.dial(ctx, s)
	side.Resolved = s.resolved()
	if err != nil {
		err = &passError{dial: true, err: err}
	} else {
		side.Addr, side.Local = up.RemoteAddr().String(), up.LocalAddr().String()
		if _, werr := up.Write(raw); werr != nil {
			up.Close()
			up, err = nil, &passError{err: werr}
		}
	}
	var flight []byte
	var wg sync.WaitGroup
	answer := newClientAnswer()
	if up != nil {
		c.SetDeadline(time.Time{}) // the client's reads are bounded by idleReader from now on
		wg.Add(1)
		go func() { // client → server: the rest of the client's handshake, then its data
			defer wg.Done()
			io.Copy(up, io.TeeReader(&idleReader{Conn: c, idle: p.opts.IdleTimeout}, answer))
			answer.end()
			closeWrite(up)
		}()
		flight, err = p.readClearAnswer(up, c, inspect.ServerFlightDone)
	}
	side.DurationMS = msSince(start)
	out := p.recordPassthrough(s, flight, err)
	if out == inspect.OutcomeOK && side.ServerHello != nil && side.ServerHello.Version != "TLS 1.3" {
		if v := p.clientVerdict(s, answer); v != "" {
			out = v
		}
	}
	s.rec.Outcome = out // the one place a passthrough's outcome is set
	s.rec.Readiness = inspect.ReadinessOf(s.rec, s.hello)
	p.emit(s.rec)
	if up == nil {
		c.Close()
		return
	}

	readErr := err
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

// readClearAnswer reads what a server sends in clear in answer to a
// ClientHello, within HandshakeTimeout, and returns a copy of it up to
// done (inspect.ServerFlightDone for a passthrough), more than
// maxClearFlight bytes, or the error that ended it first. When fwd is not
// nil each read is written to it at once (passthrough forwards the flight
// to the client); a failed write ends the reading too. Passthrough and the
// probe (probe.go) read the server's answer here.
func (p *Proxy) readClearAnswer(up net.Conn, fwd io.Writer, done func([]byte) bool) ([]byte, error) {
	up.SetReadDeadline(time.Now().Add(p.opts.HandshakeTimeout))
	var flight []byte
	buf := make([]byte, 32<<10)
	var readErr error
	for {
		n, err := up.Read(buf)
		if n > 0 {
			if fwd != nil {
				if _, werr := fwd.Write(buf[:n]); werr != nil && readErr == nil {
					readErr = werr
				}
			}
			flight = append(flight, buf[:n]...)
		}
		if err != nil && readErr == nil {
			readErr = err
		}
		if readErr != nil || done(flight) || len(flight) > maxClearFlight {
			return flight, readErr
		}
	}
}

// passError is why a passthrough never reached the server's answer: the
// dial failed, or the server closed before the client's hello was forwarded.
type passError struct {
	dial bool
	err  error
}

func (e *passError) Error() string { return "proxy: passthrough: " + e.err.Error() }
func (e *passError) Unwrap() error { return e.err }

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
// It returns the outcome the client's answer gives, "" when it refused
// nothing.
func (p *Proxy) clientVerdict(s *session, a *clientAnswer) inspect.Outcome {
	select {
	case <-a.ready:
	case <-time.After(min(clientVerdictWait, p.opts.HandshakeTimeout)):
		return ""
	}
	a.mu.Lock()
	b := a.b
	a.mu.Unlock()
	level, alert, ok := inspect.ParseAlert(b)
	if !ok || level != inspect.AlertLevelFatal {
		return ""
	}
	s.rec.Client.Alert = alert
	if certRejectAlerts[alert] {
		s.rec.Client.Error = fmt.Sprintf("the client rejected the server's own certificate with alert %s (passthrough: tlslens presented nothing)", alert)
		return inspect.OutcomeClientRejectedCertificate
	}
	s.rec.Client.Error = fmt.Sprintf("the client refused the server's handshake with alert %s (passthrough: the server's own certificate and parameters)", alert)
	return inspect.OutcomeClientHandshakeFailed
}

// recordPassthrough fills the upstream side of a passthrough record, and
// returns its outcome, from the server's clear flight and how reading it
// ended, or how the dial or the forwarding of the hello failed before
// (readErr, no flight).
func (p *Proxy) recordPassthrough(s *session, flight []byte, readErr error) inspect.Outcome {
	return p.clearAnswer(s.rec.Upstream, s.target, flight, readErr, false)
}

// clearAnswer fills side from a server's clear answer to a client's own
// ClientHello (flight, read by readClearAnswer) and how reading it ended, or
// how the dial to target or the sending of the hello failed before (readErr,
// a *passError, no flight), and returns the outcome it gives a passthrough.
// retryEnds is set for the probe, which sends no second ClientHello: a
// HelloRetryRequest is the whole answer then.
func (p *Proxy) clearAnswer(side *inspect.Side, target string, flight []byte, readErr error, retryEnds bool) inspect.Outcome {
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
	var pe *passError
	switch {
	case errors.As(readErr, &pe) && pe.dial:
		side.Error = advice.Dial(target, pe.err, p.opts.DialTimeout)
		return inspect.OutcomeUpstreamUnreachable
	case errors.As(readErr, &pe):
		side.Error = fmt.Sprintf("the server closed the connection before the ClientHello could be forwarded: %v", pe.err)
		return inspect.OutcomeUpstreamHandshakeFailed
	case f.Alert != "" && f.AlertLevel != "warning":
		side.Error = fmt.Sprintf("the server refused the client's handshake with alert %s", f.Alert)
		return inspect.OutcomeUpstreamHandshakeFailed
	case f.ServerHello != nil && !f.ServerHello.HelloRetry:
		return inspect.OutcomeOK
	case retryEnds && f.HelloRetry != nil && f.ServerHello == nil:
		return inspect.OutcomeOK
	case readErr == nil && len(flight) > maxClearFlight:
		side.Error = fmt.Sprintf("the server sent more than %d bytes without a ServerHello: it is not speaking TLS", maxClearFlight)
		return inspect.OutcomeUpstreamHandshakeFailed
	case errors.As(readErr, &ne) && ne.Timeout():
		side.Error = fmt.Sprintf("the server did not answer the ClientHello within %s", p.opts.HandshakeTimeout)
		return inspect.OutcomeUpstreamHandshakeFailed
	case len(flight) == 0:
		side.Error = "the server closed the connection without answering the ClientHello: it may not speak TLS on this port, or refused the client's offer"
		return inspect.OutcomeUpstreamHandshakeFailed
	default:
		side.Error = "the server's answer is not a TLS ServerHello"
		if readErr != nil {
			side.Error = "the connection ended before the server's ServerHello was complete"
		}
		return inspect.OutcomeUpstreamHandshakeFailed
	}
}

// denyTLS refuses a connection whose server name is denied by policy, after
// its CONNECT was accepted: the client gets a fatal access_denied alert (RFC
// 8446 §6.2), which TLS stacks report as such, and the record says why.
func (p *Proxy) denyTLS(c net.Conn, s *session, reason string) {
	c.Write(inspect.AlertRecord(inspect.AlertLevelFatal, "access_denied"))
	s.denied = true
	s.rec.Reason = reason
	s.rec.Client.Error = "denied by policy"
}
