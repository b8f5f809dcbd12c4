package proxy

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tlslens/tlslens/ca/testpki"
	"github.com/tlslens/tlslens/inspect"
)

// TestBadInput is the bad-input matrix: each case is one client connection
// that yields exactly one record with the right outcome, and leaves no
// goroutine behind once the client has gone.
func TestBadInput(t *testing.T) {
	pki := testpki.Root(t, "Upstream Test Root")
	cert := pki.Leaf(t, "example.com", "nonexistent.invalid")
	hello := clientHelloRecords(t, &tls.Config{ServerName: "example.com"})
	var gate chan struct{} // see "client vanishes after its hello"

	cases := []struct {
		name    string
		opts    func(o *Options)
		target  func(t *testing.T) string // host:port the client CONNECTs to
		client  func(t *testing.T, h *harness, target string)
		outcome inspect.Outcome
		want    string // in the failing side's error ("" when ok)
		check   func(t *testing.T, r *inspect.Record)
	}{{
		name:   "garbage after CONNECT",
		target: func(t *testing.T) string { return newPlainServer(t) },
		client: func(t *testing.T, h *harness, target string) {
			c := h.connect(target)
			io.WriteString(c, "\x00\x01\x02 not a TLS record\r\n\r\n")
			c.(*net.TCPConn).CloseWrite()
			io.Copy(io.Discard, c) // the relay ends when the plain server closes
		},
		outcome: inspect.OutcomeNotTLS,
		want:    "did not start a TLS handshake",
		check: func(t *testing.T, r *inspect.Record) {
			if r.Mode != inspect.ModeTunnel {
				t.Errorf("mode %s, want tunnel", r.Mode)
			}
		},
	}, {
		name:   "SSLv2-style hello",
		target: upstreamTarget(cert),
		client: func(t *testing.T, h *harness, target string) {
			c := h.connect(target)
			c.Write(sslv2Hello())
			io.Copy(io.Discard, c) // until tlslens closes
		},
		outcome: inspect.OutcomeClientHandshakeFailed,
		want:    "SSL 2.0",
		check:   noUpstream,
	}, {
		name:   "truncated hello",
		target: upstreamTarget(cert),
		client: func(t *testing.T, h *harness, target string) {
			c := h.connect(target)
			c.Write(hello[:len(hello)/2])
			c.(*net.TCPConn).CloseWrite()
			io.Copy(io.Discard, c)
		},
		outcome: inspect.OutcomeClientHandshakeFailed,
		want:    "in the middle of its ClientHello",
		check:   noUpstream,
	}, {
		name:   "hello in 7-byte records written a byte at a time",
		target: upstreamTarget(cert),
		client: func(t *testing.T, h *harness, target string) {
			c := h.connect(target)
			tc := tls.Client(&reframeConn{Conn: c, size: 7}, &tls.Config{ServerName: "example.com", RootCAs: h.roots()})
			if err := tc.Handshake(); err != nil {
				t.Fatalf("handshake: %v", err)
			}
			if resp := newReaderClient(t, tc).do("GET", "/split", "example.com"); resp.status != http.StatusOK {
				t.Errorf("GET: %d %s", resp.status, resp.body)
			}
			tc.Close()
		},
		outcome: inspect.OutcomeOK,
		check: func(t *testing.T, r *inspect.Record) {
			if r.Client.Hello == nil || r.Client.Hello.SNI != "example.com" {
				t.Errorf("client hello %+v", r.Client.Hello)
			}
		},
	}, {
		name:   "hello over 16 KB",
		target: upstreamTarget(cert),
		client: func(t *testing.T, h *harness, target string) {
			c := h.connect(target)
			tc := tls.Client(c, bigHelloConfig(h))
			if err := tc.Handshake(); err != nil {
				t.Fatalf("handshake: %v", err)
			}
			if resp := newReaderClient(t, tc).do("GET", "/big", "example.com"); resp.status != http.StatusOK {
				t.Errorf("GET: %d %s", resp.status, resp.body)
			}
			tc.Close()
		},
		outcome: inspect.OutcomeOK,
		check: func(t *testing.T, r *inspect.Record) {
			if r.Client.Hello == nil || r.Client.Hello.Size <= 16<<10 {
				t.Fatalf("client hello size %+v, want over 16 KiB", r.Client.Hello)
			}
			if !slices.ContainsFunc(r.Client.Hello.KeyShares, func(k inspect.KeyShare) bool { return k.Group == "SecP384r1MLKEM1024" }) {
				t.Errorf("key shares %v, want SecP384r1MLKEM1024", r.Client.Hello.KeyShares)
			}
			if r.Upstream.Hello == nil || r.Upstream.Hello.Size <= 16<<10 {
				t.Errorf("upstream hello %+v: the mirrored offer should be as large", r.Upstream.Hello)
			}
		},
	}, {
		name:   "record length over 2^14+2048",
		target: upstreamTarget(cert),
		client: func(t *testing.T, h *harness, target string) {
			c := h.connect(target)
			c.Write([]byte{22, 3, 1, 0xff, 0xff, 1, 0, 0, 10}) // then waits: tlslens must not
			io.Copy(io.Discard, c)
		},
		outcome: inspect.OutcomeClientHandshakeFailed,
		want:    "record length",
		check:   noUpstream,
	}, {
		name:   "handshake length shorter than the hello",
		target: upstreamTarget(cert),
		client: func(t *testing.T, h *harness, target string) {
			c := h.connect(target)
			b := bytes.Clone(hello)
			n := int(b[6])<<16 | int(b[7])<<8 | int(b[8])
			b[7], b[8] = byte((n-40)>>8), byte(n-40)
			c.Write(b)
			io.Copy(io.Discard, c)
		},
		outcome: inspect.OutcomeClientHandshakeFailed,
		want:    "could not be read",
		check:   noUpstream,
	}, {
		name:   "handshake length longer than its record, then application data",
		target: upstreamTarget(cert),
		client: func(t *testing.T, h *harness, target string) {
			c := h.connect(target)
			b := bytes.Clone(hello)
			n := int(b[6])<<16 | int(b[7])<<8 | int(b[8])
			b[7], b[8] = byte((n+100)>>8), byte(n+100)
			c.Write(append(b, 23, 3, 3, 0, 2, 'h', 'i'))
			io.Copy(io.Discard, c)
		},
		outcome: inspect.OutcomeClientHandshakeFailed,
		want:    "record of type 23",
		check:   noUpstream,
	}, {
		name:   "upstream resets mid-handshake",
		target: func(t *testing.T) string { return "example.com:" + resetServer(t) },
		client: fetch502,
		// The compat retry is reset too: both attempts are in the record.
		outcome: inspect.OutcomeUpstreamHandshakeFailed,
		want:    "closed the connection during the TLS handshake",
		check: func(t *testing.T, r *inspect.Record) {
			if len(r.Upstream.Attempts) != 1 {
				t.Errorf("attempts %+v, want the first (reset) attempt before the compat retry", r.Upstream.Attempts)
			}
		},
	}, {
		name:    "upstream never answers",
		opts:    func(o *Options) { o.HandshakeTimeout = time.Second },
		target:  func(t *testing.T) string { return "example.com:" + silentServer(t) },
		client:  fetch502,
		outcome: inspect.OutcomeUpstreamHandshakeFailed,
		want:    "did not complete the TLS handshake within 1s",
	}, {
		name:    "name does not resolve",
		opts:    func(o *Options) { o.Resolver = nxDomainResolver(t) },
		target:  func(t *testing.T) string { return "nonexistent.invalid:443" },
		client:  fetch502,
		outcome: inspect.OutcomeUpstreamUnreachable,
		want:    `the name "nonexistent.invalid" does not resolve`,
	}, {
		name:    "closed port",
		target:  func(t *testing.T) string { return "example.com:" + closedPort(t) },
		client:  fetch502,
		outcome: inspect.OutcomeUpstreamUnreachable,
		want:    "refused",
	}, {
		// The upstream accepts only once the client has gone, so tlslens
		// answers a client that has already closed.
		name: "client vanishes after its hello",
		target: func(t *testing.T) string {
			gate = make(chan struct{})
			t.Cleanup(func() { openGate(gate) })
			return "example.com:" + gatedUpstream(t, cert, gate)
		},
		client: func(t *testing.T, h *harness, target string) {
			c := h.connect(target)
			c.Write(hello)
			c.Close()
			openGate(gate)
		},
		outcome: inspect.OutcomeClientHandshakeFailed,
		want:    "closed the connection after its ClientHello",
		check: func(t *testing.T, r *inspect.Record) {
			if r.Upstream == nil || r.Upstream.Negotiated == nil {
				t.Errorf("upstream %+v: the upstream handshake should have completed", r.Upstream)
			}
		},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, func(o *Options) {
				o.UpstreamRoots = pki.Pool()
				if tc.opts != nil {
					tc.opts(o)
				}
			})
			target := tc.target(t)
			base := quietGoroutines(t)
			tc.client(t, h, target)
			r := h.record()
			if r.Outcome != tc.outcome {
				t.Fatalf("outcome %s, want %s (client error %q, upstream %+v)", r.Outcome, tc.outcome, r.Client.Error, r.Upstream)
			}
			errs := r.Client.Error
			if r.Upstream != nil {
				errs += " | " + r.Upstream.Error
			}
			if tc.want != "" && !strings.Contains(errs, tc.want) {
				t.Errorf("errors %q, want one naming %q", errs, tc.want)
			}
			if tc.check != nil {
				tc.check(t, r)
			}
			settled(t, base)
			h.recordCount(1)
		})
	}
}

