package proxy

// WireGuard mode (issue 18): apps that ignore the system proxy setting reach
// tlslens through a WireGuard tunnel instead. The server runs in user space
// (golang.zx2c4.com/wireguard's device over a gVisor network stack: no root,
// no kernel module) on one UDP socket. Its stack answers every TCP
// connection the peer opens, to any address and port, and hands each to
// Intercept with the original destination as the target; it answers DNS
// itself and refuses QUIC so that apps fall back to TCP.

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/crypto/curve25519"
	"golang.org/x/net/dns/dnsmessage"
	"golang.zx2c4.com/wireguard/conn"
	"golang.zx2c4.com/wireguard/device"
	"golang.zx2c4.com/wireguard/tun"
	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/link/channel"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/icmp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
	"gvisor.dev/gvisor/pkg/waiter"
	"rsc.io/qr"

	"github.com/tlslens/tlslens/inspect"
)

// WireGuard configures Options.WireGuard: the keys of the tunnel between
// tlslens (the server) and its one peer (a phone).
type WireGuard struct {
	// PrivateKey is the server's private key.
	PrivateKey WireGuardKey
	// PeerKey is the peer's private key. The server needs only its public
	// half; the onboarding page shows the whole peer configuration, so that
	// a phone can scan it.
	PeerKey WireGuardKey
	// Endpoint is the host, or host:port, at which peers reach the UDP
	// socket given to ServeWireGuard, as the peer configuration names it.
	// "" means the host the onboarding page was requested at, with the
	// socket's port.
	Endpoint string
}

// The tunnel's addresses. The peer has an IPv4 address only: with ::/0 in
// its AllowedIPs, IPv6 goes into the tunnel and nowhere, so apps use IPv4
// (an IPv6 connection the stack accepted but tlslens could not dial on would
// fail after connecting, too late for the app's fallback).
var (
	wireGuardPeerAddr = netip.MustParsePrefix("10.64.0.2/32")
	wireGuardDNS      = netip.MustParseAddr("10.64.0.1")
	// wireGuardNet is the tunnel's own range: TCP to it is refused rather
	// than dialled on the host's network.
	wireGuardNet = netip.MustParsePrefix("10.64.0.0/24")
)

// wireGuardMTU is the tunnel's MTU, the WireGuard apps' default.
const wireGuardMTU = 1420

// dnsIdle is how long a DNS flow (one source port of the peer) stays open
// without a query.
const dnsIdle = 10 * time.Second

// A WireGuardKey is a Curve25519 key, private or public, as WireGuard uses
// them; its text form is base64, as in WireGuard's configuration files.
type WireGuardKey [32]byte

// NewWireGuardKey returns a new random private key.
func NewWireGuardKey() (WireGuardKey, error) {
	var k WireGuardKey
	if _, err := rand.Read(k[:]); err != nil {
		return k, fmt.Errorf("proxy: generating a WireGuard key: %w", err)
	}
	// Clamped as Curve25519 private keys are (RFC 7748 §5), as wg genkey does.
	k[0] &= 248
	k[31] = k[31]&127 | 64
	return k, nil
}

// ParseWireGuardKey parses a key in base64, as `wg genkey` writes it.
func ParseWireGuardKey(s string) (WireGuardKey, error) {
	var k WireGuardKey
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil || len(b) != len(k) {
		return k, errors.New("proxy: a WireGuard key is 32 bytes in base64 (44 characters)")
	}
	copy(k[:], b)
	return k, nil
}

// String returns the key in base64.
func (k WireGuardKey) String() string { return base64.StdEncoding.EncodeToString(k[:]) }

// PublicKey returns the public key of the private key k.
func (k WireGuardKey) PublicKey() WireGuardKey {
	var pub WireGuardKey
	curve25519.ScalarBaseMult((*[32]byte)(&pub), (*[32]byte)(&k))
	return pub
}

// wireGuard is the proxy's WireGuard state; nil without Options.WireGuard.
type wireGuard struct {
	opts        WireGuard
	port        atomic.Uint32 // the UDP port ServeWireGuard listens on; 0 before
	quicRefused atomic.Uint64
}

