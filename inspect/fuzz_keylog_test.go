package inspect

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"reflect"
	"testing"
)

func FuzzParseKeyLog(f *testing.F) {
	_, keyLogs := recordedFlights(f)
	for _, kl := range keyLogs {
		f.Add(kl)
	}
	f.Add([]byte("# comment\n\nCLIENT_RANDOM zz 00\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		keys, _ := ParseKeyLog(b)
		if keys == nil {
			t.Fatal("nil map")
		}
		// Every secret came from the input, and writing the map back out
		// as a key log parses to the same map without error.
		var out bytes.Buffer
		for label, secret := range keys {
			if !bytes.Contains(b, []byte(label)) || len(secret) == 0 {
				t.Fatalf("label %q / secret %x not from the input", label, secret)
			}
			fmt.Fprintf(&out, "%s %s %s\n", label, bytes.Repeat([]byte("00"), 32), hex.EncodeToString(secret))
		}
		again, err := ParseKeyLog(out.Bytes())
		if err != nil || !reflect.DeepEqual(again, keys) {
			t.Fatalf("round trip: %v, %v; want %v", again, err, keys)
		}
	})
}
