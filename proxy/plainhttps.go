package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"

	"github.com/tlslens/tlslens/inspect"
)

// A client may send an https:// URL to the proxy in plain HTTP, in absolute
// form and without CONNECT (RFC 9112 §3.2.2): tlslens then opens the TLS
// connection upstream itself. Each such client connection gets, per target,
// a session of its own like an intercepted one: one upstream connection, a
// transport private to it, and one record, written once the upstream
// handshake is done. The record's client side has no TLS (no hello, no
// negotiated), its reason says why, and a finding notes that the request
// crossed the network to the proxy unencrypted.

// plainConnKey carries the outer connection in its requests' contexts.
type plainConnKey struct{}

// plainConn is one client connection's sessions for https:// targets.
type plainConn struct {
	mu       sync.Mutex
	sessions map[string]*session // by target host:port
	order    []string            // targets, oldest session first
	closed   bool
}

// maxPlainTargets bounds the upstream connections one client connection can
// hold open this way: a new target beyond it ends the oldest session (its
// requests are over: HTTP/1.1 serves a connection's requests one at a time).
var maxPlainTargets = 16 // a variable for the tests

func (pc *plainConn) close() {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	pc.closed = true
	for _, s := range pc.sessions {
		s.close()
	}
}

// outerConnContext puts the proxy connection in its requests' contexts, so
// an absolute-form https:// request finds its connection's sessions.
func (p *Proxy) outerConnContext(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, plainConnKey{}, c)
}

// outerConnState ends a proxy connection's https:// sessions with it, and
// records a connection that closes without a record (badrequest.go).
func (p *Proxy) outerConnState(c net.Conn, st http.ConnState) {
	if st != http.StateClosed && st != http.StateHijacked {
		return
	}
	if st == http.StateClosed {
		p.closedUnrecorded(c)
	}
	if v, ok := p.plain.LoadAndDelete(c); ok {
		v.(*plainConn).close()
	}
}

// plainSession returns the session for an absolute-form https:// request,
// dialling and recording the upstream on the connection's first request for
// the target. A nil session and nil response mean the request is not one
// (or arrived another way) and goes on as any proxied request.
func (p *Proxy) plainSession(r *http.Request) (*session, *http.Response) {
	c, _ := r.Context().Value(plainConnKey{}).(net.Conn)
	if c == nil || r.URL.Scheme != "https" {
		return nil, nil
	}
	target := r.URL.Host
	if _, _, err := net.SplitHostPort(target); err != nil {
		target = net.JoinHostPort(r.URL.Hostname(), "443")
	}
	v, _ := p.plain.LoadOrStore(c, &plainConn{sessions: map[string]*session{}})
	pc := v.(*plainConn)
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if pc.closed {
		return nil, errorResponse(r, http.StatusBadGateway, "tlslens: the client connection is closing", target, nil)
	}
	if s := pc.sessions[target]; s != nil {
		return s, nil
	}
	s := sessionFor(c, claim(c), target) // the connection's first record takes its id
	if ref := p.admitDestination(r.Context(), s); ref != nil {
		// Refused and recorded, and not kept: the next request judges again.
		s.refused(ref)
		s.rec.Outcome = p.outcome(s)
		p.record(s)
		return nil, ref.response(r)
	}
	p.openPlain(r.Context(), s)
	s.tr = p.transport(s)
	if len(pc.order) >= maxPlainTargets {
		oldest := pc.order[0]
		pc.sessions[oldest].close()
		delete(pc.sessions, oldest)
		pc.order = pc.order[1:]
	}
	pc.sessions[target] = s
	pc.order = append(pc.order, target)
	return s, nil
}

// openPlain dials and handshakes the upstream of an https:// target
// requested without CONNECT, with tlslens's default offer. Its deferred
// finish, the one every session ends its opening with, decides the outcome
// and writes the record; the session stays open for the client
// connection's requests to the target.
func (p *Proxy) openPlain(ctx context.Context, s *session) {
	s.next = nextPlain
	defer p.finish(s)
	s.rec.Reason = inspect.ReasonPlainHTTPS
	s.rec.Via = inspect.ViaHTTPSWithoutConnect
	hello, err := defaultOffer()
	if err != nil {
		s.upErr = err
		s.rec.Upstream = &inspect.Side{Error: err.Error()}
		return
	}
	s.hello = hello
	up, upErr := p.dialUpstream(context.WithoutCancel(ctx), s)
	s.upErr = upErr
	if up != nil {
		s.upstream.Store(up)
	}
}

// defaultOffer is the ClientHello tlslens offers upstream when the client
// offered none: crypto/tls's defaults with HTTP/1.1 as the only protocol.
var defaultOffer = sync.OnceValues(func() (*inspect.ClientHello, error) {
	rec, err := captureHello(&tls.Config{ServerName: "tlslens.invalid", NextProtos: []string{"http/1.1"}})
	if err != nil {
		return nil, fmt.Errorf("capturing tlslens's default ClientHello: %w", err)
	}
	h, err := inspect.ParseClientHello(rec)
	if err != nil {
		return nil, errors.Join(errors.New("parsing tlslens's default ClientHello"), err)
	}
	return h, nil
})

// captureHello returns the first record of the ClientHello a crypto/tls
// client sends with cfg, from a handshake into a pipe that goes no further.
func captureHello(cfg *tls.Config) ([]byte, error) {
	c, s := net.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		tls.Client(c, cfg).Handshake()
	}()
	defer func() { s.Close(); c.Close(); <-done }()
	rec := make([]byte, inspect.RecordHeaderLen)
	if _, err := io.ReadFull(s, rec); err != nil {
		return nil, err
	}
	n, _ := inspect.RecordLen(rec)
	rec = append(rec, make([]byte, n-len(rec))...)
	if _, err := io.ReadFull(s, rec[inspect.RecordHeaderLen:]); err != nil {
		return nil, err
	}
	return rec, nil
}
