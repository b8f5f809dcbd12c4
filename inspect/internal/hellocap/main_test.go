package main

import (
	"bytes"
	"crypto/tls"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// clientRecords returns the first record a crypto/tls client sends: its
// ClientHello in one record.
func clientRecords(t *testing.T) []byte {
	t.Helper()
	c, s := net.Pipe()
	t.Cleanup(func() { c.Close(); s.Close() })
	go tls.Client(c, &tls.Config{ServerName: "localhost"}).Handshake() // returns once s is closed
	rec := make([]byte, 5)
	if _, err := io.ReadFull(s, rec); err != nil {
		t.Fatal(err)
	}
	rec = append(rec, make([]byte, int(rec[3])<<8|int(rec[4]))...)
	if _, err := io.ReadFull(s, rec[5:]); err != nil {
		t.Fatal(err)
	}
	return rec
}

// fragment splits one handshake record into records of at most n bytes of
// payload each, as RFC 8446 §5.1 allows.
func fragment(rec []byte, n int) []byte {
	var out []byte
	for body := rec[5:]; len(body) > 0; {
		k := min(n, len(body))
		out = append(out, rec[0], rec[1], rec[2], byte(k>>8), byte(k))
		out = append(out, body[:k]...)
		body = body[k:]
	}
	return out
}

func TestReadHello(t *testing.T) {
	rec := clientRecords(t)
	split := fragment(rec, 100)
	trailing := []byte{23, 3, 3, 0, 1, 0} // an application_data record after the hello
	tests := []struct {
		name    string
		in      []byte
		want    []byte
		wantErr string
	}{
		{"one record", rec, rec, ""},
		{"fragmented", split, split, ""},
		{"stops at the end of the hello", append(append([]byte{}, split...), trailing...), split, ""},
		{"not TLS", []byte("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"), nil, "want handshake (22)"},
		{"truncated", rec[:len(rec)-1], nil, "reading record body"},
		{"not a ClientHello", []byte{22, 3, 3, 0, 4, 2, 0, 0, 0}, nil, "want client_hello (1)"},
		{"empty record", []byte{22, 3, 1, 0, 0}, nil, "record length 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readHello(bytes.NewReader(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("readHello = %d bytes, %v; want an error containing %q", len(got), err, tt.wantErr)
				}
				return
			}
			if err != nil || !bytes.Equal(got, tt.want) {
				t.Fatalf("readHello = %d bytes, %v; want the %d bytes of the hello's records", len(got), err, len(tt.want))
			}
		})
	}
}

// TestRunGo captures crypto/tls's own hello end to end over 127.0.0.1.
func TestRunGo(t *testing.T) {
	out := filepath.Join(t.TempDir(), "go.bin")
	if err := run([]string{"-out", out, "-go", "-timeout", "30s"}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 5+4 || b[0] != 22 || b[5] != 1 {
		t.Fatalf("captured % x…: want a handshake record holding a ClientHello", b[:min(len(b), 9)])
	}
	if !bytes.Contains(b, []byte("localhost")) {
		t.Errorf("captured hello has no SNI localhost")
	}
}

// TestRunCommand runs a client command with {port} substituted: this test
// binary itself, re-executed as a crypto/tls client.
func TestRunCommand(t *testing.T) {
	if addr := os.Getenv("HELLOCAP_TEST_DIAL"); addr != "" {
		c, err := tls.Dial("tcp", addr, &tls.Config{ServerName: "example.test"})
		if err == nil {
			c.Close()
		}
		os.Exit(0) // the handshake fails by design
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "cmd.bin")
	err = run([]string{"-out", out, "-timeout", "30s", "--", "env", "HELLOCAP_TEST_DIAL=127.0.0.1:{port}", exe, "-test.run=^TestRunCommand$"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte("example.test")) {
		t.Errorf("captured %d bytes without the client's SNI example.test", len(b))
	}
}

func TestRunUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{"no -out", []string{"-go"}},
		{"neither -go nor a command", []string{"-out", "x.bin"}},
		{"both -go and a command", []string{"-out", "x.bin", "-go", "--", "true"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := run(tt.args); err == nil {
				t.Errorf("run(%q) = nil, want a usage error", tt.args)
			}
		})
	}
}
