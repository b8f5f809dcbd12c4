package inspect

import (
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"strings"
	"testing"
)

// The JA4 vectors of github.com/FoxIO-LLC/ja4 (technical_details/JA4.md and its
// test data), each rebuilt as a ClientHello and parsed. Not rebuilt:
// tls-alpn-h2 (t12d4605h2_85626a9a5f7f_aaf95bb78ec9), whose published raw
// strings are garbled in the reference test data, the QUIC example (JA4 here
// is TCP only), the README's Chrome value and Firefox's JA4_o, which come
// without their inputs in wire order.

// specHello is JA4.md's worked example in wire order, as Chrome sends it,
// with GREASE added where Chrome puts it.
func specHello(sigalgs []byte) helloSpec {
	return helloSpec{
		suites: []uint16{0x0a0a, 0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8,
			0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035},
		exts: []Extension{
			{Type: 0x2a2a},
			{Type: extCompressCertificate, Data: u8ListOfU16(2)},
			{Type: extServerName, Data: serverName("example.test")},
			{Type: extKeyShare, Data: keyShares(KeyShareEntry{0x4a4a, 1}, KeyShareEntry{29, 32})},
			{Type: extApplicationLayerProtocolNegotiation, Data: protocolNames("h2", "http/1.1")},
			{Type: extApplicationSettingsOld, Data: protocolNames("h2")},
			{Type: extExtendedMasterSecret},
			{Type: extPSKKeyExchangeModes, Data: u8List(1)},
			{Type: extSignatureAlgorithms, Data: sigalgs},
			{Type: extStatusRequest, Data: []byte{1, 0, 0, 0, 0}},
			{Type: extSessionTicket},
			{Type: extSignedCertificateTimestamp},
			{Type: extSupportedVersions, Data: u8ListOfU16(0x5a5a, 0x0304, 0x0303)},
			{Type: extRenegotiationInfo, Data: []byte{0}},
			{Type: extECPointFormats, Data: u8List(0)},
			{Type: extSupportedGroups, Data: u16List(0x4a4a, 29, 23, 24)},
			{Type: extPadding, Data: make([]byte, 100)},
			{Type: 0x3a3a, Data: []byte{0}},
		},
	}
}

