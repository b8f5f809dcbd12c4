package inspect

import (
	"bytes"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"math/big"
	"net"
	"reflect"
	"slices"
	"strings"
	"testing"

	"golang.org/x/crypto/cryptobyte"

	"github.com/tlslens/tlslens/ca/testpki"
)

// capturedHello returns the first record a crypto/tls client sends with cfg.
func capturedHello(tb testing.TB, cfg *tls.Config) []byte {
	tb.Helper()
	c, s := net.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		tls.Client(c, cfg).Handshake() // returns once s is closed
		c.Close()                      // unblocks the read below if the client gave up early
	}()
	defer func() { s.Close(); c.Close(); <-done }()
	rec := make([]byte, RecordHeaderLen)
	if _, err := io.ReadFull(s, rec); err != nil {
		tb.Fatal(err)
	}
	rec = append(rec, make([]byte, int(rec[3])<<8|int(rec[4]))...)
	if _, err := io.ReadFull(s, rec[RecordHeaderLen:]); err != nil {
		tb.Fatal(err)
	}
	return rec
}

// helloInfo sends records to a crypto/tls server over loopback TCP and
// returns the ClientHelloInfo it parsed from them.
func helloInfo(tb testing.TB, records []byte) *tls.ClientHelloInfo {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	sent := make(chan error, 1)
	go func() {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			sent <- err
			return
		}
		defer c.Close()
		_, err = c.Write(records)
		sent <- err
		io.Copy(io.Discard, c) // until the server closes
	}()
	conn, err := ln.Accept()
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close()
	var info *tls.ClientHelloInfo
	srv := tls.Server(conn, &tls.Config{
		GetConfigForClient: func(chi *tls.ClientHelloInfo) (*tls.Config, error) {
			info = chi
			return nil, errors.New("hello captured")
		},
	})
	err = srv.Handshake()
	if err := <-sent; err != nil {
		tb.Fatal(err)
	}
	if info == nil {
		tb.Fatalf("crypto/tls did not accept the hello: %v", err)
	}
	return info
}

// helloTestCertificate returns a self-signed ECDSA P-256 certificate for
// example.test and a pool that trusts it.
func helloTestCertificate(tb testing.TB) (tls.Certificate, *x509.CertPool) {
	tb.Helper()
	return testpki.SelfSigned(tb, "example.test")
}

// resumingConfig runs one full handshake with cfg against a loopback server
// so that cfg's session cache holds a ticket, and returns cfg.
func resumingConfig(t *testing.T, cfg *tls.Config, cert tls.Certificate) *tls.Config {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	srvErr := make(chan error, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			srvErr <- err
			return
		}
		defer conn.Close()
		srv := tls.Server(conn, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
		if err := srv.Handshake(); err != nil {
			srvErr <- err
			return
		}
		_, err = srv.Write([]byte{1}) // after the TLS 1.3 NewSessionTicket
		srvErr <- err
	}()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	cl := tls.Client(conn, cfg)
	if _, err := io.ReadFull(cl, make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
	if err := <-srvErr; err != nil {
		t.Fatal(err)
	}
	return cfg
}

// echConfigList returns an ECHConfigList (draft-ietf-tls-esni §4) with one
// DHKEM(X25519)/HKDF-SHA256/AES-128-GCM config whose public name is
// public.example.
func echConfigList(tb testing.TB, configID uint8) []byte {
	tb.Helper()
	key, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	var b cryptobyte.Builder
	b.AddUint16LengthPrefixed(func(list *cryptobyte.Builder) {
		list.AddUint16(extEncryptedClientHello) // ECHConfig version
		list.AddUint16LengthPrefixed(func(c *cryptobyte.Builder) {
			c.AddUint8(configID)
			c.AddUint16(0x0020) // DHKEM(X25519, HKDF-SHA256)
			c.AddUint16LengthPrefixed(func(k *cryptobyte.Builder) { k.AddBytes(key.PublicKey().Bytes()) })
			c.AddUint16LengthPrefixed(func(s *cryptobyte.Builder) {
				s.AddUint16(0x0001) // HKDF-SHA256
				s.AddUint16(0x0001) // AES-128-GCM
			})
			c.AddUint8(0) // maximum_name_length
			c.AddUint8LengthPrefixed(func(n *cryptobyte.Builder) { n.AddBytes([]byte("public.example")) })
			c.AddUint16(0) // no extensions
		})
	})
	return b.BytesOrPanic()
}

// helloSpec describes a ClientHello to marshal by hand, for shapes
// crypto/tls clients never send.
type helloSpec struct {
	version     uint16 // legacy_version; 0x0303 when zero
	sessionID   []byte
	suites      []uint16
	compression []byte // {0} when nil
	exts        []Extension
	noExtBlock  bool // end the hello after compression_methods
}

// message marshals s as a handshake message.
func (s helloSpec) message() []byte {
	var b cryptobyte.Builder
	b.AddUint8(typeClientHello)
	b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) {
		v := s.version
		if v == 0 {
			v = 0x0303
		}
		b.AddUint16(v)
		random := make([]byte, 32)
		for i := range random {
			random[i] = byte(i)
		}
		b.AddBytes(random)
		b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(s.sessionID) })
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
			for _, c := range s.suites {
				b.AddUint16(c)
			}
		})
		comp := s.compression
		if comp == nil {
			comp = []byte{0}
		}
		b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(comp) })
		if s.noExtBlock {
			return
		}
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
			for _, e := range s.exts {
				b.AddUint16(e.Type)
				b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(e.Data) })
			}
		})
	})
	return b.BytesOrPanic()
}

