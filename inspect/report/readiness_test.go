package report

import (
	"reflect"
	"strings"
	"testing"

	"github.com/tlslens/tlslens/inspect"
)

func TestReadinessFacts(t *testing.T) {
	id := uint8(138)
	tests := []struct {
		name string
		rd   *inspect.Readiness
		want []Fact
	}{
		{"nil", nil, nil},
		{"modern", &inspect.Readiness{
			PostQuantum: inspect.PostQuantum{Offered: true, Groups: []string{"X25519MLKEM768"}, KeyShare: true,
				ClientLeg: true, ClientGroup: "X25519MLKEM768", UpstreamGroup: "x25519", UpstreamHelloRetry: true},
			ECH: inspect.ECHOffer{Offered: true, Type: "outer", OuterSNI: "public.test", ConfigID: &id, KDF: "HKDF-SHA256",
				AEAD: "AES-128-GCM", EncLength: 32, PayloadLength: 208, Inner: inspect.ECHInnerHidden},
			Legacy: inspect.Legacy{LowestVersion: "TLS 1.2"},
		}, []Fact{
			{"post-quantum", "offered X25519MLKEM768 with a key share; client leg X25519MLKEM768, upstream leg x25519 (classical); HelloRetryRequest on the upstream leg"},
			{"ECH", "outer, public name public.test, config 138, HKDF-SHA256 + AES-128-GCM, payload 208 bytes; the inner hello is encrypted, not visible (GREASE looks the same)"},
			{"legacy", "lowest version TLS 1.2; no weak suites"},
		}},
		{"legacy", &inspect.Readiness{
			PostQuantum: inspect.PostQuantum{UpstreamGroup: "secp256r1"},
			Legacy:      inspect.Legacy{LowestVersion: "TLS 1.0", WeakSuites: []string{"TLS_RSA_WITH_RC4_128_SHA", "TLS_RSA_WITH_3DES_EDE_CBC_SHA"}},
		}, []Fact{
			{"post-quantum", "not offered; client leg unknown, upstream leg secp256r1 (classical)"},
			{"ECH", "not offered"},
			{"legacy", "lowest version TLS 1.0; weak suites TLS_RSA_WITH_RC4_128_SHA, TLS_RSA_WITH_3DES_EDE_CBC_SHA"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ReadinessFacts(tt.rd); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ReadinessFacts =\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
}

// TestVerboseReadiness: --verbose shows the record's readiness, three lines
// before the findings.
func TestVerboseReadiness(t *testing.T) {
	r := termOKRecord()
	r.Readiness = &inspect.Readiness{Legacy: inspect.Legacy{LowestVersion: "TLS 1.0"}}
	got := Verbose(r, false)
	want := "\n  readiness" +
		"\n    post-quantum  not offered; client leg unknown, upstream leg unknown" +
		"\n    ECH           not offered" +
		"\n    legacy        lowest version TLS 1.0; no weak suites"
	if !strings.Contains(got, want) {
		t.Errorf("Verbose lacks %q:\n%s", want, got)
	}
	if strings.Index(got, "\n  readiness") > strings.Index(got, "\n  findings") {
		t.Errorf("Verbose shows readiness after the findings:\n%s", got)
	}
}
