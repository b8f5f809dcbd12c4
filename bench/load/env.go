package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"
	"golang.zx2c4.com/wireguard/tun/netstack"

	"github.com/tlslens/tlslens/ca"
	"github.com/tlslens/tlslens/ca/testpki"
	"github.com/tlslens/tlslens/proxy"
	"github.com/tlslens/tlslens/proxy/web"
)

// benchDomain is the parent of every name the tool uses; the proxy's dialer
// sends all of them to the in-process upstream on 127.0.0.1.
const benchDomain = "bench.test"

// env is one upstream and one tlslens proxy, both in this process on
// loopback, and the clients' trust in each.
type env struct {
	upstreamAddr string            // 127.0.0.1:port of the TLS upstream
	upstreamPort string            // its port, for CONNECT targets
	upstreamIPs  []string          // -external: the loopback addresses the upstream listens on at upstreamPort, 127.0.0.1 first
	upstreamCA   *x509.CertPool    // trusts the upstream's certificate
	upstreamRoot *x509.Certificate // the root in upstreamCA
	proxyAddr    string            // 127.0.0.1:port of tlslens
	proxyCA      *x509.CertPool    // trusts tlslens's CA
	proxyRoot    *x509.Certificate
	probeAddr    string        // 127.0.0.1:port of a second tlslens with probe: first (envOptions.probe), or ""
	bareAddr     string        // 127.0.0.1:port of the bare MITM (-baseline bare), or ""
	webAddr      string        // 127.0.0.1:port of a second tlslens feeding the web view (envOptions.web), or ""
	webProxy     *proxy.Proxy  // that tlslens, for its captures' size
	flowsAddr    string        // 127.0.0.1:port of a second tlslens writing a flow file (envOptions.flows), or ""
	flowsProxy   *proxy.Proxy  // that tlslens, for the flows it keeps
	flowFile     *os.File      // its flow file, in a directory removed at stop
	ring         *web.Ring     // the web view's ring it feeds
	sseFrames    atomic.Int64  // events read by the web view's one SSE client
	peer         *netstack.Net // the WireGuard peer's network (wireguard scenario), or nil
	records      *lineCounter  // counts the JSON records tlslens writes
	bulk         []byte        // the body of /bulk

	stop func()
}

// upstreamExtraIPs is how many loopback addresses beyond 127.0.0.1 the
// upstream of -external listens on.
const upstreamExtraIPs = 63

// envOptions configures newEnv.
type envOptions struct {
	bulkSize       int           // bytes served by /bulk
	maxConns       int           // proxy.Options.MaxConnections; 0 leaves the default
	upstreamIdle   time.Duration // the upstream server's keep-alive idle timeout
	operationalLog io.Writer     // tlslens's operational log (warnings); nil discards
	bare           bool          // also start the bare MITM baseline
	wireGuard      bool          // also run tlslens's WireGuard server and a peer
	probe          bool          // also start a second tlslens, probing with proxy.ProbeFirst
	web            bool          // also start a second tlslens with capture on, feeding a web view read by one SSE client
	flows          bool          // also start a second tlslens writing a flow file, as tlslens --flows FILE does
	upstreamOnly   bool          // start the upstream alone, no proxy (-external: the proxies are processes)
}

