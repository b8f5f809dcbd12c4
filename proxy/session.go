package proxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/elazarl/goproxy"

	"github.com/tlslens/tlslens/inspect"
	"github.com/tlslens/tlslens/proxy/internal/advice"
	"github.com/tlslens/tlslens/proxy/internal/gotls"
)

// This file is one intercepted connection's life, in the order it happens:
// made (the CONNECT hijacked, admitted or refused, or a connection that
// arrived without one handed to Intercept), its handshakes (the
// client's hello read, the upstream dialled and handshaken, the client's
// handshake finished), its record (one deferred finish), then served.
//
// Each step leaves what it learned in the session: an error, a fact, the
// record's texts. None sets the outcome: finish decides it, in one place,
// writes the record and closes what is open, however the steps ended. Only
// a connection served as HTTP after both handshakes succeeded has its
// record held a moment longer, for settle (rejection.go): a close without
// a request then is a rejection of the certificate after the handshake.

// session is one intercepted client connection and its upstream connection.
type session struct {
	id     string
	target string // host:port from the CONNECT line
	host   string // host of target, without port or brackets
	// dest is target resolved once and judged (targets.go): every upstream
	// connection of the session dials its addresses, and no others.
	dest   *destination
	sni    string
	rec    *inspect.Record
	hello  *inspect.ClientHello
	client net.Conn // the client's connection to the proxy

	// What the steps found, for finish to decide the outcome from.
	denied       bool  // refused: access control or policy
	badRequest   bool  // refused as malformed: a port outside 1-65535
	clientErr    error // the client failed outside its TLS handshake (CONNECT, hello, no leaf)
	handshakeErr error // the client's TLS handshake failed
	sentFlight   bool  // tlslens's flight (with its certificate) reached the client
	gone         bool  // the client had closed before tlslens answered its hello

	// upstream is the connection dialled for this client, handed to the
	// transport on its first dial; nil when the upstream failed.
	upstream atomic.Pointer[tls.Conn]
	upErr    error                  // why the upstream cannot be used; served as a 502
	probe    *probe                 // the probe in flight (probe.go); record puts it on the record
	cap      *capture               // both legs' bytes (capture.go); nil without Options.Capture
	compat   bool                   // the upstream needed the legacy-compatible offer
	http2FP  atomic.Pointer[string] // the client's HTTP/2 fingerprint, once its first request's headers are in (h2fingerprint.go)
	tr       *http.Transport
	h1       *h1Upstream // HTTP/1.1 requests of a terminated connection (h1upstream.go); nil: all go over tr
	requests atomic.Int64
	held     atomic.Bool // the record waits for settle (first request, close, or pinningCloseWindow)
	// userAgent is the first request's User-Agent, for the record's
	// client_identity_mismatch; nil before a request.
	userAgent atomic.Pointer[string]
	hold      *time.Timer // settles a held record at pinningCloseWindow
	closed    sync.Once
	ready     time.Time // when both handshakes were done
	clientIP  string    // the client's address without its port

	// What serving does once the record is written.
	next       next
	dc         *tls.Conn // nextServe: the client's terminated connection
	raw        net.Conn  // nextRelay: the upstream TCP connection
	toClient   []byte    // nextRelay: the server's first bytes, not yet relayed
	toUpstream []byte    // nextRelay, nextPassthrough: the client's first bytes, not yet relayed
}

// next is what follows a session's record.
type next uint8

const (
	nextNone        next = iota // nothing: finish closes the connection
	nextServe                   // both handshakes done: serve the terminated connection
	nextRelay                   // not TLS: relay bytes as they are
	nextPassthrough             // relay the TLS connection untouched; it writes its own record
	nextPlain                   // https:// without CONNECT: the client connection's requests use it
	nextIgnored                 // a host of ignore_hosts: relay the TLS connection untouched, without a record
	nextHTTP                    // plain HTTP without CONNECT: served as plain proxy requests, which write its record
)

// name is the host the client meant: its SNI, else the CONNECT host.
func (s *session) name() string {
	if s.sni != "" {
		return s.sni
	}
	return s.host
}