func TestJA4Vectors(t *testing.T) {
	chromeSigalgs := u16List(0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601)
	firefox := helloSpec{
		suites: []uint16{0x1301, 0x1303, 0x1302, 0xc02b, 0xc02f, 0xcca9, 0xcca8, 0xc02c, 0xc030, 0xc00a, 0xc009,
			0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035},
		exts: []Extension{
			{Type: extServerName, Data: serverName("contile.services.mozilla.com")},
			{Type: extExtendedMasterSecret},
			{Type: extRenegotiationInfo, Data: []byte{0}},
			{Type: extSupportedGroups, Data: u16List(29, 23, 24, 25, 256, 257)},
			{Type: extECPointFormats, Data: u8List(0)},
			{Type: extSessionTicket},
			{Type: extApplicationLayerProtocolNegotiation, Data: protocolNames("h2", "http/1.1")},
			{Type: extStatusRequest, Data: []byte{1, 0, 0, 0, 0}},
			{Type: 34, Data: u16List(0x0403, 0x0503, 0x0603, 0x0203)}, // delegated_credential
			{Type: extKeyShare, Data: keyShares(KeyShareEntry{29, 32}, KeyShareEntry{23, 65})},
			{Type: extSupportedVersions, Data: u8ListOfU16(0x0304, 0x0303)},
			{Type: extSignatureAlgorithms, Data: u16List(0x0403, 0x0503, 0x0603, 0x0804, 0x0805, 0x0806, 0x0401, 0x0501, 0x0601, 0x0203, 0x0201)},
			{Type: extPSKKeyExchangeModes, Data: u8List(1)},
			{Type: extRecordSizeLimit, Data: []byte{0x40, 0x01}},
			{Type: extPadding, Data: make([]byte, 60)},
		},
	}
	tests := []struct {
		name        string
		spec        helloSpec
		ja4, ja4r   string
		ja4o, ja4ro string // checked when set
	}{
		{
			name: "JA4.md example",
			spec: specHello(chromeSigalgs),
			ja4:  "t13d1516h2_8daaf6152771_e5627efa2ab1",
			ja4r: "t13d1516h2_002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,cca9_" +
				"0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,0033,4469,ff01_0403,0804,0401,0503,0805,0501,0806,0601",
			ja4o: "t13d1516h2_acb858a92679_18f69afefd3d",
			ja4ro: "t13d1516h2_1301,1302,1303,c02b,c02f,c02c,c030,cca9,cca8,c013,c014,009c,009d,002f,0035_" +
				"001b,0000,0033,0010,4469,0017,002d,000d,0005,0023,0012,002b,ff01,000b,000a,0015_0403,0804,0401,0503,0805,0501,0806,0601",
		},
		{
			name: "JA4.md example without signature algorithms",
			spec: specHello(u16List()),
			ja4:  "t13d1516h2_8daaf6152771_6d807ffa2a79",
			ja4r: "t13d1516h2_002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,cca9_" +
				"0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,0033,4469,ff01",
		},
		{
			name: "Firefox, tls12.pcap.json",
			spec: firefox,
			ja4:  "t13d1715h2_5b57614c22b0_3d5424432f57",
			ja4r: "t13d1715h2_002f,0035,009c,009d,1301,1302,1303,c009,c00a,c013,c014,c02b,c02c,c02f,c030,cca8,cca9_" +
				"0005,000a,000b,000d,0015,0017,001c,0022,0023,002b,002d,0033,ff01_0403,0503,0603,0804,0805,0806,0401,0501,0601,0203,0201",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := ParseClientHello(frameRecords(tt.spec.message(), 0x0301))
			if err != nil {
				t.Fatal(err)
			}
			if ja4, ja4r := JA4(h); ja4 != tt.ja4 || ja4r != tt.ja4r {
				t.Errorf("JA4 = %s\n%s\nwant %s\n%s", ja4, ja4r, tt.ja4, tt.ja4r)
			}
			if got := h.Hello(); got.JA4 != tt.ja4 || got.JA4R != tt.ja4r {
				t.Errorf("Hello() JA4 = %s, %s", got.JA4, got.JA4R)
			}
			if tt.ja4o != "" {
				if ja4o, ja4ro := JA4O(h); ja4o != tt.ja4o || ja4ro != tt.ja4ro {
					t.Errorf("JA4O = %s\n%s\nwant %s\n%s", ja4o, ja4ro, tt.ja4o, tt.ja4ro)
				}
			}
		})
	}
}

func TestJA4Hashes(t *testing.T) {
	// Part b and c of JA4.md's example, and c's full SHA-256.
	c := "0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,0033,4469,ff01_0403,0804,0401,0503,0805,0501,0806,0601"
	tests := []struct{ in, want string }{
		{"002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,cca9", "8daaf6152771"},
		{c, "e5627efa2ab1"},
		{strings.Split(c, "_")[0], "6d807ffa2a79"},
		{"1301,1302,1303,c02b,c02f,c02c,c030,cca9,cca8,c013,c014,009c,009d,002f,0035", "acb858a92679"},
	}
	for _, tt := range tests {
		if got := ja4Hash12(tt.in); got != tt.want {
			t.Errorf("ja4Hash12(%s) = %s, want %s", tt.in, got, tt.want)
		}
	}
	sum := sha256.Sum256([]byte(c))
	if got, want := hex.EncodeToString(sum[:]), "e5627efa2ab19723084c1033a96c694a45826ab5a460d2d3fd5ffcfe97161c95"; got != want {
		t.Errorf("sha256(c) = %s, want %s", got, want)
	}
}

func TestJA4ALPN(t *testing.T) {
	tests := []struct{ alpn, want string }{
		{"h2", "h2"},
		{"http/1.1", "h1"},
		{"h3", "h3"},
		{"a", "aa"}, // one character is both first and last (spec text)
		{"", "00"},
		// Non-alphanumeric first or last byte: first and last hex digit of
		// the value (spec text; the reference code writes "9" instead).
		{"\xab", "ab"},
		{"0\xab", "3b"},
		{"01\xab\xcd", "3d"},
		{"-x", "28"},
		{"ALPN", "AN"},
	}
	for _, tt := range tests {
		if got := ja4ALPN(tt.alpn); got != tt.want {
			t.Errorf("ja4ALPN(%q) = %s, want %s", tt.alpn, got, tt.want)
		}
	}
}

