package proxy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/tlslens/tlslens/inspect"
)

// Every connection accepted on the proxy listener yields exactly one record,
// so that records equal tlslens_connections_total. Most connections get
// theirs from what they carry: a CONNECT its handshakes' record, an https://
// URL without CONNECT its upstream session's, and a connection whose first
// request is a plain http:// one (or the onboarding page) a record of mode
// "http", written at that request. A connection that carried none of these
// (net/http answered it 400 or 431 itself, it stalled past the header
// timeout, it closed without a byte, it spoke TLS to the plain HTTP port)
// gets a bad_request record when it closes, saying what happened and the
// status sent. Each connection's first record takes the connection's id; a
// later session on the same connection (a second https:// target, a CONNECT
// after plain requests) is recorded too, under an id of its own.

// claim returns the id for a record of c's: c's own id for its first, a new
// one after. Connections not accepted by Serve (a Proxy mounted as a handler
// elsewhere) get a new id each time.
func claim(c net.Conn) string {
	if ac, ok := c.(*acceptedConn); ok && ac.recorded.CompareAndSwap(false, true) {
		return ac.id
	}
	return newID()
}

// claimed reports whether c has had a record.
func claimed(c net.Conn) bool {
	ac, ok := c.(*acceptedConn)
	return !ok || ac.recorded.Load()
}

// noteRead and noteWrite keep what closedUnrecorded needs to say what
// happened on a connection that never had a record: bytes read, the last
// read error, and the status line of net/http's own answer.
func (c *acceptedConn) noteRead(n int, err error) {
	if c.recorded.Load() {
		return
	}
	c.got.Add(int64(n))
	if err != nil {
		c.diag.Lock()
		c.readErr = err
		c.diag.Unlock()
	}
}

func (c *acceptedConn) noteWrite(b []byte) {
	if c.recorded.Load() {
		return
	}
	c.diag.Lock()
	if c.answer == nil {
		c.answer = bytes.Clone(b[:min(len(b), 256)])
	}
	c.diag.Unlock()
}

// recordHTTP writes the record of a connection whose first request is a
// plain HTTP one (an http:// URL, the onboarding page), unless the
// connection already has one. status is the answer tlslens itself sent, 0
// when the request went upstream.
func (p *Proxy) recordHTTP(r *http.Request, outcome inspect.Outcome, reason string, status int) {
	p.recordHTTPError(r, outcome, reason, status, "")
}

// recordRefused is recordHTTP for a request tlslens refused: denied, or
// bad_request for a 400 (a port outside 1-65535).
func (p *Proxy) recordRefused(r *http.Request, ref *refusal) {
	outcome := inspect.OutcomeDenied
	if ref.status == http.StatusBadRequest {
		outcome = inspect.OutcomeBadRequest
	}
	p.recordHTTPError(r, outcome, ref.reason, ref.status, ref.err)
}

func (p *Proxy) recordHTTPError(r *http.Request, outcome inspect.Outcome, reason string, status int, why string) {
	c, _ := r.Context().Value(plainConnKey{}).(net.Conn)
	if c == nil || claimed(c) {
		return
	}
	target := r.URL.Host
	if target == "" { // a request to the proxy itself
		target = c.LocalAddr().String()
	}
	if _, _, err := net.SplitHostPort(target); err != nil && target != "" {
		target = net.JoinHostPort(strings.Trim(target, "[]"), "80")
	}
	rec := &inspect.Record{Schema: inspect.Schema, ID: claim(c), Mode: inspect.ModeHTTP, Target: target,
		Via: viaOf(c), Outcome: outcome, Reason: reason,
		Client: &inspect.Side{Addr: c.RemoteAddr().String(), Local: c.LocalAddr().String()}}
	if outcome == inspect.OutcomeDenied || outcome == inspect.OutcomeBadRequest {
		rec.Client.Status = status
		rec.Client.Error = why
		if why == "" {
			rec.Client.Error = fmt.Sprintf("tlslens refused the request (%d %s): %s", status, http.StatusText(status), reason)
		}
	}
	p.emit(rec)
}

// viaOf is how c arrived: empty for the proxy port.
func viaOf(c net.Conn) inspect.Via {
	if ac, ok := c.(*acceptedConn); ok {
		return ac.via
	}
	return ""
}

