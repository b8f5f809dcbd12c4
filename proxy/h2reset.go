package proxy

import (
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/tlslens/tlslens/inspect"
)

// HTTP/2 rapid reset (CVE-2023-44487): a client opens a stream and resets it
// at once, thousands of times a second. Each reset frees its stream's slot,
// so the limit on concurrent streams never holds the client back, while
// every stream that reached a handler has started an upstream request.
// net/http's server bounds the handlers it runs per connection but not how
// fast streams may be reset, and no hook of it sees RST_STREAM frames. So
// the decrypted h2 connection reaches the inner server inside a resetGuard,
// which reads the frame headers as they pass and ends a connection that
// resets too fast. Guards have a server of their own, p.innerH2, that
// speaks only HTTP/2 without TLS (the TLS is the engine's, already done):
// p.inner never serves HTTP/2 on anything but a *tls.Conn, so no connection
// speaks HTTP/2 past a guard.

const (
	// rapidResetLimit is how many more streams a client may reset than the
	// server completed, with rapidResetLimit forgiven per rapidResetWindow
	// (50 a second), before the connection is closed. Twice the 250 streams
	// net/http's server lets a client have open at once (its
	// SETTINGS_MAX_CONCURRENT_STREAMS): a browser leaving a page cancels at
	// most what it has in flight, and a page's completed requests offset its
	// cancelled ones; a rapid-reset client resets thousands a second and
	// completes nothing.
	rapidResetLimit = 500

	// rapidResetWindow is the time in which rapidResetLimit unmatched resets
	// are forgiven.
	rapidResetWindow = 10 * time.Second

	// goawayTimeout bounds how long closing a connection waits for the
	// server's frame in progress to be written (GOAWAY goes at a frame
	// boundary) and for a client that does not read.
	goawayTimeout = time.Second
)

// HTTP/2 frame types and flags read by the guard (RFC 9113 §6).
const (
	frameData         = 0x0
	frameHeaders      = 0x1
	frameRSTStream    = 0x3
	frameGoAway       = 0x7
	frameContinuation = 0x9

	flagEndStream  = 0x1
	flagEndHeaders = 0x4

	errCodeEnhanceYourCalm = 0xb // RFC 9113 §7
)

// errRapidReset ends the server's reading of a connection closed for rapid
// reset. It wraps net.ErrClosed so that the server treats it as a client
// gone, and logs nothing of its own.
var errRapidReset = fmt.Errorf("proxy: HTTP/2 streams reset too fast: %w", net.ErrClosed)

// guardResets returns c, on which the client negotiated h2, inside a
// resetGuard for p.innerH2; nil under TLS 1.2, for p.inner, which refuses
// HTTP/2 over it with INADEQUATE_SECURITY (RFC 9113 §9.2) and can tell only
// on a *tls.Conn.
func (p *Proxy) guardResets(c *tls.Conn, s *session) *resetGuard {
	if c.ConnectionState().Version < tls.VersionTLS12 {
		return nil
	}
	g := &resetGuard{Conn: c, start: time.Now(), sent: make(chan struct{})}
	g.in.skip = len(clientPreface)
	g.pre = newPrefaceTee(func(b []byte) { p.fingerprintHTTP2(s, b) })
	g.onTrip = func(unmatched int) {
		// The client sent requests, whether or not one reached a handler
		// yet: its record is written now, never as a certificate
		// rejection when the close follows.
		p.settle(s, time.Time{})
		p.metrics.rapidReset()
		p.log.WithField("id", s.id).WithField("target", s.target).WithField("resets", unmatched).Warn(
			"client reset http/2 streams too fast: connection closed with goaway enhance_your_calm")
	}
	return g
}

// clientPreface opens every HTTP/2 connection from a client (RFC 9113 §3.4).
const clientPreface = inspect.HTTP2Preface

// A resetGuard is a client's decrypted HTTP/2 connection, as p.innerH2 reads
// and writes it. It counts the streams the client resets, less the responses
// the server completes (a resetDebt); past rapidResetLimit it sends GOAWAY
// ENHANCE_YOUR_CALM, drops the server's further writes and closes the
// connection.
//
// It hides the *tls.Conn from net/http, which then serves it as HTTP/2
// without TLS (Protocols.UnencryptedHTTP2). Requests on it have a nil TLS
// field, which the proxy never reads.
type resetGuard struct {
	net.Conn // the client's *tls.Conn
	start    time.Time
	onTrip   func(unmatched int) // records, logs and counts, once, before the close

	// Read by the server's one reading goroutine only.
	pre       *prefaceTee // the client's first bytes, for its fingerprint; nil once taken
	in        frameScanner
	maxStream uint32 // the highest stream the client opened
	tripped   bool

	debt resetDebt

	mu     sync.Mutex // serialises writes to Conn
	out    frameScanner
	calm   bool          // tripped: the server's writes end at the next frame boundary
	goaway []byte        // the GOAWAY to write there; nil once written
	sent   chan struct{} // closed when the GOAWAY is written or cannot be
}

func (g *resetGuard) Read(b []byte) (int, error) {
	if g.tripped {
		return 0, errRapidReset
	}
	n, err := g.Conn.Read(b)
	if g.pre != nil && g.pre.add(b[:n]) {
		g.pre = nil
	}
	for p := b[:n]; len(p) > 0; {
		k, ok := g.in.next(p)
		p = p[k:]
		if !ok {
			continue
		}
		switch g.in.typ() {
		case frameHeaders:
			if id := g.in.stream(); id > g.maxStream {
				g.maxStream = id
			}
		case frameRSTStream:
			if u := g.debt.add(g.now(), 1); u > rapidResetLimit {
				g.trip(u)
				return 0, errRapidReset
			}
		}
	}
	return n, err
}

