package report

import (
	"strings"
	"testing"

	"github.com/tlslens/tlslens/inspect"
)

// TestVerboseOfferDelta: the upstream leg's offer delta follows its hello,
// one line per change with its reason in words.
func TestVerboseOfferDelta(t *testing.T) {
	r := termOKRecord()
	r.Upstream.OfferDelta = []inspect.OfferChange{
		{Field: "cipher_suites", Change: inspect.ChangeDropped, Values: []string{"GREASE"}, Reason: inspect.DeltaGREASE},
		{Field: "groups", Change: inspect.ChangeDropped, Values: []string{"ffdhe2048", "ffdhe3072"}, Reason: inspect.DeltaNotImplemented},
		{Field: "extensions", Change: inspect.ChangeDropped, Values: []string{"encrypted_client_hello"}, Reason: inspect.DeltaECH},
	}
	want := `
    ja4           t13d0101h2_aaaaaaaaaaaa_bbbbbbbbbbbb
    offer delta (upstream hello against the client's)
      cipher_suites dropped GREASE (GREASE: Go sends none)
      groups dropped ffdhe2048, ffdhe3072 (Go's TLS stack does not implement them)
      extensions dropped encrypted_client_hello (ECH: Go sends it only with the server's ECH config)
    server hello  TLS 1.3 TLS_AES_256_GCM_SHA384 x25519
`
	if got := Verbose(r, false); !strings.Contains(got, want) {
		t.Errorf("Verbose =\n%s\nwant it to hold\n%s", got, want)
	}
	if got := Verbose(termOKRecord(), false); strings.Contains(got, "offer delta") {
		t.Errorf("Verbose of a record without an offer delta shows one:\n%s", got)
	}
}
