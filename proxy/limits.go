package proxy

import (
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"
)

// Defaults for the limits in Options.
const (
	defaultMaxConnections = 10000
	defaultMaxHeaderBytes = 64 << 10
)

// refusalLogInterval is how often the "max_connections reached" warning may
// be logged: a flood of refusals gives one line per interval, with a count.
const refusalLogInterval = 10 * time.Second

// maxRefusing bounds the goroutines writing 503s at once; beyond it a refused
// connection is closed without an answer, so a flood costs no more than that.
const maxRefusing = 64

// connLimit counts the proxy listener's open connections and refuses those
// over max. Safe for concurrent use.
type connLimit struct {
	max      int64
	log      logrus.FieldLogger
	active   atomic.Int64
	refused  atomic.Uint64 // since the last warning
	total    atomic.Uint64 // since start
	refusing chan struct{}

	mu      sync.Mutex
	lastLog time.Time
}

func newConnLimit(max int, log logrus.FieldLogger) *connLimit {
	return &connLimit{max: int64(max), log: log, refusing: make(chan struct{}, maxRefusing)}
}

// ActiveConnections returns the number of client connections open on the
// proxy listener: idle and in-flight proxy requests, tunnels and intercepted
// connections. Safe for concurrent use.
func (p *Proxy) ActiveConnections() int { return int(p.limit.active.Load()) }

// RefusedConnections returns the number of connections refused because
// MaxConnections were open. Safe for concurrent use.
func (p *Proxy) RefusedConnections() uint64 { return p.limit.total.Load() }

// listener wraps ln so that each accepted connection counts against the limit
// until it is closed, and a connection over the limit is refused.
func (l *connLimit) listener(ln net.Listener) net.Listener {
	return &limitListener{Listener: ln, l: l}
}

type limitListener struct {
	net.Listener
	l *connLimit
}

func (ll *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := ll.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if ll.l.active.Add(1) <= ll.l.max {
			return &limitedConn{Conn: c, l: ll.l}, nil
		}
		ll.l.active.Add(-1)
		ll.l.refuse(c)
	}
}

// refuse answers a connection over the limit with a 503 naming the limit and
// closes it. It gets no record: it was never read, let alone intercepted.
func (l *connLimit) refuse(c net.Conn) {
	l.total.Add(1)
	l.refused.Add(1)
	l.warn()
	select {
	case l.refusing <- struct{}{}:
	default:
		c.Close() // too many refusals in flight already
		return
	}
	go func() {
		defer func() { <-l.refusing }()
		defer c.Close()
		body := fmt.Sprintf("tlslens: too many connections (max_connections is %d); try again later\n", l.max)
		c.SetDeadline(time.Now().Add(time.Second))
		fmt.Fprintf(c, "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\nRetry-After: 1\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
		// Read what the client already sent (its CONNECT) before closing:
		// closing with unread bytes sends a reset, which can destroy the 503
		// before the client reads it.
		if cw, ok := c.(interface{ CloseWrite() error }); ok {
			cw.CloseWrite()
		}
		io.Copy(io.Discard, io.LimitReader(c, 64<<10))
	}()
}

// warn logs that connections are being refused, at most once per
// refusalLogInterval, with how many were refused since the last line.
func (l *connLimit) warn() {
	l.mu.Lock()
	now := time.Now()
	if now.Sub(l.lastLog) < refusalLogInterval {
		l.mu.Unlock()
		return
	}
	l.lastLog = now
	l.mu.Unlock()
	l.log.WithFields(logrus.Fields{"id": newID(), "max_connections": l.max, "refused": l.refused.Swap(0)}).Warn(
		"refusing connections: max_connections are open; raise max_connections or add capacity")
}

// limitedConn releases its slot in the limit once, when closed.
type limitedConn struct {
	net.Conn
	l    *connLimit
	once sync.Once
}

func (c *limitedConn) Close() error {
	c.once.Do(func() { c.l.active.Add(-1) })
	return c.Conn.Close()
}

// CloseWrite half-closes the connection when the underlying one can, so
// relays keep their half-close through this wrapper.
func (c *limitedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return c.Close()
}