// settled waits until the goroutine count is back to base: every goroutine
// a connection started has ended. It polls, since nothing signals the end
// of the last goroutine.
func settled(t *testing.T, base int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			var b strings.Builder
			pprof.Lookup("goroutine").WriteTo(&b, 1)
			t.Fatalf("%d goroutines 10s after the connection ended, %d before it:\n%s", runtime.NumGoroutine(), base, b.String())
		}
		<-tick.C
	}
}

// quietGoroutines returns the goroutine count once it has stopped changing
// (servers started by the case are in their accept loops).
func quietGoroutines(t *testing.T) int {
	t.Helper()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	n, same := runtime.NumGoroutine(), 0
	for deadline := time.Now().Add(5 * time.Second); same < 40 && time.Now().Before(deadline); {
		<-tick.C
		if m := runtime.NumGoroutine(); m == n {
			same++
		} else {
			n, same = m, 0
		}
	}
	return n
}

func noUpstream(t *testing.T, r *inspect.Record) {
	if r.Upstream != nil {
		t.Errorf("upstream %+v: nothing should have been dialled", r.Upstream)
	}
}

// upstreamTarget starts an HTTPS upstream with cert for example.com.
func upstreamTarget(cert tls.Certificate) func(t *testing.T) string {
	return func(t *testing.T) string {
		up := startUpstream(t, &tls.Config{Certificates: []tls.Certificate{cert}})
		return "example.com:" + up.port()
	}
}

