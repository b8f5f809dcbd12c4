package proxy

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/tlslens/tlslens/inspect"
)

// serverFirstPorts are ports of plain protocols where the server speaks
// first (FTP, SSH, telnet, SMTP, NNTP, POP3, IMAP, submission, MySQL): a
// CONNECT to one is probed at once rather than after serverFirstWait.
var serverFirstPorts = map[int]bool{21: true, 22: true, 23: true, 25: true, 110: true, 119: true,
	143: true, 587: true, 3306: true}

// serverFirstWait is how long a client may stay silent after the CONNECT
// before tlslens asks whether the server speaks first: a TLS client sends its
// hello at once, an SSH or SMTP client waits for the server's banner.
const serverFirstWait = 2 * time.Second

type readResult struct {
	b   []byte
	err error
}

// serverFirst handles a client that stays silent after the CONNECT. If the
// target then speaks first (an SSH or SMTP banner), the session is left to
// be recorded as not_tls and relayed, and handled is true. Otherwise it returns the
// bytes the client sent meanwhile (the start of its hello, or nothing when
// it stayed silent or went away: the hello reader sees that itself).
func (p *Proxy) serverFirst(ctx context.Context, c net.Conn, s *session) (first []byte, handled bool) {
	deadline := time.Now().Add(p.opts.HandshakeTimeout)
	wait := min(serverFirstWait, p.opts.HandshakeTimeout/2)
	if serverFirstPorts[portOf(s.target)] {
		wait = 0
	}
	buf := make([]byte, 4096)
	if wait > 0 {
		c.SetReadDeadline(time.Now().Add(wait))
		n, err := c.Read(buf)
		c.SetReadDeadline(deadline)
		var ne net.Error
		if n > 0 || !errors.As(err, &ne) || !ne.Timeout() {
			return buf[:n], false // the client spoke (or left) first: the usual path
		}
	}

	start := time.Now()
	dctx, cancel := context.WithDeadline(ctx, deadline)
	up, err := p.dial(dctx, s)
	cancel()
	if err != nil {
		return nil, false // the upstream dial that follows the hello reports it
	}
	up.SetReadDeadline(deadline)
	fromUp := make(chan readResult, 1)
	go func() {
		b := make([]byte, 4096)
		n, err := up.Read(b)
		fromUp <- readResult{b[:n], err}
	}()
	fromClient := make(chan readResult, 1)
	go func() {
		n, err := c.Read(buf)
		fromClient <- readResult{buf[:n], err}
	}()

	select {
	case r := <-fromUp:
		if len(r.b) == 0 { // the server closed or stayed silent too
			up.Close()
			cr := <-fromClient
			return cr.b, false
		}
		c.SetReadDeadline(time.Now()) // stop waiting for the client
		cr := <-fromClient
		c.SetReadDeadline(time.Time{})
		up.SetReadDeadline(time.Time{})
		s.rec.Mode = inspect.ModeTunnel
		s.rec.Client.Error = fmt.Sprintf("the server spoke first (%q), so this is not TLS but a server-first protocol such as SSH, SMTP or FTP; relayed without inspection", preview(r.b))
		s.rec.Upstream = &inspect.Side{Addr: up.RemoteAddr().String(), Local: up.LocalAddr().String(),
			Resolved: s.resolved(), DurationMS: msSince(start)}
		s.next, s.raw, s.toClient, s.toUpstream = nextRelay, up, r.b, cr.b
		return nil, true
	case cr := <-fromClient:
		up.Close() // a client-first protocol: this probe is not the upstream connection
		<-fromUp
		return cr.b, false
	}
}

// earlyKey is the request context key of a CONNECT's *earlyBytes.
type earlyKey struct{}

// earlyBytes holds what a client sent right behind its CONNECT line, before
// the 200 (a ClientHello sent without waiting, or another protocol's first
// bytes): the outer HTTP server has already buffered them when goproxy
// hijacks the connection, and goproxy drops that buffer.
type earlyBytes struct{ b []byte }

// keepEarly wraps a CONNECT's ResponseWriter so that its hijack saves the
// bytes buffered past the request into the request context's earlyBytes.
type keepEarly struct {
	http.ResponseWriter
	hj    http.Hijacker
	early *earlyBytes
}

func (w *keepEarly) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, brw, err := w.hj.Hijack()
	if err == nil && brw != nil && brw.Reader.Buffered() > 0 {
		b, _ := brw.Reader.Peek(brw.Reader.Buffered())
		w.early.b = bytes.Clone(b)
	}
	return c, brw, err
}

// withEarly prepares a CONNECT request so that bytes sent behind it survive
// the hijack; other requests are returned as they are.
func withEarly(w http.ResponseWriter, r *http.Request) (http.ResponseWriter, *http.Request) {
	hj, ok := w.(http.Hijacker)
	if r.Method != http.MethodConnect || !ok {
		return w, r
	}
	early := &earlyBytes{}
	return &keepEarly{ResponseWriter: w, hj: hj, early: early}, r.WithContext(context.WithValue(r.Context(), earlyKey{}, early))
}

// earlyFrom returns the bytes a client sent behind its CONNECT, if any.
func earlyFrom(ctx context.Context) []byte {
	if e, ok := ctx.Value(earlyKey{}).(*earlyBytes); ok {
		return e.b
	}
	return nil
}
