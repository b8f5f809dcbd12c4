package main

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// TestRecordsPath: a records key is used as it is; without one, records go
// to stdout unless stdout is a terminal (TestFirstRunOnTerminal covers that
// case on a real one).
func TestRecordsPath(t *testing.T) {
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	for _, tt := range []struct {
		name, key string
		stdout    any
		want      string
	}{
		{"file", "r.jsonl", pw, "r.jsonl"},
		{"dash", "-", pw, "-"},
		{"unset, pipe", "", pw, "-"},
		{"unset, buffer", "", &bytes.Buffer{}, "-"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w, _ := tt.stdout.(interface{ Write([]byte) (int, error) })
			if got, err := recordsPath(tt.key, w); got != tt.want || err != nil {
				t.Errorf("recordsPath(%q) = %q, %v; want %q", tt.key, got, err, tt.want)
			}
		})
	}
}

// TestStateDir: $XDG_STATE_HOME when absolute, else ~/.local/state.
func TestStateDir(t *testing.T) {
	if runtime.GOOS == "darwin" || runtime.GOOS == "windows" {
		t.Skip("the state directory is beside the CA there")
	}
	home := t.TempDir()
	t.Setenv("HOME", home)
	for _, tt := range []struct{ xdg, want string }{
		{"/var/state", "/var/state/tlslens"},
		{"", filepath.Join(home, ".local", "state", "tlslens")},
		{"relative", filepath.Join(home, ".local", "state", "tlslens")},
	} {
		t.Setenv("XDG_STATE_HOME", tt.xdg)
		if got, err := stateDir(); got != tt.want || err != nil {
			t.Errorf("stateDir() with XDG_STATE_HOME=%q = %q, %v; want %q", tt.xdg, got, err, tt.want)
		}
	}
}