// newWireGuard returns the WireGuard state for opts (nil when opts is nil)
// and registers its metrics with reg.
func newWireGuard(opts *WireGuard, reg prometheus.Registerer) (*wireGuard, error) {
	if opts == nil {
		return nil, nil
	}
	w := &wireGuard{opts: *opts}
	if reg != nil {
		err := reg.Register(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "tlslens_wireguard_quic_refused_total",
			Help: "UDP datagrams to port 443 (QUIC) from WireGuard peers, refused so that apps fall back to TCP.",
		}, func() float64 { return float64(w.quicRefused.Load()) }))
		if err != nil {
			return nil, fmt.Errorf("proxy: registering metrics: %w", err)
		}
	}
	return w, nil
}

// PeerConfig returns the peer's configuration file (wg-quick format, as the
// WireGuard apps import it), with endpoint as [Peer] Endpoint.
func (w *WireGuard) PeerConfig(endpoint string) string {
	return fmt.Sprintf(`[Interface]
PrivateKey = %s
Address = %s
DNS = %s

[Peer]
PublicKey = %s
Endpoint = %s
AllowedIPs = 0.0.0.0/0, ::/0
`, w.PeerKey, wireGuardPeerAddr, wireGuardDNS, w.PrivateKey.PublicKey(), endpoint)
}

// endpoint is the [Peer] Endpoint for a client that reached the onboarding
// page at host. A page opened on this machine (a loopback address) or
// inside the tunnel (http://tlslens/) names none that a phone reaches: an
// address of this host on the LAN stands in.
func (w *wireGuard) endpoint(host string) string {
	port := fmt.Sprint(w.port.Load())
	if e := w.opts.Endpoint; e != "" {
		if _, _, err := net.SplitHostPort(e); err == nil {
			return e
		}
		host = e
	}
	host = strings.Trim(host, "[]")
	if ip, err := netip.ParseAddr(host); (err == nil && ip.IsLoopback()) || host == "localhost" || isOnboardHost(host) || host == "" {
		if lan := lanAddr(); lan.IsValid() {
			host = lan.String()
		}
	}
	return net.JoinHostPort(host, port)
}

// lanAddr is an IPv4 address of this host that other machines may reach: a
// private one (RFC 1918) if there is one, else any global unicast one.
func lanAddr() netip.Addr {
	addrs, _ := net.InterfaceAddrs()
	var global netip.Addr
	for _, a := range addrs {
		n, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		ip, ok := netip.AddrFromSlice(n.IP)
		if ip = ip.Unmap(); !ok || !ip.Is4() || !ip.IsGlobalUnicast() {
			continue
		}
		if ip.IsPrivate() {
			return ip
		}
		if !global.IsValid() {
			global = ip
		}
	}
	return global
}