func TestJA4PartA(t *testing.T) {
	many := make([]uint16, 0, 130)
	for i := range 120 {
		many = append(many, uint16(0x0100+i))
	}
	many = append(many, 0x0a0a, 0x1a1a)
	manyExts := make([]Extension, 0, 105)
	for i := range 105 {
		manyExts = append(manyExts, Extension{Type: uint16(0x1000 + i)})
	}
	tests := []struct {
		name string
		spec helloSpec
		want string // JA4 part a
	}{
		{"SSL 3.0 legacy version", helloSpec{version: 0x0300, suites: []uint16{4}, noExtBlock: true}, "ts3i0100"},
		{"SSL 2.0 version", helloSpec{version: 0x0002, suites: []uint16{4}, noExtBlock: true}, "ts2i0100"},
		{"TLS 1.1", helloSpec{version: 0x0302, suites: []uint16{4}}, "t11i0100"},
		{"DTLS 1.2 code", helloSpec{version: 0xfefd, suites: []uint16{4}}, "td2i0100"},
		{"DTLS 1.0 code", helloSpec{version: 0xfeff, suites: []uint16{4}}, "td1i0100"},
		{"DTLS 1.3 code", helloSpec{version: 0xfefc, suites: []uint16{4}}, "td3i0100"},
		{"unknown version", helloSpec{version: 0x0305, suites: []uint16{4}}, "t00i0100"},
		{"supported_versions beats legacy", helloSpec{suites: []uint16{4},
			exts: []Extension{{Type: extSupportedVersions, Data: u8ListOfU16(0x0303, 0x0304, 0x0302)}}}, "t13i0101"},
		{"GREASE-only supported_versions falls back", helloSpec{version: 0x0301, suites: []uint16{4},
			exts: []Extension{{Type: extSupportedVersions, Data: u8ListOfU16(0xfafa)}}}, "t10i0101"},
		{"counts capped at 99, GREASE excluded", helloSpec{suites: many, exts: manyExts}, "t12i9999"},
		{"empty ALPN list", helloSpec{suites: []uint16{4}, exts: []Extension{{Type: extApplicationLayerProtocolNegotiation, Data: protocolNames()}}}, "t12i010100"},
		{"empty first ALPN value", helloSpec{suites: []uint16{4}, exts: []Extension{{Type: extApplicationLayerProtocolNegotiation, Data: protocolNames("", "h2")}}}, "t12i010100"},
		{"non-ASCII ALPN", helloSpec{suites: []uint16{4}, exts: []Extension{{Type: extApplicationLayerProtocolNegotiation, Data: protocolNames("\xab\xcd")}}}, "t12i0101ad"},
		{"SCSVs count", helloSpec{suites: []uint16{0x00ff, 0x5600, 0xfe01, 0x2a2a}}, "t12i0300"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := ParseClientHelloMessage(tt.spec.message())
			if err != nil {
				t.Fatal(err)
			}
			ja4, _ := JA4(h)
			if a, _, _ := strings.Cut(ja4, "_"); !strings.HasPrefix(a, tt.want) || len(a) != 10 {
				t.Errorf("JA4 = %s, want part a %s…", ja4, tt.want)
			}
		})
	}
}

func TestJA4Empty(t *testing.T) {
	tests := []struct {
		name      string
		spec      helloSpec
		ja4, ja4r string
	}{
		{"no ciphers, no extensions", helloSpec{noExtBlock: true}, "t12i000000_000000000000_000000000000", "t12i000000__"},
		{"only server_name and ALPN", helloSpec{suites: []uint16{0x1301}, exts: []Extension{
			{Type: extServerName, Data: serverName("example.test")},
			{Type: extApplicationLayerProtocolNegotiation, Data: protocolNames("h2")},
		}}, "t12d0102h2_" + ja4Hash12("1301") + "_000000000000", "t12d0102h2_1301_"},
		{"GREASE-only extensions", helloSpec{suites: []uint16{0x1301}, exts: []Extension{{Type: 0x0a0a}}},
			"t12i010000_" + ja4Hash12("1301") + "_000000000000", "t12i010000_1301_"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := ParseClientHelloMessage(tt.spec.message())
			if err != nil {
				t.Fatal(err)
			}
			if ja4, ja4r := JA4(h); ja4 != tt.ja4 || ja4r != tt.ja4r {
				t.Errorf("JA4 = %s, %s; want %s, %s", ja4, ja4r, tt.ja4, tt.ja4r)
			}
		})
	}
}

func BenchmarkJA4(b *testing.B) {
	h, err := ParseClientHello(capturedHello(b, &tls.Config{ServerName: "example.test", NextProtos: []string{"h2", "http/1.1"}}))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		JA4(h)
	}
}
