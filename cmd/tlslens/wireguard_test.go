package main

import (
	"html"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tlslens/tlslens/proxy"
)

// TestWireGuardMode: with mode wireguard, tlslens makes the server and peer
// keys in the CA directory (0600), listens on wireguard_listen, and the
// onboarding page shows the peer configuration with those keys and port.
func TestWireGuardMode(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ca")
	logs := startRun(t, []string{"--ca-dir", dir, "--listen", "127.0.0.1:0", "--admin-listen", "",
		"--mode", "wireguard", "--wireguard-listen", "127.0.0.1:0", "--wireguard-endpoint", "phone-reaches-me.test"})
	wgAddr, _ := logs.wait(t, "wireguard listening")["addr"].(string)
	proxyAddr, _ := logs.wait(t, "tlslens listening")["addr"].(string)
	_, wgPort, err := net.SplitHostPort(wgAddr)
	if err != nil {
		t.Fatalf("wireguard listening addr %q: %v", wgAddr, err)
	}
	keys := map[string]proxy.WireGuardKey{}
	for _, name := range []string{wireGuardServerKeyFile, wireGuardPeerKeyFile} {
		path := filepath.Join(dir, name)
		checkFile(t, path, 0o600, -1)
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if keys[name], err = proxy.ParseWireGuardKey(string(b)); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	resp, err := http.Get("http://" + proxyAddr + "/")
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	page := html.UnescapeString(string(b))
	for _, want := range []string{
		"PrivateKey = " + keys[wireGuardPeerKeyFile].String(),
		"PublicKey = " + keys[wireGuardServerKeyFile].PublicKey().String(),
		"Endpoint = phone-reaches-me.test:" + wgPort,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("onboarding page lacks %q", want)
		}
	}
}

// TestWireGuardKey: a key is made once and reused; one others may read is
// refused with the fix.
func TestWireGuardKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), wireGuardServerKeyFile)
	first, err := wireGuardKey(path)
	if err != nil {
		t.Fatal(err)
	}
	second, err := wireGuardKey(path)
	if err != nil || second != first {
		t.Fatalf("second load = %v, %v; want the key made first", second, err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := wireGuardKey(path); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("a key readable by others loaded with %v, want an error naming chmod 600", err)
	}
}

// TestModeValidation: mode is regular or wireguard, and wireguard needs a
// wireguard_listen address.
func TestModeValidation(t *testing.T) {
	for _, tc := range []struct {
		mode, listen, key string
	}{
		{"bogus", "0.0.0.0:51820", "mode:"},
		{"wireguard", "51820", "wireguard_listen:"},
	} {
		c := defaults()
		c.Mode, c.WireGuardListen = tc.mode, tc.listen
		if err := c.validate(); err == nil || !strings.Contains(err.Error(), tc.key) {
			t.Errorf("mode %q, wireguard_listen %q: validate = %v, want an error naming %s", tc.mode, tc.listen, err, tc.key)
		}
	}
	c := defaults()
	c.Mode = "wireguard"
	if err := c.validate(); err != nil {
		t.Errorf("mode wireguard with the defaults: %v", err)
	}
}