// close closes the session's upstream connection and transport, once.
func (s *session) close() {
	s.closed.Do(func() {
		if c := s.upstream.Swap(nil); c != nil {
			c.Close()
		}
		if s.h1 != nil {
			s.h1.close()
		}
		if s.tr != nil {
			s.tr.CloseIdleConnections()
		}
	})
}

// roundTrip sends a request over the session's upstream.
func (s *session) roundTrip(req *http.Request) (*http.Response, error) {
	if s.h1 != nil {
		return s.h1.roundTrip(req)
	}
	return s.tr.RoundTrip(req)
}

// shed drops what a session no longer needs once it is served for as long
// as the client keeps it open (memory per idle connection): the hello's
// bytes, which the record has summarised. The offer a redial mirrors
// (versions, suites, groups, ALPN) stays.
func (s *session) shed() {
	if s.hello != nil {
		h := *s.hello
		h.Raw, h.Random, h.SessionID, h.SessionTicket = nil, nil, nil, nil
		h.Extensions, h.KeyShares = nil, nil // their bodies point into Raw
		s.hello = &h
	}
}

// hijack takes over a CONNECT: goproxy hands us the accepted connection.
func (p *Proxy) hijack(req *http.Request, c net.Conn, _ *goproxy.ProxyCtx) {
	s := p.newSession(req, c)
	ctx := context.WithoutCancel(req.Context()) // the outer request's context ends with the hijack
	p.opening.Store(s, true)
	defer p.opening.Delete(s) // once served: handed to the inner server (in conns), or relayed to the end
	p.open(ctx, req, s)
	p.serve(ctx, s)
}

// Intercept serves a client connection that reached tlslens without a
// CONNECT: redirected to it by the kernel (transparent mode) or carried by a
// WireGuard peer. target is the connection's original destination,
// host:port; via says how it arrived. Intercept takes ownership of c, writes
// exactly one record for it, and returns when the connection is done.
//
// From its first bytes on, c goes the way a CONNECT's connection goes after
// the 200: TLS is intercepted (the SNI names the leaf, the upstream is
// target), plain HTTP is served as plain proxy requests to their Host, and
// anything else is relayed to target and recorded as a tunnel. Policies,
// passthrough, auto-passthrough and mTLS apply as they do to a CONNECT.
// Access control is the listener's (its allow-list, WireGuard's keys):
// neither Options.AllowCIDRs nor Options.ProxyAuth is applied here.
//
// The intercepted HTTP is served by the server Serve (or ServeTransparent)
// runs: one of them must be running. Safe for concurrent use.
func (p *Proxy) Intercept(ctx context.Context, c net.Conn, target string, via inspect.Via) {
	ac, done := p.own(c)
	ac.via = via
	s := sessionFor(ac, ac.id, target) // claimed where its record is written (finish, or recordHTTP for plain HTTP)
	s.rec.Via = via
	p.openIntercepted(ctx, s)
	p.serve(ctx, s)
	<-done
}

// own prepares a connection handed to Intercept: an acceptedConn (its id,
// and what badrequest.go needs), tracked by Shutdown and the metrics unless
// a listener of the Proxy's accepted it, and a channel closed when it is.
func (p *Proxy) own(c net.Conn) (*acceptedConn, <-chan struct{}) {
	ac, ok := c.(*acceptedConn)
	if !ok {
		ac = &acceptedConn{Conn: p.live.add(c), id: newID(), accepted: time.Now()}
	}
	cn := &closeNotify{Conn: ac.Conn, done: make(chan struct{})}
	ac.Conn = cn
	return ac, cn.done
}

// closeNotify is a connection that closes done when it is closed.
type closeNotify struct {
	net.Conn
	done   chan struct{}
	closed sync.Once
}

func (c *closeNotify) Close() error {
	err := c.Conn.Close()
	c.closed.Do(func() { close(c.done) })
	return err
}

