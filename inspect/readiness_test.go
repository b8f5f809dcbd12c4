package inspect

import (
	"crypto/tls"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// helloFile parses a captured hello from testdata.
func helloFile(t *testing.T, name string) *ClientHello {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	h, err := ParseClientHello(b)
	if err != nil {
		t.Fatalf("ParseClientHello(%s): %v", name, err)
	}
	return h
}

func u8(v uint8) *uint8 { return &v }

// TestReadinessOfCapturedHellos judges the hellos real clients sent
// (inspect/testdata, captured by capture.sh): Chromium and Firefox offer
// X25519MLKEM768 with its key share and a GREASE ECH extension, Go three
// hybrid ML-KEM groups, curl, GnuTLS and OpenSSL (Debian's builds) none.
func TestReadinessOfCapturedHellos(t *testing.T) {
	noECH := ECHOffer{}
	tests := []struct {
		file string
		pq   []string // post-quantum groups offered
		ks   bool
		ech  ECHOffer
		low  string
	}{
		{"chromium.bin", []string{"X25519MLKEM768"}, true, ECHOffer{Offered: true, Type: "outer", OuterSNI: "localhost",
			ConfigID: u8(138), KDF: "HKDF-SHA256", AEAD: "AES-128-GCM", EncLength: 32, PayloadLength: 208, Inner: ECHInnerHidden}, "TLS 1.2"},
		{"firefox.bin", []string{"X25519MLKEM768"}, true, ECHOffer{Offered: true, Type: "outer", OuterSNI: "localhost",
			ConfigID: u8(224), KDF: "HKDF-SHA256", AEAD: "ChaCha20Poly1305", EncLength: 32, PayloadLength: 239, Inner: ECHInnerHidden}, "TLS 1.2"},
		{"go.bin", []string{"X25519MLKEM768", "SecP256r1MLKEM768", "SecP384r1MLKEM1024"}, true, noECH, "TLS 1.2"},
		{"curl.bin", nil, false, noECH, "TLS 1.0"},
		{"gnutls.bin", nil, false, noECH, "TLS 1.0"},
		{"openssl.bin", nil, false, noECH, "TLS 1.0"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			h := helloFile(t, tt.file)
			got := ReadinessOf(&Record{Mode: ModeMITM, Client: &Side{Hello: h.Hello()}}, h)
			want := &Readiness{
				PostQuantum: PostQuantum{Offered: len(tt.pq) > 0, Groups: tt.pq, KeyShare: tt.ks},
				ECH:         tt.ech,
				Legacy:      Legacy{LowestVersion: tt.low},
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("ReadinessOf(%s) =\n%+v\nwant\n%+v", tt.file, got, want)
			}
		})
	}
}