// frameRecords frames msg into handshake records of the given payload sizes; the
// rest goes into one last record.
func frameRecords(msg []byte, recordVersion uint16, sizes ...int) []byte {
	var out []byte
	frame := func(p []byte) {
		out = append(out, RecordTypeHandshake, byte(recordVersion>>8), byte(recordVersion), byte(len(p)>>8), byte(len(p)))
		out = append(out, p...)
	}
	for _, n := range sizes {
		frame(msg[:n])
		msg = msg[n:]
	}
	frame(msg)
	return out
}

// Extension bodies for helloSpec.
func u16List(vs ...uint16) []byte {
	var b cryptobyte.Builder
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
		for _, v := range vs {
			b.AddUint16(v)
		}
	})
	return b.BytesOrPanic()
}

func u8List(vs ...uint8) []byte { return append([]byte{byte(len(vs))}, vs...) }

func u8ListOfU16(vs ...uint16) []byte { return u16List(vs...)[1:] } // 1-byte length: lists here are short

func protocolNames(names ...string) []byte {
	var b cryptobyte.Builder
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
		for _, n := range names {
			b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte(n)) })
		}
	})
	return b.BytesOrPanic()
}

func serverName(name string) []byte {
	var b cryptobyte.Builder
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
		b.AddUint8(0) // host_name
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte(name)) })
	})
	return b.BytesOrPanic()
}

func keyShares(shares ...KeyShareEntry) []byte {
	var b cryptobyte.Builder
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
		for _, s := range shares {
			b.AddUint16(s.Group)
			b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(make([]byte, s.Length)) })
		}
	})
	return b.BytesOrPanic()
}

// curveIDs, schemes: crypto/tls's typed lists as plain codes.
func curveIDs(cs []tls.CurveID) []uint16 {
	out := make([]uint16, len(cs))
	for i, c := range cs {
		out[i] = uint16(c)
	}
	return out
}

func schemes(ss []tls.SignatureScheme) []uint16 {
	out := make([]uint16, len(ss))
	for i, s := range ss {
		out[i] = uint16(s)
	}
	return out
}

func extTypes(h *ClientHello) []uint16 {
	out := make([]uint16, len(h.Extensions))
	for i, e := range h.Extensions {
		out[i] = e.Type
	}
	return out
}

// orNil treats empty and nil slices alike for comparison.
func orNil[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
}

// checkAgainstInfo compares the parse of records with what crypto/tls's
// server parsed from the same bytes.
// legacy_version is taken from msg, the handshake message, since
// ClientHelloInfo does not expose it.
func checkAgainstInfo(t *testing.T, records, msg []byte, h *ClientHello) {
	t.Helper()
	info := helloInfo(t, records)
	eq := func(what string, got, want any) {
		t.Helper()
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %v, want %v (crypto/tls)", what, got, want)
		}
	}
	eq("CipherSuites", h.CipherSuites, info.CipherSuites)
	eq("extension types", extTypes(h), info.Extensions)
	eq("Groups", orNil(h.Groups), orNil(curveIDs(info.SupportedCurves)))
	eq("PointFormats", orNil(h.PointFormats), orNil(info.SupportedPoints))
	eq("SignatureAlgorithms", orNil(h.SignatureAlgorithms), orNil(schemes(info.SignatureSchemes)))
	eq("ALPN", orNil(h.ALPN), orNil(info.SupportedProtos))
	eq("SNI", h.SNI, info.ServerName)
	if h.hasExtension(extSupportedVersions) {
		// Without the extension crypto/tls extrapolates from legacy_version.
		eq("SupportedVersions", h.SupportedVersions, info.SupportedVersions)
	}

	// JA4's part a and JA3's string, rebuilt from crypto/tls's view.
	legacy := uint16(msg[4])<<8 | uint16(msg[5])
	ver := legacy
	if h.hasExtension(extSupportedVersions) {
		ver = slices.Max(slices.DeleteFunc(slices.Clone(info.SupportedVersions), IsGREASE))
	}
	sni := "i"
	if info.ServerName != "" {
		sni = "d"
	}
	alpn := "00"
	if len(info.SupportedProtos) > 0 {
		p := info.SupportedProtos[0]
		alpn = p[:1] + p[len(p)-1:]
	}
	wantA := "t" + map[uint16]string{0x0304: "13", 0x0303: "12", 0x0302: "11", 0x0301: "10"}[ver] + sni +
		twoDigits(len(info.CipherSuites)) + twoDigits(len(info.Extensions)) + alpn
	ja4, _ := JA4(h)
	if a, _, _ := strings.Cut(ja4, "_"); a != wantA {
		t.Errorf("JA4 part a = %s, want %s", a, wantA)
	}
	_, raw := JA3(h)
	dec := func(vs []uint16) string {
		s := make([]string, len(vs))
		for i, v := range vs {
			s[i] = big.NewInt(int64(v)).String()
		}
		return strings.Join(s, "-")
	}
	points := make([]uint16, len(info.SupportedPoints))
	for i, p := range info.SupportedPoints {
		points[i] = uint16(p)
	}
	wantRaw := strings.Join([]string{big.NewInt(int64(legacy)).String(),
		dec(info.CipherSuites), dec(info.Extensions), dec(curveIDs(info.SupportedCurves)), dec(points)}, ",")
	if raw != wantRaw {
		t.Errorf("JA3 raw = %s, want %s", raw, wantRaw)
	}
}

