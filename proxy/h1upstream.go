package proxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"
)

// An h1Upstream carries the HTTP/1.1 requests of one intercepted client
// connection over its upstream connection, written and read by the goroutine
// that serves the request (http.Request.Write, http.ReadResponse).
//
// The session's http.Transport does the same with two goroutines per
// connection, a write loop and a read loop, and hands every request and
// response between them and the handler: on a keep-alive connection those
// hand-offs were 15 % of tlslens's CPU per request (docs/performance.md, "as
// users run it"). What the transport does beyond one request at a time stays
// with it: a request that upgrades the connection (WebSocket), one that
// expects 100-continue, and an upstream that negotiated h2 are handed to the
// transport, with the connection, and the session's requests stay there from
// then on, so that one client connection still has one upstream connection.
//
// The inner HTTP/1.1 server serves a connection's requests one at a time, so
// at most one request is in flight; the mutex orders it with the idle watch
// and with close. Safe for concurrent use.
type h1Upstream struct {
	p *Proxy
	s *session

	mu       sync.Mutex
	conn     net.Conn      // the idle connection, or nil: the next request takes the session's, or redials
	watch    *time.Timer   // starts the idle watch (watchIdle) once conn has been idle for idleWatchDelay
	watching chan struct{} // closed when the idle watch in progress has returned; nil when none is
	handed   bool          // the session's requests go over its transport from now on
	closed   bool
}

// idleWatchDelay is how long an upstream connection is idle before a
// goroutine waits on it for the server's close (as the transport's read loop
// does all along), so that an upstream that closes an idle connection has it
// closed here too, and a connection in constant use needs no such goroutine.
const idleWatchDelay = time.Second

// errHandOff reports that a request must go over the session's transport.
var errHandOff = errors.New("proxy: request handed to the transport")

// roundTrip sends req over the session's upstream: over this h1Upstream, or
// over the transport for what only it does.
func (u *h1Upstream) roundTrip(req *http.Request) (*http.Response, error) {
	if !u.sendsItself(req) {
		u.handOff()
		return u.s.tr.RoundTrip(req)
	}
	resp, err := u.exchange(req)
	if errors.Is(err, errHandOff) {
		return u.s.tr.RoundTrip(req)
	}
	return resp, err
}

// sendsItself reports whether req is one this h1Upstream sends: an HTTP/1
// request that neither upgrades the connection nor waits for 100-continue,
// while the session has not been handed to its transport.
func (u *h1Upstream) sendsItself(req *http.Request) bool {
	u.mu.Lock()
	handed := u.handed
	u.mu.Unlock()
	if handed || req.ProtoMajor != 1 || req.Method == http.MethodConnect {
		return false
	}
	_, upgrade := req.Header["Upgrade"]
	_, expect := req.Header["Expect"]
	return !upgrade && !expect
}

// handOff gives the idle connection, if any, back to the session for its
// transport's first dial, and sends every later request over the transport.
func (u *h1Upstream) handOff() {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.handed {
		return
	}
	u.handed = true
	if c := u.takeLocked(); c != nil {
		if tc, ok := c.(*tls.Conn); ok {
			u.s.upstream.Store(tc)
		} else {
			c.Close()
		}
	}
}

// exchange writes req and reads its response. A request on a connection
// used before that finds it closed by the server before any byte of a
// response (an idle connection the server let go) is sent again over a new
// one if it can be, as the transport does.
func (u *h1Upstream) exchange(req *http.Request) (*http.Response, error) {
	for attempt := 0; ; attempt++ {
		c, br, reused, err := u.get(req.Context())
		if err != nil {
			return nil, err
		}
		resp, err := u.send(c, br, req)
		if err == nil {
			return resp, nil
		}
		c.Close()
		if attempt > 0 || !reused || !errors.Is(err, errClosedIdle) || !replayable(req) {
			return nil, err
		}
	}
}

// errClosedIdle reports a connection that ended before any byte of a
// response: on a connection used before, one the server closed while idle.
var errClosedIdle = errors.New("proxy: the upstream server closed the connection without answering")

