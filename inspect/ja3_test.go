package inspect

import (
	"crypto/tls"
	"testing"
)

// The JA3 vectors published with JA3 (github.com/salesforce/ja3). The published
// Tor, Trickbot and Emotet hashes come without their raw strings, so they
// cannot be rebuilt and are not tested here.
func TestJA3Hash(t *testing.T) {
	tests := []struct{ raw, hash string }{
		{"769,47-53-5-10-49161-49162-49171-49172-50-56-19-4,0-10-11,23-24-25,0", "ada70206e40642a3e4461f35503241d5"},
		{"769,4-5-10-9-100-98-3-6-19-18-99,,,", "de350869b8c85de67a350c8d186f11e6"},
	}
	for _, tt := range tests {
		if got := ja3Hash(tt.raw); got != tt.hash {
			t.Errorf("ja3Hash(%q) = %s, want %s", tt.raw, got, tt.hash)
		}
	}
}

func TestJA3(t *testing.T) {
	tests := []struct {
		name         string
		spec         helloSpec
		raw, hash    string
		rawN         string // JA3N's string
		hashDiffersN bool
	}{
		{
			name: "vector 1, with GREASE everywhere",
			spec: helloSpec{version: 0x0301,
				suites: []uint16{0x0a0a, 47, 53, 5, 10, 49161, 49162, 49171, 49172, 50, 56, 19, 4},
				exts: []Extension{
					{Type: 0x1a1a},
					{Type: extServerName, Data: serverName("example.test")},
					{Type: extSupportedGroups, Data: u16List(0x2a2a, 23, 24, 25)},
					{Type: extECPointFormats, Data: u8List(0)},
					{Type: 0xfafa, Data: []byte{0}},
				}},
			raw:  "769,47-53-5-10-49161-49162-49171-49172-50-56-19-4,0-10-11,23-24-25,0",
			hash: "ada70206e40642a3e4461f35503241d5",
			rawN: "769,47-53-5-10-49161-49162-49171-49172-50-56-19-4,0-10-11,23-24-25,0",
		},
		{
			name: "vector 2, no extensions",
			spec: helloSpec{version: 0x0301, suites: []uint16{4, 5, 10, 9, 100, 98, 3, 6, 19, 18, 99}, noExtBlock: true},
			raw:  "769,4-5-10-9-100-98-3-6-19-18-99,,,",
			hash: "de350869b8c85de67a350c8d186f11e6",
			rawN: "769,4-5-10-9-100-98-3-6-19-18-99,,,",
		},
		{
			name: "extension order: JA3 keeps it, JA3N sorts",
			spec: helloSpec{version: 0x0303, suites: []uint16{0x1301},
				exts: []Extension{
					{Type: extECPointFormats, Data: u8List(0, 2)},
					{Type: extApplicationLayerProtocolNegotiation, Data: protocolNames("h2")},
					{Type: extServerName, Data: serverName("example.test")},
					{Type: extSupportedGroups, Data: u16List(29)},
				}},
			raw:          "771,4865,11-16-0-10,29,0-2",
			rawN:         "771,4865,0-10-11-16,29,0-2",
			hashDiffersN: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := ParseClientHelloMessage(tt.spec.message())
			if err != nil {
				t.Fatal(err)
			}
			hash, raw := JA3(h)
			if raw != tt.raw || hash != ja3Hash(tt.raw) || (tt.hash != "" && hash != tt.hash) {
				t.Errorf("JA3 = %s, %s; want %s, %s", hash, raw, ja3Hash(tt.raw), tt.raw)
			}
			hashN, rawN := JA3N(h)
			if rawN != tt.rawN || hashN != ja3Hash(tt.rawN) || (hashN != hash) != tt.hashDiffersN {
				t.Errorf("JA3N = %s, %s; want %s, %s", hashN, rawN, ja3Hash(tt.rawN), tt.rawN)
			}
			if got := h.Hello(); got.JA3 != hash || got.JA3Raw != raw || got.JA3N != hashN {
				t.Errorf("Hello() JA3 %s %s JA3N %s", got.JA3, got.JA3Raw, got.JA3N)
			}
		})
	}
}

func BenchmarkJA3(b *testing.B) {
	h, err := ParseClientHello(capturedHello(b, &tls.Config{ServerName: "example.test", NextProtos: []string{"h2", "http/1.1"}}))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		JA3(h)
	}
}
