package proxy

import (
	"crypto/rand"
	"errors"
	"log"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/sirupsen/logrus"

	"github.com/tlslens/tlslens/inspect"
)

// acceptListener wraps each accepted connection in an acceptedConn, so the
// CONNECT hijack gets the connection's id and accept time back.
type acceptListener struct {
	net.Listener
	log logrus.FieldLogger // nil: no warning about clients that start with TLS
}

func (l *acceptListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &acceptedConn{Conn: c, id: newID(), accepted: time.Now(), log: l.log}, nil
}

// acceptedConn is a client's connection to the proxy listener.
type acceptedConn struct {
	net.Conn
	id       string
	accepted time.Time
	via      inspect.Via // how it arrived: empty on the proxy port, else set by Intercept

	log     logrus.FieldLogger
	sniffed bool // the first bytes were looked at

	// recorded is set once a record of this connection's is written, or
	// about to be (badrequest.go); until then tlsFirst, got, readErr and
	// answer say what the client sent and what net/http answered.
	recorded atomic.Bool
	tlsFirst atomic.Bool
	got      atomic.Int64
	diag     sync.Mutex
	readErr  error
	answer   []byte
}

// Read reads like the connection's, and warns when a client's first bytes
// are a TLS handshake: a client configured with an https:// proxy URL,
// which otherwise sees only "wrong version number" and tlslens nothing.
func (c *acceptedConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.noteRead(n, err)
	if !c.sniffed && n > 0 {
		c.sniffed = true
		isTLS := inspect.IsHandshakeRecord(b[:n]) // RFC 8446 §5.1
		if isTLS {
			c.tlsFirst.Store(true)
		}
		if isTLS && c.log != nil {
			c.log.WithFields(logrus.Fields{"id": c.id, "client": c.RemoteAddr().String(), "proxy_url": "http://" + c.LocalAddr().String()}).Warn(
				"client started a TLS handshake on the proxy port: tlslens is a plain HTTP proxy, set the client's proxy to proxy_url (http://, not https://)")
		}
	}
	return n, err
}

func (c *acceptedConn) Write(b []byte) (int, error) {
	c.noteWrite(b)
	return c.Conn.Write(b)
}

// newID returns a ULID: sortable by time, unique per connection.
func newID() string {
	return ulid.MustNew(ulid.Now(), rand.Reader).String()
}

// recordingConn keeps the first bytes read from and written to a connection,
// up to limit each, so the handshake can be parsed afterwards.
type recordingConn struct {
	net.Conn
	limit int
	// readSize and writeSize are the first allocation for each direction:
	// set to recordingSize for the one that carries a certificate chain, so
	// that the flight fits without growing; 0 allocates what the first
	// read or write needs.
	readSize, writeSize int

	mu      sync.Mutex
	read    []byte
	written []byte
	// stopped: once the handshake is recorded, every read and write of
	// the connection's life passes through without taking mu.
	stopped atomic.Bool
}

// recordingSize holds a server's flight with a typical certificate chain.
const recordingSize = 4 << 10

func newRecordingConn(c net.Conn, limit int) *recordingConn {
	return &recordingConn{Conn: c, limit: limit}
}

// keep appends as much of b to buf as limit allows, allocating size first.
func (c *recordingConn) keep(buf, b []byte, size int) []byte {
	b = b[:min(len(b), c.limit-len(buf))]
	if buf == nil {
		buf = make([]byte, 0, min(max(len(b), size), c.limit))
	}
	return append(buf, b...)
}

func (c *recordingConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 && !c.stopped.Load() {
		c.mu.Lock()
		if !c.stopped.Load() && len(c.read) < c.limit {
			c.read = c.keep(c.read, b[:n], c.readSize)
		}
		c.mu.Unlock()
	}
	return n, err
}

func (c *recordingConn) Write(b []byte) (int, error) {
	if c.stopped.Load() {
		return c.Conn.Write(b)
	}
	c.mu.Lock()
	if !c.stopped.Load() && len(c.written) < c.limit && len(b) > 0 {
		c.written = c.keep(c.written, b, c.writeSize)
	}
	c.mu.Unlock()
	return c.Conn.Write(b)
}

// stop ends recording and hands over what was read and written: nothing is
// appended to them afterwards.
func (c *recordingConn) stop() (read, written []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stopped.Store(true)
	read, written = c.read, c.written
	c.read, c.written = nil, nil
	return read, written
}

// prefixConn replays bytes already read from a connection before reading it
// again, so crypto/tls sees the ClientHello the proxy has already consumed.
type prefixConn struct {
	net.Conn
	prefix []byte // what is left to replay
}

func newPrefixConn(c net.Conn, prefix []byte) *prefixConn {
	return &prefixConn{Conn: c, prefix: prefix}
}

func (c *prefixConn) Read(b []byte) (int, error) {
	if len(c.prefix) == 0 {
		return c.Conn.Read(b)
	}
	n := copy(b, c.prefix)
	c.prefix = c.prefix[n:]
	if len(c.prefix) == 0 {
		c.prefix = nil // replayed: let it go
	}
	return n, nil
}

// chanListener is a net.Listener fed by the engine: each terminated client
// connection is handed to the inner HTTP server through it.
type chanListener struct {
	ch     chan net.Conn
	done   chan struct{}
	closed *sync.Once // shared with siblings
}

func newChanListener() *chanListener {
	return &chanListener{ch: make(chan net.Conn), done: make(chan struct{}), closed: new(sync.Once)}
}

// sibling is a listener fed separately that closes with l (either's Close
// closes both).
func (l *chanListener) sibling() *chanListener {
	return &chanListener{ch: make(chan net.Conn), done: l.done, closed: l.closed}
}

var errListenerClosed = errors.New("proxy: listener closed")

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, errListenerClosed
	}
}

// hand passes c to the inner server; false if the listener is closed.
func (l *chanListener) hand(c net.Conn) bool {
	select {
	case l.ch <- c:
		return true
	case <-l.done:
		return false
	}
}

func (l *chanListener) Close() error {
	l.closed.Do(func() { close(l.done) })
	return nil
}

func (l *chanListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }

// newStdLogger adapts the logrus logger for net/http's ErrorLog, at debug
// level: those lines (TLS handshake errors, hijacked-conn noise) duplicate
// what the record says.
func newStdLogger(l logrus.FieldLogger) *log.Logger {
	return log.New(debugWriter{l}, "", 0)
}

type debugWriter struct{ l logrus.FieldLogger }

func (w debugWriter) Write(b []byte) (int, error) {
	w.l.Debug(strings.TrimSpace(string(b)))
	return len(b), nil
}

// goproxyLogger adapts goproxy's Printf logger to logrus at debug level;
// goproxy's Warnf prints even when not Verbose.
type goproxyLogger struct{ l logrus.FieldLogger }

func (g goproxyLogger) Printf(format string, v ...any) {
	g.l.Debugf("goproxy: "+format, v...)
}
