package ca

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// t0 is a whole second, so certificate times (second precision) compare
// exactly with times derived from it.
var t0 = time.Date(2026, time.March, 1, 12, 0, 0, 0, time.UTC)

// fixedClock returns a clock reading *now, which the test may move.
func fixedClock(now *time.Time) func() time.Time {
	return func() time.Time { return *now }
}

func TestOpenPersists(t *testing.T) {
	dir := t.TempDir()
	first, err := Open(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	certBefore, err := os.ReadFile(filepath.Join(dir, "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	keyBefore, err := os.ReadFile(filepath.Join(dir, "ca-key.pem"))
	if err != nil {
		t.Fatal(err)
	}

	second, err := Open(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := second.Fingerprint(), first.Fingerprint(); got != want {
		t.Errorf("second Open: fingerprint %s, want %s", got, want)
	}
	if got, want := second.CertPath(), filepath.Join(dir, "ca.pem"); got != want {
		t.Errorf("CertPath() = %q, want %q", got, want)
	}
	certAfter, _ := os.ReadFile(filepath.Join(dir, "ca.pem"))
	keyAfter, _ := os.ReadFile(filepath.Join(dir, "ca-key.pem"))
	if !bytes.Equal(certAfter, certBefore) || !bytes.Equal(keyAfter, keyBefore) {
		t.Error("second Open rewrote ca.pem or ca-key.pem")
	}
	if !bytes.Equal(certBefore, first.PEM()) {
		t.Error("ca.pem differs from PEM()")
	}
	if !first.Created() || second.Created() {
		t.Errorf("Created() = %v on the first Open, %v on the second; want true, then false", first.Created(), second.Created())
	}

	// A leaf from the reloaded CA verifies against the root written first.
	leaf, err := second.Leaf("persist.example")
	if err != nil {
		t.Fatal(err)
	}
	if err := verifyLeaf(first.Certificate(), leaf.Leaf, "persist.example", time.Now()); err != nil {
		t.Errorf("leaf from the reloaded CA: %v", err)
	}
}

func TestOpenModes(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Windows has no Unix permission bits")
	}
	dir := filepath.Join(t.TempDir(), "config", "tlslens")
	if _, err := Open(Options{Dir: dir}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path string
		want fs.FileMode
	}{
		{dir, 0o700},
		{filepath.Join(dir, "ca-key.pem"), 0o600},
		{filepath.Join(dir, "ca.pem"), 0o644},
	} {
		t.Run(filepath.Base(tc.path), func(t *testing.T) {
			fi, err := os.Stat(tc.path)
			if err != nil {
				t.Fatal(err)
			}
			if got := fi.Mode().Perm(); got != tc.want {
				t.Errorf("mode of %s = %#o, want %#o", tc.path, got, tc.want)
			}
		})
	}
}

func TestOpenKeyPermissions(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Windows has no Unix permission bits")
	}
	for _, mode := range []fs.FileMode{0o640, 0o604, 0o644, 0o620, 0o602, 0o700 | 0o044} {
		t.Run(mode.String(), func(t *testing.T) {
			dir := t.TempDir()
			if _, err := Open(Options{Dir: dir}); err != nil {
				t.Fatal(err)
			}
			keyPath := filepath.Join(dir, "ca-key.pem")
			if err := os.Chmod(keyPath, mode); err != nil {
				t.Fatal(err)
			}

			_, err := Open(Options{Dir: dir})
			if !errors.Is(err, ErrKeyPermissions) {
				t.Fatalf("Open with key mode %#o: err = %v, want ErrKeyPermissions", mode, err)
			}
			var pe *KeyPermissionsError
			if !errors.As(err, &pe) {
				t.Fatalf("Open: err %T, want *KeyPermissionsError", err)
			}
			if pe.Path != keyPath || pe.Mode != mode {
				t.Errorf("KeyPermissionsError{Path: %q, Mode: %#o}, want {%q, %#o}", pe.Path, pe.Mode, keyPath, mode)
			}
			if want := "chmod 600 " + keyPath; !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not contain %q", err, want)
			}

			// The advice in the message works.
			if err := os.Chmod(keyPath, 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := Open(Options{Dir: dir}); err != nil {
				t.Errorf("Open after chmod 600: %v", err)
			}
		})
	}
}

// TestOpenKeyOwnerOnly checks that modes giving group and others no read or
// write access are accepted.
func TestOpenKeyOwnerOnly(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Windows has no Unix permission bits")
	}
	for _, mode := range []fs.FileMode{0o400, 0o600, 0o700, 0o611} {
		t.Run(mode.String(), func(t *testing.T) {
			dir := t.TempDir()
			if _, err := Open(Options{Dir: dir}); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(filepath.Join(dir, "ca-key.pem"), mode); err != nil {
				t.Fatal(err)
			}
			if _, err := Open(Options{Dir: dir}); err != nil {
				t.Errorf("Open with key mode %#o: %v", mode, err)
			}
		})
	}
}

func TestOpenKeyMismatch(t *testing.T) {
	dirA, dirB := t.TempDir(), t.TempDir()
	if _, err := Open(Options{Dir: dirA}); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(Options{Dir: dirB}); err != nil {
		t.Fatal(err)
	}
	otherKey, err := os.ReadFile(filepath.Join(dirB, "ca-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	keyPath := filepath.Join(dirA, "ca-key.pem")
	if err := os.WriteFile(keyPath, otherKey, 0o600); err != nil {
		t.Fatal(err)
	}

	_, err = Open(Options{Dir: dirA})
	if !errors.Is(err, ErrKeyMismatch) {
		t.Fatalf("Open with B's key and A's certificate: err = %v, want ErrKeyMismatch", err)
	}
	var me *KeyMismatchError
	if !errors.As(err, &me) {
		t.Fatalf("err %T, want *KeyMismatchError", err)
	}
	if me.KeyPath != keyPath || me.CertPath != filepath.Join(dirA, "ca.pem") {
		t.Errorf("KeyMismatchError = %+v, want paths in %s", me, dirA)
	}
}

func TestOpenIncomplete(t *testing.T) {
	for _, missing := range []string{"ca.pem", "ca-key.pem"} {
		t.Run(missing, func(t *testing.T) {
			dir := t.TempDir()
			if _, err := Open(Options{Dir: dir}); err != nil {
				t.Fatal(err)
			}
			if err := os.Remove(filepath.Join(dir, missing)); err != nil {
				t.Fatal(err)
			}
			_, err := Open(Options{Dir: dir})
			if err == nil || !strings.Contains(err.Error(), missing) {
				t.Fatalf("Open without %s: err = %v, want an error naming it", missing, err)
			}
			// Open must not have replaced the remaining half with a new pair.
			if _, err := os.Stat(filepath.Join(dir, missing)); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("Open recreated %s: %v", missing, err)
			}
		})
	}
}

func TestOpenExpired(t *testing.T) {
	dir := t.TempDir()
	now := t0
	a, err := Open(Options{Dir: dir, Now: fixedClock(&now)})
	if err != nil {
		t.Fatal(err)
	}
	now = a.Certificate().NotAfter.Add(time.Second)
	if _, err := Open(Options{Dir: dir, Now: fixedClock(&now)}); !errors.Is(err, ErrCAExpired) {
		t.Errorf("Open after the root's NotAfter: err = %v, want ErrCAExpired", err)
	}
	if _, err := a.Leaf("late.example"); !errors.Is(err, ErrCAExpired) {
		t.Errorf("Leaf after the root's NotAfter: err = %v, want ErrCAExpired", err)
	}
}

func TestOpenNegativeCacheSize(t *testing.T) {
	if _, err := New(Options{CacheSize: -1}); err == nil {
		t.Error("New(CacheSize: -1) succeeded, want an error")
	}
}

func TestRootProfile(t *testing.T) {
	now := t0
	for _, tc := range []struct {
		name string
		make func() (*Authority, error)
	}{
		{"Open", func() (*Authority, error) { return Open(Options{Dir: t.TempDir(), Now: fixedClock(&now)}) }},
		{"New", func() (*Authority, error) { return New(Options{Now: fixedClock(&now)}) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := tc.make()
			if err != nil {
				t.Fatal(err)
			}
			c := a.Certificate()
			pub, ok := c.PublicKey.(*ecdsa.PublicKey)
			if !ok || pub.Curve != elliptic.P256() {
				t.Errorf("root key %T, want ECDSA P-256", c.PublicKey)
			}
			if !c.IsCA || !c.BasicConstraintsValid || c.MaxPathLen != 0 || !c.MaxPathLenZero {
				t.Errorf("basic constraints: IsCA %v valid %v MaxPathLen %d zero %v, want CA:TRUE, pathlen 0",
					c.IsCA, c.BasicConstraintsValid, c.MaxPathLen, c.MaxPathLenZero)
			}
			if want := x509.KeyUsageCertSign | x509.KeyUsageCRLSign; c.KeyUsage != want {
				t.Errorf("KeyUsage = %v, want %v", c.KeyUsage, want)
			}
			if len(c.SubjectKeyId) == 0 {
				t.Error("root has no SubjectKeyId")
			}
			if !strings.HasPrefix(c.Subject.CommonName, "tlslens CA ") || len(c.Subject.CommonName) > 64 {
				t.Errorf("CN = %q, want \"tlslens CA ...\" within 64 bytes", c.Subject.CommonName)
			}
			if len(c.Subject.Organization) != 1 || c.Subject.Organization[0] != "tlslens" {
				t.Errorf("O = %q, want [tlslens]", c.Subject.Organization)
			}
			if !c.NotBefore.Before(now) {
				t.Errorf("NotBefore %v not before creation time %v", c.NotBefore, now)
			}
			if want := now.AddDate(10, 0, 0); !c.NotAfter.Equal(want) {
				t.Errorf("NotAfter %v, want %v (ten years)", c.NotAfter, want)
			}
			if c.SerialNumber.Sign() <= 0 || c.SerialNumber.BitLen() > 128 {
				t.Errorf("serial %v: want positive, at most 128 bits", c.SerialNumber)
			}
			if err := c.CheckSignatureFrom(c); err != nil {
				t.Errorf("root is not self-signed: %v", err)
			}
			if tc.name == "New" && a.CertPath() != "" {
				t.Errorf("New: CertPath() = %q, want \"\"", a.CertPath())
			}
		})
	}
	a, _ := New(Options{})
	b, _ := New(Options{})
	if a.Certificate().Subject.CommonName == b.Certificate().Subject.CommonName {
		t.Errorf("two roots share the CN %q; want a random suffix to tell them apart", a.Certificate().Subject.CommonName)
	}
}

func TestDefaultDir(t *testing.T) {
	dir, err := DefaultDir()
	if err != nil {
		t.Skipf("no user config directory here: %v", err)
	}
	base, _ := os.UserConfigDir()
	if want := filepath.Join(base, "tlslens"); dir != want {
		t.Errorf("DefaultDir() = %q, want %q", dir, want)
	}
}