// TestReadinessLegs judges what each leg agreed, on the Chromium hello.
func TestReadinessLegs(t *testing.T) {
	h := helloFile(t, "chromium.bin")
	tests := []struct {
		name     string
		mode     Mode
		client   *Side
		upstream *Side
		want     PostQuantum
	}{
		{"both legs hybrid", ModeMITM,
			&Side{Negotiated: &Negotiated{Version: "TLS 1.3", Group: "X25519MLKEM768"}},
			&Side{Negotiated: &Negotiated{Version: "TLS 1.3", Group: "X25519MLKEM768"}},
			PostQuantum{ClientLeg: true, UpstreamLeg: true, ClientGroup: "X25519MLKEM768", UpstreamGroup: "X25519MLKEM768"}},
		{"upstream classical after a retry", ModeMITM,
			&Side{Negotiated: &Negotiated{Version: "TLS 1.3", Group: "X25519MLKEM768"}},
			&Side{Negotiated: &Negotiated{Version: "TLS 1.3", Group: "secp256r1", HelloRetry: true}},
			PostQuantum{ClientLeg: true, ClientGroup: "X25519MLKEM768", UpstreamGroup: "secp256r1", UpstreamHelloRetry: true}},
		{"upstream failed after its ServerHello", ModeMITM,
			&Side{Error: "x"},
			&Side{ServerHello: &ServerHello{Version: "TLS 1.3", Group: "X25519MLKEM768", HelloRetry: true}},
			PostQuantum{UpstreamLeg: true, UpstreamGroup: "X25519MLKEM768", UpstreamHelloRetry: true}},
		{"TLS 1.2: the group from ServerKeyExchange", ModeMITM,
			&Side{Negotiated: &Negotiated{Version: "TLS 1.3", Group: "x25519"}},
			&Side{Negotiated: &Negotiated{Version: "TLS 1.2"}, KeyExchange: &KeyExchange{Kind: "ECDHE", Group: "secp384r1"}},
			PostQuantum{ClientGroup: "x25519", UpstreamGroup: "secp384r1"}},
		{"passthrough: one handshake", ModePassthrough,
			&Side{},
			&Side{ServerHello: &ServerHello{Version: "TLS 1.3", Group: "X25519MLKEM768"}},
			PostQuantum{ClientLeg: true, UpstreamLeg: true, ClientGroup: "X25519MLKEM768", UpstreamGroup: "X25519MLKEM768"}},
		{"never dialled", ModeMITM, &Side{}, nil, PostQuantum{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.client.Hello = h.Hello()
			got := ReadinessOf(&Record{Mode: tt.mode, Client: tt.client, Upstream: tt.upstream}, h).PostQuantum
			tt.want.Offered, tt.want.Groups, tt.want.KeyShare = true, []string{"X25519MLKEM768"}, true
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("PostQuantum = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestReadinessLegacy judges a crypto/tls hello offering TLS 1.0 and 3DES,
// and a record read back from a file, without its parsed hello.
func TestReadinessLegacy(t *testing.T) {
	b := capturedHello(t, &tls.Config{ServerName: "legacy.test", MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS12,
		CipherSuites: []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_RSA_WITH_RC4_128_SHA, tls.TLS_RSA_WITH_3DES_EDE_CBC_SHA}})
	h, err := ParseClientHello(b)
	if err != nil {
		t.Fatal(err)
	}
	got := ReadinessOf(&Record{Client: &Side{Hello: h.Hello()}}, h).Legacy
	want := Legacy{LowestVersion: "TLS 1.0", WeakSuites: []string{"TLS_RSA_WITH_3DES_EDE_CBC_SHA", "TLS_RSA_WITH_RC4_128_SHA"}} // crypto/tls's order
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Legacy = %+v, want %+v", got, want)
	}

	// Without supported_versions, legacy_version is the only version named.
	old := &Hello{Version: "SSL 3.0", CipherSuites: []string{"TLS_RSA_EXPORT_WITH_RC4_40_MD5", "GREASE"}, ECH: true, ECHType: "outer", SNI: "public.test"}
	rd := ReadinessOf(&Record{Client: &Side{Hello: old}}, nil)
	if rd.Legacy.LowestVersion != "SSL 3.0" || !reflect.DeepEqual(rd.Legacy.WeakSuites, []string{"TLS_RSA_EXPORT_WITH_RC4_40_MD5"}) {
		t.Errorf("Legacy = %+v, want SSL 3.0 and the EXPORT suite", rd.Legacy)
	}
	wantECH := ECHOffer{Offered: true, Type: "outer", OuterSNI: "public.test", Inner: ECHInnerHidden}
	if !reflect.DeepEqual(rd.ECH, wantECH) {
		t.Errorf("ECH without the parsed hello = %+v, want %+v", rd.ECH, wantECH)
	}
}

func TestReadinessOfNoHello(t *testing.T) {
	for _, r := range []*Record{nil, {}, {Client: &Side{}}} {
		if got := ReadinessOf(r, nil); got != nil {
			t.Errorf("ReadinessOf(%+v) = %+v, want nil", r, got)
		}
	}
}
