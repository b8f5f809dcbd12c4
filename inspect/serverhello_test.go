package inspect

import (
	"bytes"
	"crypto/tls"
	"errors"
	"testing"

	"golang.org/x/crypto/cryptobyte"
)

// buildServerHello encodes a ServerHello (RFC 8446 §4.1.3) for cases a real
// server does not produce; withExts false leaves out the extensions block,
// as TLS 1.2 allows (RFC 5246 §7.4.1.3).
func buildServerHello(version uint16, random []byte, suite uint16, withExts bool, exts ...Extension) []byte {
	var b cryptobyte.Builder
	b.AddUint8(typeServerHello)
	b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) {
		b.AddUint16(version)
		b.AddBytes(random)
		b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(bytes.Repeat([]byte{7}, 32)) })
		b.AddUint16(suite)
		b.AddUint8(0)
		if !withExts {
			return
		}
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
			for _, e := range exts {
				b.AddUint16(e.Type)
				b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(e.Data) })
			}
		})
	})
	return b.BytesOrPanic()
}

// firstServerHello returns the ServerHello message at the start of a
// recorded server flight.
func firstServerHello(t *testing.T, records []byte) []byte {
	t.Helper()
	_, frag, _, _ := SplitRecord(records)
	n, ok := HandshakeMessageLen(frag)
	if !ok || n > len(frag) {
		t.Fatalf("first record holds no whole handshake message")
	}
	return frag[:n]
}

func TestJA3S(t *testing.T) {
	// salesforce/ja3 README: "769,47,65281-0-11-35-5-16" → 836ce314215654b5b1f85f97c73e506f.
	msg := buildServerHello(769, make([]byte, 32), 47, true,
		Extension{Type: 65281, Data: []byte{0}},
		Extension{Type: 0},
		Extension{Type: 11, Data: []byte{1, 0}},
		Extension{Type: 35},
		Extension{Type: 5},
		Extension{Type: 16, Data: []byte{0, 3, 2, 'h', '2'}})
	m, err := ParseServerHelloMessage(msg)
	if err != nil {
		t.Fatal(err)
	}
	hash, raw := JA3S(m)
	if raw != "769,47,65281-0-11-35-5-16" || hash != "836ce314215654b5b1f85f97c73e506f" {
		t.Errorf("JA3S = %q, %q", hash, raw)
	}
	if sh := m.ServerHello(); sh.JA3S != hash || sh.JA3SRaw != raw || sh.ALPN != "h2" || sh.Version != "TLS 1.0" {
		t.Errorf("ServerHello() = %+v", sh)
	}
	// No extensions block: the last field is empty, its comma kept.
	m, err = ParseServerHelloMessage(buildServerHello(771, make([]byte, 32), 0x9c, false))
	if err != nil {
		t.Fatal(err)
	}
	if _, raw := JA3S(m); raw != "771,156," {
		t.Errorf("JA3S raw without extensions = %q, want %q", raw, "771,156,")
	}
}

func TestParseServerHelloMessage(t *testing.T) {
	p := testFlightPKI(t)
	cc, sc := flightConfigs(t, p.ecdsaLeaf)
	cap := captureHandshake(t, cc, sc)
	if cap.clientErr != nil {
		t.Fatal(cap.clientErr)
	}
	real13 := firstServerHello(t, cap.fromServer)
	m, err := ParseServerHelloMessage(real13)
	if err != nil {
		t.Fatal(err)
	}
	if m.Version() != cap.client.Version || m.LegacyVersion != tls.VersionTLS12 || m.CipherSuite != cap.client.CipherSuite ||
		m.KeyShareGroup != uint16(cap.client.CurveID) || m.HelloRetry || !bytes.Equal(m.Raw, real13) || len(m.SessionID) != 32 {
		t.Errorf("ParseServerHelloMessage(real TLS 1.3) = %+v, want %+v", m, cap.client)
	}
	sh := m.ServerHello()
	if sh.Version != "TLS 1.3" || sh.Group != GroupName(uint16(cap.client.CurveID)) || len(sh.Extensions) != len(m.Extensions) {
		t.Errorf("ServerHello() = %+v", sh)
	}

	random := func(tail string) []byte { return append(make([]byte, 32-len(tail)), tail...) }
	tests := []struct {
		name      string
		msg       []byte
		err       error // ErrTruncated, or nil for a *ParseError when bad
		bad       bool
		downgrade string
		hrr       bool
		version   uint16
	}{
		{name: "TLS 1.2 canary", msg: buildServerHello(0x0303, random("DOWNGRD\x01"), 0xc02f, true), downgrade: "TLS 1.2", version: 0x0303},
		{name: "TLS 1.1 canary", msg: buildServerHello(0x0302, random("DOWNGRD\x00"), 0xc013, false), downgrade: "TLS 1.1", version: 0x0302},
		{name: "not a canary", msg: buildServerHello(0x0303, random("DOWNGRD\x02"), 0xc02f, false), version: 0x0303},
		{name: "HelloRetryRequest", msg: buildServerHello(0x0303, helloRetryRequestRandom, 0x1301, true,
			Extension{Type: extSupportedVersions, Data: []byte{3, 4}}, Extension{Type: extKeyShare, Data: []byte{0, 23}}),
			hrr: true, version: 0x0304},
		{name: "truncated", msg: real13[:len(real13)-1], err: ErrTruncated},
		{name: "header only", msg: real13[:3], err: ErrTruncated},
		{name: "trailing byte", msg: append(bytes.Clone(real13), 0), bad: true},
		{name: "ClientHello", msg: append([]byte{typeClientHello}, real13[1:]...), bad: true},
		{name: "key_share without a key", msg: buildServerHello(0x0303, random(""), 0x1301, true, Extension{Type: extKeyShare, Data: []byte{0, 29}}), bad: true},
		{name: "two ALPN names", msg: buildServerHello(0x0303, random(""), 0xc02f, true, Extension{Type: extApplicationLayerProtocolNegotiation, Data: []byte{0, 4, 1, 'a', 1, 'b'}}), bad: true},
		{name: "long session id", msg: func() []byte { b := bytes.Clone(real13); b[4+2+32] = 33; return b }(), bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := ParseServerHelloMessage(tt.msg)
			var pe *ParseError
			switch {
			case tt.err != nil:
				if !errors.Is(err, tt.err) {
					t.Fatalf("error = %v, want %v", err, tt.err)
				}
				return
			case tt.bad:
				if !errors.As(err, &pe) {
					t.Fatalf("error = %v, want a *ParseError", err)
				}
				return
			case err != nil:
				t.Fatal(err)
			}
			if m.Downgrade != tt.downgrade || m.HelloRetry != tt.hrr || m.Version() != tt.version {
				t.Errorf("ParseServerHelloMessage = %+v, want downgrade %q, hello retry %v, version %s", m, tt.downgrade, tt.hrr, VersionName(tt.version))
			}
		})
	}
}
