package proxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/net/dns/dnsmessage"
	"golang.zx2c4.com/wireguard/device"
	"golang.zx2c4.com/wireguard/tun"
	"golang.zx2c4.com/wireguard/tun/netstack"
	"gvisor.dev/gvisor/pkg/tcpip/header"

	"github.com/tlslens/tlslens/ca/testpki"
	"github.com/tlslens/tlslens/inspect"
)

// wireGuardTest is tlslens in WireGuard mode on 127.0.0.1 and a WireGuard
// peer built from the same library with its own netstack, connected over
// loopback UDP.
type wireGuardTest struct {
	*harness
	reg  *prometheus.Registry
	peer *netstack.Net
	// unreachable receives the destination of each datagram the server
	// answered with ICMP port unreachable, as the peer's tunnel saw it.
	unreachable chan netip.AddrPort
}

// newWireGuardTest starts tlslens with a WireGuard server and a peer
// configured from the onboarding page's configuration text. Upstream dials
// go through dial, which must map the peer's destinations to loopback.
func newWireGuardTest(t *testing.T, dial func(ctx context.Context, network, addr string) (net.Conn, error), configure func(*Options)) *wireGuardTest {
	t.Helper()
	serverKey, err := NewWireGuardKey()
	if err != nil {
		t.Fatal(err)
	}
	peerKey, err := NewWireGuardKey()
	if err != nil {
		t.Fatal(err)
	}
	wt := &wireGuardTest{reg: prometheus.NewRegistry()}
	wt.harness = newHarness(t, func(o *Options) {
		o.WireGuard = &WireGuard{PrivateKey: serverKey, PeerKey: peerKey}
		o.Dial = dial
		o.Metrics = wt.reg
		if configure != nil {
			configure(o)
		}
	})
	pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- wt.p.ServeWireGuard(ctx, pc) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ServeWireGuard: %v", err)
		}
	})
	endpoint := pc.LocalAddr().String()
	wt.peer, wt.unreachable = startWireGuardPeer(t, wt.p.opts.WireGuard.PeerConfig(endpoint))
	return wt
}