// fetch502 completes the client handshake and expects the 502 page for a
// failed upstream.
func fetch502(t *testing.T, h *harness, target string) {
	host, _, _ := net.SplitHostPort(target)
	c := h.connect(target)
	tc := tls.Client(c, &tls.Config{ServerName: host, RootCAs: h.roots()})
	if err := tc.Handshake(); err != nil {
		t.Fatalf("client handshake: %v", err)
	}
	if resp := newReaderClient(t, tc).do("GET", "/", host); resp.status != http.StatusBadGateway {
		t.Errorf("GET: %d, want 502", resp.status)
	}
	tc.Close()
}

// clientHelloRecords returns the records of the ClientHello a crypto/tls
// client sends with cfg (one record unless it exceeds 16 KiB).
func clientHelloRecords(t *testing.T, cfg *tls.Config) []byte {
	t.Helper()
	c, s := net.Pipe()
	done := make(chan struct{})
	go func() { defer close(done); tls.Client(c, cfg).Handshake() }()
	defer func() { s.Close(); c.Close(); <-done }()
	var out []byte
	hs := 0 // handshake bytes so far
	for {
		hdr := make([]byte, 5)
		if _, err := io.ReadFull(s, hdr); err != nil {
			t.Fatal(err)
		}
		body := make([]byte, binary.BigEndian.Uint16(hdr[3:]))
		if _, err := io.ReadFull(s, body); err != nil {
			t.Fatal(err)
		}
		if hs == 0 && len(body) < 4 {
			t.Fatal("short first record")
		}
		out = append(append(out, hdr...), body...)
		hs += len(body)
		want := 4 + int(out[6])<<16 | int(out[7])<<8 | int(out[8])
		if hs >= want {
			return out
		}
	}
}

// sslv2Hello is an SSL 2.0-compatible ClientHello offering TLS 1.0 (RFC 5246
// Appendix E.2): a 2-byte header with the high bit set, msg_type 1.
func sslv2Hello() []byte {
	msg := []byte{1, 3, 1, 0, 3, 0, 0, 0, 16, 0x00, 0x00, 0x2f}
	msg = append(msg, bytes.Repeat([]byte{0xab}, 16)...) // challenge
	return append([]byte{0x80 | byte(len(msg)>>8), byte(len(msg))}, msg...)
}

