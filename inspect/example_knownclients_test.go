package inspect_test

import (
	"fmt"
	"os"

	"github.com/tlslens/tlslens/inspect"
)

// Name the client that sent a hello, from the table shipped with tlslens
// (here curl's hello, captured by inspect/testdata/clients/capture.sh).
func ExampleClientTable_Identify() {
	records, err := os.ReadFile("testdata/clients/curl.bin")
	if err != nil {
		panic(err)
	}
	h, err := inspect.ParseClientHello(records)
	if err != nil {
		panic(err)
	}
	id := inspect.KnownClients().Identify(h.Hello())
	fmt.Println(id.Name, id.Match)
	// Output: curl 7.88 exact
}