// ServeWireGuard runs the WireGuard server on pc until ctx is done, then
// closes pc. Each TCP connection from the peer goes to Intercept, with its
// original destination as the target, so Serve must be running too (it
// serves the intercepted HTTP). After Shutdown begins, new connections are
// refused; those still open when ctx ends are closed with the tunnel, so
// end ctx after Shutdown to let them finish. It needs Options.WireGuard.
func (p *Proxy) ServeWireGuard(ctx context.Context, pc *net.UDPConn) error {
	defer pc.Close() // the device closes it too; this covers the early returns
	w := p.wg
	if w == nil {
		return errors.New("proxy: ServeWireGuard needs Options.WireGuard")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w.port.Store(uint32(pc.LocalAddr().(*net.UDPAddr).Port))
	dev, err := newServerTUN(wireGuardMTU)
	if err != nil {
		return err
	}
	p.listening(pc.LocalAddr()) // peers are other machines unless it is loopback
	// The onboarding page inside the tunnel, at http://tlslens/ (the
	// tunnel's DNS gives its address): a phone whose tunnel is up gets the
	// CA there.
	pages := newChanListener()
	srv := &http.Server{
		Handler: http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			p.onboard(r, OnboardHost).write(rw, r)
		}),
		ReadHeaderTimeout: p.opts.HandshakeTimeout,
		IdleTimeout:       p.opts.IdleTimeout,
		MaxHeaderBytes:    p.opts.MaxHeaderBytes,
		ErrorLog:          newStdLogger(p.log),
	}
	go srv.Serve(pages)
	defer srv.Close()
	tcpFwd := tcp.NewForwarder(dev.stack, 0, 1024, func(r *tcp.ForwarderRequest) {
		p.acceptWireGuard(ctx, r, pages)
	})
	dev.stack.SetTransportProtocolHandler(tcp.ProtocolNumber, tcpFwd.HandlePacket)
	dnsFwd := udp.NewForwarder(dev.stack, func(r *udp.ForwarderRequest) {
		p.serveDNS(ctx, r)
	})
	dev.stack.SetTransportProtocolHandler(udp.ProtocolNumber, func(id stack.TransportEndpointID, pkt *stack.PacketBuffer) bool {
		switch id.LocalPort {
		case 53:
			return dnsFwd.HandlePacket(id, pkt)
		case 443:
			w.quicRefused.Add(1)
		}
		return false // ICMP port unreachable: the app gives up on UDP at once
	})

	log := p.log
	wd := device.NewDevice(dev, newUDPBind(pc), &device.Logger{
		Verbosef: func(format string, args ...any) {
			log.WithField("detail", fmt.Sprintf(format, args...)).Debug("wireguard")
		},
		Errorf: func(format string, args ...any) {
			log.WithField("detail", fmt.Sprintf(format, args...)).Warn("wireguard")
		},
	})
	defer wd.Close() // closes dev and pc
	pub := w.opts.PeerKey.PublicKey()
	uapi := fmt.Sprintf("private_key=%s\nreplace_peers=true\npublic_key=%s\nallowed_ip=%s\n",
		hex.EncodeToString(w.opts.PrivateKey[:]), hex.EncodeToString(pub[:]), wireGuardPeerAddr)
	if err := wd.IpcSet(uapi); err != nil {
		return fmt.Errorf("proxy: configuring WireGuard: %w", err)
	}
	if err := wd.Up(); err != nil {
		return fmt.Errorf("proxy: starting WireGuard: %w", err)
	}
	<-ctx.Done()
	return nil
}

// acceptWireGuard takes one TCP connection the peer opened, whatever its
// destination, and gives it to Intercept; one to the onboarding page's
// address goes to pages.
func (p *Proxy) acceptWireGuard(ctx context.Context, r *tcp.ForwarderRequest, pages *chanListener) {
	id := r.ID()
	dst := netip.AddrPortFrom(tcpipAddr(id.LocalAddress), id.LocalPort)
	page := dst == netip.AddrPortFrom(wireGuardDNS, 80)
	if wireGuardNet.Contains(dst.Addr()) && !page || p.stopping.Load() {
		r.Complete(true) // the tunnel's own addresses (nothing to dial), or shutting down
		return
	}
	var wq waiter.Queue
	ep, terr := r.CreateEndpoint(&wq)
	if terr != nil {
		r.Complete(true)
		p.log.WithField("target", dst.String()).WithField("detail", terr.String()).Debug("wireguard: accepting a tcp connection")
		return
	}
	r.Complete(false)
	c := gonet.NewTCPConn(&wq, ep)
	if page {
		if !pages.hand(c) {
			c.Close()
		}
		return
	}
	p.Intercept(ctx, c, dst.String(), inspect.ViaWireGuard)
}

func tcpipAddr(a tcpip.Address) netip.Addr {
	ip, _ := netip.AddrFromSlice(a.AsSlice())
	return ip.Unmap()
}

// serveDNS answers the DNS queries of one flow (a source port of the peer)
// with the host's resolver until it is idle for dnsIdle.
func (p *Proxy) serveDNS(ctx context.Context, r *udp.ForwarderRequest) {
	var wq waiter.Queue
	ep, terr := r.CreateEndpoint(&wq)
	if terr != nil {
		return
	}
	c := gonet.NewUDPConn(&wq, ep)
	go func() {
		defer c.Close()
		buf := make([]byte, 64<<10)
		for {
			c.SetReadDeadline(time.Now().Add(dnsIdle))
			n, err := c.Read(buf)
			if err != nil {
				return
			}
			qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			resp := answerDNS(qctx, net.DefaultResolver, buf[:n])
			cancel()
			if resp != nil {
				c.Write(resp)
			}
		}
	}()
}

