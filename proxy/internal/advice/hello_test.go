package advice

import (
	"crypto/tls"
	"encoding/binary"
	"io"
	"net"
	"testing"

	"github.com/tlslens/tlslens/inspect"
)

// clientHelloRecords returns the TLS records carrying the ClientHello a
// crypto/tls client sends with cfg.
func clientHelloRecords(t *testing.T, cfg *tls.Config) []byte {
	t.Helper()
	c, s := net.Pipe()
	done := make(chan struct{})
	go func() { defer close(done); tls.Client(c, cfg).Handshake() }()
	defer func() { s.Close(); c.Close(); <-done }()
	var out []byte
	hs := 0 // handshake bytes so far
	for {
		hdr := make([]byte, 5)
		if _, err := io.ReadFull(s, hdr); err != nil {
			t.Fatal(err)
		}
		body := make([]byte, binary.BigEndian.Uint16(hdr[3:]))
		if _, err := io.ReadFull(s, body); err != nil {
			t.Fatal(err)
		}
		if hs == 0 && len(body) < 4 {
			t.Fatal("short first record")
		}
		out = append(append(out, hdr...), body...)
		hs += len(body)
		want := 4 + int(out[6])<<16 | int(out[7])<<8 | int(out[8])
		if hs >= want {
			return out
		}
	}
}

// sentHello is the ClientHello a crypto/tls client sends with cfg, parsed.
func sentHello(t *testing.T, cfg *tls.Config) *inspect.ClientHello {
	t.Helper()
	h, err := inspect.ParseClientHello(clientHelloRecords(t, cfg))
	if err != nil {
		t.Fatal(err)
	}
	return h
}
