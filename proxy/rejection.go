package proxy

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/tlslens/tlslens/inspect"
)

// This file tells a client that rejected tlslens's certificate (it does not
// trust the tlslens CA, or pins the server's certificate) from one that
// failed or went away for another reason, during the handshake and after
// it, and counts rejections toward automatic passthrough.

// clientOutcome decides the outcome of a session whose client failed, from
// the facts its steps left (the error, the alert, whether tlslens's flight
// was sent, whether the client was already gone), and sets the client
// side's error to say why.
func (p *Proxy) clientOutcome(s *session) inspect.Outcome {
	side := s.rec.Client
	out := inspect.OutcomeClientHandshakeFailed
	if s.handshakeErr != nil {
		out, side.Error = classifyClientErr(s.handshakeErr, side.Alert, s.sentFlight, p.opts.HandshakeTimeout)
		if why := p.handshakeAdvice(s); why != "" {
			side.Error = why
		}
	}
	if s.gone && side.Alert == "" {
		// The client had closed the connection after its ClientHello,
		// before tlslens answered: it did not see the certificate, so it
		// did not reject it.
		out = inspect.OutcomeClientHandshakeFailed
		side.Error = "the client closed the connection after its ClientHello, before tlslens answered (it gave up waiting, or was stopped)"
	}
	if out == inspect.OutcomeClientRejectedCertificate && side.Alert == "" && p.spare(s) {
		// No alert, and the client uses another connection to the host
		// with tlslens's certificate: a browser dropping a spare
		// connection mid-handshake, not a rejection.
		out = inspect.OutcomeClientHandshakeFailed
		side.Error = "the client closed the connection during the handshake while it had another connection to this host open: a browser dropping a spare connection it no longer needed, not a certificate rejection"
	}
	return out
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

// noteRejection counts a client's rejection of the proxy's certificate
// toward automatic passthrough for its host.
func (p *Proxy) noteRejection(s *session) {
	if p.auto.reject(s.name()) {
		_, why := p.auto.active(s.name())
		p.log.WithFields(logrus.Fields{"id": s.id, "host": s.name(), "reason": why}).Warn("auto passthrough engaged")
	}
}

// pinningCloseWindow is how soon after the handshake a close without a
// request counts as a certificate rejection, for the record and for
// automatic passthrough; it is also how long the record of a connection
// served over HTTP waits for a first request.
const pinningCloseWindow = 2 * time.Second

// settle writes the record held for a session served over HTTP, once: at
// its first request, when the client closes (closed is when; zero
// otherwise), or when pinningCloseWindow has passed. A close without a
// request while the record is held is a rejection after the handshake (a
// client that pins the server's certificate or checks it only after the
// handshake, as OkHttp and wget do), unless the client has another
// connection to the host open (a browser closing a spare) or the proxy is
// stopping and closed it. It reports whether the record was still held.
func (p *Proxy) settle(s *session, closed time.Time) bool {
	if !s.held.Load() {
		return false
	}
	s.hold.Stop()
	return p.settled(s, closed)
}

// settled is settle without stopping the timer: the timer's own call.
func (p *Proxy) settled(s *session, closed time.Time) bool {
	if !s.held.CompareAndSwap(true, false) {
		return false
	}
	if closed.IsZero() || s.requests.Load() > 0 || p.stopping.Load() {
		p.record(s)
		return true
	}
	if !p.spare(s) {
		p.rejectedAfterHandshake(s)
		return true
	}
	// The other connection may be one the client closed just before, not
	// yet noticed: look again a moment later, as closedUnused does.
	time.AfterFunc(spareRecheck, func() {
		if p.spare(s) {
			p.log.WithField("id", s.id).WithField("target", s.target).Debug(
				"client closed a spare connection without a request: it has another connection to the host open")
			p.record(s)
			return
		}
		p.rejectedAfterHandshake(s)
	})
	return true
}

// rejectedAfterHandshake records a session whose client closed right after
// a successful handshake without a request.
func (p *Proxy) rejectedAfterHandshake(s *session) {
	p.log.WithField("id", s.id).WithField("target", s.target).Warn(
		"client closed without sending a request after a successful handshake: the app may pin its certificate after the handshake")
	s.rec.Outcome = inspect.OutcomeClientRejectedCertificate
	s.rec.Client.Stage = stageAfterHandshake
	s.rec.Client.Error = "the client closed the connection right after the handshake without sending a request: it likely checks the certificate after the handshake and does not trust the tlslens CA (install it), or pins the server's certificate (add the host to passthrough)"
	p.record(s)
}

// stageAfterHandshake is the client side's stage when it failed after a
// handshake that succeeded.
const stageAfterHandshake = "after_handshake"

// closedUnused logs a client that closed its connection after a successful
// handshake without sending anything, and counts it as a rejection when it
// closed at once.
func (p *Proxy) closedUnused(s *session) {
	if p.spare(s) {
		// A browser opens several connections at once and closes, unused,
		// those an HTTP/2 connection to the same host made redundant. Look
		// again a moment later: the other connection may be one the client
		// closed just before, not yet noticed.
		closed := time.Now()
		time.AfterFunc(spareRecheck, func() {
			if p.spare(s) {
				p.log.WithField("id", s.id).WithField("target", s.target).Debug(
					"client closed a spare connection without a request: it has another connection to the host open")
				return
			}
			p.unused(s, closed)
		})
		return
	}
	p.unused(s, time.Now())
}

// spareRecheck is how long after a close without a request the client's
// other connections to the host are checked again.
const spareRecheck = 250 * time.Millisecond

// unused judges a connection closed at closed without a request. Pinning
// enforced after the handshake (OkHttp's CertificatePinner) closes at once:
// within pinningCloseWindow of the handshake it is warned about and counted
// as a rejection. A browser's preconnection completes the handshake and
// idles until it is needed or dropped: one that idled past the window
// before closing is neither warned about nor counted (its record, written
// at the window, says ok).
func (p *Proxy) unused(s *session, closed time.Time) {
	if idle := closed.Sub(s.ready); idle >= pinningCloseWindow {
		p.log.WithField("id", s.id).WithField("target", s.target).WithField("idle", idle.Round(time.Millisecond).String()).Debug(
			"client closed an idle connection without a request: a preconnection it did not need, not a rejection")
		return
	}
	p.log.WithField("id", s.id).WithField("target", s.target).Warn(
		"client closed without sending a request after a successful handshake: the app may pin its certificate after the handshake")
	p.noteRejection(s)
}

// spare reports whether the client that opened s still has another
// connection open to the same host, served or still in its handshakes:
// browsers race several connections and close the spare ones once an
// HTTP/2 connection is up, sometimes before its first request arrives (or
// before the connection it keeps has finished its own handshakes), so
// closing s unused was not a rejection. A pinning client closes every
// connection, so the last of a parallel batch still counts.
func (p *Proxy) spare(s *session) bool {
	name := s.name()
	found := false
	p.conns.Range(func(_, v any) bool {
		o, ok := v.(*session) // not a *plainIntercepted (plain HTTP handed to Intercept)
		if ok && o != s && strings.EqualFold(o.name(), name) && o.clientIP == s.clientIP {
			found = true
		}
		return !found
	})
	if found {
		return true
	}
	// Sessions still opening: their CONNECT host (their server name is
	// being read), which a browser's spare shares.
	p.opening.Range(func(k, _ any) bool {
		o := k.(*session)
		if o != s && (strings.EqualFold(o.host, s.host) || strings.EqualFold(o.host, name)) && o.clientIP == s.clientIP {
			found = true
		}
		return !found
	})
	return found
}

// peerClosed reports whether the client behind c has already closed its side
// (or reset the connection), without consuming any byte it sent.
func peerClosed(c net.Conn) bool {
	tc := tcpConn(c)
	if tc == nil {
		return false
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return false
	}
	return peekClosed(rc)
}

// tcpConn unwraps the proxy's own wrappers around an accepted connection.
func tcpConn(c net.Conn) *net.TCPConn {
	for range 8 {
		switch v := c.(type) {
		case *net.TCPConn:
			return v
		case *acceptedConn:
			c = v.Conn
		case *liveConn:
			c = v.Conn
		case *limitedConn:
			c = v.Conn
		default:
			return nil
		}
	}
	return nil
}