// reframeConn re-frames the first write, the ClientHello, into records of at
// most size bytes and writes them a byte at a time.
type reframeConn struct {
	net.Conn
	size int
	done bool
}

func (c *reframeConn) Write(b []byte) (int, error) {
	if c.done {
		return c.Conn.Write(b)
	}
	c.done = true
	var hs []byte
	for r := b; len(r) >= 5; {
		n := int(binary.BigEndian.Uint16(r[3:]))
		hs = append(hs, r[5:5+n]...)
		r = r[5+n:]
	}
	var out []byte
	for len(hs) > 0 {
		k := min(c.size, len(hs))
		out = append(out, 22, b[1], b[2], byte(k>>8), byte(k))
		out = append(out, hs[:k]...)
		hs = hs[k:]
	}
	for i := range out {
		if _, err := c.Conn.Write(out[i : i+1]); err != nil {
			return 0, err
		}
	}
	return len(b), nil
}

// bigHelloConfig makes crypto/tls send a ClientHello over 16 KiB, so it
// spans two records: a post-quantum key share first (SecP384r1MLKEM1024,
// 1.6 KB) and a long ALPN list, as some clients send with many protocols.
func bigHelloConfig(h *harness) *tls.Config {
	var protos []string
	for i := range 70 {
		protos = append(protos, strings.Repeat(string(rune('a'+i%26)), 240))
	}
	return &tls.Config{
		ServerName:       "example.com",
		RootCAs:          h.roots(),
		NextProtos:       append(protos, "http/1.1"),
		CurvePreferences: []tls.CurveID{tls.SecP384r1MLKEM1024, tls.X25519},
	}
}

// gatedUpstream is an HTTPS upstream for example.com that accepts
// connections only once gate is open. It returns its port.
func gatedUpstream(t *testing.T, cert tls.Certificate, gate chan struct{}) string {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "gated")
	}))
	srv.Listener = &gatedListener{Listener: srv.Listener, gate: gate}
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return listenerPort(srv.Listener)
}

type gatedListener struct {
	net.Listener
	gate chan struct{}
}

func (l *gatedListener) Accept() (net.Conn, error) {
	<-l.gate
	return l.Listener.Accept()
}

func openGate(gate chan struct{}) {
	select {
	case <-gate:
	default:
		close(gate)
	}
}

// resetServer accepts connections, reads the ClientHello and resets the
// connection (RST, not FIN). It returns its port.
func resetServer(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			io.ReadFull(c, make([]byte, 5))
			c.(*net.TCPConn).SetLinger(0)
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return listenerPort(ln)
}

// silentServer accepts connections and never answers. It returns its port.
func silentServer(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return listenerPort(ln)
}

func closedPort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := listenerPort(ln)
	ln.Close() // nothing listens there now
	return port
}

func listenerPort(ln net.Listener) string {
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// nxDomainResolver is a real resolver that asks a DNS server on 127.0.0.1
// that answers NXDOMAIN to everything: a name that does not resolve,
// without traffic beyond loopback.
func nxDomainResolver(t *testing.T) *net.Resolver {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if resp := nxDomain(buf[:n]); resp != nil {
				pc.WriteTo(resp, from)
			}
		}
	}()
	t.Cleanup(func() { pc.Close(); <-done })
	server := pc.LocalAddr().String()
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", server)
	}}
}

// nxDomain answers a DNS query (RFC 1035 §4.1) with its question and
// RCODE 3, name error.
func nxDomain(q []byte) []byte {
	if len(q) < 12 || binary.BigEndian.Uint16(q[4:]) != 1 {
		return nil
	}
	i := 12
	for i < len(q) && q[i] != 0 {
		i += int(q[i]) + 1
	}
	i += 1 + 4 // the root label, QTYPE and QCLASS
	if i > len(q) {
		return nil
	}
	resp := append([]byte{}, q[:i]...)
	resp[2] = 0x80 | q[2]&0x01 // QR, RD copied
	resp[3] = 0x80 | 3         // RA, NXDOMAIN
	binary.BigEndian.PutUint16(resp[6:], 0)
	binary.BigEndian.PutUint16(resp[8:], 0)
	binary.BigEndian.PutUint16(resp[10:], 0)
	return resp
}
