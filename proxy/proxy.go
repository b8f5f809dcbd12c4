// Package proxy owns tlslens's connections: the goproxy front (CONNECT, plain
// HTTP, policies), the interception engine that pairs one client connection
// with one upstream connection, passthrough and relaying, and the one call that
// writes each connection's handshake record.
//
// It calls package ca for leaf certificates and package inspect for every fact
// about the bytes; it parses nothing and signs nothing itself.
package proxy

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/elazarl/goproxy"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"

	"github.com/tlslens/tlslens/ca"
	"github.com/tlslens/tlslens/inspect"
)

// Verification policies for upstream certificates.
const (
	VerifyStrict = "strict" // a chain that fails verification is not used: the client gets a 502
	VerifyLog    = "log"    // record the failure, a critical finding, and carry on
)

// Options configures a Proxy. The zero value of each field is documented; only
// Authority is required.
type Options struct {
	// Authority mints the leaves presented to clients. Required.
	Authority *ca.Authority
	// Log receives operational logs (start-up, errors), each with the
	// connection id. Nil discards them.
	Log logrus.FieldLogger
	// Records receives one "handshake" entry per connection (docs/record.md).
	// Nil discards them.
	Records logrus.FieldLogger
	// RecordFile, if set, receives the lines Records would with logrus's
	// JSONFormatter (TimestampFormat RecordTimeFormat), byte for byte, one
	// per connection, but encoded by the proxy without logrus (recordline.go):
	// each line in one Write, one Write at a time, before OnRecord is
	// called. Write errors are logged to Log.
	RecordFile io.Writer
	// OnRecord, if set, is called with each record after it is written, from
	// the connection's goroutine (or, for a record that waited for its
	// probe, the probe's), so calls may be concurrent (a terminal line:
	// report.Line). It must not keep or modify the record.
	OnRecord func(*inspect.Record)
	// OnRecordJSON, if set, is called after OnRecord, alike, with the
	// record (its Time set to when it was written, in UTC) and its JSON
	// as json.Marshal writes it: assembled from the values the record line
	// is, encoded once, for a consumer that keeps records as JSON (the web
	// view). It may keep the JSON, not the record.
	OnRecordJSON func(r *inspect.Record, json []byte)

	// Flows receives one "flow" entry per HTTP request on a recorded
	// connection (inspect.Flow, flow.go), apart from the records; the
	// values of Authorization, Proxy-Authorization, Cookie and Set-Cookie
	// are redacted unless FlowSecrets. Flows are captured only when Flows,
	// FlowFile or OnFlow is set, or KeepFlows: without them, at no cost.
	Flows logrus.FieldLogger
	// FlowFile, if set, receives the lines Flows would with FlowFormatter
	// (TimestampFormat FlowTimeFormat), one per flow, redacted alike, but
	// encoded by the proxy without logrus and written in batches from one
	// goroutine at a time: a line is written at most 100 ms after its flow
	// ends, and every line by FlushFlows and at the end of Shutdown. Write
	// errors are logged to Log.
	FlowFile io.Writer
	// OnFlow, if set, is called with each flow once its answer is done,
	// from the request's goroutine (calls may be concurrent), with the
	// flow as kept in memory: headers unredacted, bodies as kept. It must
	// not keep or modify the flow.
	OnFlow func(*inspect.Flow)
	// KeepFlows keeps flows in memory (Proxy.Flows, bounded by FlowBodyMax
	// and FlowMemory) even when none of Flows, FlowFile and OnFlow is set:
	// for a web view that lists each connection's requests.
	KeepFlows bool
	// FlowSecrets writes credential header values to Flows as they are.
	FlowSecrets bool
	// FlowBodyMax is how many bytes of each request and response body are
	// kept in memory with their flow (Proxy.Flows); 0 means 1 MiB,
	// negative keeps none. Bodies are never written to Flows.
	FlowBodyMax int
	// FlowMemory bounds the bytes of bodies kept in memory across flows,
	// those in progress included: the oldest flows leave first; 0 means
	// 64 MiB, negative keeps no flow in memory (sizes only).
	FlowMemory int64

	// UpstreamRoots verifies upstream chains; nil means the system roots.
	UpstreamRoots *x509.CertPool
	// UpstreamRootsName names UpstreamRoots in records; "" means "system".
	UpstreamRootsName string
	// Verify is VerifyStrict ("" means strict) or VerifyLog.
	Verify string

	// HandshakeTimeout bounds reading the ClientHello and each handshake; 0 means 10s.
	HandshakeTimeout time.Duration
	// DialTimeout bounds the TCP dial upstream; 0 means 10s.
	DialTimeout time.Duration
	// IdleTimeout closes intercepted connections idle this long; 0 means 5m.
	IdleTimeout time.Duration
	// MaxHelloSize caps the bytes read for a ClientHello; 0 means 64 KiB.
	MaxHelloSize int
	// MaxConnections caps the client connections open on the proxy listener
	// at once; 0 means 10000. One more is answered "503 Service Unavailable"
	// and closed, without a record (it was never read), and a warning is
	// logged at most every 10s.
	MaxConnections int
	// MaxHeaderBytes caps a request's header, on the proxy listener and on
	// intercepted connections (HTTP/1.1 and HTTP/2); 0 means 64 KiB.
	MaxHeaderBytes int
	// ClientMinVersion is the lowest TLS version accepted from clients; 0 means TLS 1.0.
	ClientMinVersion uint16

	// Policy decides what to do with a target (Rules): its name rules
	// match the host the client named (and its SNI), its IP-range rules
	// every address tlslens connects to for it. Nil means everything is
	// intercepted.
	Policy *Policy
	// AllowLocalTargets lets clients reach the proxy host itself (its
	// loopback and own addresses, unspecified and link-local addresses,
	// 169.254.169.254 included) while the proxy listens beyond loopback.
	// False denies them then, as Squid's default to_localhost rule does: a
	// LAN client must not reach what listens only on the host's loopback.
	// The proxy decides from the listeners Serve is given: on loopback
	// listeners only, local targets are allowed whatever this says (local
	// debugging).
	AllowLocalTargets bool
	// IgnoreHosts are patterns (Rule.Match's: names, "*.example.com",
	// IP ranges) of hosts whose connections tlslens relays untouched and
	// does not record: a browser's background traffic. A connection (a
	// CONNECT, or one handed to Intercept) is ignored when its target host,
	// its server name or an address its target resolved to matches, unless
	// the policy denies it. Each such connection counts in
	// tlslens_connections_ignored_total instead of having a record. Nil
	// ignores none.
	IgnoreHosts []string
	// RecordIgnored records the connections of IgnoreHosts after all, as
	// passthrough records with "ignored": true; they are then not counted
	// as ignored.
	RecordIgnored bool
	// Protected are the addresses of listeners never reachable through the
	// proxy, whatever the listener and AllowLocalTargets: the admin
	// listener. One on 0.0.0.0 or :: is protected on every address of the
	// host. Nil protects none.
	Protected []netip.AddrPort
	// KeyLog, if set, receives NSS key log lines for both legs of every
	// connection (SSLKEYLOGFILE format). Safe to share; writes are serialised.
	KeyLog io.Writer

	// Capture, if set, keeps the bytes of both legs of each intercepted
	// connection and their key log lines, for Proxy.Capture and
	// Proxy.KeyLogLines, within its bounds. Nil keeps nothing, at no cost.
	Capture *Capture

	// ClientCertificate returns the client certificate to present when the
	// server named host asks for one (mTLS); nil, or a nil result, sends none.
	ClientCertificate func(host string) *tls.Certificate

	// AutoPassthrough passes a host through (hellos recorded, traffic not
	// decrypted) after its clients reject the proxy's certificate Threshold
	// times within Window, for TTL: apps that pin keep working. A zero
	// Threshold turns it off.
	AutoPassthrough AutoPassthrough

	// Probe sends the client's own ClientHello to the server on a second
	// connection, never completed, and records the server's answer as the
	// record's probe side (docs/record.md): ProbeOff, ProbeFirst (once per
	// server and distinct client hello within ProbeTTL) or ProbeAlways.
	// At most one probe per server is in flight; passthrough and tunnels
	// are never probed. "" means ProbeOff: tlslens's configuration
	// defaults to ProbeFirst, a program embedding the proxy opts in.
	Probe string
	// ProbeTTL is how long ProbeFirst remembers a server and hello; 0
	// means 10m.
	ProbeTTL time.Duration

	// Clients names the client software of each hello on the record's
	// client.identity: inspect.KnownClients extended by a user's
	// fingerprints file (inspect.ClientTable.Extend). Nil means
	// inspect.KnownClients().
	Clients *inspect.ClientTable

	// Resolver looks up target names, once per target: the addresses it
	// returns are judged by the policy and are the only ones dialled. Nil
	// means net.DefaultResolver. Names under localhost never reach it: they
	// are the loopback addresses (RFC 6761 §6.3).
	Resolver Resolver
	// Dial opens upstream TCP connections, always to an ip:port that was
	// judged; nil means a net.Dialer.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)

	// ProxyAuth, if not empty, requires Basic proxy authentication with one
	// of these credentials on every CONNECT and plain proxy request; others
	// get 407 (a refused CONNECT is recorded as denied). The onboarding page
	// at the proxy's own address needs none: the CA certificate is public.
	ProxyAuth []Credential
	// AllowCIDRs, if not empty, admits only clients whose source address is
	// in one of these prefixes; others get 403 (a refused CONNECT is recorded
	// as denied). It applies to every request, the onboarding page included.
	AllowCIDRs []netip.Prefix
	// Metrics, if set, receives the proxy's Prometheus collectors
	// (tlslens_connections_total, tlslens_handshakes_total, ...). Nil means
	// no metrics.
	Metrics prometheus.Registerer

	// WireGuard, if set, configures the WireGuard server that
	// ServeWireGuard runs (wireguard.go), and the onboarding page shows the
	// peer's configuration. Nil means no WireGuard mode.
	WireGuard *WireGuard
}