func TestParseClientHelloCryptoTLS(t *testing.T) {
	cert, pool := helloTestCertificate(t)
	tests := []struct {
		name  string
		cfg   func(t *testing.T) *tls.Config
		check func(t *testing.T, h *ClientHello)
	}{
		{
			name: "TLS 1.3 default with ALPN",
			cfg: func(*testing.T) *tls.Config {
				return &tls.Config{ServerName: "example.test", RootCAs: pool, NextProtos: []string{"h2", "http/1.1"}}
			},
			check: func(t *testing.T, h *ClientHello) {
				if got, want := h.SupportedVersions, []uint16{tls.VersionTLS13, tls.VersionTLS12}; !slices.Equal(got, want) {
					t.Errorf("SupportedVersions = %x, want %x", got, want)
				}
				if len(h.KeyShares) == 0 || len(h.SessionID) != 32 {
					t.Errorf("KeyShares = %v, session id %d bytes: want shares and a 32-byte compatibility id", h.KeyShares, len(h.SessionID))
				}
				for _, k := range h.KeyShares {
					if want := map[uint16]int{29: 32, 23: 65, 4588: 1216, 4587: 1249, 4589: 1665}[k.Group]; k.Length != want {
						t.Errorf("key share %s is %d bytes, want %d", GroupName(k.Group), k.Length, want)
					}
				}
				if h.PSK || h.SessionTicket != nil || h.ECH != nil {
					t.Errorf("PSK %v, SessionTicket %x, ECH %v: want none on a first connection", h.PSK, h.SessionTicket, h.ECH)
				}
			},
		},
		{
			name: "TLS 1.2 only",
			cfg: func(*testing.T) *tls.Config {
				return &tls.Config{ServerName: "example.test", RootCAs: pool, MaxVersion: tls.VersionTLS12}
			},
			check: func(t *testing.T, h *ClientHello) {
				if h.LegacyVersion != tls.VersionTLS12 || slices.Contains(h.SupportedVersions, tls.VersionTLS13) || len(h.KeyShares) != 0 {
					t.Errorf("LegacyVersion %x, SupportedVersions %x, KeyShares %v: want 0303, no TLS 1.3, no key shares", h.LegacyVersion, h.SupportedVersions, h.KeyShares)
				}
				if ja4, _ := JA4(h); !strings.HasPrefix(ja4, "t12d") {
					t.Errorf("JA4 = %s, want t12d…", ja4)
				}
			},
		},
		{
			name: "TLS 1.0 with explicit legacy suites",
			cfg: func(*testing.T) *tls.Config {
				return &tls.Config{ServerName: "example.test", RootCAs: pool, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS10,
					CipherSuites: []uint16{tls.TLS_RSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA}}
			},
			check: func(t *testing.T, h *ClientHello) {
				if h.LegacyVersion != tls.VersionTLS10 {
					t.Errorf("LegacyVersion = %x, want 0301", h.LegacyVersion)
				}
				got := slices.Sorted(slices.Values(h.Hello().CipherSuites)) // crypto/tls sends them in its own order
				if want := []string{"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "TLS_RSA_WITH_AES_128_CBC_SHA"}; !slices.Equal(got, want) {
					t.Errorf("Hello().CipherSuites = %v, want %v", got, want)
				}
			},
		},
		{
			name: "no SNI for an IP address",
			cfg: func(*testing.T) *tls.Config {
				return &tls.Config{ServerName: "127.0.0.1", RootCAs: pool}
			},
			check: func(t *testing.T, h *ClientHello) {
				if h.SNI != "" || h.hasExtension(extServerName) {
					t.Errorf("SNI = %q: want no server_name extension", h.SNI)
				}
				if ja4, _ := JA4(h); ja4[3] != 'i' {
					t.Errorf("JA4 = %s, want SNI flag i", ja4)
				}
			},
		},
		{
			name: "x25519 only",
			cfg: func(*testing.T) *tls.Config {
				return &tls.Config{ServerName: "example.test", RootCAs: pool, CurvePreferences: []tls.CurveID{tls.X25519}}
			},
			check: func(t *testing.T, h *ClientHello) {
				if want := []KeyShareEntry{{Group: 29, Length: 32}}; !reflect.DeepEqual(h.KeyShares, want) {
					t.Errorf("KeyShares = %v, want %v", h.KeyShares, want)
				}
			},
		},
		{
			name: "TLS 1.3 resumption offers a PSK",
			cfg: func(t *testing.T) *tls.Config {
				return resumingConfig(t, &tls.Config{ServerName: "example.test", RootCAs: pool,
					ClientSessionCache: tls.NewLRUClientSessionCache(4)}, cert)
			},
			check: func(t *testing.T, h *ClientHello) {
				if !h.PSK || h.PSKIdentities != 1 || !slices.Equal(h.PSKModes, []uint8{1}) {
					t.Errorf("PSK %v, identities %d, modes %v: want one identity, psk_dhe_ke", h.PSK, h.PSKIdentities, h.PSKModes)
				}
				// RFC 8446 §4.2.11: pre_shared_key comes last.
				if last := h.Extensions[len(h.Extensions)-1].Type; last != extPreSharedKey {
					t.Errorf("last extension = %s, want pre_shared_key", ExtensionName(last))
				}
				if got := h.Hello(); !got.PSK || !slices.Equal(got.PSKModes, []string{"psk_dhe_ke"}) {
					t.Errorf("Hello() PSK %v, modes %v", got.PSK, got.PSKModes)
				}
			},
		},
		{
			name: "TLS 1.2 resumption offers a session ticket",
			cfg: func(t *testing.T) *tls.Config {
				return resumingConfig(t, &tls.Config{ServerName: "example.test", RootCAs: pool, MaxVersion: tls.VersionTLS12,
					ClientSessionCache: tls.NewLRUClientSessionCache(4)}, cert)
			},
			check: func(t *testing.T, h *ClientHello) {
				if len(h.SessionTicket) == 0 || !h.Hello().SessionTicket {
					t.Errorf("SessionTicket = %x: want the cached ticket", h.SessionTicket)
				}
			},
		},
		{
			name: "ECH outer hello",
			cfg: func(t *testing.T) *tls.Config {
				return &tls.Config{ServerName: "example.test", RootCAs: pool, MinVersion: tls.VersionTLS13,
					EncryptedClientHelloConfigList: echConfigList(t, 7)}
			},
			check: func(t *testing.T, h *ClientHello) {
				want := ECHInfo{Type: "outer", ConfigID: 7, KDF: 1, AEAD: 1, EncLength: 32}
				if h.ECH == nil {
					t.Fatal("ECH = nil, want the outer extension")
				}
				got := *h.ECH
				got.PayloadLength = 0
				if got != want || h.ECH.PayloadLength == 0 {
					t.Errorf("ECH = %+v, want %+v with a payload", *h.ECH, want)
				}
				if h.SNI != "public.example" {
					t.Errorf("SNI = %q, want the ECH public name", h.SNI)
				}
				if got := h.Hello(); !got.ECH || got.ECHType != "outer" {
					t.Errorf("Hello() ECH %v %q", got.ECH, got.ECHType)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := capturedHello(t, tt.cfg(t))
			h, err := ParseClientHello(rec)
			if err != nil {
				t.Fatalf("ParseClientHello = %v", err)
			}
			if !bytes.Equal(h.Raw, rec[RecordHeaderLen:]) {
				t.Errorf("Raw is not the record body")
			}
			if got, want := h.RecordVersion, uint16(rec[1])<<8|uint16(rec[2]); got != want {
				t.Errorf("RecordVersion = %x, want %x", got, want)
			}
			if !bytes.Equal(h.Random, rec[11:43]) {
				t.Errorf("Random = %x, want %x", h.Random, rec[11:43])
			}
			if got := h.Hello(); got.Size != len(h.Raw) || got.Version != VersionName(h.LegacyVersion) || got.Grease {
				t.Errorf("Hello() Size %d Version %q Grease %v", got.Size, got.Version, got.Grease)
			}
			checkAgainstInfo(t, rec, rec[RecordHeaderLen:], h)
			tt.check(t, h)
		})
	}
}

func TestParseClientHelloRecords(t *testing.T) {
	rec := capturedHello(t, &tls.Config{ServerName: "example.test", NextProtos: []string{"h2"}})
	want, err := ParseClientHello(rec)
	if err != nil {
		t.Fatal(err)
	}
	msg := rec[RecordHeaderLen:]
	tests := []struct {
		name  string
		sizes []int
	}{
		{"one record", nil},
		{"three records", []int{100, len(msg) / 2}},
		{"header split across records", []int{2, 1}},
		{"one byte each", slices.Repeat([]int{1}, len(msg)-1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := frameRecords(msg, want.RecordVersion, tt.sizes...)
			b = append(b, 0x17, 3, 3, 0, 1, 0) // bytes after the hello are ignored
			got, err := ParseClientHello(b)
			if err != nil {
				t.Fatalf("ParseClientHello = %v", err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("ParseClientHello(%d records) differs from the one-record parse", len(tt.sizes)+1)
			}
			if len(tt.sizes) < 10 {
				checkAgainstInfo(t, b[:len(b)-6], msg, got)
			}
		})
	}
}

func TestParseClientHelloLarge(t *testing.T) {
	rec := capturedHello(t, &tls.Config{ServerName: "example.test"})
	small, err := ParseClientHello(rec)
	if err != nil {
		t.Fatal(err)
	}
	const pad = 17000
	spec := helloSpec{version: small.LegacyVersion, sessionID: small.SessionID, suites: small.CipherSuites,
		exts: append(slices.Clone(small.Extensions), Extension{Type: extPadding, Data: make([]byte, pad)})}
	msg := spec.message()
	if len(msg) <= 1<<14 {
		t.Fatalf("hello is %d bytes, want more than 2^14", len(msg))
	}
	b := frameRecords(msg, 0x0301, 1<<14)
	h, err := ParseClientHello(b)
	if err != nil {
		t.Fatalf("ParseClientHello = %v", err)
	}
	if h.Padding != pad || len(h.Raw) != len(msg) || h.Hello().Size != len(msg) {
		t.Errorf("Padding %d, Raw %d bytes: want %d, %d", h.Padding, len(h.Raw), pad, len(msg))
	}
	if !slices.Equal(h.CipherSuites, small.CipherSuites) || !slices.Equal(h.Groups, small.Groups) ||
		!reflect.DeepEqual(h.KeyShares, small.KeyShares) || h.SNI != small.SNI {
		t.Errorf("large hello decoded differently from the original")
	}
	checkAgainstInfo(t, b, msg, h)
}

func TestParseClientHelloTruncated(t *testing.T) {
	rec := capturedHello(t, &tls.Config{ServerName: "example.test"})
	msg := rec[RecordHeaderLen:]
	multi := frameRecords(msg, 0x0301, 300, 700)
	for _, tc := range []struct {
		name string
		b    []byte
	}{{"one record", rec}, {"three records", multi}} {
		t.Run(tc.name, func(t *testing.T) {
			for n := 0; n < len(tc.b); n++ {
				h, err := ParseClientHello(tc.b[:n])
				if h != nil || !errors.Is(err, ErrTruncated) {
					t.Fatalf("ParseClientHello(first %d of %d bytes) = %v, %v; want ErrTruncated", n, len(tc.b), h, err)
				}
			}
		})
	}
	t.Run("message", func(t *testing.T) {
		for n := 0; n < len(msg); n++ {
			h, err := ParseClientHelloMessage(msg[:n])
			if h != nil || !errors.Is(err, ErrTruncated) {
				t.Fatalf("ParseClientHelloMessage(first %d of %d bytes) = %v, %v; want ErrTruncated", n, len(msg), h, err)
			}
		}
	})
}

func TestParseClientHelloNotTLS(t *testing.T) {
	// An SSL 2.0-compatible CLIENT-HELLO (RFC 5246 Appendix E.2): 2-byte
	// header with the high bit set, msg_type 1, version 3.1, three 3-byte
	// cipher specs, no session id, a 16-byte challenge.
	sslv2 := []byte{0x80, 0x2b, 0x01, 0x03, 0x01, 0x00, 0x09, 0x00, 0x00, 0x00, 0x10,
		0x00, 0x00, 0x2f, 0x00, 0x00, 0x35, 0x01, 0x00, 0x80}
	sslv2 = append(sslv2, bytes.Repeat([]byte{0xaa}, 16)...)
	tests := []struct {
		name  string
		b     []byte
		sslv2 bool
	}{
		{"HTTP request", []byte("GET / HTTP/1.1\r\nHost: example.test\r\n\r\n"), false},
		{"CONNECT", []byte("CONNECT example.test:443 HTTP/1.1\r\n\r\n"), false},
		{"alert record", []byte{21, 3, 1, 0, 2, 2, 40}, false},
		{"application data", []byte{23, 3, 3, 0, 1, 0}, false},
		{"handshake type, SSH version", []byte("\x16SSH-2.0-OpenSSH_9.2\r\n"), false},
		{"SSL 2.0 hello", sslv2, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := ParseClientHello(tt.b)
			if h != nil || !errors.Is(err, ErrNotTLS) || errors.Is(err, ErrSSLv2) != tt.sslv2 {
				t.Errorf("ParseClientHello(%q) = %v, %v; want ErrNotTLS (SSLv2 %v)", tt.b, h, err, tt.sslv2)
			}
		})
	}
}

func TestParseClientHelloMalformed(t *testing.T) {
	good := helloSpec{suites: []uint16{0x1301}, exts: []Extension{
		{Type: extServerName, Data: serverName("example.test")},
		{Type: extSupportedVersions, Data: u8ListOfU16(0x0304)},
	}}.message()
	if _, err := ParseClientHelloMessage(good); err != nil {
		t.Fatalf("the unmodified hello does not parse: %v", err)
	}
	ext := func(typ uint16, data []byte) []byte {
		return helloSpec{suites: []uint16{0x1301}, exts: []Extension{{Type: typ, Data: data}}}.message()
	}
	// extAt is where that single extension starts: header 4, version 2,
	// random 32, session id 1, suites 2+2, compression 2, block length 2.
	const extAt = 4 + 2 + 32 + 1 + 4 + 2 + 2
	setLen := func(msg []byte) []byte { // fix the handshake header after editing the body
		n := len(msg) - 4
		msg[1], msg[2], msg[3] = byte(n>>16), byte(n>>8), byte(n)
		return msg
	}
	tests := []struct {
		name   string
		msg    []byte
		want   string
		offset int
	}{
		{"ServerHello", append([]byte{2}, good[1:]...), "not ClientHello", 0},
		{"session id of 33 bytes", helloSpec{sessionID: make([]byte, 33), suites: []uint16{1}}.message(), "legacy_session_id", 38},
		{"odd cipher_suites length", func() []byte { m := slices.Clone(good); m[40] = 3; return m }(), "cipher_suites", 39},
		{"trailing byte", setLen(append(slices.Clone(good), 0)), "trailing bytes after extensions", len(good)},
		{"extension overruns the block", func() []byte { m := slices.Clone(good); m[extAt+3] = 200; return m }(), "malformed extension header", extAt},
		{"empty server_name list", ext(extServerName, u16List()), "malformed server_name", extAt},
		{"odd supported_versions", ext(extSupportedVersions, []byte{3, 3, 4, 3}), "malformed supported_versions", extAt},
		{"odd supported_groups", ext(extSupportedGroups, []byte{0, 3, 0, 29, 0}), "malformed supported_groups", extAt},
		{"short key_share entry", ext(extKeyShare, []byte{0, 6, 0, 29, 0, 32, 1, 2}), "malformed key_share", extAt},
		{"ALPN name overruns", ext(extApplicationLayerProtocolNegotiation, []byte{0, 3, 5, 'h', '2'}), "malformed application_layer_protocol_negotiation", extAt},
		{"unknown ECH type", ext(extEncryptedClientHello, []byte{7}), "malformed encrypted_client_hello", extAt},
		{"inner ECH with data", ext(extEncryptedClientHello, []byte{1, 0}), "malformed encrypted_client_hello", extAt},
		{"truncated pre_shared_key identity", ext(extPreSharedKey, []byte{0, 4, 0, 1, 'x', 0, 0, 0}), "malformed pre_shared_key", extAt},
		{"record_size_limit of one byte", ext(extRecordSizeLimit, []byte{1}), "malformed record_size_limit", extAt},
		{"trailing bytes in signature_algorithms", ext(extSignatureAlgorithms, []byte{0, 2, 4, 3, 0}), "malformed signature_algorithms", extAt},
		{"length beyond any ClientHello", []byte{1, 0xff, 0xff, 0xff}, "exceeds the largest possible", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := ParseClientHelloMessage(tt.msg)
			var pe *ParseError
			if h != nil || !errors.As(err, &pe) {
				t.Fatalf("ParseClientHelloMessage = %v, %v; want a *ParseError", h, err)
			}
			if !strings.Contains(pe.Msg, tt.want) || pe.Offset != tt.offset {
				t.Errorf("ParseError = %q at %d, want %q at %d", pe.Msg, pe.Offset, tt.want, tt.offset)
			}
			if !strings.HasPrefix(err.Error(), "inspect: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
		})
	}
}

func TestParseClientHelloRecordErrors(t *testing.T) {
	msg := helloSpec{suites: []uint16{0x1301}, exts: []Extension{{Type: extServerName, Data: serverName("example.test")}}}.message()
	split := frameRecords(msg, 0x0301, 20) // second record starts at 25
	tests := []struct {
		name   string
		b      []byte
		want   string
		offset int
	}{
		{"alert between the records", append(frameRecords(msg[:20], 0x0301), append([]byte{21, 3, 3, 0, 2, 2, 40}, frameRecords(msg[20:], 0x0301)...)...),
			"record of type 21", 25},
		{"zero-length record", append([]byte{22, 3, 1, 0, 0}, frameRecords(msg, 0x0301)...), "zero-length handshake record", 3},
		{"second record version 2.0", func() []byte { b := slices.Clone(split); b[26] = 2; return b }(), "record version 0x0201", 26},
		{"record longer than 2^14+2048", []byte{22, 3, 1, 0x48, 0x01, 1, 0, 0, 0}, "exceeds 2^14+2048", 3},
		{"ServerHello first", frameRecords(append([]byte{2}, msg[1:]...), 0x0303), "not ClientHello", 5},
		{"message longer than any ClientHello", []byte{22, 3, 1, 0, 4, 1, 0xff, 0, 0}, "exceeds the largest possible", 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := ParseClientHello(tt.b)
			var pe *ParseError
			if h != nil || !errors.As(err, &pe) {
				t.Fatalf("ParseClientHello = %v, %v; want a *ParseError", h, err)
			}
			if !strings.Contains(pe.Msg, tt.want) || pe.Offset != tt.offset {
				t.Errorf("ParseError = %q at %d, want %q at %d", pe.Msg, pe.Offset, tt.want, tt.offset)
			}
		})
	}
}