// closedUnrecorded writes the bad_request record of a proxy connection that
// closes without having had a record.
func (p *Proxy) closedUnrecorded(c net.Conn) {
	ac, ok := c.(*acceptedConn)
	if !ok || !ac.recorded.CompareAndSwap(false, true) {
		return
	}
	ac.diag.Lock()
	answer, readErr := ac.answer, ac.readErr
	ac.diag.Unlock()
	status, said := parseAnswer(answer)
	rec := &inspect.Record{Schema: inspect.Schema, ID: ac.id, Mode: inspect.ModeHTTP, Via: ac.via, Outcome: inspect.OutcomeBadRequest,
		Client: &inspect.Side{Addr: c.RemoteAddr().String(), Local: c.LocalAddr().String(), Status: status,
			Error: p.describeBadRequest(ac, status, said, readErr)}}
	p.emit(rec)
}

// parseAnswer returns the status and text of the HTTP answer net/http wrote
// on its own ("HTTP/1.1 431 Request Header Fields Too Large..."), and 0 if
// none was written.
func parseAnswer(b []byte) (int, string) {
	line, rest, _ := bytes.Cut(b, []byte("\r\n"))
	proto, st, ok := bytes.Cut(line, []byte(" "))
	if !ok || !bytes.HasPrefix(proto, []byte("HTTP/")) || len(st) < 3 {
		return 0, ""
	}
	code, err := strconv.Atoi(string(st[:3]))
	if err != nil {
		return 0, ""
	}
	said := string(st)
	if _, body, ok := bytes.Cut(rest, []byte("\r\n\r\n")); ok && len(body) > 0 {
		said = string(body) // net/http's body repeats the status with the reason: "400 Bad Request: missing required Host header"
	}
	return code, said
}

// describeBadRequest says what happened on a connection that never
// completed a proxy request, in words a person can act on.
func (p *Proxy) describeBadRequest(ac *acceptedConn, status int, said string, readErr error) string {
	got := ac.got.Load()
	var ne net.Error
	switch {
	case ac.tlsFirst.Load():
		return fmt.Sprintf("the client started a TLS handshake on the proxy port: tlslens is a plain HTTP proxy, set the client's proxy to http://%s (http://, not https://)", ac.LocalAddr())
	case status == http.StatusRequestHeaderFieldsTooLarge:
		return fmt.Sprintf("the client's request line and headers exceed max_header_bytes (%d bytes): tlslens answered 431; raise max_header_bytes if this client is legitimate", p.opts.MaxHeaderBytes)
	case status == http.StatusHTTPVersionNotSupported:
		return fmt.Sprintf("the client spoke a protocol the proxy port does not serve (HTTP/2 without TLS, say): tlslens answered %q; configure the client to speak HTTP/1.1 to the proxy", said)
	case status != 0:
		return fmt.Sprintf("the client sent a request tlslens could not parse: tlslens answered %q; a proxy request is \"CONNECT host:port HTTP/1.1\" or \"GET http://host/path HTTP/1.1\"", said)
	case got == 0 && (readErr == nil || errors.Is(readErr, io.EOF) || isClosed(readErr)) && !errors.Is(readErr, net.ErrClosed):
		return "the client closed the connection without sending anything"
	case errors.As(readErr, &ne) && ne.Timeout():
		if got == 0 {
			return fmt.Sprintf("the client sent nothing within handshake_timeout (%s): it opened the connection and stalled", p.opts.HandshakeTimeout)
		}
		return fmt.Sprintf("the client sent %d bytes but no complete request within handshake_timeout (%s): a stalled client, or a slowloris attack holding connections open", got, p.opts.HandshakeTimeout)
	case errors.Is(readErr, net.ErrClosed):
		return fmt.Sprintf("tlslens closed the connection (shutting down) before the client completed a request (%d bytes received)", got)
	case errors.Is(readErr, io.EOF) || isClosed(readErr):
		return fmt.Sprintf("the client closed the connection in the middle of its request (%d bytes received)", got)
	}
	return fmt.Sprintf("the connection ended before the client completed a proxy request (%d bytes received): %v", got, readErr)
}