// AutoPassthrough configures Options.AutoPassthrough.
type AutoPassthrough struct {
	Threshold int           // rejections that engage it; 0 turns it off
	Window    time.Duration // within which the rejections count
	TTL       time.Duration // how long the host stays passed through
}

// An Action is what a policy does with a target.
type Action string

// Policy actions.
const (
	ActionMITM        Action = "mitm"
	ActionPassthrough Action = "passthrough"
	ActionDeny        Action = "deny"
)

// A Proxy is an intercepting HTTP(S) proxy. It is an http.Handler for the
// outer (proxy) listener; Serve runs it on a listener. Safe for concurrent use.
type Proxy struct {
	opts    Options
	log     logrus.FieldLogger
	recs    logrus.FieldLogger // Options.Records; nil: none
	recMu   sync.Mutex         // held while writing to Options.RecordFile
	gp      *goproxy.ProxyHttpServer
	inner   *http.Server     // HTTP/1, and HTTP/2 under TLS 1.2 (refused)
	ln      *chanListener    // to inner
	innerH2 *http.Server     // HTTP/2 inside a resetGuard (h2reset.go)
	lnH2    *chanListener    // to innerH2; p.ln's sibling, closed with it
	auto    *autoPassthrough // nil when off
	wg      *wireGuard       // nil without Options.WireGuard
	// ignore holds Options.IgnoreHosts, each a passthrough rule; nil for none.
	ignore *Policy

	prober   *prober   // nil when Options.Probe is off
	captures *captures // nil without Options.Capture

	keyLogMu sync.Mutex
	conns    sync.Map   // *tls.Conn → *session, for the inner server's ConnContext
	plain    sync.Map   // outer net.Conn → *plainConn: its absolute-form https:// sessions
	flows    *flowStore // nil when flows are off

	// opening holds the CONNECT sessions from their hijack until they are
	// served (*session → true): spare counts a client's connection to a
	// host still in its handshakes, not yet in conns.
	opening sync.Map

	access   access         // allow-list and proxy authentication
	live     liveConns      // the proxy listener's open connections
	metrics  *metrics       // nil without Options.Metrics
	limit    *connLimit     // Options.MaxConnections
	verified *verifyCache   // upstream chains that verified recently
	certs    *certSummaries // record summaries of recently seen certificates

	resolver Resolver    // Options.Resolver, or net.DefaultResolver
	local    localAddrs  // the host's own addresses, for local targets
	exposed  atomic.Bool // a listener is beyond loopback: local targets are denied

	// ticketKey encrypts the session tickets of every client leg, so a
	// client can resume on a new connection (a tls.Config's own key is
	// per Config, and each client leg has its own Config).
	ticketKey [32]byte

	// stopping is set by Shutdown and Close: a connection they close
	// before its first request was not closed by its client (settle).
	stopping atomic.Bool
}