// kitchenSink is a hello with every extension the parser decodes, GREASE
// in each list that allows it, and pre_shared_key last.
func kitchenSink() helloSpec {
	return helloSpec{
		version:     0x0303,
		sessionID:   bytes.Repeat([]byte{7}, 32),
		suites:      []uint16{0x3a3a, 0x1301, 0x1302, 0xc02b, 0x00ff},
		compression: []byte{1, 0},
		exts: []Extension{
			{Type: 0x0a0a},
			{Type: extServerName, Data: serverName("example.test")},
			{Type: extStatusRequest, Data: []byte{1, 0, 0, 0, 0}},
			{Type: extSupportedGroups, Data: u16List(0xfafa, 4588, 29, 23)},
			{Type: extECPointFormats, Data: u8List(0, 1)},
			{Type: extSignatureAlgorithms, Data: u16List(0x0403, 0x0804, 0x0201)},
			{Type: extSignatureAlgorithmsCert, Data: u16List(0x0403, 0x0807)},
			{Type: extApplicationLayerProtocolNegotiation, Data: protocolNames("h2", "http/1.1")},
			{Type: extSignedCertificateTimestamp},
			{Type: extExtendedMasterSecret},
			{Type: extCompressCertificate, Data: u8ListOfU16(2, 1)},
			{Type: extRecordSizeLimit, Data: []byte{0x40, 0x01}},
			{Type: extSessionTicket, Data: []byte("ticket")},
			{Type: extPSKKeyExchangeModes, Data: u8List(0x2a, 1)},
			{Type: extSupportedVersions, Data: u8ListOfU16(0x4a4a, 0x0304, 0x0303)},
			{Type: extKeyShare, Data: keyShares(KeyShareEntry{0x4a4a, 1}, KeyShareEntry{29, 32})},
			{Type: extPostHandshakeAuth},
			{Type: extApplicationSettingsOld, Data: protocolNames("h2")},
			{Type: extApplicationSettings, Data: protocolNames("h2", "h3")},
			{Type: extEncryptedClientHello, Data: []byte{0, 0, 1, 0, 3, 9, 0, 2, 0xee, 0xee, 0, 3, 1, 2, 3}},
			{Type: extRenegotiationInfo, Data: []byte{0}},
			{Type: extPadding, Data: make([]byte, 17)},
			{Type: 0xbeef, Data: []byte("unknown")},
			{Type: extEarlyData},
			{Type: extPreSharedKey, Data: func() []byte {
				var b cryptobyte.Builder
				b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
					for _, id := range []string{"id-1", "id-22"} {
						b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte(id)) })
						b.AddUint32(12345)
					}
				})
				b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
					for range 2 {
						b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(make([]byte, 32)) })
					}
				})
				return b.BytesOrPanic()
			}()},
		},
	}
}

