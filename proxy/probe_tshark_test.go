package proxy

import (
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tlslens/tlslens/ca/testpki"
	"github.com/tlslens/tlslens/inspect"
	"github.com/tlslens/tlslens/inspect/pcap"
)

// A wiretap is a TCP relay on 127.0.0.1 in front of a server: the proxy
// dials it as the server, and it keeps the bytes each side sent on every
// connection, as a capture on the wire would, keyed by the dialler's
// address (a record side's Local).
type wiretap struct {
	ln   net.Listener
	mu   sync.Mutex
	legs map[string]*pcap.Leg
}

// startWiretap relays connections to server and returns the relay.
func startWiretap(t *testing.T, server string) *wiretap {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	w := &wiretap{ln: ln, legs: make(map[string]*pcap.Leg)}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go w.relay(c, server)
		}
	}()
	return w
}

func (w *wiretap) addr() string { return w.ln.Addr().String() }

// relay copies c to a new connection to server and back, keeping both
// directions' bytes on c's leg.
func (w *wiretap) relay(c net.Conn, server string) {
	defer c.Close()
	s, err := net.Dial("tcp", server)
	if err != nil {
		return
	}
	defer s.Close()
	// The server is written as port 443, where tshark looks for TLS.
	leg := &pcap.Leg{Client: netip.MustParseAddrPort(c.RemoteAddr().String()),
		Server: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), 443), Start: time.Now()}
	w.mu.Lock()
	w.legs[c.RemoteAddr().String()] = leg
	w.mu.Unlock()
	copyKept := func(dst, src net.Conn, fromClient bool) {
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				w.mu.Lock()
				leg.Chunks = append(leg.Chunks, pcap.Chunk{Time: time.Now(), FromClient: fromClient, Data: slices.Clone(buf[:n])})
				w.mu.Unlock()
				if _, werr := dst.Write(buf[:n]); werr != nil {
					break
				}
			}
			if err != nil {
				break
			}
		}
		dst.Close()
		src.Close()
	}
	done := make(chan struct{})
	go func() { copyKept(s, c, true); close(done) }()
	copyKept(c, s, false)
	<-done
}

// capture returns the pcapng of the connection dialled from local, as far
// as it went.
func (w *wiretap) capture(t *testing.T, local string) []byte {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	leg, ok := w.legs[local]
	if !ok {
		t.Fatalf("no connection from %s through the wiretap", local)
	}
	var b strings.Builder
	if err := pcap.Write(&b, pcap.Conn{Legs: []pcap.Leg{{Client: leg.Client, Server: leg.Server,
		Start: leg.Start, Chunks: slices.Clone(leg.Chunks)}}}); err != nil {
		t.Fatal(err)
	}
	return []byte(b.String())
}

// tsharkProbeField returns field's values on the packets matching filter
// in capture, in order (one packet's values are comma-separated by
// tshark).
func tsharkProbeField(t *testing.T, capture []byte, filter, field string) []string {
	t.Helper()
	var vals []string
	for _, l := range tsharkFields(t, capture, filter, field) {
		f := strings.Split(l, "\t")
		if len(f) < 3 || f[2] == "" {
			continue
		}
		vals = append(vals, strings.Split(f[2], ",")...)
	}
	return vals
}

// tsharkNum parses a tshark number, decimal or 0x hex.
func tsharkNum(t *testing.T, s string) uint16 {
	t.Helper()
	v, err := strconv.ParseUint(s, 0, 16)
	if err != nil {
		t.Fatalf("tshark value %q: %v", s, err)
	}
	return uint16(v)
}

// names maps tshark's numbers to the record's names with name.
func names[T uint8 | uint16](t *testing.T, vals []string, name func(T) string) []string {
	t.Helper()
	var out []string
	for _, v := range vals {
		out = append(out, name(T(tsharkNum(t, v))))
	}
	return out
}