// New returns a Proxy. It starts no goroutine until Serve.
func New(opts Options) (*Proxy, error) {
	if opts.Authority == nil {
		return nil, errors.New("proxy: Options.Authority is required")
	}
	switch opts.Probe {
	case "", ProbeOff, ProbeFirst, ProbeAlways:
	default:
		return nil, fmt.Errorf("proxy: unknown probe setting %q (want %q, %q or %q)", opts.Probe, ProbeOff, ProbeFirst, ProbeAlways)
	}
	switch opts.Verify {
	case "":
		opts.Verify = VerifyStrict
	case VerifyStrict, VerifyLog:
	default:
		return nil, fmt.Errorf("proxy: unknown verify policy %q (want %q or %q)", opts.Verify, VerifyStrict, VerifyLog)
	}
	if opts.HandshakeTimeout <= 0 {
		opts.HandshakeTimeout = 10 * time.Second
	}
	if opts.DialTimeout <= 0 {
		opts.DialTimeout = 10 * time.Second
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = 5 * time.Minute
	}
	if opts.MaxHelloSize <= 0 {
		opts.MaxHelloSize = 64 << 10
	}
	if opts.ClientMinVersion == 0 {
		opts.ClientMinVersion = tls.VersionTLS10
	}
	if opts.MaxConnections <= 0 {
		opts.MaxConnections = defaultMaxConnections
	}
	if opts.MaxHeaderBytes <= 0 {
		opts.MaxHeaderBytes = defaultMaxHeaderBytes
	}
	if opts.UpstreamRootsName == "" {
		opts.UpstreamRootsName = "system"
	}
	if opts.Dial == nil {
		d := &net.Dialer{Timeout: opts.DialTimeout}
		opts.Dial = d.DialContext
	}
	if opts.Clients == nil {
		opts.Clients = inspect.KnownClients()
	}
	p := &Proxy{opts: opts, log: opts.Log, recs: opts.Records, resolver: opts.Resolver}
	if p.resolver == nil {
		p.resolver = net.DefaultResolver
	}
	p.prober = newProber(opts.Probe, opts.ProbeTTL)
	p.captures = newCaptures(opts.Capture, func(id string, err error) {
		p.log.WithField("id", id).WithError(err).Warn("capture file write failed")
	})
	if a := opts.AutoPassthrough; a.Threshold > 0 {
		p.auto = newAutoPassthrough(a.Threshold, a.Window, a.TTL, nil)
	}
	if p.log == nil {
		p.log = discardLogger()
	}
	var err error
	if p.access, err = newAccess(opts.AllowCIDRs, opts.ProxyAuth); err != nil {
		return nil, err
	}
	if len(opts.IgnoreHosts) > 0 {
		rules := make([]Rule, len(opts.IgnoreHosts))
		for i, h := range opts.IgnoreHosts {
			rules[i] = Rule{Match: h, Action: ActionPassthrough}
		}
		if p.ignore, err = Rules(rules); err != nil {
			return nil, fmt.Errorf("proxy: ignore_hosts: %w", err)
		}
	}
	if p.metrics, err = newMetrics(opts.Metrics, p); err != nil {
		return nil, err
	}
	if p.wg, err = newWireGuard(opts.WireGuard, opts.Metrics); err != nil {
		return nil, err
	}
	p.limit = newConnLimit(opts.MaxConnections, p.log)
	p.verified = newVerifyCache()
	p.flows = newFlowStore(opts)
	p.certs = newCertSummaries()
	rand.Read(p.ticketKey[:]) // never fails (crypto/rand)
	p.ln = newChanListener()
	p.lnH2 = p.ln.sibling()
	p.gp = p.newGoproxy()
	p.inner = p.newInner(nil)
	// An h2 client connection reaches its server inside a resetGuard, not as
	// a *tls.Conn (h2reset.go): that server serves HTTP/2 without TLS, the
	// engine having done the TLS, and nothing else. p.inner never does, so
	// no plain connection can speak HTTP/2 past the guard.
	var h2 http.Protocols
	h2.SetUnencryptedHTTP2(true)
	p.innerH2 = p.newInner(&h2)
	return p, nil
}