func TestParseClientHelloExtensions(t *testing.T) {
	spec := kitchenSink()
	h, err := ParseClientHello(frameRecords(spec.message(), 0x0301))
	if err != nil {
		t.Fatalf("ParseClientHello = %v", err)
	}
	if len(h.Extensions) != len(spec.exts) {
		t.Fatalf("%d extensions, want %d", len(h.Extensions), len(spec.exts))
	}
	for i, e := range spec.exts {
		if h.Extensions[i].Type != e.Type || !bytes.Equal(h.Extensions[i].Data, e.Data) {
			t.Errorf("extension %d = %x %x, want %x %x", i, h.Extensions[i].Type, h.Extensions[i].Data, e.Type, e.Data)
		}
	}
	want := &ClientHello{
		RecordVersion: 0x0301, LegacyVersion: 0x0303, Random: h.Random, SessionID: spec.sessionID,
		CipherSuites: spec.suites, CompressionMethods: spec.compression, Extensions: h.Extensions,
		SNI: "example.test", ALPN: []string{"h2", "http/1.1"},
		SupportedVersions:       []uint16{0x4a4a, 0x0304, 0x0303},
		Groups:                  []uint16{0xfafa, 4588, 29, 23},
		KeyShares:               []KeyShareEntry{{0x4a4a, 1}, {29, 32}},
		SignatureAlgorithms:     []uint16{0x0403, 0x0804, 0x0201},
		SignatureAlgorithmsCert: []uint16{0x0403, 0x0807},
		PointFormats:            []uint8{0, 1},
		PSKModes:                []uint8{0x2a, 1},
		SessionTicket:           []byte("ticket"),
		PSK:                     true, PSKIdentities: 2, EarlyData: true,
		ECH:             &ECHInfo{Type: "outer", KDF: 1, AEAD: 3, ConfigID: 9, EncLength: 2, PayloadLength: 3},
		Padding:         17,
		RecordSizeLimit: 0x4001, CompressCertificate: []uint16{2, 1}, ALPS: []string{"h2", "h3"},
		StatusRequest: true, SCT: true, ExtendedMasterSecret: true, RenegotiationInfo: true, PostHandshakeAuth: true,
		Raw: h.Raw,
	}
	if !reflect.DeepEqual(h, want) {
		t.Errorf("ParseClientHello =\n%+v\nwant\n%+v", h, want)
	}

	got := h.Hello()
	for _, c := range []struct {
		what      string
		got, want any
	}{
		{"Version", got.Version, "TLS 1.2"},
		{"SupportedVersions", got.SupportedVersions, []string{"GREASE", "TLS 1.3", "TLS 1.2"}},
		{"CipherSuites", got.CipherSuites, []string{"GREASE", "TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
			"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_EMPTY_RENEGOTIATION_INFO_SCSV"}},
		{"Extensions[:4]", got.Extensions[:4], []string{"GREASE", "server_name", "status_request", "supported_groups"}},
		{"Extensions[17:]", got.Extensions[17:], []string{"application_settings_old", "application_settings", "encrypted_client_hello",
			"renegotiation_info", "padding", "0xbeef", "early_data", "pre_shared_key"}},
		{"Groups", got.Groups, []string{"GREASE", "X25519MLKEM768", "x25519", "secp256r1"}},
		{"KeyShares", got.KeyShares, []KeyShare{{"GREASE", 1}, {"x25519", 32}}},
		{"SignatureAlgorithms", got.SignatureAlgorithms, []string{"ecdsa_secp256r1_sha256", "rsa_pss_rsae_sha256", "rsa_pkcs1_sha1"}},
		{"SignatureAlgorithmsCert", got.SignatureAlgorithmsCert, []string{"ecdsa_secp256r1_sha256", "ed25519"}},
		{"PointFormats", got.PointFormats, []string{"uncompressed", "ansiX962_compressed_prime"}},
		{"CompressionMethods", got.CompressionMethods, []string{"DEFLATE", "null"}},
		{"PSKModes", got.PSKModes, []string{"GREASE", "psk_dhe_ke"}},
		{"CompressCertificate", got.CompressCertificate, []string{"brotli", "zlib"}},
		{"flags", []bool{got.SessionTicket, got.PSK, got.EarlyData, got.ECH, got.Grease, got.StatusRequest, got.SCT,
			got.ExtendedMasterSecret, got.RenegotiationInfo}, []bool{true, true, true, true, true, true, true, true, true}},
		{"ECHType", got.ECHType, "outer"},
		{"sizes", []int{got.SessionIDLength, got.Padding, got.RecordSizeLimit, got.Size}, []int{32, 17, 0x4001, len(h.Raw)}},
		{"ALPN, ALPS, SNI", []any{got.ALPN, got.ALPS, got.SNI}, []any{[]string{"h2", "http/1.1"}, []string{"h2", "h3"}, "example.test"}},
	} {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("Hello().%s = %v, want %v", c.what, c.got, c.want)
		}
	}
}