// startWireGuardPeer runs a WireGuard peer from a configuration file as the
// WireGuard apps import it: [Interface] PrivateKey, Address, DNS and one
// [Peer] with PublicKey, Endpoint and AllowedIPs. The channel receives
// the destination of each UDP datagram refused with ICMP port unreachable.
func startWireGuardPeer(t *testing.T, conf string) (*netstack.Net, chan netip.AddrPort) {
	t.Helper()
	kv := map[string]string{}
	for line := range strings.Lines(conf) {
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "[") {
			kv[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	key := func(name string) string {
		k, err := ParseWireGuardKey(kv[name])
		if err != nil {
			t.Fatalf("%s in the peer configuration: %v", name, err)
		}
		return hex.EncodeToString(k[:])
	}
	addr := netip.MustParsePrefix(kv["Address"]).Addr()
	dns := netip.MustParseAddr(kv["DNS"])
	tdev, tnet, err := netstack.CreateNetTUN([]netip.Addr{addr}, []netip.Addr{dns}, wireGuardMTU)
	if err != nil {
		t.Fatal(err)
	}
	pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	watch := &unreachableTUN{Device: tdev, c: make(chan netip.AddrPort, 100)}
	dev := device.NewDevice(watch, newUDPBind(pc), device.NewLogger(device.LogLevelSilent, ""))
	t.Cleanup(dev.Close)
	uapi := fmt.Sprintf("private_key=%s\npublic_key=%s\nendpoint=%s\n", key("PrivateKey"), key("PublicKey"), kv["Endpoint"])
	for _, p := range strings.Split(kv["AllowedIPs"], ",") {
		uapi += "allowed_ip=" + strings.TrimSpace(p) + "\n"
	}
	if err := dev.IpcSet(uapi); err != nil {
		t.Fatal(err)
	}
	if err := dev.Up(); err != nil {
		t.Fatal(err)
	}
	return tnet, watch.c
}

// unreachableTUN is the peer's tun device, watching the packets that
// arrive through the tunnel for ICMPv4 port unreachable (RFC 792). gVisor
// keeps the error from a connected UDP socket's reads, so a test cannot see
// it there.
type unreachableTUN struct {
	tun.Device
	c chan netip.AddrPort
}

func (u *unreachableTUN) Write(bufs [][]byte, offset int) (int, error) {
	for _, b := range bufs {
		ip := header.IPv4(b[offset:])
		if !ip.IsValid(len(ip)) || ip.TransportProtocol() != header.ICMPv4ProtocolNumber {
			continue
		}
		icmp := header.ICMPv4(ip.Payload())
		if len(icmp) < header.ICMPv4MinimumSize || icmp.Type() != header.ICMPv4DstUnreachable || icmp.Code() != header.ICMPv4PortUnreachable {
			continue
		}
		orig := header.IPv4(icmp.Payload()) // the refused datagram's header and first bytes
		if len(orig) < header.IPv4MinimumSize || orig.TransportProtocol() != header.UDPProtocolNumber || len(orig) < int(orig.HeaderLength())+header.UDPMinimumSize {
			continue
		}
		addr := orig.DestinationAddress()
		dst, _ := netip.AddrFromSlice(addr.AsSlice())
		select {
		case u.c <- netip.AddrPortFrom(dst, header.UDP(orig[orig.HeaderLength():]).DestinationPort()):
		default:
		}
	}
	return u.Device.Write(bufs, offset)
}

// mapDial is a test-only upstream dialer: each destination the peer asks
// for is dialled at the loopback address given for it; any other is an
// error, so that nothing leaves the machine.
func mapDial(m map[string]string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		to, ok := m[addr]
		if !ok {
			return nil, fmt.Errorf("test dialer: %s is not mapped to loopback", addr)
		}
		var d net.Dialer
		return d.DialContext(ctx, network, to)
	}
}

// TestWireGuardDNS: a DNS query through the tunnel is answered by
// tlslens's resolver (localhost, from the hosts file: no network needed).
func TestWireGuardDNS(t *testing.T) {
	wt := newWireGuardTest(t, mapDial(nil), nil)
	c, err := wt.peer.DialUDPAddrPort(netip.AddrPort{}, netip.AddrPortFrom(wireGuardDNS, 53))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	name := dnsmessage.MustNewName("localhost.")
	q := dnsmessage.Message{
		Header:    dnsmessage.Header{ID: 0x1812, RecursionDesired: true},
		Questions: []dnsmessage.Question{{Name: name, Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET}},
	}
	b, err := q.Pack()
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1500)
	var n int
	// UDP: the first datagram may go while WireGuard is still
	// handshaking, so ask again until an answer comes.
	for try := 0; ; try++ {
		if _, err := c.Write(b); err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(time.Second))
		if n, err = c.Read(buf); err == nil {
			break
		}
		if try == 10 {
			t.Fatalf("no DNS answer: %v", err)
		}
	}
	var resp dnsmessage.Message
	if err := resp.Unpack(buf[:n]); err != nil {
		t.Fatal(err)
	}
	if resp.ID != q.ID || resp.RCode != dnsmessage.RCodeSuccess || len(resp.Answers) == 0 {
		t.Fatalf("DNS answer id %#x rcode %v answers %d, want id %#x, success and an A record", resp.ID, resp.RCode, len(resp.Answers), q.ID)
	}
	a, ok := resp.Answers[0].Body.(*dnsmessage.AResource)
	if !ok || a.A != [4]byte{127, 0, 0, 1} {
		t.Errorf("answer %v, want A 127.0.0.1", resp.Answers[0].Body)
	}
}

// TestWireGuardQUICRefused: UDP to port 443 is refused with ICMP port
// unreachable, which reaches the peer, and counted.
func TestWireGuardQUICRefused(t *testing.T) {
	wt := newWireGuardTest(t, mapDial(nil), nil)
	dst := netip.MustParseAddrPort("10.0.0.1:443")
	c, err := wt.peer.DialUDPAddrPort(netip.AddrPort{}, dst)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("\xc0 QUIC Initial")); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-wt.unreachable:
		if got != dst {
			t.Errorf("port unreachable for %v, want %v", got, dst)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no ICMP port unreachable for UDP 443 within 15s")
	}
	if got := metricValue(t, wt.reg, "tlslens_wireguard_quic_refused_total"); got != 1 {
		t.Errorf("tlslens_wireguard_quic_refused_total = %v, want 1", got)
	}
}

