package inspect_test

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/tlslens/tlslens/inspect"
)

// helloRecord is the first TLS record of a crypto/tls client limited to
// TLS 1.2, with two cipher suites, x25519 and ALPN h2, http/1.1.
var helloRecord, _ = hex.DecodeString(strings.Join([]string{
	"16030100da010000d603032bee0bf55b5ea775f996c7579a4771488318bb5ca9",
	"151b1d72138c02debfea7720ac95f7e88c964fdfed8bfb8b6a95976b108a7a48",
	"47e99201e088c3ca32541d170004c02bc02f0100008900000010000e00000b65",
	"78616d706c652e636f6d000b00020100ff010001000017000000120000000500",
	"050100000000000a00040002001d000d00160014080404030807080508060401",
	"05010601050306030032001a00180804040308070805080604010501060105",
	"030603020102030010000e000c02683208687474702f312e31002b0003020303",
}, ""))

func ExampleParseClientHello() {
	h, err := inspect.ParseClientHello(helloRecord)
	switch {
	case errors.Is(err, inspect.ErrTruncated):
		fmt.Println("read more bytes and try again")
		return
	case errors.Is(err, inspect.ErrNotTLS):
		fmt.Println("not TLS: relay the bytes untouched")
		return
	case err != nil:
		fmt.Println(err)
		return
	}
	rec := h.Hello()
	fmt.Println(rec.SNI, rec.ALPN, rec.Version, rec.SupportedVersions)
	fmt.Println(rec.CipherSuites)
	fmt.Println(rec.Groups, rec.Extensions[:3])
	// Output:
	// example.com [h2 http/1.1] TLS 1.2 [TLS 1.2]
	// [TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256]
	// [x25519] [server_name ec_point_formats renegotiation_info]
}

func ExampleJA4() {
	h, err := inspect.ParseClientHello(helloRecord)
	if err != nil {
		fmt.Println(err)
		return
	}
	ja4, ja4r := inspect.JA4(h)
	fmt.Println(ja4)
	fmt.Println(ja4r)
	// Output:
	// t12d0211h2_b6f57f3be927_a92c7c6a82fe
	// t12d0211h2_c02b,c02f_0005,000a,000b,000d,0012,0017,002b,0032,ff01_0804,0403,0807,0805,0806,0401,0501,0601,0503,0603
}

func ExampleJA3() {
	h, err := inspect.ParseClientHello(helloRecord)
	if err != nil {
		fmt.Println(err)
		return
	}
	ja3, raw := inspect.JA3(h)
	fmt.Println(ja3)
	fmt.Println(raw)
	// Output:
	// 26edc7acc495e404959965ca3dfab180
	// 771,49195-49199,0-11-65281-23-18-5-10-13-50-16-43,29,0
}
