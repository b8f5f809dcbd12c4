package proxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/elazarl/goproxy"

	"github.com/tlslens/tlslens/inspect"
)

// newGoproxy builds the front: CONNECTs are hijacked by the engine, and every
// request, plain or intercepted, passes through goproxy's request hooks.
func (p *Proxy) newGoproxy() *goproxy.ProxyHttpServer {
	gp := goproxy.NewProxyHttpServer()
	gp.Logger = goproxyLogger{p.log}
	// Requests reach the server as the client sent them: goproxy would drop
	// Accept-Encoding so that the transport could ask for gzip and gunzip
	// the answer (DisableCompression below keeps it from doing so).
	gp.KeepAcceptEncoding = true
	gp.Tr = &http.Transport{
		Proxy:                 nil,         // never chain to HTTP(S)_PROXY silently
		DialContext:           p.dialPlain, // what it dials was judged
		TLSClientConfig:       &tls.Config{RootCAs: p.opts.UpstreamRoots},
		TLSHandshakeTimeout:   p.opts.HandshakeTimeout,
		ForceAttemptHTTP2:     true,
		DisableCompression:    true, // forward Accept-Encoding as the client sent it, or not at all
		MaxIdleConns:          100,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	gp.NonproxyHandler = http.HandlerFunc(p.serveDirect)
	gp.OnRequest().HijackConnect(p.hijack)
	gp.OnRequest().DoFunc(p.route)
	gp.OnResponse().DoFunc(func(resp *http.Response, ctx *goproxy.ProxyCtx) *http.Response {
		if resp == nil && ctx.Error != nil {
			return errorResponse(ctx.Req, http.StatusBadGateway, "tlslens could not get a response from the upstream server",
				ctx.Error.Error(), sessionFrom(ctx.Req.Context()))
		}
		if resp != nil {
			// net/http's server adds a Date, and a sniffed Content-Type, to
			// an answer without them; a key present with no value stops it,
			// so the client gets the server's headers and no others.
			for _, k := range []string{"Date", "Content-Type"} {
				if _, ok := resp.Header[k]; !ok {
					resp.Header[k] = nil
				}
			}
		}
		return resp
	})
	return gp
}

// route sends an intercepted request over its client connection's own
// upstream, and applies the host policy to plain HTTP requests.
func (p *Proxy) route(r *http.Request, ctx *goproxy.ProxyCtx) (*http.Request, *http.Response) {
	if _, ok := r.Header["User-Agent"]; !ok {
		// A request without a User-Agent goes upstream without one: net/http
		// would add "Go-http-client/1.1" (an empty value tells it not to).
		r.Header["User-Agent"] = []string{""}
	}
	if s := sessionFrom(r.Context()); s != nil {
		overSession(ctx, s)
		return r, nil
	}
	if !intercepted(r) { // an intercepted connection's access control is its listener's
		if resp := p.admitPlain(r); resp != nil {
			return r, resp // refused by access control
		}
	}
	if resp := p.onboardProxy(r); resp != nil {
		p.recordHTTP(r, inspect.OutcomeOK, "onboarding", 0)
		return r, resp // http://tlslens/ or the proxy's own address
	}
	if p.policy(strings.ToLower(r.URL.Hostname())) == ActionDeny {
		p.recordHTTP(r, inspect.OutcomeDenied, "policy: deny", http.StatusForbidden)
		return r, errorResponse(r, http.StatusForbidden, "tlslens denies requests to this host by policy", r.URL.Host, nil)
	}
	if r.URL.Scheme != "https" {
		judged, resp := p.admitPlainHTTP(r)
		if resp != nil {
			return r, resp // a bad port, or a destination denied: recorded
		}
		r = judged
		p.recordHTTP(r, inspect.OutcomeOK, "", 0) // the connection's first request, if it is
	} else if s, resp := p.plainSession(r); resp != nil {
		return r, resp
	} else if s != nil {
		// An https:// URL without CONNECT: over its own recorded upstream.
		if fl := flowFrom(r.Context()); fl != nil {
			fl.f.ID = s.id // a second target's session has an id of its own
		}
		if s.upErr != nil {
			return r, errorResponse(r, http.StatusBadGateway, "tlslens could not connect securely to "+s.target, s.upErr.Error(), s)
		}
		s.requests.Add(1)
		r.URL.Host = s.target
		overSession(ctx, s)
	}
	// As in serveIntercepted: a client that half-closes after its request
	// (printf | socat) must still get the response, not a 502 "context
	// canceled".
	return r.WithContext(context.WithoutCancel(r.Context())), nil
}

// overSession sends goproxy's request over the session's own transport,
// that is its one upstream connection.
func overSession(ctx *goproxy.ProxyCtx, s *session) {
	ctx.UserData = s
	ctx.RoundTripper = (*sessionTripper)(s) // a conversion: no closure to allocate per request
}

// sessionTripper is a session as goproxy's RoundTripper.
type sessionTripper session

func (t *sessionTripper) RoundTrip(req *http.Request, _ *goproxy.ProxyCtx) (*http.Response, error) {
	return (*session)(t).roundTrip(req)
}

// serveDirect answers requests addressed to the proxy itself (not in proxy
// form) with the onboarding page, to clients the allow-list admits.
func (p *Proxy) serveDirect(w http.ResponseWriter, r *http.Request) {
	if ref := p.access.checkAddr(r.RemoteAddr); ref != nil {
		p.recordRefused(r, ref)
		ref.write(w)
		return
	}
	p.recordHTTP(r, inspect.OutcomeOK, "onboarding", 0)
	addr := r.Host
	if addr == "" {
		addr = localAddr(r)
	}
	p.onboard(r, addr).write(w, r)
}

type sessionKey struct{}

func sessionFrom(ctx context.Context) *session {
	s, _ := ctx.Value(sessionKey{}).(*session)
	return s
}

// intercepted reports whether r came over a connection handed to Intercept.
func intercepted(r *http.Request) bool {
	c, _ := r.Context().Value(plainConnKey{}).(net.Conn)
	return !viaOf(c).IsZero()
}

type plainInterceptedKey struct{}

// connContext gives the requests of a connection the inner server serves
// what they go over: a session (TLS terminated), or a connection handed to
// Intercept that speaks plain HTTP, as the outer server's requests have
// theirs (outerConnContext).
func (p *Proxy) connContext(ctx context.Context, c net.Conn) context.Context {
	switch v, _ := p.conns.Load(c); v := v.(type) {
	case *session:
		return context.WithValue(ctx, sessionKey{}, v)
	case *plainIntercepted:
		return context.WithValue(context.WithValue(ctx, plainConnKey{}, net.Conn(v.conn)), plainInterceptedKey{}, v)
	}
	return ctx
}

func (p *Proxy) connState(c net.Conn, st http.ConnState) {
	if st != http.StateClosed && st != http.StateHijacked {
		return
	}
	v, _ := p.conns.LoadAndDelete(c)
	if pi, ok := v.(*plainIntercepted); ok {
		p.closedUnrecorded(pi.conn) // a connection without a request has its record now
		return
	}
	s, ok := v.(*session)
	if !ok {
		return
	}
	if st == http.StateClosed {
		s.close()
	}
	if p.settle(s, time.Now()) {
		return // the record says what the close meant
	}
	if s.requests.Load() == 0 && s.upErr == nil {
		p.closedUnused(s)
	}
}

// sniffTimeout is how long a client without ALPN gets to speak first before
// the connection is treated as a server-first protocol and relayed.
const sniffTimeout = 2 * time.Second

// nonHTTPPorts are TLS ports of server-first or non-HTTP protocols, relayed
// without waiting for the client to speak.
var nonHTTPPorts = map[int]bool{465: true, 563: true, 636: true, 853: true, 990: true, 992: true,
	993: true, 994: true, 995: true, 5061: true, 5223: true, 6697: true, 8883: true}

func looksLikeHTTP(b []byte) bool {
	i := 0
	for i < len(b) && b[i] >= 'A' && b[i] <= 'Z' {
		i++
	}
	return i >= 3 && i < len(b) && b[i] == ' '
}

type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(b []byte) (int, error) { return c.r.Read(b) }

// relayTLS copies decrypted bytes between the client and its upstream.
func (p *Proxy) relayTLS(client net.Conn, s *session) {
	up := s.upstream.Swap(nil)
	if up == nil {
		client.Close()
		return
	}
	p.relay(client, up)
}

// relay copies bytes both ways until both directions end or the connection
// is idle for IdleTimeout, then closes both.
func (p *Proxy) relay(a, b net.Conn) {
	var wg sync.WaitGroup
	cp := func(dst, src net.Conn) {
		defer wg.Done()
		io.Copy(dst, &idleReader{Conn: src, idle: p.opts.IdleTimeout})
		if cw, ok := dst.(interface{ CloseWrite() error }); ok {
			cw.CloseWrite()
		} else {
			dst.Close()
		}
	}
	wg.Add(2)
	go cp(a, b)
	go cp(b, a)
	wg.Wait()
	a.Close()
	b.Close()
}

// idleReader extends the read deadline before every read.
type idleReader struct {
	net.Conn
	idle time.Duration
}

func (r *idleReader) Read(b []byte) (int, error) {
	r.Conn.SetReadDeadline(time.Now().Add(r.idle))
	return r.Conn.Read(b)
}

// serveIntercepted handles one request from a terminated client connection.
func (p *Proxy) serveIntercepted(w http.ResponseWriter, r *http.Request) {
	s := sessionFrom(r.Context())
	if pi, ok := r.Context().Value(plainInterceptedKey{}).(*plainIntercepted); ok {
		// Plain HTTP without a CONNECT: a plain proxy request to its Host.
		r.URL.Scheme, r.URL.Host = "http", r.Host
		if r.Host == "" { // HTTP/1.0 without Host: the original destination
			r.URL.Host = pi.target
		}
		p.gp.ServeHTTP(w, r)
		return
	}
	if s == nil {
		http.Error(w, "tlslens: request on an unknown connection", http.StatusInternalServerError)
		return
	}
	s.requests.Add(1)
	if s.userAgent.Load() == nil { // the first request's, for the record
		ua := r.UserAgent()
		s.userAgent.CompareAndSwap(nil, &ua)
	}
	p.settle(s, time.Time{}) // the first request: the record is written now
	var fl *flowRun
	if p.flows != nil {
		fl, w = p.flows.start(w, r, s.id, interceptedFlowURL(r, s))
		defer fl.release()
	}
	if s.upErr != nil {
		writeError(w, r, http.StatusBadGateway, "tlslens could not connect securely to "+s.target, s.upErr.Error(), s)
		return
	}
	if host := hostOnly(r.Host); host != "" && host != s.name() && host != s.host {
		// One client connection is one upstream connection: a request for
		// another host (HTTP/2 coalescing, domain fronting) must open its own.
		writeError(w, r, http.StatusMisdirectedRequest, "this connection is for "+s.name(),
			fmt.Sprintf("the request is for %s; open a new connection for it", r.Host), s)
		return
	}
	r.URL.Scheme, r.URL.Host = "https", s.target
	// net/http cancels a request's context when the client half-closes
	// (scripted clients send close_notify after the request and keep
	// reading). The upstream exchange must outlive that: a client that is
	// really gone ends it at the first failed write.
	if hj, ok := w.(http.Hijacker); ok {
		// goproxy relays a WebSocket on the hijacked connection until one
		// side ends, and never closes it: close it here, or it stays open
		// (connections_active, shutdown's drain) after both peers are gone.
		hw := &hijackCloser{ResponseWriter: w, hj: hj}
		defer hw.close()
		w = hw
	}
	ctx := withFlow(r.Context(), fl) // the request's one copy: see flowStore.start
	if r.ProtoMajor < 2 {
		ctx = context.WithoutCancel(ctx)
	}
	// An HTTP/2 stream ends only by its own RST_STREAM (or the connection's
	// end), never by a half-close: a stream the client cancels cancels its
	// upstream request with it, so a reset client stops what it started.
	p.gp.ServeHTTP(w, r.WithContext(ctx))
}

// hijackCloser is a ResponseWriter that remembers the connection a handler
// hijacked, so that it can be closed when the handler returns.
type hijackCloser struct {
	http.ResponseWriter
	hj   http.Hijacker
	conn net.Conn
}

func (h *hijackCloser) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := h.hj.Hijack()
	h.conn = c
	return c, rw, err
}

