package inspect

import (
	"crypto/tls"
	"errors"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// FuzzParseClientHello checks that ParseClientHello returns a hello or a
// typed error, never both or neither, and that a parsed hello's message,
// framed again into records of random sizes, parses to the same Hello.
func FuzzParseClientHello(f *testing.F) {
	for _, cfg := range []*tls.Config{
		{ServerName: "example.test", NextProtos: []string{"h2", "http/1.1"}},
		{ServerName: "example.test", MaxVersion: tls.VersionTLS12},
		{ServerName: "127.0.0.1", MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11},
		{ServerName: "example.test", CurvePreferences: []tls.CurveID{tls.X25519}},
	} {
		f.Add(capturedHello(f, cfg))
	}
	msg := kitchenSink().message()
	f.Add(frameRecords(msg, 0x0301))
	f.Add(frameRecords(msg, 0x0303, 10, 100))
	f.Add(frameRecords(specHello(u16List(0x0403)).message(), 0x0301, 3))
	files, err := filepath.Glob(filepath.Join("testdata", "*.bin"))
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}

	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ParseClientHello(b)
		if (h == nil) == (err == nil) {
			t.Fatalf("got %v, %v: want a hello or an error", h, err)
		}
		if err != nil {
			var pe *ParseError
			if !errors.Is(err, ErrNotTLS) && !errors.Is(err, ErrTruncated) && !errors.As(err, &pe) {
				t.Fatalf("error %v is neither ErrNotTLS, ErrTruncated nor a *ParseError", err)
			}
			return
		}
		want := h.Hello()

		hash := fnv.New64a()
		hash.Write(b)
		rng := rand.New(rand.NewPCG(hash.Sum64(), uint64(len(b))))
		var sizes []int
		for rest := len(h.Raw); rest > 1<<14 || (rest > 1 && rng.IntN(3) > 0); {
			n := 1 + rng.IntN(min(rest-1, 1<<14))
			sizes = append(sizes, n)
			rest -= n
		}
		h2, err := ParseClientHello(frameRecords(h.Raw, h.RecordVersion, sizes...))
		if err != nil {
			t.Fatalf("the hello framed into %d records: %v", len(sizes)+1, err)
		}
		if got := h2.Hello(); !reflect.DeepEqual(got, want) {
			t.Fatalf("the hello framed into %d records parses to\n%+v\nwant\n%+v", len(sizes)+1, got, want)
		}
	})
}
