package inspect

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParseECH checks that ParseECH returns a description or a
// *ParseError, never both or neither, with the error's offset inside the
// input; and that a description accounts for every byte: an outer
// extension's header, written back, is the input's, and its two lengths
// cover the rest.
func FuzzParseECH(f *testing.F) {
	for _, name := range []string{"chromium.bin", "firefox.bin"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		h, err := ParseClientHello(b)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(echExtension(f, h))
	}
	f.Add([]byte{1})
	f.Add([]byte{0, 0, 1, 0, 2, 7, 0, 0, 0, 3, 1, 2, 3})
	f.Add([]byte{0, 0, 1, 0, 1, 9, 0, 5, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := ParseECH(b)
		if (e == nil) == (err == nil) {
			t.Fatalf("ParseECH(%x) = %v, %v: want a description or an error", b, e, err)
		}
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Offset < 0 || pe.Offset > len(b) {
				t.Fatalf("ParseECH(%x): %v: want a *ParseError inside the input", b, err)
			}
			return
		}
		switch e.Type {
		case "inner":
			if len(b) != 1 {
				t.Fatalf("ParseECH(%x) = inner from %d bytes, want 1", b, len(b))
			}
		case "outer":
			head := []byte{echOuter}
			head = binary.BigEndian.AppendUint16(head, e.KDF)
			head = binary.BigEndian.AppendUint16(head, e.AEAD)
			head = append(head, e.ConfigID)
			head = binary.BigEndian.AppendUint16(head, uint16(e.EncLength))
			if string(b[:len(head)]) != string(head) {
				t.Fatalf("ParseECH(%x) = %+v: header %x written back, want %x", b, e, head, b[:len(head)])
			}
			if n := len(head) + e.EncLength + 2 + e.PayloadLength; n != len(b) {
				t.Fatalf("ParseECH(%x) = %+v: accounts for %d bytes of %d", b, e, n, len(b))
			}
		default:
			t.Fatalf("ParseECH(%x) = type %q", b, e.Type)
		}
	})
}
