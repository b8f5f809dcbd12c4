package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// runCmd runs tlslens in process with args and returns stdout and the error.
func runCmd(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), args, strings.NewReader(""), &stdout, &stderr)
	return stdout.String(), err
}

// TestCACommand: the CA persists across runs with the same fingerprint, its
// key is 0600, and a readable key is refused with the fix in the message.
func TestCACommand(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ca")
	first, err := runCmd(t, "ca", "--ca-dir", dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"certificate: " + filepath.Join(dir, "ca.pem"), "subject:", "CN=tlslens CA", "sha256:"} {
		if !strings.Contains(first, want) {
			t.Errorf("tlslens ca printed %q, want %q in it", first, want)
		}
	}
	second, err := runCmd(t, "ca", "--ca-dir", dir)
	if err != nil || second != first {
		t.Fatalf("second run printed %q, %v; want the same CA %q", second, err, first)
	}
	st, err := os.Stat(filepath.Join(dir, "ca-key.pem"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key mode %v, %v; want 0600", st.Mode().Perm(), err)
	}
	if st, _ := os.Stat(dir); st.Mode().Perm() != 0o700 {
		t.Errorf("CA directory mode %v, want 0700", st.Mode().Perm())
	}

	pemOut, err := runCmd(t, "ca", "export", "--ca-dir", dir, "--format", "pem")
	if err != nil || !strings.HasPrefix(pemOut, "-----BEGIN CERTIFICATE-----") {
		t.Errorf("ca export --format pem = %.40q, %v", pemOut, err)
	}
	androidDir := t.TempDir()
	path, err := runCmd(t, "ca", "export", "--ca-dir", dir, "--format", "android", "--out", androidDir)
	if err != nil || !strings.HasSuffix(strings.TrimSpace(path), ".0") {
		t.Errorf("ca export --format android = %q, %v", path, err)
	}

	if err := os.Chmod(filepath.Join(dir, "ca-key.pem"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = runCmd(t, "ca", "--ca-dir", dir)
	if err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("world-readable key: err = %v, want a refusal saying chmod 600", err)
	}
	_, err = runCmd(t, "--ca-dir", dir, "--listen", "127.0.0.1:0", "--quiet")
	if err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("proxy with a world-readable key: err = %v, want a refusal saying chmod 600", err)
	}
}

// TestReadmeCurl follows the README's first run: tlslens with no config,
// then curl through it with --cacert to a local TLS server.
func TestReadmeCurl(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("curl not installed: apt-get install curl")
	}
	e := newEnv(t)
	logs := e.startRun()
	addr := logs.wait(t, "tlslens listening")["addr"].(string)
	caPEM := filepath.Join(e.dir, "ca", "ca.pem")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, curl, "-sS", "-x", "http://"+addr, "--cacert", caPEM, e.upstream.URL+"/readme").CombinedOutput()
	if err != nil || string(out) != "hello /readme" {
		t.Fatalf("curl = %q, %v; want the upstream's body", out, err)
	}
	out, err = exec.CommandContext(ctx, curl, "-sS", "-x", "http://"+addr, e.upstream.URL+"/untrusted").CombinedOutput()
	if err == nil {
		t.Fatalf("curl without --cacert succeeded: %q", out)
	}
}