// get returns the connection to send a request over: the idle one
// (reused), else the session's connection from its handshakes, else a new
// one (redial). errHandOff if the new connection negotiated h2, which only
// the transport speaks.
func (u *h1Upstream) get(ctx context.Context) (net.Conn, *bufio.Reader, bool, error) {
	u.mu.Lock()
	if u.closed {
		u.mu.Unlock()
		return nil, nil, false, net.ErrClosed
	}
	if c := u.takeLocked(); c != nil {
		u.mu.Unlock()
		br := responseReaders.Get().(*bufio.Reader)
		br.Reset(c)
		return c, br, true, nil
	}
	u.mu.Unlock()
	var c net.Conn
	if tc := u.s.upstream.Swap(nil); tc != nil {
		c = tc
	} else {
		var err error
		if c, err = u.p.redial(ctx, u.s); err != nil {
			return nil, nil, false, err
		}
	}
	if cs, ok := c.(interface{ ConnectionState() tls.ConnectionState }); ok && cs.ConnectionState().NegotiatedProtocol == "h2" {
		u.mu.Lock()
		defer u.mu.Unlock()
		u.handed = true
		if tc, ok := c.(*tls.Conn); ok && !u.closed {
			u.s.upstream.Store(tc)
		} else {
			c.Close()
		}
		return nil, nil, false, errHandOff
	}
	br := responseReaders.Get().(*bufio.Reader)
	br.Reset(c)
	return c, br, false, nil
}

// takeLocked takes the idle connection, stopping its idle watch; nil if
// there is none or the watch found it closed. u.mu is held.
func (u *h1Upstream) takeLocked() net.Conn {
	if u.watch != nil {
		u.watch.Stop()
	}
	if w := u.watching; w != nil {
		u.conn.SetReadDeadline(time.Unix(1, 0)) // ends the watch's read
		u.mu.Unlock()
		<-w
		u.mu.Lock()
	}
	c := u.conn
	u.conn = nil
	if c != nil {
		c.SetReadDeadline(time.Time{})
	}
	return c
}

// send writes req on c and reads its response, whose body gives c back
// (release) once read to its end and closed. A request body is written by a
// goroutine of its own while the response is read, as the transport does:
// a server may answer before it has read the whole body.
func (u *h1Upstream) send(c net.Conn, br *bufio.Reader, req *http.Request) (*http.Response, error) {
	var wrote chan error
	if req.Body == nil || req.Body == http.NoBody {
		if err := writeRequest(c, req); err != nil {
			return nil, closedIdle(err)
		}
	} else {
		wrote = make(chan error, 1)
		go func() { wrote <- writeRequest(c, req) }()
	}
	resp, err := readResponse(br, req)
	if err != nil {
		if wrote != nil {
			c.Close() // ends the body's writer, unless it waits on the client: not waited for
			select {
			case werr := <-wrote:
				if werr != nil && !errors.Is(err, errClosedIdle) {
					return nil, fmt.Errorf("writing the request: %w (reading the response: %w)", werr, err)
				}
			default:
			}
		}
		return nil, err
	}
	b := &h1Body{u: u, c: c, br: br, body: resp.Body, wrote: wrote,
		keep: !resp.Close && !req.Close && resp.StatusCode != http.StatusSwitchingProtocols}
	if resp.Body == http.NoBody {
		b.release(true)
		return resp, nil
	}
	resp.Body = b
	return resp, nil
}

// writeRequest writes req through a buffer, one write for a request without
// a body (one TLS record).
func writeRequest(c net.Conn, req *http.Request) error {
	bw := requestWriters.Get().(*bufio.Writer)
	bw.Reset(c)
	defer func() { bw.Reset(nil); requestWriters.Put(bw) }()
	if err := req.Write(bw); err != nil {
		return err
	}
	return bw.Flush()
}

// responseReaders are the buffers responses are read through, held by a
// connection only while it carries a request: an idle connection holds
// none (4 KiB each; the transport kept one per connection).
var responseReaders = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 4<<10) }}

// requestWriters are the buffers requests are written through: a 4 KiB
// buffer per request was a quarter of the bytes allocated per keep-alive
// request, and holding one per idle connection would cost its memory.
var requestWriters = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 4<<10) }}

// readResponse reads req's response, past informational (1xx) ones, which
// the transport does not pass on either.
func readResponse(br *bufio.Reader, req *http.Request) (*http.Response, error) {
	for n := 0; ; n++ {
		if _, err := br.Peek(1); err != nil && n == 0 {
			return nil, closedIdle(err)
		}
		resp, err := http.ReadResponse(br, req)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode < 100 || resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols {
			return resp, nil
		}
		if n == 5 { // net/http's limit
			return nil, errors.New("proxy: too many 1xx informational responses")
		}
	}
}

