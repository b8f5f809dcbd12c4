package inspect_test

import (
	"fmt"
	"os"

	"github.com/tlslens/tlslens/inspect"
)

// ReadinessOf judges a record's client: here Chromium's hello (captured
// into testdata), both legs agreeing X25519MLKEM768.
func ExampleReadinessOf() {
	b, err := os.ReadFile("testdata/chromium.bin")
	if err != nil {
		fmt.Println(err)
		return
	}
	h, err := inspect.ParseClientHello(b)
	if err != nil {
		fmt.Println(err)
		return
	}
	leg := &inspect.Negotiated{Version: "TLS 1.3", CipherSuite: "TLS_AES_128_GCM_SHA256", Group: "X25519MLKEM768"}
	r := &inspect.Record{Mode: inspect.ModeMITM,
		Client:   &inspect.Side{Hello: h.Hello(), Negotiated: leg},
		Upstream: &inspect.Side{Negotiated: leg}}
	rd := inspect.ReadinessOf(r, h)
	pq, ech := rd.PostQuantum, rd.ECH
	fmt.Println("post-quantum:", pq.Groups, "key share:", pq.KeyShare, "legs:", pq.ClientLeg, pq.UpstreamLeg)
	fmt.Println("ECH:", ech.Type, "config", *ech.ConfigID, ech.KDF, ech.AEAD, ech.PayloadLength, "bytes")
	fmt.Println("lowest version:", rd.Legacy.LowestVersion)
	// Output:
	// post-quantum: [X25519MLKEM768] key share: true legs: true true
	// ECH: outer config 138 HKDF-SHA256 AES-128-GCM 208 bytes
	// lowest version: TLS 1.2
}

// ParseECH reads an encrypted_client_hello extension's body: here an
// outer one with HPKE suite HKDF-SHA256 + AES-128-GCM, config 7, a 32-byte
// enc and a 4-byte payload.
func ExampleParseECH() {
	body := []byte{0, 0x00, 0x01, 0x00, 0x01, 7, 0, 32}
	body = append(body, make([]byte, 32)...)
	body = append(body, 0, 4, 1, 2, 3, 4)
	e, err := inspect.ParseECH(body)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(e.Type, e.ConfigID, inspect.HPKEKDFName(e.KDF), inspect.HPKEAEADName(e.AEAD), e.EncLength, e.PayloadLength)
	_, err = inspect.ParseECH(body[:10])
	fmt.Println(err)
	// Output:
	// outer 7 HKDF-SHA256 AES-128-GCM 32 4
	// inspect: encrypted_client_hello: truncated enc at byte 6
}
