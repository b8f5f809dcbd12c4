package proxy

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/tls"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tlslens/tlslens/inspect"
)

// TestClientRSALeaf: Go clients that an ECDSA leaf cannot serve (RSA key
// exchange only, ECDHE_RSA only, TLS 1.0 and 1.1 with CBC RSA suites) are
// intercepted with an RSA 2048 leaf for the same name, and the record's
// client chain is that leaf; a client that can use ECDSA still gets the
// ECDSA leaf.
func TestClientRSALeaf(t *testing.T) {
	t.Parallel()
	up, roots := failuresUpstream(t)
	target := "example.com:" + up.port()
	cases := []struct {
		name  string
		cfg   *tls.Config
		key   string // the leaf's key in client.chain
		suite string // the client leg's suite
	}{
		{"RSA key exchange only", &tls.Config{MaxVersion: tls.VersionTLS12,
			CipherSuites: []uint16{tls.TLS_RSA_WITH_AES_128_GCM_SHA256}},
			"RSA 2048", "TLS_RSA_WITH_AES_128_GCM_SHA256"},
		{"ECDHE-RSA only", &tls.Config{MaxVersion: tls.VersionTLS12,
			CipherSuites: []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256}},
			"RSA 2048", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"},
		{"TLS 1.0 CBC RSA key exchange", &tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS10,
			CipherSuites: []uint16{tls.TLS_RSA_WITH_AES_128_CBC_SHA}},
			"RSA 2048", "TLS_RSA_WITH_AES_128_CBC_SHA"},
		// Go leaves the TLS 1.2-only suite out of a TLS 1.1 hello: the offer
		// is ECDHE_RSA with CBC.
		{"TLS 1.1 with only TLS 1.2 ECDSA suites", &tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11,
			CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA}},
			"RSA 2048", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"},
		{"ECDSA and RSA suites", &tls.Config{MaxVersion: tls.VersionTLS12,
			CipherSuites: []uint16{tls.TLS_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}},
			"ECDSA P-256", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"},
		{"TLS 1.3", &tls.Config{}, "ECDSA P-256", "TLS_AES_128_GCM_SHA256"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, func(o *Options) { o.UpstreamRoots = roots })
			cfg := tc.cfg.Clone()
			cfg.ServerName, cfg.RootCAs = "example.com", h.roots()
			c := tls.Client(h.connect(target), cfg)
			if err := c.Handshake(); err != nil {
				t.Fatal(err)
			}
			_, isRSA := c.ConnectionState().PeerCertificates[0].PublicKey.(*rsa.PublicKey)
			if isRSA != (tc.key == "RSA 2048") {
				t.Errorf("client was sent an RSA leaf: %v, want %s", isRSA, tc.key)
			}
			if resp := newReaderClient(t, c).do("GET", "/rsa", "example.com"); resp.status != 200 || !strings.Contains(resp.body, "hello from upstream /rsa") {
				t.Errorf("GET: %d %q, want the upstream's answer", resp.status, resp.body)
			}
			r := h.record()
			if r.Outcome != inspect.OutcomeOK {
				t.Fatalf("outcome %s error %q, want ok", r.Outcome, r.Client.Error)
			}
			if n := r.Client.Negotiated; n == nil || n.CipherSuite != tc.suite {
				t.Errorf("client negotiated %+v, want %s", n, tc.suite)
			}
			if len(r.Client.Chain) != 1 || r.Client.Chain[0].Key != tc.key || !strings.Contains(r.Client.Chain[0].Subject, "example.com") {
				t.Errorf("client chain %+v, want one %s leaf for example.com", r.Client.Chain, tc.key)
			}
		})
	}
}

// TestClientRSALeafOpenSSL drives openssl s_client (Debian package openssl)
// through tlslens with RSA-only offers: each is intercepted with the RSA
// leaf and gets the upstream's answer.
func TestClientRSALeafOpenSSL(t *testing.T) {
	t.Parallel()
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not installed (Debian package openssl)")
	}
	up, roots := failuresUpstream(t)
	h := newHarness(t, func(o *Options) { o.UpstreamRoots = roots })
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, h.auth.PEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		args    []string
		version string
		suite   string
	}{
		{"TLS 1.2 RSA key exchange", []string{"-tls1_2", "-cipher", "AES128-GCM-SHA256"},
			"TLS 1.2", "TLS_RSA_WITH_AES_128_GCM_SHA256"},
		{"TLS 1.2 ECDHE-RSA", []string{"-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256"},
			"TLS 1.2", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"},
		{"TLS 1.3 RSA-PSS signatures only", []string{"-tls1_3", "-sigalgs", "rsa_pss_rsae_sha256"},
			"TLS 1.3", "TLS_AES_128_GCM_SHA256"},
		// OpenSSL 3 allows TLS 1.0 only at security level 0.
		{"TLS 1.0 CBC RSA key exchange", []string{"-tls1", "-cipher", "AES128-SHA@SECLEVEL=0"},
			"TLS 1.0", "TLS_RSA_WITH_AES_128_CBC_SHA"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			args := append([]string{"s_client", "-proxy", h.addr, "-connect", "example.com:" + up.port(),
				"-servername", "example.com", "-CAfile", caFile, "-verify_return_error", "-ign_eof"}, tc.args...)
			cmd := exec.CommandContext(ctx, openssl, args...)
			cmd.Stdin = strings.NewReader("GET /openssl HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n")
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			err := cmd.Run()
			r := h.record()
			if err != nil || r.Outcome != inspect.OutcomeOK {
				t.Fatalf("openssl: %v, outcome %s error %q\nopenssl: %s", err, r.Outcome, r.Client.Error, out.String())
			}
			if !strings.Contains(out.String(), "hello from upstream /openssl") {
				t.Errorf("openssl did not get the upstream's answer:\n%s", out.String())
			}
			if n := r.Client.Negotiated; n == nil || n.Version != tc.version || n.CipherSuite != tc.suite {
				t.Errorf("client negotiated %+v, want %s %s", n, tc.version, tc.suite)
			}
			if len(r.Client.Chain) != 1 || r.Client.Chain[0].Key != "RSA 2048" {
				t.Errorf("client chain %+v, want the RSA 2048 leaf", r.Client.Chain)
			}
		})
	}
}