// newInner is a server for the HTTP of intercepted connections, speaking
// protocols (nil: net/http's default, HTTP/1 and HTTP/2 over TLS).
func (p *Proxy) newInner(protocols *http.Protocols) *http.Server {
	opts := p.opts
	return &http.Server{
		Protocols:         protocols,
		Handler:           http.HandlerFunc(p.serveIntercepted),
		ConnContext:       p.connContext,
		ConnState:         p.connState,
		ReadHeaderTimeout: opts.HandshakeTimeout,
		IdleTimeout:       opts.IdleTimeout,
		MaxHeaderBytes:    opts.MaxHeaderBytes,
		ErrorLog:          newStdLogger(p.log),
		// A client that negotiated h2 with a suite RFC 9113 §9.2.2 lists
		// (a TLS 1.2 CBC suite, say) is served anyway: it chose the suite,
		// and a GOAWAY INADEQUATE_SECURITY would leave an "ok" record for a
		// connection that carried nothing.
		HTTP2: &http.HTTP2Config{PermitProhibitedCipherSuites: true},
	}
}

func discardLogger() logrus.FieldLogger {
	l := logrus.New()
	l.Out = io.Discard
	return l
}

// ServeHTTP serves the outer proxy protocol: CONNECT and absolute-form requests.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == "PRI" && r.ProtoMajor == 2 {
		// HTTP/2's connection preface without TLS (h2c, RFC 9113 §3.3):
		// the proxy port speaks HTTP/1.1 only, so each CONNECT has a
		// connection of its own. No record here: the connection gets its
		// bad_request record when it closes (badrequest.go).
		w.Header().Set("Connection", "close")
		http.Error(w, "tlslens: the proxy port speaks HTTP/1.1; HTTP/2 without TLS (h2c) is not served", http.StatusHTTPVersionNotSupported)
		return
	}
	if p.flows != nil && r.Method != http.MethodConnect {
		fl, fw := p.flows.start(w, r, connFlowID(r), plainFlowURL(r))
		defer fl.release()
		w, r = fw, r.WithContext(withFlow(r.Context(), fl))
	}
	p.gp.ServeHTTP(withEarly(w, r))
}