func TestParseClientHelloNoExtensions(t *testing.T) {
	for _, tc := range []struct {
		name string
		spec helloSpec
		nil_ bool
	}{
		{"no extensions block", helloSpec{version: 0x0301, suites: []uint16{4, 5}, noExtBlock: true}, true},
		{"empty extensions block", helloSpec{version: 0x0301, suites: []uint16{4, 5}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, err := ParseClientHelloMessage(tc.spec.message())
			if err != nil {
				t.Fatal(err)
			}
			if (h.Extensions == nil) != tc.nil_ || len(h.Extensions) != 0 {
				t.Errorf("Extensions = %#v, want nil %v", h.Extensions, tc.nil_)
			}
			if got := h.Hello(); got.Extensions != nil || got.Grease || !slices.Equal(got.CipherSuites, []string{"TLS_RSA_WITH_RC4_128_MD5", "TLS_RSA_WITH_RC4_128_SHA"}) {
				t.Errorf("Hello() = %+v", got)
			}
		})
	}
}

func BenchmarkParseClientHello(b *testing.B) {
	rec := capturedHello(b, &tls.Config{ServerName: "example.test", NextProtos: []string{"h2", "http/1.1"}})
	b.SetBytes(int64(len(rec)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseClientHello(rec); err != nil {
			b.Fatal(err)
		}
	}
}
