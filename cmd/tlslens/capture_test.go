package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestCaptureFile: with capture.file set, an intercepted connection is
// appended to that file as a pcapng (its section header first) with both
// legs' key log lines in it, once the connection has closed.
func TestCaptureFile(t *testing.T) {
	e := newEnv(t)
	file := filepath.Join(e.dir, "capture.pcapng")
	if err := os.WriteFile(filepath.Join(e.dir, "config.yaml"), []byte("capture:\n  file: "+file+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	logs := e.startRun()
	addr := logs.wait(t, "tlslens listening")["addr"].(string)
	e.get(e.client(addr), "/captured", "hello /captured")
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		// Two legs' TLS 1.3 secrets: two lines of each label.
		if bytes.Count(b, []byte("CLIENT_TRAFFIC_SECRET_0 ")) == 2 {
			if !bytes.HasPrefix(b, []byte{0x0a, 0x0d, 0x0d, 0x0a}) {
				t.Errorf("capture file starts % x, want a pcapng section header", b[:min(len(b), 4)])
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("capture file has %d bytes and not both legs' secrets 10s after the request", len(b))
		}
		time.Sleep(10 * time.Millisecond) // the connection closes after its response
	}
	fi, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("capture file mode %v, want 0600 (it holds session keys)", fi.Mode().Perm())
	}
}