// Serve accepts proxy connections on ln until ctx is done or ln fails. A
// listener beyond loopback (0.0.0.0 included) makes the proxy deny local
// targets from then on, unless Options.AllowLocalTargets. On
// return the listener is closed; connections already intercepted keep running
// until Shutdown or Close.
func (p *Proxy) Serve(ctx context.Context, ln net.Listener) error {
	p.listening(ln.Addr())
	outer := &http.Server{
		Handler:           p,
		ConnContext:       p.outerConnContext,
		ConnState:         p.outerConnState,
		ReadHeaderTimeout: p.opts.HandshakeTimeout,
		IdleTimeout:       p.opts.IdleTimeout,
		MaxHeaderBytes:    p.opts.MaxHeaderBytes,
		ErrorLog:          newStdLogger(p.log),
	}
	innerDone := p.serveInner()
	errc := make(chan error, 1)
	go func() {
		errc <- outer.Serve(&acceptListener{Listener: p.live.listener(p.limit.listener(ln)), log: p.log})
	}()
	select {
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		outer.Shutdown(sctx)
		p.ln.Close()
		<-innerDone
		return nil
	case err := <-errc:
		p.ln.Close()
		<-innerDone
		return err
	}
}

// Shutdown stops gracefully, after Serve has returned: idle intercepted
// connections close now, active ones when their requests finish, and it waits
// for every connection accepted on the proxy listener (tunnels and relays
// included) to end. When ctx ends first, it closes those still open and
// returns ctx's error. Each connection's record is written before it closes,
// or, when it waits for its probe, before Shutdown returns; the flow lines
// buffered for Options.FlowFile are written last (an error is logged).
func (p *Proxy) Shutdown(ctx context.Context) error {
	p.stopping.Store(true)
	defer p.flushFlows() // the flows of the connections it waited for
	h2err := make(chan error, 1)
	go func() { h2err <- p.innerH2.Shutdown(ctx) }()
	err := errors.Join(p.inner.Shutdown(ctx), <-h2err)
	if werr := p.live.wait(ctx); werr != nil {
		p.live.closeAll()
		return werr
	}
	if werr := p.prober.wait(ctx); werr != nil {
		return werr
	}
	return err
}

// Close closes every intercepted connection now.
func (p *Proxy) Close() error {
	p.stopping.Store(true)
	return errors.Join(p.inner.Close(), p.innerH2.Close())
}

func (p *Proxy) writeKeyLog(b []byte) {
	if p.opts.KeyLog == nil {
		return
	}
	p.keyLogMu.Lock()
	defer p.keyLogMu.Unlock()
	p.opts.KeyLog.Write(b)
}
