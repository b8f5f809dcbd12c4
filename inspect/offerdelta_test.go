package inspect

import (
	"reflect"
	"testing"
)

func TestOfferDelta(t *testing.T) {
	const (
		grease                     = 0x0a0a
		tls13, tls12, tls11        = 0x0304, 0x0303, 0x0302
		aes128, aes256, ccm        = 0x1301, 0x1302, 0x1304
		ecdheGCM, rsaGCM           = 0xc02b, 0x009c
		x25519, p256, ffdhe, mlkem = 0x001d, 0x0017, 0x0100, 0x11ec
		ecdsaP256, pss, ed448      = 0x0403, 0x0804, 0x0808
	)
	stack := Stack{
		Versions:         []uint16{tls13, tls12, tls11, 0x0301},
		CipherSuites:     []uint16{aes128, aes256, ecdheGCM, rsaGCM},
		Groups:           []uint16{mlkem, x25519, p256},
		SignatureSchemes: []uint16{ecdsaP256, pss},
		Extensions:       []uint16{extServerName, extSupportedGroups, extSignatureAlgorithms, extSupportedVersions, extKeyShare, extApplicationLayerProtocolNegotiation},
	}
	ext := func(types ...uint16) []Extension {
		out := make([]Extension, len(types))
		for i, typ := range types {
			out[i] = Extension{Type: typ}
		}
		return out
	}
	base := func() *ClientHello {
		return &ClientHello{
			SupportedVersions:   []uint16{tls13, tls12},
			CipherSuites:        []uint16{aes128, aes256, ecdheGCM},
			Extensions:          ext(extServerName, extSupportedGroups, extKeyShare),
			ALPN:                []string{"h2", "http/1.1"},
			Groups:              []uint16{x25519, p256},
			KeyShares:           []KeyShareEntry{{Group: x25519, Length: 32}},
			SignatureAlgorithms: []uint16{ecdsaP256, pss},
		}
	}
	cases := []struct {
		name         string
		client, sent func(h *ClientHello)
		compat       bool
		want         []OfferChange
	}{
		{"same offer", func(*ClientHello) {}, func(*ClientHello) {}, false, nil},
		{"GREASE everywhere", func(h *ClientHello) {
			h.CipherSuites = append([]uint16{grease}, h.CipherSuites...)
			h.Extensions = append(ext(grease), h.Extensions...)
			h.Groups = append([]uint16{grease}, h.Groups...)
			h.KeyShares = append([]KeyShareEntry{{Group: grease, Length: 1}}, h.KeyShares...)
		}, func(*ClientHello) {}, false, []OfferChange{
			{"cipher_suites", ChangeDropped, []string{"GREASE"}, DeltaGREASE},
			{"extensions", ChangeDropped, []string{"GREASE"}, DeltaGREASE},
			{"groups", ChangeDropped, []string{"GREASE"}, DeltaGREASE},
			{"key_shares", ChangeDropped, []string{"GREASE"}, DeltaGREASE},
		}},
		{"what Go lacks", func(h *ClientHello) {
			h.CipherSuites = append(h.CipherSuites, ccm)
			h.Groups = append(h.Groups, ffdhe)
			h.SignatureAlgorithms = append(h.SignatureAlgorithms, ed448)
			h.Extensions = append(h.Extensions, ext(extCompressCertificate, extRecordSizeLimit)...)
		}, func(*ClientHello) {}, false, []OfferChange{
			{"cipher_suites", ChangeDropped, []string{"TLS_AES_128_CCM_SHA256"}, DeltaNotImplemented},
			{"extensions", ChangeDropped, []string{"compress_certificate", "record_size_limit"}, DeltaNotImplemented},
			{"groups", ChangeDropped, []string{"ffdhe2048"}, DeltaNotImplemented},
			{"signature_algorithms", ChangeDropped, []string{"ed448"}, DeltaNotImplemented},
		}},
		{"ECH and padding", func(h *ClientHello) {
			h.Extensions = append(h.Extensions, ext(extEncryptedClientHello, extPadding)...)
		}, func(*ClientHello) {}, false, []OfferChange{
			{"extensions", ChangeDropped, []string{"encrypted_client_hello"}, DeltaECH},
			{"extensions", ChangeDropped, []string{"padding"}, DeltaPadding},
		}},
		{"Go's own choices", func(*ClientHello) {}, func(h *ClientHello) {
			h.CipherSuites = []uint16{aes256, aes128, ecdheGCM}
			h.Extensions = ext(extSupportedGroups, extServerName, extKeyShare, extSignatureAlgorithms)
			h.KeyShares = []KeyShareEntry{{Group: mlkem, Length: 1216}, {Group: x25519, Length: 32}}
			h.SignatureAlgorithms = []uint16{pss}
		}, false, []OfferChange{
			{"cipher_suites", ChangeReordered, []string{"TLS_AES_256_GCM_SHA384", "TLS_AES_128_GCM_SHA256", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"}, DeltaStackChooses},
			{"extensions", ChangeAdded, []string{"signature_algorithms"}, DeltaStackChooses},
			{"extensions", ChangeReordered, []string{"supported_groups", "server_name", "key_share"}, DeltaStackChooses},
			{"key_shares", ChangeAdded, []string{"X25519MLKEM768"}, DeltaStackChooses},
			{"signature_algorithms", ChangeDropped, []string{"ecdsa_secp256r1_sha256"}, DeltaStackChooses},
		}},
		{"empty ALPN name", func(h *ClientHello) { h.ALPN = []string{"", "h2", "http/1.1"} }, func(*ClientHello) {}, false, []OfferChange{
			{"alpn", ChangeDropped, []string{""}, DeltaStackChooses},
		}},
		{"compat retry", func(*ClientHello) {}, func(h *ClientHello) {
			h.SupportedVersions = nil
			h.CipherSuites = []uint16{ecdheGCM, rsaGCM}
			h.Extensions = ext(extServerName, extSupportedGroups)
			h.KeyShares = nil
		}, true, []OfferChange{
			{"supported_versions", ChangeDropped, []string{"TLS 1.3", "TLS 1.2"}, DeltaCompatRetry},
			{"cipher_suites", ChangeDropped, []string{"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384"}, DeltaCompatRetry},
			{"cipher_suites", ChangeAdded, []string{"TLS_RSA_WITH_AES_128_GCM_SHA256"}, DeltaCompatRetry},
			{"extensions", ChangeDropped, []string{"key_share"}, DeltaCompatRetry},
			{"key_shares", ChangeDropped, []string{"x25519"}, DeltaCompatRetry},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			client, sent := base(), base()
			tc.client(client)
			tc.sent(sent)
			got := OfferDelta(client, sent, stack, tc.compat)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("OfferDelta = %+v,\nwant %+v", got, tc.want)
			}
		})
	}
	if got := OfferDelta(nil, base(), stack, false); got != nil {
		t.Errorf("OfferDelta(nil, …) = %+v, want nil", got)
	}
}

func TestOfferChangeText(t *testing.T) {
	c := OfferChange{"cipher_suites", ChangeDropped, []string{"TLS_AES_128_CCM_SHA256", "TLS_AES_128_CCM_8_SHA256"}, DeltaNotImplemented}
	want := "cipher_suites dropped TLS_AES_128_CCM_SHA256, TLS_AES_128_CCM_8_SHA256 (Go's TLS stack does not implement them)"
	if got := OfferChangeText(c); got != want {
		t.Errorf("OfferChangeText(%+v) = %q, want %q", c, got, want)
	}
}