// answerDNS answers the DNS query q: A and AAAA from res, NOERROR with no
// records for other types (an HTTPS record, say: the client then uses A
// and AAAA), SERVFAIL when res fails. A message that is not a query gets
// nil (no answer).
func answerDNS(ctx context.Context, res *net.Resolver, q []byte) []byte {
	var prs dnsmessage.Parser
	h, err := prs.Start(q)
	if err != nil || h.Response {
		return nil
	}
	resp := dnsmessage.Header{ID: h.ID, Response: true, OpCode: h.OpCode,
		RecursionDesired: h.RecursionDesired, RecursionAvailable: true}
	question, err := prs.Question()
	if err != nil {
		resp.RCode = dnsmessage.RCodeFormatError
		return buildDNS(resp, nil, nil)
	}
	if h.OpCode != 0 {
		resp.RCode = dnsmessage.RCodeNotImplemented
		return buildDNS(resp, &question, nil)
	}
	network := map[dnsmessage.Type]string{dnsmessage.TypeA: "ip4", dnsmessage.TypeAAAA: "ip6"}[question.Type]
	if network == "" || question.Class != dnsmessage.ClassINET {
		return buildDNS(resp, &question, nil)
	}
	// Without the final dot: Go's resolver reads the hosts file only for
	// names written so (the peer's own resolver has applied its search list).
	name := strings.TrimSuffix(question.Name.String(), ".")
	if isOnboardHost(name) { // http://tlslens/ inside the tunnel
		if question.Type == dnsmessage.TypeA {
			return buildDNS(resp, &question, []netip.Addr{wireGuardDNS})
		}
		return buildDNS(resp, &question, nil)
	}
	addrs, err := res.LookupNetIP(ctx, network, name)
	if err != nil {
		// None in this family. NXDOMAIN only if the name has no address
		// at all (RFC 8020: it says the name does not exist, for every
		// type), else an empty answer; SERVFAIL if that is unknown.
		addrs = nil
		_, err = res.LookupNetIP(ctx, "ip", name)
		var dnsErr *net.DNSError
		switch {
		case errors.As(err, &dnsErr) && dnsErr.IsNotFound:
			resp.RCode = dnsmessage.RCodeNameError
		case err != nil:
			resp.RCode = dnsmessage.RCodeServerFailure
		}
	}
	var answers []netip.Addr
	for _, a := range addrs {
		if a = a.Unmap(); a.Is4() == (question.Type == dnsmessage.TypeA) {
			answers = append(answers, a)
		}
	}
	return buildDNS(resp, &question, answers)
}

// dnsTTL is the TTL of tlslens's answers: short, as the host's resolver
// has its own caching.
const dnsTTL = 60

func buildDNS(h dnsmessage.Header, q *dnsmessage.Question, answers []netip.Addr) []byte {
	b := dnsmessage.NewBuilder(nil, h)
	b.EnableCompression()
	b.StartQuestions()
	if q != nil {
		b.Question(*q)
	}
	b.StartAnswers()
	for _, a := range answers {
		rh := dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: dnsTTL}
		if a.Is4() {
			b.AResource(rh, dnsmessage.AResource{A: a.As4()})
		} else {
			b.AAAAResource(rh, dnsmessage.AAAAResource{AAAA: a.As16()})
		}
	}
	msg, err := b.Finish()
	if err != nil {
		return nil // only for a programmer error: every part above is valid
	}
	return msg
}

// serverTUN is the server's side of the tunnel: a tun.Device whose packets
// go to and from a gVisor stack that accepts every address (promiscuous
// mode) and answers from it (spoofing). It is wireguard-go's
// tun/netstack device, whose stack is not exported, with those two modes.
type serverTUN struct {
	ep       *channel.Endpoint
	stack    *stack.Stack
	events   chan tun.Event
	notify   *channel.NotificationHandle
	incoming chan *buffer.View
	done     chan struct{} // closed by Close
	mtu      int
	once     sync.Once
}