func (h *hijackCloser) Flush() {
	if f, ok := h.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// ReadFrom hands goproxy's io.Copy of the response body to net/http's
// ReadFrom, which copies through a pooled buffer: without it io.Copy
// allocates 32 KiB for every response.
func (h *hijackCloser) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := h.ResponseWriter.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{h.ResponseWriter}, r)
}

// Unwrap gives http.ResponseController the underlying ResponseWriter.
func (h *hijackCloser) Unwrap() http.ResponseWriter { return h.ResponseWriter }

func (h *hijackCloser) close() {
	if h.conn != nil {
		h.conn.Close()
	}
}

func hostOnly(hostport string) string {
	h := hostport
	if strings.IndexByte(hostport, ':') >= 0 { // without one, SplitHostPort fails (and allocates its error)
		if hh, _, err := net.SplitHostPort(hostport); err == nil {
			h = hh
		}
	}
	return strings.ToLower(strings.TrimSuffix(strings.Trim(h, "[]"), "."))
}

// errorPage is the body of the proxy's own error responses.
func errorPage(status int, title, detail string, s *session) string {
	id := ""
	if s != nil {
		id = "<p>Connection id: <code>" + html.EscapeString(s.id) + "</code> (search the records for it)</p>"
	}
	return fmt.Sprintf(`<!doctype html><meta charset="utf-8"><title>%d %s</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:46em;margin:3em auto;padding:0 1em}code{background:#eee;padding:0 .2em}</style>
<h1>%d %s</h1><p><strong>%s</strong></p><p>%s</p>%s<p><small>tlslens</small></p>
`, status, http.StatusText(status), status, http.StatusText(status), html.EscapeString(title), html.EscapeString(detail), id)
}

func writeError(w http.ResponseWriter, r *http.Request, status int, title, detail string, s *session) {
	flowOf(w, r).fail(title + ": " + detail)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	io.WriteString(w, errorPage(status, title, detail, s))
}

func errorResponse(r *http.Request, status int, title, detail string, s *session) *http.Response {
	flowFrom(r.Context()).fail(title + ": " + detail)
	resp := goproxy.NewResponse(r, "text/html; charset=utf-8", status, errorPage(status, title, detail, s))
	resp.Header.Set("Cache-Control", "no-store")
	return resp
}
