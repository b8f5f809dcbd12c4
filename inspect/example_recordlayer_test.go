package inspect_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/tlslens/tlslens/inspect"
)

// A connection's first bytes arrive in pieces: HelloComplete says when to
// stop reading and parse, without copying or allocating.
func ExampleHelloComplete() {
	conn := io.MultiReader(bytes.NewReader(helloRecord[:3]), bytes.NewReader(helloRecord[3:100]), bytes.NewReader(helloRecord[100:]))
	var buf []byte
	chunk := make([]byte, 4096)
	for reads := 1; ; reads++ {
		n, err := conn.Read(chunk)
		buf = append(buf, chunk[:n]...)
		done, ferr := inspect.HelloComplete(buf)
		if errors.Is(ferr, inspect.ErrNotTLS) {
			fmt.Println("not TLS: relay the bytes untouched")
			return
		}
		if done || ferr != nil || err != nil {
			h, perr := inspect.ParseClientHello(buf)
			if perr != nil {
				fmt.Println(perr)
				return
			}
			fmt.Printf("ClientHello for %s complete after %d reads\n", h.SNI, reads)
			return
		}
	}
	// Output:
	// ClientHello for example.com complete after 3 reads
}

// A proxy refusing a connection by policy answers the ClientHello with a
// fatal alert the client's TLS stack reports by name.
func ExampleAlertRecord() {
	rec := inspect.AlertRecord(inspect.AlertLevelFatal, "access_denied")
	fmt.Printf("% x\n", rec)
	level, name, _ := inspect.ParseAlert(rec)
	fmt.Println(level == inspect.AlertLevelFatal, name)
	// Output:
	// 15 03 01 00 02 02 31
	// true access_denied
}