func newServerTUN(mtu int) (*serverTUN, error) {
	s := stack.New(stack.Options{
		NetworkProtocols:   []stack.NetworkProtocolFactory{ipv4.NewProtocol, ipv6.NewProtocol},
		TransportProtocols: []stack.TransportProtocolFactory{tcp.NewProtocol, udp.NewProtocol, icmp.NewProtocol4, icmp.NewProtocol6},
	})
	t := &serverTUN{
		ep:       channel.New(1024, uint32(mtu), ""),
		stack:    s,
		events:   make(chan tun.Event, 1),
		incoming: make(chan *buffer.View),
		done:     make(chan struct{}),
		mtu:      mtu,
	}
	sack := tcpip.TCPSACKEnabled(true) // off by default in gVisor
	if err := s.SetTransportProtocolOption(tcp.ProtocolNumber, &sack); err != nil {
		return nil, fmt.Errorf("proxy: wireguard stack: enabling TCP SACK: %s", err)
	}
	t.notify = t.ep.AddNotify(t)
	for _, step := range []func() tcpip.Error{
		func() tcpip.Error { return s.CreateNIC(1, t.ep) },
		func() tcpip.Error { return s.SetPromiscuousMode(1, true) }, // accept packets to any address
		func() tcpip.Error { return s.SetSpoofing(1, true) },        // and answer from it
	} {
		if err := step(); err != nil {
			s.Close()
			return nil, fmt.Errorf("proxy: wireguard stack: %s", err)
		}
	}
	s.SetRouteTable([]tcpip.Route{
		{Destination: header.IPv4EmptySubnet, NIC: 1},
		{Destination: header.IPv6EmptySubnet, NIC: 1},
	})
	t.events <- tun.EventUp
	return t, nil
}

func (t *serverTUN) Name() (string, error)    { return "tlslens", nil }
func (t *serverTUN) File() *os.File           { return nil }
func (t *serverTUN) Events() <-chan tun.Event { return t.events }
func (t *serverTUN) MTU() (int, error)        { return t.mtu, nil }
func (t *serverTUN) BatchSize() int           { return 1 }

// Read gives WireGuard the next packet the stack sends to the peer.
func (t *serverTUN) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	var view *buffer.View
	select {
	case view = <-t.incoming:
	case <-t.done:
		return 0, os.ErrClosed
	}
	n, err := view.Read(bufs[0][offset:])
	if err != nil {
		return 0, err
	}
	sizes[0] = n
	return 1, nil
}

// Write gives the stack the packets WireGuard received from the peer.
func (t *serverTUN) Write(bufs [][]byte, offset int) (int, error) {
	for _, b := range bufs {
		pkt := b[offset:]
		if len(pkt) == 0 {
			continue
		}
		pb := stack.NewPacketBuffer(stack.PacketBufferOptions{Payload: buffer.MakeWithData(pkt)})
		switch pkt[0] >> 4 {
		case 4:
			t.ep.InjectInbound(header.IPv4ProtocolNumber, pb)
		case 6:
			t.ep.InjectInbound(header.IPv6ProtocolNumber, pb)
		default:
			pb.DecRef()
			return 0, syscall.EAFNOSUPPORT
		}
	}
	return len(bufs), nil
}

// WriteNotify is called by the channel endpoint when the stack has a
// packet for the peer.
func (t *serverTUN) WriteNotify() {
	pkt := t.ep.Read()
	if pkt == nil {
		return
	}
	view := pkt.ToView()
	pkt.DecRef()
	select {
	case t.incoming <- view:
	case <-t.done:
		view.Release()
	}
}

func (t *serverTUN) Close() error {
	t.once.Do(func() {
		close(t.done)
		t.stack.RemoveNIC(1)
		t.stack.Close()
		t.ep.RemoveNotify(t.notify)
		t.ep.Close()
		close(t.events)
	})
	return nil
}

// udpBind is a conn.Bind over one UDP socket opened by the caller, so that
// the server listens on exactly the address configured (wireguard-go's own
// bind opens every interface on a port).
type udpBind struct {
	mu   sync.Mutex
	pc   *net.UDPConn // nil once closed
	open bool
}

func newUDPBind(pc *net.UDPConn) *udpBind { return &udpBind{pc: pc} }

// WireGuardBind returns a wireguard-go conn.Bind that sends and receives on
// pc alone, the socket the caller opened (wireguard-go's default bind listens
// on every interface). Closing the bind closes pc. Tools that run a
// WireGuard peer beside tlslens, such as bench/load, use it.
func WireGuardBind(pc *net.UDPConn) conn.Bind { return newUDPBind(pc) }

