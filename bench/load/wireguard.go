package main

// The wireguard scenario: tlslens's WireGuard server on 127.0.0.1 UDP and,
// in this process, a WireGuard peer with its own gVisor network stack, as a
// phone would be. The peer's TCP connections go to wireGuardTarget, a
// documentation address (RFC 5737) that the proxy's dialer sends to the
// in-process upstream.

import (
	"context"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"

	"golang.zx2c4.com/wireguard/conn"
	"golang.zx2c4.com/wireguard/device"
	"golang.zx2c4.com/wireguard/tun/netstack"

	"github.com/tlslens/tlslens/proxy"
)

// wireGuardTarget is where the peer's connections go inside the tunnel;
// tlslens takes it as the target and its dialer maps it to the upstream.
const wireGuardTarget = "192.0.2.1:443"

// wireGuardMTU is the peer's MTU, as the WireGuard apps (and tlslens) use.
const wireGuardMTU = 1420

// startWireGuard runs p's WireGuard server on a 127.0.0.1 UDP socket and a
// peer configured from the onboarding page's configuration text. It
// returns the peer's network and a function that stops both; the server
// stops when ctx ends.
func startWireGuard(ctx context.Context, p *proxy.Proxy, wg *proxy.WireGuard) (*netstack.Net, func(), error) {
	pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, nil, fmt.Errorf("listening for wireguard: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	served := make(chan struct{})
	go func() { defer close(served); p.ServeWireGuard(ctx, pc) }()
	stopServer := func() { cancel(); <-served }
	peer, stopPeer, err := startPeer(wg.PeerConfig(pc.LocalAddr().String()))
	if err != nil {
		stopServer()
		return nil, nil, err
	}
	return peer, func() { stopPeer(); stopServer() }, nil
}

// startPeer runs a WireGuard peer from a configuration file as the
// WireGuard apps import it ([Interface] PrivateKey, Address, DNS; one [Peer]
// with PublicKey, Endpoint, AllowedIPs), on its own 127.0.0.1 UDP socket.
func startPeer(conf string) (*netstack.Net, func(), error) {
	kv := map[string]string{}
	for line := range strings.Lines(conf) {
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "[") {
			kv[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	var keys [2]string
	for i, name := range []string{"PrivateKey", "PublicKey"} {
		k, err := proxy.ParseWireGuardKey(kv[name])
		if err != nil {
			return nil, nil, fmt.Errorf("%s in the peer configuration: %w", name, err)
		}
		keys[i] = hex.EncodeToString(k[:])
	}
	addr, err := netip.ParsePrefix(kv["Address"])
	if err != nil {
		return nil, nil, fmt.Errorf("the peer configuration's Address: %w", err)
	}
	dns, err := netip.ParseAddr(kv["DNS"])
	if err != nil {
		return nil, nil, fmt.Errorf("DNS in the peer configuration: %w", err)
	}
	tdev, tnet, err := netstack.CreateNetTUN([]netip.Addr{addr.Addr()}, []netip.Addr{dns}, wireGuardMTU)
	if err != nil {
		return nil, nil, err
	}
	pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		tdev.Close()
		return nil, nil, fmt.Errorf("listening for the wireguard peer: %w", err)
	}
	dev := device.NewDevice(tdev, &loopbackBind{pc: pc}, device.NewLogger(device.LogLevelSilent, ""))
	uapi := fmt.Sprintf("private_key=%s\npublic_key=%s\nendpoint=%s\n", keys[0], keys[1], kv["Endpoint"])
	for _, p := range strings.Split(kv["AllowedIPs"], ",") {
		uapi += "allowed_ip=" + strings.TrimSpace(p) + "\n"
	}
	if err := dev.IpcSet(uapi); err != nil {
		dev.Close()
		return nil, nil, fmt.Errorf("configuring the wireguard peer: %w", err)
	}
	if err := dev.Up(); err != nil {
		dev.Close()
		return nil, nil, fmt.Errorf("starting the wireguard peer: %w", err)
	}
	return tnet, dev.Close, nil
}

// loopbackBind is a conn.Bind over one UDP socket opened by the caller on
// 127.0.0.1 (wireguard-go's own bind listens on every interface).
type loopbackBind struct {
	mu   sync.Mutex
	pc   *net.UDPConn // nil once closed
	open bool
}

// Open returns the socket's receive function. The device closes the bind
// before it first opens it, so Close before Open keeps the socket.
func (b *loopbackBind) Open(uint16) ([]conn.ReceiveFunc, uint16, error) {
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

func (b *loopbackBind) Close() error {
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

func (b *loopbackBind) SetMark(uint32) error { return nil }
func (b *loopbackBind) BatchSize() int       { return 1 }

func (b *loopbackBind) Send(bufs [][]byte, ep conn.Endpoint) error {
	b.mu.Lock()
	pc := b.pc
	b.mu.Unlock()
	if pc == nil {
		return net.ErrClosed
	}
	to := netip.AddrPort(ep.(udpEndpoint))
	if !to.Addr().IsLoopback() {
		return fmt.Errorf("load: %s is not loopback; this tool sends only to loopback", to)
	}
	for _, buf := range bufs {
		if _, err := pc.WriteToUDPAddrPort(buf, to); err != nil {
			return err
		}
	}
	return nil
}

func (b *loopbackBind) ParseEndpoint(s string) (conn.Endpoint, error) {
	ap, err := netip.ParseAddrPort(s)
	return udpEndpoint(ap), err
}

// udpEndpoint is the server's UDP address.
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
