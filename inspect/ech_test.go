package inspect

import (
	"errors"
	"reflect"
	"testing"
)

// echExtension returns the body of the encrypted_client_hello extension of
// a captured hello.
func echExtension(t testing.TB, h *ClientHello) []byte {
	t.Helper()
	for _, e := range h.Extensions {
		if e.Type == extEncryptedClientHello {
			return e.Data
		}
	}
	t.Fatal("no encrypted_client_hello extension")
	return nil
}

func TestParseECH(t *testing.T) {
	tests := []struct {
		name string
		data []byte
		want *ECHInfo
		err  string // the ParseError's Msg, "" for none
		at   int
	}{
		{"chromium GREASE", echExtension(t, helloFile(t, "chromium.bin")),
			&ECHInfo{Type: "outer", ConfigID: 138, KDF: 1, AEAD: 1, EncLength: 32, PayloadLength: 208}, "", 0},
		{"firefox GREASE", echExtension(t, helloFile(t, "firefox.bin")),
			&ECHInfo{Type: "outer", ConfigID: 224, KDF: 1, AEAD: 3, EncLength: 32, PayloadLength: 239}, "", 0},
		{"outer, empty enc (after HelloRetryRequest)", []byte{0, 0, 1, 0, 2, 7, 0, 0, 0, 3, 1, 2, 3},
			&ECHInfo{Type: "outer", ConfigID: 7, KDF: 1, AEAD: 2, PayloadLength: 3}, "", 0},
		{"inner", []byte{1}, &ECHInfo{Type: "inner"}, "", 0},
		{"empty", nil, nil, "encrypted_client_hello: no type", 0},
		{"unknown type", []byte{2}, nil, "encrypted_client_hello: unknown type 2", 0},
		{"inner with a body", []byte{1, 0}, nil, "encrypted_client_hello: bytes after the inner type", 1},
		{"short suite", []byte{0, 0, 1, 0}, nil, "encrypted_client_hello: truncated cipher suite or config id", 3},
		{"enc too long", []byte{0, 0, 1, 0, 1, 9, 0, 5, 1}, nil, "encrypted_client_hello: truncated enc", 6},
		{"no payload", []byte{0, 0, 1, 0, 1, 9, 0, 0}, nil, "encrypted_client_hello: truncated payload", 8},
		{"trailing byte", []byte{0, 0, 1, 0, 1, 9, 0, 0, 0, 1, 0xaa, 0xbb}, nil, "encrypted_client_hello: bytes after the payload", 11},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseECH(tt.data)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseECH(%x) = %+v, want %+v", tt.data, got, tt.want)
			}
			var pe *ParseError
			switch {
			case tt.err == "" && err != nil:
				t.Errorf("ParseECH(%x): %v, want no error", tt.data, err)
			case tt.err != "" && !errors.As(err, &pe):
				t.Errorf("ParseECH(%x): error %v, want a *ParseError %q", tt.data, err, tt.err)
			case tt.err != "" && (pe.Msg != tt.err || pe.Offset != tt.at):
				t.Errorf("ParseECH(%x): %q at %d, want %q at %d", tt.data, pe.Msg, pe.Offset, tt.err, tt.at)
			}
		})
	}
}

func TestECHNames(t *testing.T) {
	for id, want := range map[uint16]string{1: "HKDF-SHA256", 2: "HKDF-SHA384", 3: "HKDF-SHA512", 0x1a1a: "0x1a1a"} {
		if got := HPKEKDFName(id); got != want {
			t.Errorf("HPKEKDFName(%#x) = %q, want %q", id, got, want)
		}
	}
	for id, want := range map[uint16]string{1: "AES-128-GCM", 2: "AES-256-GCM", 3: "ChaCha20Poly1305", 0xffff: "Export-only", 9: "0x0009"} {
		if got := HPKEAEADName(id); got != want {
			t.Errorf("HPKEAEADName(%#x) = %q, want %q", id, got, want)
		}
	}
}
