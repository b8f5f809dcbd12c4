package inspect_test

import (
	"errors"
	"fmt"
	"os"

	"github.com/tlslens/tlslens/inspect"
)

func ExampleHTTP2Fingerprint() {
	// Chromium's first bytes on an h2 connection, decrypted: the preface,
	// SETTINGS, WINDOW_UPDATE and the HEADERS of its first request.
	b, err := os.ReadFile("testdata/h2/chromium.bin")
	if err != nil {
		fmt.Println(err)
		return
	}
	fp, err := inspect.HTTP2Fingerprint(b)
	switch {
	case errors.Is(err, inspect.ErrTruncated):
		fmt.Println("read more bytes and try again")
	case err != nil:
		fmt.Println(err)
	default:
		fmt.Println(fp)
	}
	// Output: 1:65536;2:0;4:6291456;6:262144|15663105|0|m,a,s,p
}