func (g *resetGuard) Write(b []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.calm {
		return g.writeToBoundary(b)
	}
	n, err := g.Conn.Write(b)
	for p := b[:n]; len(p) > 0; {
		k, ok := g.out.next(p)
		p = p[k:]
		if ok && (g.out.typ() == frameData || g.out.typ() == frameHeaders) && g.out.flags()&flagEndStream != 0 {
			g.debt.add(g.now(), -1) // a response completed
		}
	}
	return n, err
}

// writeToBoundary writes what of b completes the server's frame in
// progress, then the GOAWAY; the rest of b, and any later write, is
// dropped. Called with g.mu held, once the guard has tripped.
func (g *resetGuard) writeToBoundary(b []byte) (int, error) {
	if g.goaway == nil {
		return 0, errRapidReset
	}
	k := g.out.finish(b)
	if _, err := g.Conn.Write(b[:k]); err != nil {
		g.goawayDone()
		return 0, err
	}
	if g.out.atBoundary() {
		g.writeGoaway()
	}
	return len(b), nil
}

// trip ends the connection: GOAWAY at the next frame boundary of the
// server's writes (waiting at most goawayTimeout for it), then close.
// Called by the reading goroutine.
func (g *resetGuard) trip(unmatched int) {
	g.tripped = true
	g.Conn.SetWriteDeadline(time.Now().Add(goawayTimeout)) // a client that does not read holds nothing
	g.mu.Lock()
	g.calm = true
	g.goaway = goawayFrame(g.maxStream, errCodeEnhanceYourCalm)
	if g.out.atBoundary() {
		g.writeGoaway()
	}
	g.mu.Unlock()
	t := time.NewTimer(goawayTimeout)
	select {
	case <-g.sent:
	case <-t.C:
	}
	t.Stop()
	g.onTrip(unmatched)
	g.Conn.Close()
}

// writeGoaway writes the GOAWAY; called with g.mu held.
func (g *resetGuard) writeGoaway() {
	g.Conn.Write(g.goaway) // an error: the client is gone, and the close follows
	g.goawayDone()
}

func (g *resetGuard) goawayDone() {
	if g.goaway != nil {
		g.goaway = nil
		close(g.sent)
	}
}

// now is the guard's clock for its debt: monotonic, from its start.
func (g *resetGuard) now() time.Duration { return time.Since(g.start) }

// goawayFrame is a GOAWAY frame (RFC 9113 §6.8) naming lastStream, the
// highest stream the server may have processed, and code.
func goawayFrame(lastStream uint32, code uint32) []byte {
	f := make([]byte, 9+8)
	f[2] = 8 // length: last-stream-id and error code, no debug data
	f[3] = frameGoAway
	binary.BigEndian.PutUint32(f[9:], lastStream&0x7fffffff)
	binary.BigEndian.PutUint32(f[13:], code)
	return f
}

// A frameScanner finds the HTTP/2 frame headers (RFC 9113 §4.1: 24-bit
// length, type, flags, reserved bit and 31-bit stream) in a byte stream that
// arrives in pieces of any size, skipping the payloads. The zero value
// expects a frame header first.
type frameScanner struct {
	skip int     // bytes of the current payload (or of the preface) still to pass
	hdr  [9]byte // the frame header being read, then the last one read
	n    int     // bytes of hdr read so far
}

// next consumes b up to the end of the next frame header in it, and reports
// how many bytes it consumed and whether it completed a header, which the
// accessors then describe.
func (s *frameScanner) next(b []byte) (int, bool) {
	k := 0
	if s.skip > 0 {
		k = min(s.skip, len(b))
		s.skip -= k
	}
	for k < len(b) && s.skip == 0 {
		s.hdr[s.n] = b[k]
		s.n++
		k++
		if s.n == len(s.hdr) {
			s.n = 0
			s.skip = int(s.hdr[0])<<16 | int(s.hdr[1])<<8 | int(s.hdr[2])
			return k, true
		}
	}
	return k, false
}

// finish consumes b up to the end of the frame in progress, and returns how
// many bytes that was: none at a frame boundary.
func (s *frameScanner) finish(b []byte) int {
	k := 0
	for k < len(b) && !s.atBoundary() {
		if s.skip > 0 {
			d := min(s.skip, len(b)-k)
			s.skip -= d
			k += d
			continue
		}
		n, _ := s.next(b[k : k+1]) // a byte of a header
		k += n
	}
	return k
}

// atBoundary reports whether the stream is between two frames.
func (s *frameScanner) atBoundary() bool { return s.skip == 0 && s.n == 0 }

func (s *frameScanner) typ() byte   { return s.hdr[3] }
func (s *frameScanner) flags() byte { return s.hdr[4] }
func (s *frameScanner) stream() uint32 {
	return binary.BigEndian.Uint32(s.hdr[5:]) & 0x7fffffff
}

// resetDebt is the streams a client reset less the responses the server
// completed, never below zero (completions bank no credit), with one reset
// forgiven every resetForgiven. Safe for concurrent use.
type resetDebt struct {
	mu   sync.Mutex
	debt int
	at   time.Duration // when the forgiving last caught up
}

// resetForgiven is how often one unmatched reset is forgiven:
// rapidResetLimit per rapidResetWindow.
const resetForgiven = rapidResetWindow / rapidResetLimit

// add counts d (a reset +1, a completed response -1) at t, time since the
// guard's start, and returns the debt.
func (r *resetDebt) add(t time.Duration, d int) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := int((t - r.at) / resetForgiven)
	r.debt = max(r.debt-n, 0)
	r.at += time.Duration(n) * resetForgiven
	r.debt = max(r.debt+d, 0)
	return r.debt
}
