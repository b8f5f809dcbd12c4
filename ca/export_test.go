package ca

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	pkcs12 "software.sslmate.com/src/go-pkcs12"
)

// openssl returns the path of the openssl binary, or skips the test.
func openssl(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("openssl")
	if err != nil {
		t.Skipf("openssl not found in PATH (%v): install it (e.g. apt-get install openssl) to check against OpenSSL", err)
	}
	return path
}

// runOpenSSL runs openssl with args and returns its trimmed stdout.
func runOpenSSL(t *testing.T, bin string, args ...string) string {
	t.Helper()
	out, err := exec.Command(bin, args...).Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, stderr)
	}
	return strings.TrimSpace(string(out))
}

// writePEM writes a's root to a temporary ca.pem and returns its path.
func writePEM(t *testing.T, a *Authority) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(path, a.PEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestPEMAndDER(t *testing.T) {
	a := newCA(t, Options{})
	block, rest := pem.Decode(a.PEM())
	if block == nil || block.Type != "CERTIFICATE" || len(bytes.TrimSpace(rest)) != 0 {
		t.Fatalf("PEM() is not exactly one CERTIFICATE block: %q", a.PEM())
	}
	if !bytes.Equal(block.Bytes, a.Certificate().Raw) {
		t.Error("PEM() block is not the root's DER")
	}
	if !bytes.Equal(a.DER(), a.Certificate().Raw) {
		t.Error("DER() is not the root's DER")
	}
}

func TestFingerprint(t *testing.T) {
	a := newCA(t, Options{})
	got := a.Fingerprint()
	if !regexp.MustCompile(`^([0-9A-F]{2}:){31}[0-9A-F]{2}$`).MatchString(got) {
		t.Fatalf("Fingerprint() = %q, want 32 uppercase hex pairs joined by colons", got)
	}
	sum := sha256.Sum256(a.DER())
	if want := strings.ToUpper(hex.EncodeToString(sum[:])); strings.ReplaceAll(got, ":", "") != want {
		t.Errorf("Fingerprint() = %s, want SHA-256 of DER %s", got, want)
	}

	bin := openssl(t)
	out := runOpenSSL(t, bin, "x509", "-noout", "-fingerprint", "-sha256", "-in", writePEM(t, a))
	_, fp, ok := strings.Cut(out, "=") // "sha256 Fingerprint=AB:CD:..."
	if !ok || fp != got {
		t.Errorf("openssl says %q; Fingerprint() = %s", out, got)
	}
}

func TestSubjectHashOld(t *testing.T) {
	bin := openssl(t)
	for _, tc := range []struct {
		name string
		make func() (*Authority, error)
	}{
		{"New 1", func() (*Authority, error) { return New(Options{}) }},
		{"New 2", func() (*Authority, error) { return New(Options{}) }},
		{"New 3", func() (*Authority, error) { return New(Options{}) }},
		{"Open", func() (*Authority, error) { return Open(Options{Dir: t.TempDir()}) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := tc.make()
			if err != nil {
				t.Fatal(err)
			}
			path := a.CertPath()
			if path == "" {
				path = writePEM(t, a)
			}
			want := runOpenSSL(t, bin, "x509", "-subject_hash_old", "-noout", "-in", path)
			if got := a.SubjectHashOld(); got != want {
				t.Errorf("SubjectHashOld() = %s, openssl x509 -subject_hash_old = %s (subject %s)", got, want, a.Certificate().Subject)
			}
		})
	}
}

func TestPKCS12(t *testing.T) {
	a := newCA(t, Options{})
	for _, password := range []string{"", pkcs12.DefaultPassword, "pässwörd ü"} {
		t.Run("password="+password, func(t *testing.T) {
			pfx, err := a.PKCS12(password)
			if err != nil {
				t.Fatal(err)
			}
			certs, err := pkcs12.DecodeTrustStore(pfx, password)
			if err != nil {
				t.Fatalf("DecodeTrustStore: %v", err)
			}
			if len(certs) != 1 || !certs[0].Equal(a.Certificate()) {
				t.Fatalf("PKCS#12 holds %d certificates, want exactly the root", len(certs))
			}
			if _, err := pkcs12.DecodeTrustStore(pfx, password+"wrong"); err == nil {
				t.Error("DecodeTrustStore with a wrong password succeeded")
			}
			// Certificate only: no key bag, so Decode (which wants a key) fails.
			if _, _, err := pkcs12.Decode(pfx, password); err == nil {
				t.Error("PKCS#12 decodes with a private key; want the certificate alone")
			}
		})
	}
	if _, err := a.PKCS12("emoji \U0001F512"); err == nil {
		t.Error("PKCS12 with a non-BMP password succeeded, want an error")
	}
}

// TestPKCS12OpenSSL checks that OpenSSL, whose PKCS#12 reader Windows and
// Java tooling resemble, reads the file back to the same certificate.
func TestPKCS12OpenSSL(t *testing.T) {
	bin := openssl(t)
	a := newCA(t, Options{})
	const password = "changeit"
	pfx, err := a.PKCS12(password)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "ca.p12")
	if err := os.WriteFile(path, pfx, 0o644); err != nil {
		t.Fatal(err)
	}
	out := runOpenSSL(t, bin, "pkcs12", "-in", path, "-nokeys", "-passin", "pass:"+password)
	var found [][]byte
	for rest := []byte(out); ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type == "CERTIFICATE" {
			found = append(found, block.Bytes)
		}
	}
	if len(found) != 1 || !bytes.Equal(found[0], a.DER()) {
		t.Errorf("openssl pkcs12 found %d certificates, want the root alone:\n%s", len(found), out)
	}
	if !strings.Contains(out, a.Certificate().Subject.CommonName) {
		t.Errorf("openssl output lacks the friendly name %q:\n%s", a.Certificate().Subject.CommonName, out)
	}
}