// checkProbeWithTshark compares the record's probe side with tshark's
// dissection of the probe connection's bytes.
func checkProbeWithTshark(t *testing.T, r *inspect.Record, capture []byte) {
	t.Helper()
	pr := r.Probe
	check := func(what string, got, want []string) {
		t.Helper()
		if !slices.Equal(got, want) {
			t.Errorf("probe %s: record %q, tshark %q", what, got, want)
		}
	}
	const sh = "tls.handshake.type == 2"
	if pr.ServerHello == nil {
		check("server_hello", nil, tsharkProbeField(t, capture, sh, "tls.handshake.ciphersuite"))
	} else {
		h := pr.ServerHello
		version := tsharkProbeField(t, capture, sh, "tls.handshake.extensions.supported_version")
		if len(version) == 0 {
			version = tsharkProbeField(t, capture, sh, "tls.handshake.version")
		}
		check("server_hello.version", []string{h.Version}, names(t, version, inspect.VersionName))
		check("server_hello.cipher_suite", []string{h.CipherSuite}, names(t, tsharkProbeField(t, capture, sh, "tls.handshake.ciphersuite"), inspect.CipherSuiteName))
		check("server_hello.extensions", h.Extensions, names(t, tsharkProbeField(t, capture, sh, "tls.handshake.extension.type"), inspect.ExtensionName))
		var group []string
		if h.Group != "" {
			group = []string{h.Group}
		}
		check("server_hello.group", group, names(t, tsharkProbeField(t, capture, sh, "tls.handshake.extensions_key_share_group"), inspect.GroupName))
		check("server_hello.ja3s", []string{h.JA3S}, tsharkProbeField(t, capture, sh, "tls.handshake.ja3s"))
		check("server_hello.ja3s_raw", []string{h.JA3SRaw}, []string{strings.Join(tsharkProbeField(t, capture, sh, "tls.handshake.ja3s_full"), ",")})
	}

	// TLS 1.2: the chain (by each certificate's SHA-256) and the key exchange.
	var chain, wantChain []string
	for _, c := range pr.Chain {
		chain = append(chain, c.SHA256)
	}
	for _, der := range tsharkProbeField(t, capture, "tls.handshake.type == 11", "tls.handshake.certificate") {
		b, err := hex.DecodeString(strings.ReplaceAll(der, ":", ""))
		if err != nil {
			t.Fatalf("tshark certificate %q: %v", der, err)
		}
		sum := sha256.Sum256(b)
		wantChain = append(wantChain, hex.EncodeToString(sum[:]))
	}
	check("chain", chain, wantChain)
	const ske = "tls.handshake.type == 12"
	var kxGroup, kxSig []string
	if kx := pr.KeyExchange; kx != nil && pr.ServerHello != nil && pr.ServerHello.Version == "TLS 1.3" {
		// No ServerKeyExchange: the group is the ServerHello's key share.
		check("key_exchange.group", []string{kx.Group}, names(t, tsharkProbeField(t, capture, sh, "tls.handshake.extensions_key_share_group"), inspect.GroupName))
	} else if kx != nil {
		kxGroup, kxSig = []string{kx.Group}, []string{kx.SignatureAlgorithm}
	}
	check("key_exchange.group", kxGroup, names(t, tsharkProbeField(t, capture, ske, "tls.handshake.server_named_curve"), inspect.GroupName))
	check("key_exchange.signature_algorithm", kxSig, names(t, tsharkProbeField(t, capture, ske, "tls.handshake.sig_hash_alg"), inspect.SignatureSchemeName))

	var alert []string
	if pr.Alert != "" {
		alert = []string{pr.Alert}
	}
	check("alert", alert, names(t, tsharkProbeField(t, capture, "tls.alert_message", "tls.alert_message.desc"), inspect.AlertName))
}

// TestProbeTshark: the probe side's facts equal tshark's dissection of the
// probe connection's bytes, captured by a relay in front of the server,
// for a TLS 1.3 server (crypto/tls), a TLS 1.2 server (openssl, with its
// chain and key exchange) and a server refusing the client's hello with an
// alert.
func TestProbeTshark(t *testing.T) {
	t.Parallel()
	lookPath(t, "tshark", "tshark")
	pki := testpki.Root(t, "Probe Tshark Root")
	leaf := pki.Leaf(t, "localhost", "127.0.0.1")
	getThrough := func(t *testing.T, h *harness, addr string) {
		resp, body := get(t, h.httpClient(nil), "https://"+addr+"/")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("got %s %q", resp.Status, body)
		}
	}
	cases := []struct {
		name   string
		server func(t *testing.T) string
		client func(t *testing.T, h *harness, addr string)
		want   func(pr *inspect.Side) bool
	}{
		{"TLS 1.3", func(t *testing.T) string {
			return "127.0.0.1:" + startUpstream(t, &tls.Config{Certificates: []tls.Certificate{leaf}}).port()
		}, getThrough, func(pr *inspect.Side) bool { return pr.ServerHello != nil && pr.ServerHello.Version == "TLS 1.3" }},
		{"TLS 1.2", func(t *testing.T) string {
			return sServer(t, pki, "-tls1_2", "-cipher", "ECDHE-ECDSA-AES256-GCM-SHA384", "-groups", "secp384r1:x25519")
		}, getThrough, func(pr *inspect.Side) bool { return pr.KeyExchange != nil && len(pr.Chain) > 0 }},
		{"alert", func(t *testing.T) string {
			return "127.0.0.1:" + startUpstream(t, &tls.Config{Certificates: []tls.Certificate{leaf},
				GetConfigForClient: func(hi *tls.ClientHelloInfo) (*tls.Config, error) {
					if slices.Contains(hi.SupportedCurves, tls.CurveID(0x0100)) { // ffdhe2048
						return nil, errors.New("finite-field groups refused")
					}
					return nil, nil
				}}).port()
		}, func(t *testing.T, h *harness, addr string) {
			sClient(t, h, addr, "-groups", "ffdhe2048:x25519")
		}, func(pr *inspect.Side) bool { return pr.Alert != "" }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			tap := startWiretap(t, c.server(t))
			h := probeHarness(t, pki, ProbeFirst)
			c.client(t, h, tap.addr())
			r := h.record()
			if r.Probe == nil || !c.want(r.Probe) {
				t.Fatalf("probe not as the case wants: %s", recordJSON(r))
			}
			checkProbeWithTshark(t, r, tap.capture(t, r.Probe.Local))
		})
	}
}