// TestOnboardWireGuard: the onboarding page shows the peer configuration,
// with the host the page was opened at as the endpoint, and as a QR code;
// through the tunnel, http://tlslens/ (the tunnel's DNS, then its own
// address) serves the same page with the CA.
func TestOnboardWireGuard(t *testing.T) {
	wt := newWireGuardTest(t, mapDial(nil), nil)
	req, err := http.NewRequest(http.MethodGet, "http://"+wt.addr+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = "phone-reaches-me.test:8080"
	resp, err := directClient(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	page := html.UnescapeString(string(b))
	endpoint := net.JoinHostPort("phone-reaches-me.test", fmt.Sprint(wt.p.wg.port.Load()))
	wantConf := wt.p.opts.WireGuard.PeerConfig(endpoint)
	for _, want := range []string{wantConf, "Endpoint = " + endpoint, "AllowedIPs = 0.0.0.0/0, ::/0", "<svg", "Create from QR code", "Scan from QR code"} {
		if !strings.Contains(page, want) {
			t.Errorf("onboarding page lacks %q", want)
		}
	}

	tr := &http.Transport{DialContext: wt.peer.DialContext, DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	inTunnel := &http.Client{Transport: tr, Timeout: 15 * time.Second}
	resp, b = fetch(t, inTunnel, http.MethodGet, "http://tlslens/")
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), wt.auth.Fingerprint()) || !strings.Contains(string(b), "[Interface]") {
		t.Errorf("http://tlslens/ through the tunnel = %s, want the onboarding page with the CA and the peer configuration", resp.Status)
	}
	resp, b = fetch(t, inTunnel, http.MethodGet, "http://tlslens/ca.pem")
	if resp.StatusCode != http.StatusOK || string(b) != string(wt.auth.PEM()) {
		t.Errorf("http://tlslens/ca.pem through the tunnel = %s %.40q, want the CA", resp.Status, b)
	}
}

// TestOnboardWithoutWireGuard: without WireGuard mode the page has no
// WireGuard section.
func TestOnboardWithoutWireGuard(t *testing.T) {
	h := newHarness(t, nil)
	_, b := fetch(t, directClient(t), http.MethodGet, "http://"+h.addr+"/")
	if strings.Contains(string(b), "[Interface]") || strings.Contains(string(b), "<svg") {
		t.Error("the onboarding page shows a WireGuard configuration without WireGuard mode")
	}
}

// TestAnswerDNS: answers from the host's resolver (localhost, from the
// hosts file), tlslens's own name, and what is not answered.
func TestAnswerDNS(t *testing.T) {
	query := func(h dnsmessage.Header, name string, typ dnsmessage.Type) []byte {
		m := dnsmessage.Message{Header: h, Questions: []dnsmessage.Question{{Name: dnsmessage.MustNewName(name), Type: typ, Class: dnsmessage.ClassINET}}}
		b, err := m.Pack()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	rd := dnsmessage.Header{ID: 7, RecursionDesired: true}
	cases := []struct {
		name    string
		q       []byte
		rcode   dnsmessage.RCode
		answers []string // nil: no answer at all
	}{
		{"A from the hosts file", query(rd, "localhost.", dnsmessage.TypeA), dnsmessage.RCodeSuccess, []string{"127.0.0.1"}},
		{"AAAA of a name with IPv4 only: empty, not NXDOMAIN", query(rd, "localhost.", dnsmessage.TypeAAAA), dnsmessage.RCodeSuccess, []string{}},
		{"tlslens: the tunnel's own address", query(rd, "TLSLENS.", dnsmessage.TypeA), dnsmessage.RCodeSuccess, []string{wireGuardDNS.String()}},
		{"another type: empty", query(rd, "localhost.", dnsmessage.TypeTXT), dnsmessage.RCodeSuccess, []string{}},
		{"not a standard query", query(dnsmessage.Header{ID: 7, OpCode: 2}, "localhost.", dnsmessage.TypeA), dnsmessage.RCodeNotImplemented, []string{}},
		{"a response", query(dnsmessage.Header{ID: 7, Response: true}, "localhost.", dnsmessage.TypeA), 0, nil},
		{"a question missing: FORMERR", []byte{0, 7, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0}, dnsmessage.RCodeFormatError, []string{}},
		{"shorter than a header", []byte{0, 7, 1}, 0, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := answerDNS(context.Background(), net.DefaultResolver, tc.q)
			if tc.answers == nil {
				if b != nil {
					t.Fatalf("answerDNS = %d bytes, want no answer", len(b))
				}
				return
			}
			var m dnsmessage.Message
			if err := m.Unpack(b); err != nil {
				t.Fatalf("answerDNS gave an unparsable message: %v", err)
			}
			got := []string{}
			for _, a := range m.Answers {
				switch r := a.Body.(type) {
				case *dnsmessage.AResource:
					got = append(got, netip.AddrFrom4(r.A).String())
				case *dnsmessage.AAAAResource:
					got = append(got, netip.AddrFrom16(r.AAAA).String())
				}
			}
			if m.ID != 7 || !m.Response || m.RCode != tc.rcode || strings.Join(got, ",") != strings.Join(tc.answers, ",") {
				t.Errorf("answerDNS = id %d response %v %v %v, want id 7, a response, %v %v", m.ID, m.Response, m.RCode, got, tc.rcode, tc.answers)
			}
		})
	}
}

// TestWireGuardHTTPS: an HTTPS request from the peer to an address inside
// the tunnel is intercepted like a CONNECT: the page arrives, and one record
// has both legs, the original destination as target and via wireguard.
func TestWireGuardHTTPS(t *testing.T) {
	pki := testpki.Root(t, "Upstream Test Root")
	up := startUpstream(t, &tls.Config{Certificates: []tls.Certificate{pki.Leaf(t, "example.com")}})
	const dst = "10.0.0.1:443"
	wt := newWireGuardTest(t, mapDial(map[string]string{dst: up.Listener.Addr().String()}), func(o *Options) {
		o.UpstreamRoots = pki.Pool()
	})
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return wt.peer.DialContext(ctx, "tcp", dst) // as if DNS gave 10.0.0.1 for example.com
		},
		TLSClientConfig:   &tls.Config{RootCAs: wt.roots()},
		DisableKeepAlives: true,
	}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 15 * time.Second}
	resp, body := fetch(t, c, http.MethodGet, "https://example.com/wg")
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(string(body), "hello from upstream /wg ") {
		t.Fatalf("GET through the tunnel = %s %q, want 200 from upstream", resp.Status, body)
	}
	r := wt.record()
	if r.Outcome != inspect.OutcomeOK || r.Mode != inspect.ModeMITM || r.Target != dst {
		t.Errorf("record outcome %q mode %q target %q, want ok, mitm, %s", r.Outcome, r.Mode, r.Target, dst)
	}
	if r.Via != inspect.ViaWireGuard {
		t.Errorf("record via %q, want %q", r.Via, inspect.ViaWireGuard)
	}
	if r.Client == nil || r.Client.Negotiated == nil || r.Upstream == nil || r.Upstream.Negotiated == nil {
		t.Fatalf("record lacks a leg: client %+v upstream %+v", r.Client, r.Upstream)
	}
	if r.Client.Hello == nil || r.Client.Hello.SNI != "example.com" {
		t.Errorf("client hello %+v, want SNI example.com", r.Client.Hello)
	}
	if m := wt.recordJSON(); m["via"] != "wireguard" {
		t.Errorf(`JSON record "via" = %v, want "wireguard"`, m["via"])
	}
}

// TestWireGuardRelay: a TCP connection that is neither TLS nor HTTP is
// relayed to its destination and recorded as a tunnel.
func TestWireGuardRelay(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		line, _ := bufio.NewReader(c).ReadString('\n')
		io.WriteString(c, "echo "+line)
	}()
	const dst = "10.0.0.2:7"
	wt := newWireGuardTest(t, mapDial(map[string]string{dst: ln.Addr().String()}), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	c, err := wt.peer.DialContext(ctx, "tcp", dst)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(15 * time.Second))
	io.WriteString(c, "\x00binary hello\n")
	got, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || got != "echo \x00binary hello\n" {
		t.Fatalf("relayed reply %q, %v; want the echo", got, err)
	}
	c.Close()
	r := wt.record()
	if r.Mode != inspect.ModeTunnel || r.Target != dst || r.Via != inspect.ViaWireGuard {
		t.Errorf("record mode %q target %q via %q, want tunnel, %s, wireguard", r.Mode, r.Target, r.Via, dst)
	}
}
