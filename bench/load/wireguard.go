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
	dev := device.NewDevice(tdev, proxy.WireGuardBind(pc), device.NewLogger(device.LogLevelSilent, ""))
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