// openIntercepted takes a connection handed to Intercept as far as its
// record, as open takes a CONNECT: a policy that denies its target, or a
// destination admitDestination refuses, closes it; else the handshakes.
// Its deferred finish, as open's, decides the outcome and writes the record.
func (p *Proxy) openIntercepted(ctx context.Context, s *session) {
	defer p.finish(s)
	if p.policy(s.host) == ActionDeny {
		s.denied = true // no CONNECT to answer 403: the connection is closed
		s.rec.Reason = "policy: deny"
		s.rec.Client.Error = "denied by policy"
		return
	}
	if ref := p.admitDestination(ctx, s); ref != nil {
		s.refused(ref)          // a bad port, or an address denied
		s.rec.Client.Status = 0 // no CONNECT to answer: nothing was sent
		return
	}
	p.handshakes(ctx, s)
}

func (p *Proxy) newSession(req *http.Request, c net.Conn) *session {
	// The connection's id, unless it already has a record (plain requests
	// before the CONNECT), or it is not one of Serve's (a stream of an
	// HTTP/2 server the Proxy is mounted on as a handler).
	return sessionFor(c, claim(c), req.URL.Host)
}

// sessionFor starts the session and record of a connection from c to
// hostport (port 443 when it has none), under id.
func sessionFor(c net.Conn, id, hostport string) *session {
	target := hostport
	host, _, err := net.SplitHostPort(target)
	if err != nil { // no port: HTTPS by default
		host = strings.Trim(target, "[]")
		target = net.JoinHostPort(host, "443")
	}
	return &session{
		id:       id,
		target:   target,
		host:     strings.ToLower(host),
		client:   c,
		clientIP: addrHost(c.RemoteAddr().String()),
		rec: &inspect.Record{
			Schema: inspect.Schema,
			ID:     id,
			Mode:   inspect.ModeMITM,
			Target: target,
			Client: &inspect.Side{Addr: c.RemoteAddr().String(), Local: c.LocalAddr().String()},
		},
	}
}

// addrHost is the host of an ip:port address, or addr itself without a port.
func addrHost(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}

// open takes a hijacked CONNECT as far as its record: admitted or refused,
// then (docs/design.md, steps 2-5) the client's hello, the upstream, the client's
// handshake. However it returns, its deferred finish decides the outcome,
// writes the record and closes what will not be served.
func (p *Proxy) open(ctx context.Context, req *http.Request, s *session) {
	defer p.finish(s)
	c := s.client
	if ref := p.admitConnect(req, c, s); ref != nil {
		p.refuse(c, s, ref) // access control, or CONNECT to the onboarding host
		return
	}
	if p.policy(s.host) == ActionDeny {
		p.deny(s)
		return
	}
	if ref := p.admitDestination(ctx, s); ref != nil {
		p.refuse(c, s, ref) // a bad port, or an address denied
		s.refused(ref)
		return
	}
	if _, err := io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		s.clientErr = err
		s.rec.Client.Error = "the client went away before the tunnel was established: " + err.Error()
		return
	}
	p.handshakes(ctx, s)
}

func (p *Proxy) policy(host string) Action {
	if host == "" {
		return ActionMITM
	}
	return p.opts.Policy.Action(host)
}

// strictness orders actions when the CONNECT host and the SNI get different
// ones: the stricter applies.
var strictness = map[Action]int{ActionMITM: 0, ActionPassthrough: 1, ActionDeny: 2}

// hostAction is the policy for a connection whose ClientHello is in: rules
// match the CONNECT host and the SNI, and when the two get different
// actions the stricter applies (deny, then passthrough, then mitm), so a
// client cannot escape a rule by naming one host in CONNECT and another in
// its SNI. An IP-range rule matching an address the target resolved to
// counts too. The reason names the rule's subject for the record.
func (p *Proxy) hostAction(s *session) (Action, string) {
	act, why := p.policy(s.host), "host "+s.host
	if s.sni != "" && s.sni != s.host {
		if a := p.policy(s.sni); strictness[a] > strictness[act] {
			act, why = a, "server name "+s.sni
		}
	}
	if d := s.dest; d != nil && strictness[d.action] > strictness[act] {
		return d.action, d.reason // an address the target resolved to decided
	}
	return act, fmt.Sprintf("policy: %s (%s)", act, why)
}