func newEnv(o envOptions) (*env, error) {
	root, err := testpki.NewRoot("tlslens-load upstream root", nil)
	if err != nil {
		return nil, err
	}
	// bench.test and *.bench.test, so the 1000 distinct names verify against
	// one certificate.
	now := time.Now()
	leaf, err := root.NewLeaf(nil, now.Add(-time.Hour), now.Add(24*time.Hour), benchDomain, "*."+benchDomain)
	if err != nil {
		return nil, err
	}
	e := &env{upstreamCA: root.Pool(), upstreamRoot: root.Cert, records: &lineCounter{}, bulk: bytes.Repeat([]byte("tlslens-bulk-bod"), o.bulkSize/16+1)[:o.bulkSize]}

	upLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listening for the upstream: %w", err)
	}
	up := &http.Server{
		Handler:           http.HandlerFunc(e.serveUpstream),
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{leaf}},
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       o.upstreamIdle,
		ErrorLog:          discardStdLogger(),
	}
	go up.ServeTLS(upLn, "", "")
	e.upstreamAddr = upLn.Addr().String()
	_, e.upstreamPort, _ = net.SplitHostPort(e.upstreamAddr)
	if o.upstreamOnly {
		// The same server on further loopback addresses at the same port:
		// servers a proxy process tells apart by address (its CONNECT
		// target), as it does distinct hosts (newhosts).
		e.upstreamIPs = []string{"127.0.0.1"}
		for i := 2; i < 2+upstreamExtraIPs; i++ {
			ip := fmt.Sprintf("127.0.0.%d", i)
			ln, err := net.Listen("tcp", net.JoinHostPort(ip, e.upstreamPort))
			if err != nil {
				continue // taken on that address: one fewer
			}
			go up.ServeTLS(ln, "", "")
			e.upstreamIPs = append(e.upstreamIPs, ip)
		}
		e.stop = func() { up.Close() }
		return e, nil
	}

	auth, err := ca.New(ca.Options{})
	if err != nil {
		up.Close()
		return nil, err
	}
	e.proxyCA = x509.NewCertPool()
	e.proxyRoot = auth.Certificate()
	e.proxyCA.AddCert(e.proxyRoot)

	// Records are encoded and written as tlslens writes its record file
	// (Options.RecordFile), so their encoding is part of the cost; only the
	// bytes are thrown away.
	ops := logrus.New()
	ops.Out = io.Discard
	if o.operationalLog != nil {
		ops.Out = o.operationalLog
		ops.Level = logrus.WarnLevel
	}
	var wg *proxy.WireGuard
	if o.wireGuard {
		if wg, err = newWireGuardKeys(); err != nil {
			up.Close()
			return nil, err
		}
	}
	dialer := &net.Dialer{Timeout: 10 * time.Second}
	opts := proxy.Options{
		Authority:         auth,
		Log:               ops,
		RecordFile:        e.records,
		UpstreamRoots:     e.upstreamCA,
		UpstreamRootsName: "bench-root",
		MaxConnections:    o.maxConns,
		Resolver:          benchResolver{},
		WireGuard:         wg,
		// tlslens dials the address it judged: benchResolver's loopback,
		// where only the benchmark's upstream listens, or the WireGuard
		// peer's wireGuardTarget; both go to the upstream, nothing else.
		Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if ap, err := netip.ParseAddrPort(addr); err != nil || !ap.Addr().IsLoopback() && addr != wireGuardTarget {
				return nil, fmt.Errorf("load: %s is neither loopback nor %s; this tool dials only its upstream", addr, wireGuardTarget)
			}
			return dialer.DialContext(ctx, network, e.upstreamAddr)
		},
	}
	p, err := proxy.New(opts)
	if err != nil {
		up.Close()
		return nil, err
	}
	pLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		up.Close()
		return nil, fmt.Errorf("listening for the proxy: %w", err)
	}
	e.proxyAddr = pLn.Addr().String()
	stopBare := func() {}
	if o.bare {
		if e.bareAddr, stopBare, err = startBare(e, auth); err != nil {
			up.Close()
			pLn.Close()
			return nil, err
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan struct{})
	go func() { defer close(served); p.Serve(ctx, pLn) }()
	stopWG, stopProbe, stopWeb, stopFlows := func() {}, func() {}, func() {}, func() {}
	var stop func()
	if o.wireGuard {
		if e.peer, stop, err = startWireGuard(ctx, p, wg); err == nil {
			stopWG = stop
		}
	}
	baseOpts := opts
	if err == nil && o.probe {
		// The same tlslens but probing, on the same CA and upstream.
		opts.WireGuard, opts.Probe = nil, proxy.ProbeFirst
		if e.probeAddr, _, stop, err = startProxy(ctx, opts); err == nil {
			stopProbe = stop
		}
	}
	if err == nil && o.web {
		// The same tlslens with the page open: capture on with its
		// defaults, records into the web view's ring, one browser streaming.
		opts = baseOpts
		opts.WireGuard = nil
		opts.Capture = &proxy.Capture{}
		e.ring = web.NewRing(0, nil)
		opts.OnRecordJSON = e.ring.AddJSON // as tlslens feeds it
		if e.webAddr, e.webProxy, stop, err = startProxy(ctx, opts); err == nil {
			stopWeb = stop
			stop, err = e.openPage()
			if err != nil {
				stopWeb()
			} else {
				stopProxy := stopWeb
				stopWeb = func() { stop(); stopProxy() }
			}
		}
	}
	if err == nil && o.flows {
		opts = baseOpts
		opts.WireGuard = nil
		if stop, err = e.flowOptions(&opts); err == nil {
			stopFile := stop
			if e.flowsAddr, e.flowsProxy, stop, err = startProxy(ctx, opts); err != nil {
				stopFile()
			} else {
				stopFlows = func() { stop(); stopFile() }
			}
		}
	}
	e.stop = func() {
		stopWG()
		cancel()
		p.Close()
		<-served
		stopProbe()
		stopWeb()
		stopFlows()
		stopBare()
		up.Close()
	}
	if err != nil {
		e.stop()
		return nil, err
	}
	return e, nil
}

