package inspect_test

import (
	"fmt"

	"github.com/tlslens/tlslens/inspect"
)

// OfferDelta compares the client's hello with the one sent upstream; the
// Stack says what the upstream TLS stack implements, so that a value it
// lacks is told from one it chose to leave out.
func ExampleOfferDelta() {
	client, err := inspect.ParseClientHello(helloRecord)
	if err != nil {
		fmt.Println(err)
		return
	}
	// The hello sent upstream: the same, less the RSA suite and the h2
	// protocol.
	sent := *client
	sent.CipherSuites = client.CipherSuites[:1]
	sent.ALPN = []string{"http/1.1"}
	stack := inspect.Stack{CipherSuites: []uint16{0xc02b}} // TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 alone
	for _, c := range inspect.OfferDelta(client, &sent, stack, false) {
		fmt.Println(inspect.OfferChangeText(c))
	}
	// Output:
	// cipher_suites dropped TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 (Go's TLS stack does not implement them)
	// alpn dropped h2 (Go's TLS stack chooses these itself)
}
