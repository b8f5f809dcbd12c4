package inspect

import "testing"

func TestSideAgreed(t *testing.T) {
	n := &Negotiated{Version: "TLS 1.3", CipherSuite: "TLS_AES_128_GCM_SHA256", Group: "X25519MLKEM768", ALPN: "h2", Resumed: true}
	sh := &ServerHello{Version: "TLS 1.2", CipherSuite: "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", Group: "x25519", ALPN: "http/1.1"}
	for _, tt := range []struct {
		name   string
		side   *Side
		want   Agreement
		wantOK bool
	}{
		{"nil", nil, Agreement{}, false},
		{"nothing", &Side{Addr: "127.0.0.1:443"}, Agreement{}, false},
		{"negotiated", &Side{Negotiated: n, ServerHello: sh}, Agreement{"TLS 1.3", "TLS_AES_128_GCM_SHA256", "X25519MLKEM768", "h2"}, true},
		{"server hello only", &Side{ServerHello: sh}, Agreement{"TLS 1.2", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "x25519", "http/1.1"}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got, ok := tt.side.Agreed(); got != tt.want || ok != tt.wantOK {
				t.Errorf("Agreed() = %+v, %v, want %+v, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestVersionRange(t *testing.T) {
	for _, tt := range []struct {
		name   string
		h      ClientHello
		wantLo uint16
		wantHi uint16
	}{
		{"supported_versions", ClientHello{LegacyVersion: 0x0303, SupportedVersions: []uint16{0x0a0a, 0x0304, 0x0303}}, 0x0303, 0x0304},
		{"legacy_version only", ClientHello{LegacyVersion: 0x0302}, 0x0302, 0x0302},
		{"SSL 3.0 left out", ClientHello{LegacyVersion: 0x0303, SupportedVersions: []uint16{0x0303, 0x0300}}, 0x0303, 0x0303},
		{"nothing in TLS 1.0 to 1.3", ClientHello{LegacyVersion: 0x0300}, 0x0301, 0x0304},
		{"DTLS only", ClientHello{LegacyVersion: 0xfefd, SupportedVersions: []uint16{0xfefc}}, 0x0301, 0x0304},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if lo, hi := tt.h.VersionRange(); lo != tt.wantLo || hi != tt.wantHi {
				t.Errorf("VersionRange() = %#04x, %#04x, want %#04x, %#04x", lo, hi, tt.wantLo, tt.wantHi)
			}
		})
	}
}