// startProxy starts a tlslens proxy with opts on 127.0.0.1, serving until
// ctx is done, and returns its address and how to stop it.
func startProxy(ctx context.Context, opts proxy.Options) (addr string, p *proxy.Proxy, stop func(), err error) {
	p, err = proxy.New(opts)
	if err != nil {
		return "", nil, nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, nil, fmt.Errorf("listening for the proxy: %w", err)
	}
	served := make(chan struct{})
	go func() { defer close(served); p.Serve(ctx, ln) }()
	return ln.Addr().String(), p, func() { p.Close(); <-served }, nil
}

// flowOptions turns flows on in opts as tlslens --flows FILE does
// (cmd/tlslens/flows.go: flowOptions): flow lines to a file (FlowFile),
// in a temporary directory, bodies kept in memory within the default bounds.
// stop closes and removes the file.
func (e *env) flowOptions(opts *proxy.Options) (stop func(), err error) {
	dir, err := os.MkdirTemp("", "tlslens-load-flows")
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(dir, "flows.jsonl"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	e.flowFile = f
	opts.FlowFile = f
	return func() { f.Close(); os.RemoveAll(dir) }, nil
}

// openPage serves the web view of e.ring, with e.webProxy's captures as
// its downloads, from an httptest server on loopback, and reads /events
// from it continuously as a browser with the page open does, counting the
// events in e.sseFrames; a stream the ring ends for falling behind is
// reopened after the last event read, as the browser's EventSource does.
func (e *env) openPage() (stop func(), err error) {
	capture := func(w http.ResponseWriter, r *http.Request, id string) {
		b, ok := e.webProxy.Capture(id)
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(b)
	}
	srv := httptest.NewServer(web.New(web.Options{Ring: e.ring, Downloads: []web.Download{{Ext: "pcapng", Label: "pcapng", Serve: capture}}}))
	read := streamEvents(srv.Client(), srv.URL+"/events", &e.sseFrames)
	return func() { read(); srv.Close() }, nil
}

// serveUpstream answers "/" with a short body, "/bulk" with e.bulk and
// "/body" with its first flowBodySize bytes.
func (e *env) serveUpstream(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/bulk" || r.URL.Path == "/body" {
		b := e.bulk
		if r.URL.Path == "/body" {
			b = b[:min(len(b), flowBodySize)]
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		w.Write(b)
		return
	}
	w.Header().Set("Content-Length", "3")
	io.WriteString(w, "ok\n")
}

// client opens connections to the upstream, directly or through tlslens
// (or, with bare, through the bare MITM; with wireGuard, from the WireGuard
// peer through tlslens's WireGuard server).
type client struct {
	e         *env
	proxied   bool
	probe     bool // through the probing tlslens (env.probeAddr)
	web       bool // through the tlslens feeding the web view (env.webAddr)
	flows     bool // through the tlslens writing a flow file (env.flowsAddr)
	bare      bool
	wireGuard bool
	via       *process // through a proxy running as its own process (-external), or nil
	dialer    net.Dialer
}

// dial opens a TLS connection for name: directly to the upstream, or a
// CONNECT tunnel through tlslens, or a TCP connection from the WireGuard
// peer to wireGuardTarget, then a handshake with tlslens's leaf.
func (c *client) dial(ctx context.Context, name string) (*tls.Conn, error) {
	return c.dialAt(ctx, name, "")
}

// dialAt is dial with the upstream at ip, one of env.upstreamIPs, directly
// or as the CONNECT target of a proxy process; "" is 127.0.0.1.
func (c *client) dialAt(ctx context.Context, name, ip string) (*tls.Conn, error) {
	cfg := &tls.Config{ServerName: name, RootCAs: c.e.upstreamCA, NextProtos: []string{"http/1.1"}}
	addr := c.e.upstreamAddr
	if ip != "" {
		addr = net.JoinHostPort(ip, c.e.upstreamPort)
	}
	tunnel := c.proxied || c.probe || c.web || c.flows || c.bare || c.via != nil
	// A proxy process cannot be given the in-process resolver: its
	// CONNECT target is the upstream's loopback address itself, and the
	// name travels in the SNI only.
	connectHost := name
	switch {
	case c.via != nil:
		cfg.RootCAs, addr, connectHost = c.via.roots, c.via.addr, cmp.Or(ip, "127.0.0.1")
	case c.probe:
		cfg.RootCAs, addr = c.e.proxyCA, c.e.probeAddr
	case c.web:
		cfg.RootCAs, addr = c.e.proxyCA, c.e.webAddr
	case c.flows:
		cfg.RootCAs, addr = c.e.proxyCA, c.e.flowsAddr
	case c.proxied:
		cfg.RootCAs, addr = c.e.proxyCA, c.e.proxyAddr
	case c.bare:
		cfg.RootCAs, addr = c.e.proxyCA, c.e.bareAddr
	case c.wireGuard:
		cfg.RootCAs = c.e.proxyCA
	}
	var conn net.Conn
	var err error
	if c.wireGuard {
		conn, err = c.e.peer.DialContext(ctx, "tcp", wireGuardTarget)
	} else {
		conn, err = c.dialer.DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	if tunnel {
		target := net.JoinHostPort(connectHost, c.e.upstreamPort)
		fmt.Fprintf(conn, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", target, target)
		// The client speaks first after the 200, so nothing follows it
		// in the buffer.
		br := bufio.NewReaderSize(conn, 256)
		resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
		if err != nil {
			conn.Close()
			return nil, fmt.Errorf("CONNECT: %w", err)
		}
		if resp.StatusCode != http.StatusOK || br.Buffered() > 0 {
			conn.Close()
			return nil, fmt.Errorf("CONNECT: %s (%d bytes after it)", resp.Status, br.Buffered())
		}
		if c.via != nil {
			c.via.tunnels.Add(1)
		}
	}
	tc := tls.Client(conn, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		conn.Close()
		return nil, err
	}
	conn.SetDeadline(time.Time{})
	return tc, nil
}

// httpConn is one client connection speaking HTTP/1.1 keep-alive.
type httpConn struct {
	c  *tls.Conn
	br *bufio.Reader
	rq []byte
}

func newHTTPConn(c *tls.Conn, name, path string) *httpConn {
	rq := fmt.Sprintf("GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: tlslens-load\r\n\r\n", path, name)
	return &httpConn{c: c, br: bufio.NewReaderSize(c, 32<<10), rq: []byte(rq)}
}

// do sends the request and reads the whole response; it returns the body size.
func (h *httpConn) do(deadline time.Time) (int64, error) {
	h.c.SetDeadline(deadline)
	if _, err := h.c.Write(h.rq); err != nil {
		return 0, err
	}
	resp, err := http.ReadResponse(h.br, nil)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("status %s", resp.Status)
	}
	return n, err
}

// lineCounter counts newline-terminated lines written to it, and the
// records with a probe side among them, and discards them.
type lineCounter struct{ n, probes atomic.Int64 }

func (l *lineCounter) Write(b []byte) (int, error) {
	l.n.Add(int64(bytes.Count(b, []byte{'\n'})))
	l.probes.Add(int64(bytes.Count(b, []byte(`"probe":{`))))
	return len(b), nil
}

// discardStdLogger silences net/http's server errors (clients closing
// connections mid-request while the run ends).
func discardStdLogger() *log.Logger { return log.New(io.Discard, "", 0) }

// benchResolver resolves the benchmark's names to 127.0.0.1 and nothing
// else: this tool sends traffic only to loopback.
type benchResolver struct{}

func (benchResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if host != benchDomain && !strings.HasSuffix(host, "."+benchDomain) {
		return nil, fmt.Errorf("load: %s is not a benchmark name; this tool dials only loopback", host)
	}
	return []netip.Addr{netip.AddrFrom4([4]byte{127, 0, 0, 1})}, nil
}

// newWireGuardKeys makes the server's and the peer's keys, as tlslens does
// on its first run in WireGuard mode.
func newWireGuardKeys() (*proxy.WireGuard, error) {
	server, err := proxy.NewWireGuardKey()
	if err != nil {
		return nil, err
	}
	peer, err := proxy.NewWireGuardKey()
	if err != nil {
		return nil, err
	}
	return &proxy.WireGuard{PrivateKey: server, PeerKey: peer}, nil
}