// deny refuses a CONNECT with 403.
func (p *Proxy) deny(s *session) {
	body := fmt.Sprintf("tlslens: connections to %s are denied by policy\n", s.target)
	fmt.Fprintf(s.client, "HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len(body), body)
	s.denied = true
	s.rec.Reason = "policy: deny"
	s.rec.Client.Error = "denied by policy"
}

// handshakes runs steps 2-5 of docs/design.md on a client connection whose CONNECT
// has been answered: the client's hello, the policy for its server name,
// the upstream, and the client's handshake. What it found is in s.
func (p *Proxy) handshakes(ctx context.Context, s *session) {
	for _, host := range p.auto.sweep() {
		p.log.WithField("host", host).Info("auto passthrough expired")
	}
	c := s.client
	c.SetDeadline(time.Now().Add(p.opts.HandshakeTimeout))
	first := earlyFrom(ctx) // sent behind the CONNECT, before its 200
	if len(first) == 0 {
		var handled bool
		if first, handled = p.serverFirst(ctx, c, s); handled {
			return // a server-first protocol (SSH, SMTP): relayed once recorded
		}
	}
	raw, hello, err := p.readClientHello(c, first)
	if err != nil {
		if errors.Is(err, inspect.ErrNotTLS) && !errors.Is(err, inspect.ErrSSLv2) && len(raw) > 0 {
			if !s.rec.Via.IsZero() && looksLikeHTTP(raw) {
				// Plain HTTP without a CONNECT: served as plain proxy
				// requests. Inside a CONNECT it stays a tunnel (a
				// ws:// connection through the proxy, say).
				s.next, s.toUpstream = nextHTTP, raw
				return
			}
			p.tunnel(ctx, s, raw, err)
			return
		}
		s.clientErr = err
		s.rec.Client.Error = advice.Hello(err, len(raw), p.opts.HandshakeTimeout)
		return
	}
	s.hello = hello
	s.sni = strings.ToLower(strings.TrimSuffix(hello.SNI, "."))
	s.rec.Client.Hello = hello.Hello()
	act, reason := p.hostAction(s)
	if act == ActionDeny {
		p.denyTLS(c, s, reason)
		return
	}
	if pattern := p.ignored(s); pattern != "" {
		s.ignore(raw, pattern, p.opts.RecordIgnored)
		return
	}
	if act == ActionPassthrough {
		s.passOn(raw, reason)
		return
	}
	if on, why := p.auto.active(s.name()); on {
		s.passOn(raw, why)
		return
	}

	s.cap = p.captures.start(s.id, c, raw)
	s.probe = p.startProbe(ctx, s, raw) // runs while the upstream handshakes
	upCtx, cancel := context.WithTimeout(ctx, p.opts.DialTimeout+p.opts.HandshakeTimeout)
	up, upErr := p.dialUpstream(upCtx, s)
	cancel()
	s.upErr = upErr
	if up != nil {
		s.upstream.Store(up)
	}

	// The upstream's handshake time is not the client's: its own starts now.
	c.SetDeadline(time.Now().Add(p.opts.HandshakeTimeout))
	gone := peerClosed(c)
	dc := p.handshakeClient(c, s, raw, up)
	if dc == nil {
		s.gone = gone
		return
	}
	c.SetDeadline(time.Time{})
	s.next, s.dc = nextServe, dc
}

// passOn leaves a connection to passthrough, which forwards its hello (raw)
// and records it; reason becomes the record's.
func (s *session) passOn(raw []byte, reason string) {
	s.rec.Reason = reason
	s.next, s.toUpstream = nextPassthrough, raw
}

// ignored is the ignore_hosts pattern that matches s (its CONNECT host,
// its server name or an address its target resolved to), or "" when none
// does.
func (p *Proxy) ignored(s *session) string {
	if p.ignore == nil {
		return ""
	}
	for _, h := range []string{s.host, s.sni} {
		if m := p.ignore.match(h); h != "" && m != "" {
			return m
		}
	}
	if s.dest != nil {
		for _, a := range s.dest.addrs {
			if _, m := p.ignore.addr(a.WithZone("")); m != "" {
				return m
			}
		}
	}
	return ""
}

// ignore leaves a connection to a host of ignore_hosts (pattern) to be
// relayed untouched, from its hello (raw) on: without a record, or, with
// record, as a passthrough whose record says ignored.
func (s *session) ignore(raw []byte, pattern string, record bool) {
	if record {
		s.passOn(raw, "ignore_hosts: "+pattern)
		s.rec.Ignored = true
		return
	}
	s.next, s.toUpstream = nextIgnored, raw
}

// tunnel prepares the relay of a client that did not speak TLS after its
// CONNECT: it dials the target, and serving sends it the client's first
// bytes.
func (p *Proxy) tunnel(ctx context.Context, s *session, first []byte, why error) {
	s.rec.Mode = inspect.ModeTunnel
	s.rec.Client.Error = fmt.Sprintf("the client did not start a TLS handshake (%v); first bytes %q", why, preview(first))
	start := time.Now()
	up, err := p.dial(ctx, s)
	s.rec.Upstream = &inspect.Side{Resolved: s.resolved(), DurationMS: msSince(start)}
	if err != nil {
		s.rec.Upstream.Error = advice.Dial(s.target, err, p.opts.DialTimeout)
		return
	}
	s.rec.Upstream.Addr, s.rec.Upstream.Local = up.RemoteAddr().String(), up.LocalAddr().String()
	s.next, s.raw, s.toUpstream = nextRelay, up, first
}

// dial opens a TCP connection to the session's target within DialTimeout,
// to an address of its judged destination (targets.go; judged now if the
// session has none yet). Every upstream connection a session makes is
// dialled here: the upstream handshake and its redials, passthrough, the
// not-TLS tunnel and the server-first probe.
func (p *Proxy) dial(ctx context.Context, s *session) (net.Conn, error) {
	if s.dest == nil {
		host, port, err := splitTarget(s.target)
		if err != nil {
			return nil, err
		}
		s.dest = p.judge(ctx, host, port)
	}
	ctx, cancel := context.WithTimeout(ctx, p.opts.DialTimeout)
	defer cancel()
	return p.dialDestination(ctx, s.dest)
}

// handshakeClient finishes the client's handshake with a leaf for its SNI,
// replaying the ClientHello already read, and returns the terminated
// connection. It fills the record's client side and, on failure, leaves
// the error and what the client was sent in s; it returns nil then.
func (p *Proxy) handshakeClient(c net.Conn, s *session, hello []byte, up *tls.Conn) *tls.Conn {
	side := s.rec.Client
	start := time.Now()
	leaf, err := p.opts.Authority.Leaf(s.name())
	if err != nil {
		s.clientErr = err
		side.Error = fmt.Sprintf("minting a certificate for %q: %v", s.name(), err)
		return nil
	}
	rc := newRecordingConn(s.cap.clientConn(c), 256<<10)
	rc.writeSize = recordingSize // tlslens's flight, with its chain
	keys := &keyLog{out: p.keyLogOut()}
	sent := leaf // the leaf the client is shown: leafFor's choice
	cfg := &tls.Config{
		GetCertificate: func(chi *tls.ClientHelloInfo) (*tls.Certificate, error) {
			c, err := p.leafFor(chi, s.name(), leaf)
			if c != nil {
				sent = c
			}
			return c, err
		},
		NextProtos:   clientALPN(s.hello, up),
		MinVersion:   p.opts.ClientMinVersion,
		CipherSuites: gotls.AllSuites(),
		KeyLogWriter: keys,
	}
	// Shared by every client leg, so that tickets resume across connections.
	cfg.SetSessionTicketKeys([][32]byte{p.ticketKey})
	dc := tls.Server(newPrefixConn(rc, hello), cfg)
	// The connection's deadline (set by handshakes) bounds the handshake: a
	// context would cost crypto/tls a goroutine per handshake to watch it.
	err = dc.Handshake()
	side.DurationMS = msSince(start)
	read, written := rc.stop()
	side.Chain = p.certs.chain([]*x509.Certificate{sent.Leaf}) // what was sent: the leaf (ca.Authority.Leaf or RSALeaf)

	st := dc.ConnectionState()
	flight, _ := inspect.ParseServerFlight(written, keys.Bytes())
	if flight != nil {
		side.ServerHello = flight.ServerHelloRecord()
		side.KeyExchange = flight.KeyExchange
	}
	suite := st.CipherSuite
	if suite == 0 && flight != nil && flight.ServerHello != nil {
		suite = flight.ServerHello.CipherSuite
	}
	if st.DidResume || flight == nil || flight.ServerHello == nil {
		side.Chain = nil // no Certificate was sent: resumed, or failed before the ServerHello
	}
	if err == nil {
		// tlslens asks the client for no certificate, so after a handshake
		// that succeeded the client's flight holds only its Finished:
		// nothing to decrypt for the record.
		s.cap.keyLog(keys.Bytes())
		keys.release()
		side.Negotiated = negotiated(st)
		return dc
	}
	cf, _ := inspect.ParseClientFlight(read, suite, keys.Bytes())
	s.cap.keyLog(keys.Bytes())
	keys.release()
	if cf != nil && len(cf.Certificates) > 0 {
		if certs, _ := inspect.ParseChain(cf.Certificates); len(certs) > 0 {
			cc := inspect.Certificate(certs[0])
			side.ClientCertificate = &cc
		}
	}
	if cf != nil {
		side.Alert = cf.Alert
	}
	if side.Alert == "" {
		side.Alert = remoteAlert(err)
	}
	s.handshakeErr, s.sentFlight = err, len(written) > 0
	return nil
}

// clientALPN is the protocol list offered to the client: the one the server
// chose, so both legs speak the same protocol (ALPN mirroring). With no
// upstream, HTTP/1.1 (for the 502 page) when the client offers it.
func clientALPN(h *inspect.ClientHello, up *tls.Conn) []string {
	if up != nil {
		if proto := up.ConnectionState().NegotiatedProtocol; proto != "" {
			return []string{proto}
		}
		return nil
	}
	for _, proto := range h.ALPN {
		if proto == "http/1.1" || proto == "h2" {
			return []string{proto}
		}
	}
	return nil
}

// handshakeAdvice is what a failed client handshake's error says instead of
// its classification, when the client's offer or version explains it; ""
// when nothing does.
func (p *Proxy) handshakeAdvice(s *session) string {
	side, alert := s.rec.Client, s.rec.Client.Alert
	why := ""
	if u := advice.Unservable(s.hello, p.opts.ClientMinVersion); alert == "" && u != "" && !isClosed(s.handshakeErr) {
		why = u // crypto/tls refused the offer itself: say what the client lacks
	}
	if side.ServerHello != nil && side.KeyExchange != nil && !certRejectAlerts[alert] {
		if r := advice.SHA1Refused(side.ServerHello.Version, side.KeyExchange.SignatureAlgorithm, alert); r != "" {
			why = r
		}
	}
	if _, hi := s.hello.VersionRange(); hi < p.opts.ClientMinVersion {
		why = fmt.Sprintf("the client offers at most %s, below client_min_version %s: lower client_min_version to observe it",
			inspect.VersionName(hi), inspect.VersionName(p.opts.ClientMinVersion))
	}
	return why
}

// finish ends a session's opening, however it went: it decides the outcome
// from what the steps left in s, writes the record and closes what will not
// be served. A plain HTTP connection without CONNECT is recorded as plain
// proxy connections are (badrequest.go). A passthrough writes its own
// record, once the server's clear flight is in. The record of a connection served over HTTP whose
// handshakes succeeded is held for settle: what the client does next may
// be a rejection of the certificate.
func (p *Proxy) finish(s *session) {
	switch s.next {
	case nextPassthrough, nextHTTP:
		return // recorded by passthrough; by its first request or its close
	case nextIgnored:
		s.rec = nil     // the one connection without a record: counted instead
		claim(s.client) // accounted for: nothing writes a bad_request record for it at its close
		p.metrics.ignored()
		return
	}
	s.rec.Outcome = p.outcome(s)
	if s.rec.Outcome == inspect.OutcomeOK && s.next == nextServe && overHTTP(s) {
		s.held.Store(true)
	} else {
		p.record(s)
	}
	if s.next != nextNone {
		s.shed()
		return
	}
	s.close()
	s.client.Close()
	s.cap.clientClosed()
}

// record writes a session's record, its outcome decided, and lets it go.
func (p *Proxy) record(s *session) {
	if ua := s.userAgent.Load(); ua != nil && s.rec.Client != nil {
		s.rec.Client.UserAgent = *ua
	}
	if s.rec.Outcome == inspect.OutcomeClientRejectedCertificate {
		p.noteRejection(s)
	}
	if fp := s.http2FP.Load(); fp != nil && s.rec.Client != nil {
		s.rec.Client.HTTP2Fingerprint = *fp
	}
	s.rec.Readiness = inspect.ReadinessOf(s.rec, s.hello)
	p.emitProbed(s.rec, s.probe) // the only call in the intercepting path
	s.rec, s.probe = nil, nil
}

// outcome is the one place a session's outcome is decided, from what its
// steps found: a refusal, a client that is not TLS, a client that failed,
// an upstream that failed, or neither.
func (p *Proxy) outcome(s *session) inspect.Outcome {
	switch {
	case s.denied && s.badRequest:
		return inspect.OutcomeBadRequest
	case s.denied:
		return inspect.OutcomeDenied
	case s.rec.Mode == inspect.ModeTunnel:
		return inspect.OutcomeNotTLS
	case s.clientErr != nil || s.handshakeErr != nil:
		return p.clientOutcome(s)
	case s.upErr != nil:
		var ue *upstreamError
		if errors.As(s.upErr, &ue) {
			return ue.outcome
		}
		return inspect.OutcomeUpstreamHandshakeFailed
	}
	return inspect.OutcomeOK
}

// serve runs a recorded session for as long as the client keeps it: the
// terminated connection served (HTTP through the inner server, anything else
// relayed as decrypted bytes), a connection that is not TLS relayed as it is,
// or a passthrough.
func (p *Proxy) serve(ctx context.Context, s *session) {
	switch s.next {
	case nextServe:
		s.ready = time.Now()
		if s.held.Load() {
			s.hold = time.AfterFunc(pinningCloseWindow, func() { p.settled(s, time.Time{}) })
		}
		p.serveTLS(s)
	case nextRelay:
		p.relayRaw(s)
	case nextPassthrough:
		p.passthrough(ctx, s.client, s, s.toUpstream)
	case nextIgnored:
		p.relayIgnored(ctx, s)
	case nextHTTP:
		p.servePlain(s)
	}
}

// servePlain hands a connection that spoke plain HTTP without a CONNECT to
// the inner server, its first bytes replayed: its requests go on as plain
// proxy requests to their Host (serveIntercepted), and its record is theirs
// (recordHTTP), or its close's when it carried none (closedUnrecorded).
func (p *Proxy) servePlain(s *session) {
	ac := s.client.(*acceptedConn)
	c := newPrefixConn(ac, s.toUpstream)
	s.toUpstream = nil
	ac.SetDeadline(time.Time{}) // the inner server's timeouts apply from now on
	p.conns.Store(c, &plainIntercepted{conn: ac, target: s.target})
	if !p.ln.hand(c) {
		p.conns.Delete(c)
		c.Close()
		p.closedUnrecorded(ac)
	}
}

// plainIntercepted is a connection handed to Intercept that speaks plain
// HTTP, served by the inner server.
type plainIntercepted struct {
	conn   *acceptedConn
	target string // the original destination, for a request without Host
}

// overHTTP reports whether a session's terminated connection is served as
// HTTP, or may be (no ALPN, on a port that may be HTTP): its record waits for
// the first request. Other protocols are relayed, their record written at once.
func overHTTP(s *session) bool {
	proto := s.dc.ConnectionState().NegotiatedProtocol
	return proto == "h2" || proto == "http/1.1" || proto == "" && !nonHTTPPorts[portOf(s.target)]
}

// serveTLS serves a terminated client connection: HTTP through the inner
// server, anything else relayed to the upstream as decrypted bytes.
func (p *Proxy) serveTLS(s *session) {
	dc := s.dc
	s.dc = nil
	s.tr = p.transport(s)
	proto := dc.ConnectionState().NegotiatedProtocol
	var conn net.Conn = dc
	ln := p.ln
	switch {
	case proto == "h2":
		if g := p.guardResets(dc, s); g != nil {
			conn, ln = g, p.lnH2
		}
	case proto == "http/1.1":
		s.h1 = &h1Upstream{p: p, s: s}
	case proto != "" || nonHTTPPorts[portOf(s.target)]:
		p.relayTLS(dc, s)
		return
	default:
		// No ALPN on a port that may be HTTP: look at what the client sends.
		br := bufio.NewReader(dc)
		dc.SetReadDeadline(time.Now().Add(sniffTimeout))
		first, perr := br.Peek(8)
		dc.SetReadDeadline(time.Time{})
		var ne net.Error
		if len(first) == 0 && perr != nil && !(errors.As(perr, &ne) && ne.Timeout()) {
			// Closed (or alerted) without a byte: a client such as wget
			// that checks the certificate after the handshake and hangs up.
			if !p.settle(s, time.Now()) {
				p.closedUnused(s)
			}
			s.close()
			dc.Close()
			return
		}
		conn = &bufferedConn{Conn: dc, r: br}
		if !looksLikeHTTP(first) {
			p.settle(s, time.Time{}) // not HTTP after all: relayed, recorded at once
			p.relayTLS(conn, s)
			return
		}
		s.h1 = &h1Upstream{p: p, s: s}
	}
	p.conns.Store(conn, s)
	if !ln.hand(conn) {
		p.conns.Delete(conn)
		s.close()
		conn.Close()
	}
}

// transport is the HTTP transport private to one client connection: its first
// dial is the upstream connection already made, so one client connection maps
// to one upstream connection.
func (p *Proxy) transport(s *session) *http.Transport {
	return &http.Transport{
		Proxy: nil,
		DialTLSContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			if c := s.upstream.Swap(nil); c != nil {
				return c, nil
			}
			return p.redial(ctx, s)
		},
		ForceAttemptHTTP2:     true,
		DisableCompression:    true, // forward Accept-Encoding as the client sent it, or not at all
		MaxIdleConnsPerHost:   1,
		IdleConnTimeout:       p.opts.IdleTimeout,
		ExpectContinueTimeout: time.Second,
	}
}

// relayIgnored relays a connection to a host of ignore_hosts as it is: its
// hello, then both ways until they end. Nothing is parsed or recorded; an
// unreachable target is a debug line and a closed connection.
func (p *Proxy) relayIgnored(ctx context.Context, s *session) {
	up, err := p.dial(ctx, s)
	if err != nil {
		p.log.WithError(err).WithField("id", s.id).WithField("target", s.target).Debug("ignored host unreachable: closed the client's connection")
		s.client.Close()
		return
	}
	s.raw = up
	p.relayRaw(s)
}

// relayRaw relays a connection that is not TLS: the bytes each side sent
// before the record was written, then both ways until they end.
func (p *Proxy) relayRaw(s *session) {
	c, up := s.client, s.raw
	s.raw = nil
	c.SetDeadline(time.Time{})
	if len(s.toClient) > 0 {
		if _, err := c.Write(s.toClient); err != nil {
			up.Close()
			c.Close()
			return
		}
	}
	if len(s.toUpstream) > 0 {
		if _, err := up.Write(s.toUpstream); err != nil {
			up.Close()
			c.Close()
			return
		}
	}
	s.toClient, s.toUpstream = nil, nil
	p.relay(c, up)
}
