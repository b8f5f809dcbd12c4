package proxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/tlslens/tlslens/inspect"
)

// Transparent mode: iptables or nftables REDIRECT sends TCP connections
// that were going elsewhere to tlslens's listener, and the kernel keeps
// where each was going (SO_ORIGINAL_DST, originalDst in
// transparent_linux.go). Each accepted connection goes to Intercept with
// that destination as its target.

// ServeTransparent accepts connections redirected to ln by the kernel and
// intercepts each, its original destination as target (Intercept, via
// transparent), until ctx is done or ln fails. Options.AllowCIDRs applies to
// the redirected clients; Options.ProxyAuth cannot (they do not know they
// use a proxy). As with Serve, a listener beyond loopback makes the proxy
// deny local targets unless Options.AllowLocalTargets. A connection that was not redirected (made to the listener
// itself) is refused, with a record saying so. On return the listener is
// closed; connections already intercepted keep running until Shutdown or
// Close, as with Serve. Run either Serve or ServeTransparent on a Proxy,
// not both. Only on Linux: elsewhere it returns an error at once.
func (p *Proxy) ServeTransparent(ctx context.Context, ln net.Listener) error {
	if err := transparentSupported(); err != nil {
		ln.Close()
		return err
	}
	p.listening(ln.Addr()) // beyond loopback, local targets are denied, as with Serve
	innerDone := p.serveInner()
	defer func() { p.ln.Close(); <-innerDone }()
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	aln := &acceptListener{Listener: p.live.listener(p.limit.listener(&redirectListener{ln}))}
	cctx := context.WithoutCancel(ctx) // Shutdown, not ctx, ends the connections
	var pause time.Duration
	for {
		c, err := aln.Accept()
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, net.ErrClosed) {
			return err
		}
		if err != nil { // out of file descriptors, say: as net/http does, wait and retry
			pause = min(max(2*pause, 5*time.Millisecond), time.Second)
			p.log.WithError(err).WithField("retry_in", pause.String()).Warn("accept failed")
			time.Sleep(pause)
			continue
		}
		pause = 0
		go p.interceptRedirected(cctx, c)
	}
}

// serveInner runs the inner HTTP servers, which serve the HTTP of
// intercepted connections, until p.ln is closed; the channel is closed when
// both have returned.
func (p *Proxy) serveInner() <-chan struct{} {
	done := make(chan struct{})
	h2 := make(chan struct{})
	go func() {
		defer close(h2)
		p.innerH2.Serve(p.lnH2) // returns when p.ln (its sibling) is closed
	}()
	go func() {
		defer close(done)
		p.inner.Serve(p.ln) // returns when p.ln is closed
		<-h2
	}()
	return done
}

// redirectListener learns each accepted connection's original destination
// while it is still the kernel's *net.TCPConn.
type redirectListener struct{ net.Listener }

func (l *redirectListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	rc := &redirectedConn{Conn: c}
	rc.dst, rc.err = originalDst(c)
	return rc, nil
}

// redirectedConn is an accepted connection and its original destination.
type redirectedConn struct {
	net.Conn
	dst netip.AddrPort
	err error // why dst is unknown
}

// CloseWrite half-closes the connection, so relays keep their half-close.
func (c *redirectedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return c.Conn.Close()
}

// redirectedOf finds the redirectedConn under the wrappers ServeTransparent's
// listeners put around it; nil if there is none.
func redirectedOf(c net.Conn) *redirectedConn {
	for {
		switch v := c.(type) {
		case *redirectedConn:
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
}

// interceptRedirected admits a redirected connection and hands it to
// Intercept with its original destination; a connection from outside
// allow_cidrs, or one that was not redirected, is refused and recorded.
func (p *Proxy) interceptRedirected(ctx context.Context, c net.Conn) {
	local := c.LocalAddr().String()
	if ref := p.access.checkAddr(c.RemoteAddr().String()); ref != nil {
		p.log.WithFields(logrus.Fields{"client": c.RemoteAddr().String(), "reason": ref.reason}).Info("redirected connection refused")
		p.refuseIntercepted(c, local, inspect.ViaTransparent, ref.reason, ref.err)
		return
	}
	rc := redirectedOf(c)
	var dst netip.AddrPort
	var err error
	if rc == nil {
		err = errors.New("proxy: not a connection of the transparent listener")
	} else {
		dst, err = rc.dst, rc.err
	}
	if err == nil && dst == addrPort(c.LocalAddr()) {
		err = errNotRedirected
	}
	if err != nil {
		p.refuseIntercepted(c, local, inspect.ViaTransparent, ReasonNotRedirected, fmt.Sprintf(
			"the connection was made to tlslens's transparent listener %s itself, not redirected to it by iptables or nftables (%v): "+
				"a client that means to use tlslens as its proxy needs mode: regular; redirected traffic needs the REDIRECT rules of the README", local, err))
		return
	}
	p.Intercept(ctx, c, dst.String(), inspect.ViaTransparent)
}

// ReasonNotRedirected is the reason of a record for a connection made to the
// transparent listener itself rather than redirected to it.
const ReasonNotRedirected = "transparent: not redirected"

var errNotRedirected = errors.New("its original destination is the listener")

// addrPort is a TCP address as a netip.AddrPort, IPv4 unmapped.
func addrPort(a net.Addr) netip.AddrPort {
	if ta, ok := a.(*net.TCPAddr); ok {
		ap := ta.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	return netip.AddrPort{}
}

// refuseIntercepted closes a connection that arrived without a CONNECT and
// is not to be intercepted, with its one record: denied, for reason, the
// client's error saying why.
func (p *Proxy) refuseIntercepted(c net.Conn, target string, via inspect.Via, reason, why string) {
	ac, _ := p.own(c)
	ac.via = via
	s := sessionFor(ac, ac.id, target)
	s.rec.Via = via
	s.denied = true
	s.rec.Reason, s.rec.Client.Error = reason, why
	p.finish(s) // outcome denied; closes c
}
