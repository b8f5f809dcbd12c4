package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// TestGenerateMatchesShipped: the shipped table is exactly what the
// captures in testdata/clients generate (go generate ./inspect rewrites it).
func TestGenerateMatchesShipped(t *testing.T) {
	got, err := Generate("../../testdata/clients")
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("../../knownclients.txt")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("Generate(testdata/clients) differs from knownclients.txt: run go generate ./inspect")
	}
}

func TestClientName(t *testing.T) {
	for _, tc := range []struct{ file, version, want string }{
		{"chromium-2", "Chromium 156.0.8078.114 built on Debian GNU/Linux 12 (bookworm)", "Chromium 156"},
		{"curl", "curl 7.88.1 (x86_64-pc-linux-gnu) libcurl/7.88.1 OpenSSL/3.0.19", "curl 7.88"},
		{"java", `openjdk version "17.0.15" 2025-04-15`, "Java HttpClient 17"},
		{"python-requests", "requests 2.28.1 (Python 3.11.2)", "Python requests 2.28"},
		{"node", "node v20.20.2", "Node.js 20"},
	} {
		if got, err := clientName(tc.file, tc.version); err != nil || got != tc.want {
			t.Errorf("clientName(%q, %q) = %q, %v, want %q", tc.file, tc.version, got, err, tc.want)
		}
	}
	for _, bad := range [][2]string{{"lynx", "Lynx 2.9"}, {"curl", "libcurl 8"}} {
		if got, err := clientName(bad[0], bad[1]); err == nil || !strings.Contains(err.Error(), bad[0]) {
			t.Errorf("clientName(%q, %q) = %q, %v, want an error naming %s", bad[0], bad[1], got, err, bad[0])
		}
	}
}