// closedIdle marks the errors of a connection the server had closed.
func closedIdle(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		return fmt.Errorf("%w: %w", errClosedIdle, err)
	}
	return err
}

// replayable reports whether req can be sent again: an idempotent method
// and no body, as net/http's Request.isReplayable.
func replayable(req *http.Request) bool {
	if req.Body != nil && req.Body != http.NoBody {
		return false
	}
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	_, idem := req.Header["Idempotency-Key"]
	_, xidem := req.Header["X-Idempotency-Key"]
	return idem || xidem
}

// release makes c the idle connection again if keep, else closes it; br
// goes back to the pool unless a response body may still read from it.
func (u *h1Upstream) release(c net.Conn, br *bufio.Reader, keep bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if !keep || u.closed || u.handed || u.conn != nil || br.Buffered() > 0 {
		// Not waited for: the client's response is still to be written,
		// and a close sends a close_notify that may wait for the server.
		go c.Close()
		return
	}
	br.Reset(nil)
	responseReaders.Put(br)
	u.conn = c
	if u.watch == nil {
		u.watch = time.AfterFunc(idleWatchDelay, u.watchIdle)
	} else {
		u.watch.Reset(idleWatchDelay)
	}
}

// watchIdle waits on the idle connection for the server to close it (or to
// send what nobody asked for), and closes it then; a request that wants the
// connection ends the wait (takeLocked).
func (u *h1Upstream) watchIdle() {
	u.mu.Lock()
	c := u.conn
	if c == nil || u.watching != nil {
		u.mu.Unlock()
		return
	}
	done := make(chan struct{})
	u.watching = done
	u.mu.Unlock()
	var one [1]byte
	_, err := c.Read(one[:]) // a byte read is unsolicited: the connection is closed either way
	var ne net.Error
	timeout := errors.As(err, &ne) && ne.Timeout()
	u.mu.Lock()
	u.watching = nil
	if !timeout || err == nil { // closed, failed or unsolicited bytes: the connection is done
		u.conn = nil
		c.Close()
	}
	u.mu.Unlock()
	close(done)
}

// close closes the idle connection, if any, and refuses further requests.
func (u *h1Upstream) close() {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.closed = true
	if u.watch != nil {
		u.watch.Stop()
	}
	if u.conn != nil {
		u.conn.Close() // also ends an idle watch
		u.conn = nil
	}
}

// writerGrace is how long a response read to its end waits for its request
// body's writer to report before the connection is given up (h1Body.release).
const writerGrace = 50 * time.Millisecond

// h1Body is a response body that gives its connection back once read to
// its end and closed.
type h1Body struct {
	u     *h1Upstream
	c     net.Conn
	br    *bufio.Reader
	body  io.ReadCloser
	wrote chan error // the request body's writer, or nil
	keep  bool       // the connection may carry another request
	eof   bool
	once  sync.Once
}

func (b *h1Body) Read(p []byte) (int, error) {
	n, err := b.body.Read(p)
	if err == io.EOF {
		b.eof = true
	}
	return n, err
}

// Close closes the body: the connection is kept when the body was read to
// its end, else closed, as the transport does. A body not read to its end
// is not drained (net/http's body.Close would read the rest, however
// large, from a server the client no longer listens to).
func (b *h1Body) Close() error {
	if !b.eof {
		b.release(false)
		return nil
	}
	err := b.body.Close()
	b.release(true)
	return err
}

func (b *h1Body) release(done bool) {
	b.once.Do(func() {
		keep := b.keep && done
		if b.wrote != nil && keep {
			// A server that read the whole request body before its answer
			// leaves the writer only its report to make; one that answered
			// without it leaves the writer writing, or reading from the
			// client, which may be waiting for this response. The writer
			// gets writerGrace to report; past it the connection is closed,
			// which ends the writer at its next write.
			t := time.NewTimer(writerGrace)
			select {
			case err := <-b.wrote:
				keep = err == nil
			case <-t.C:
				keep = false
			}
			t.Stop()
		}
		b.u.release(b.c, b.br, keep)
	})
}