// Open returns the socket's receive function. The device closes the bind
// before it first opens it, so Close before Open keeps the socket.
func (b *udpBind) Open(uint16) ([]conn.ReceiveFunc, uint16, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.pc == nil:
		return nil, 0, net.ErrClosed
	case b.open:
		return nil, 0, conn.ErrBindAlreadyOpen
	}
	b.open = true
	pc := b.pc
	recv := func(packets [][]byte, sizes []int, eps []conn.Endpoint) (int, error) {
		n, from, err := pc.ReadFromUDPAddrPort(packets[0])
		if err != nil {
			return 0, err
		}
		sizes[0], eps[0] = n, udpEndpoint(from)
		return 1, nil
	}
	return []conn.ReceiveFunc{recv}, uint16(pc.LocalAddr().(*net.UDPAddr).Port), nil
}

func (b *udpBind) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.open {
		return nil
	}
	b.open = false
	err := b.pc.Close()
	b.pc = nil
	return err
}

func (b *udpBind) SetMark(uint32) error { return nil }
func (b *udpBind) BatchSize() int       { return 1 }

func (b *udpBind) Send(bufs [][]byte, ep conn.Endpoint) error {
	b.mu.Lock()
	pc := b.pc
	b.mu.Unlock()
	if pc == nil {
		return net.ErrClosed
	}
	to := netip.AddrPort(ep.(udpEndpoint))
	for _, buf := range bufs {
		if _, err := pc.WriteToUDPAddrPort(buf, to); err != nil {
			return err
		}
	}
	return nil
}

func (b *udpBind) ParseEndpoint(s string) (conn.Endpoint, error) {
	ap, err := netip.ParseAddrPort(s)
	return udpEndpoint(ap), err
}

// udpEndpoint is a peer's UDP address.
type udpEndpoint netip.AddrPort

func (e udpEndpoint) ClearSrc()           {}
func (e udpEndpoint) SrcToString() string { return "" }
func (e udpEndpoint) DstToString() string { return netip.AddrPort(e).String() }
func (e udpEndpoint) DstIP() netip.Addr   { return netip.AddrPort(e).Addr() }
func (e udpEndpoint) SrcIP() netip.Addr   { return netip.Addr{} }
func (e udpEndpoint) DstToBytes() []byte {
	b, _ := netip.AddrPort(e).MarshalBinary()
	return b
}

// wireGuardPage is the onboarding page's WireGuard section.
type wireGuardPage struct {
	Endpoint string
	Config   string        // the peer's configuration file
	QR       template.HTML // Config as a QR code, an inline SVG
}

// wireGuardPage returns the WireGuard section for a client that reached the
// onboarding page at host, or nil without WireGuard mode.
func (p *Proxy) wireGuardPage(host string) *wireGuardPage {
	if p.wg == nil {
		return nil
	}
	pg := &wireGuardPage{Endpoint: p.wg.endpoint(host)}
	pg.Config = p.wg.opts.PeerConfig(pg.Endpoint)
	svg, err := qrSVG(pg.Config)
	if err != nil {
		p.log.WithError(err).Error("onboarding: encoding the wireguard configuration as a QR code")
		return pg
	}
	pg.QR = svg
	return pg
}

// qrSVG returns text as a QR code in an SVG element, with the quiet zone of
// four modules that scanners need (ISO/IEC 18004 §6.3.8). Nothing is loaded
// from elsewhere: the page must work before the phone has any network.
func qrSVG(text string) (template.HTML, error) {
	code, err := qr.Encode(text, qr.M)
	if err != nil {
		return "", err
	}
	const quiet = 4
	n := code.Size + 2*quiet
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" shape-rendering="crispEdges" role="img" aria-label="the WireGuard configuration as a QR code">`, n, n)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#fff"/><path fill="#000" d="`, n, n)
	for y := range code.Size {
		for x := range code.Size {
			if code.Black(x, y) {
				fmt.Fprintf(&b, "M%d %dh1v1h-1z", x+quiet, y+quiet)
			}
		}
	}
	b.WriteString(`"/></svg>`)
	return template.HTML(b.String()), nil // only numbers and constant text
}
