package proxy

import (
	"crypto/tls"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tlslens/tlslens/ca/testpki"
	"github.com/tlslens/tlslens/inspect"
	"github.com/tlslens/tlslens/proxy/internal/gotls"
)

// sentHello returns the ClientHello a crypto/tls client sends with cfg.
func sentHello(t *testing.T, cfg *tls.Config) *inspect.ClientHello {
	t.Helper()
	rec, err := captureHello(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h, err := inspect.ParseClientHello(rec)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// goImplements reports whether crypto/tls can offer suite in TLS 1.0-1.2.
func goImplements(suite uint16) bool {
	return !gotls.IsTLS13Suite(suite) && slices.Contains(gotls.AllSuites(), suite)
}

// mirrored is what mirror-lite must offer for a client's hello: its TLS 1.2
// suites that Go implements, Go's own TLS 1.3 suites when it offers TLS 1.3
// (crypto/tls does not let them be chosen), its groups that Go implements,
// and its ALPN list, as sets of names.
func mirrored(h *inspect.ClientHello) (suites, groups []string) {
	_, hi := h.VersionRange()
	for _, id := range h.CipherSuites {
		if goImplements(id) {
			suites = append(suites, inspect.CipherSuiteName(id))
		}
	}
	if hi == tls.VersionTLS13 {
		for _, cs := range tls.CipherSuites() {
			if gotls.IsTLS13Suite(cs.ID) {
				suites = append(suites, inspect.CipherSuiteName(cs.ID))
			}
		}
	}
	for _, g := range h.Groups {
		if gotls.Group(g) {
			groups = append(groups, inspect.GroupName(g))
		}
	}
	slices.Sort(suites)
	slices.Sort(groups)
	return suites, groups
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// TestMirrorLiteForeignHellos: for hellos captured from real clients
// (inspect/testdata), the hello crypto/tls sends with upstreamConfig offers
// exactly the client's suites, groups, versions and ALPN that Go implements.
func TestMirrorLiteForeignHellos(t *testing.T) {
	t.Parallel()
	files, _ := filepath.Glob(filepath.Join("..", "inspect", "testdata", "*.bin"))
	if len(files) == 0 {
		t.Fatal("no captured hellos in inspect/testdata")
	}
	dropped := 0
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			b, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			client, err := inspect.ParseClientHello(b)
			if err != nil {
				t.Fatal(err)
			}
			cfg := upstreamConfig(client, "example.com", "example.com", false)
			sent := sentHello(t, cfg)
			got, want := sent.Hello(), client.Hello()
			wantSuites, wantGroups := mirrored(client)
			if g := sorted(got.CipherSuites); !slices.Equal(g, wantSuites) {
				t.Errorf("suites offered upstream %v, want %v", g, wantSuites)
			}
			if g := sorted(got.Groups); !slices.Equal(g, wantGroups) {
				t.Errorf("groups offered upstream %v, want %v", g, wantGroups)
			}
			if !slices.Equal(got.ALPN, want.ALPN) || got.SNI != "example.com" {
				t.Errorf("ALPN %v SNI %q, want %v example.com", got.ALPN, got.SNI, want.ALPN)
			}
			lo, hi := client.VersionRange()
			var wantVersions []string
			for v := hi; v >= lo; v-- {
				wantVersions = append(wantVersions, inspect.VersionName(v))
			}
			if hi >= tls.VersionTLS13 && !slices.Equal(got.SupportedVersions, wantVersions) {
				t.Errorf("versions %v, want %v", got.SupportedVersions, wantVersions)
			}
			dropped += len(client.CipherSuites) - len(sent.CipherSuites)
		})
	}
	if dropped == 0 {
		t.Error("no captured client offers anything Go lacks: the intersection was not exercised")
	}
}

// TestMirrorLiteEndToEnd: the upstream hello in the record (parsed from the
// bytes tlslens sent) offers exactly what the client offered.
func TestMirrorLiteEndToEnd(t *testing.T) {
	t.Parallel()
	pki := testpki.Root(t, "Upstream Test Root")
	up := startUpstream(t, &tls.Config{Certificates: []tls.Certificate{pki.Leaf(t, "example.com")}})
	cases := []struct {
		name   string
		client *tls.Config
	}{
		{"TLS 1.2, three suites, two groups", &tls.Config{MaxVersion: tls.VersionTLS12,
			CipherSuites:     []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_RSA_WITH_AES_128_GCM_SHA256},
			CurvePreferences: []tls.CurveID{tls.CurveP384, tls.CurveP256}}},
		{"TLS 1.3, x25519 only", &tls.Config{CurvePreferences: []tls.CurveID{tls.X25519}, NextProtos: []string{"http/1.1"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, func(o *Options) { o.UpstreamRoots = pki.Pool() })
			resp, _ := get(t, h.httpClient(tc.client), "https://example.com:"+up.port()+"/")
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %s", resp.Status)
			}
			r := h.record()
			c, u := r.Client.Hello, r.Upstream.Hello
			if !slices.Equal(sorted(u.CipherSuites), sorted(c.CipherSuites)) || !slices.Equal(sorted(u.Groups), sorted(c.Groups)) ||
				!slices.Equal(u.SupportedVersions, c.SupportedVersions) || !slices.Equal(u.ALPN, c.ALPN) {
				t.Errorf("upstream offer suites %v groups %v versions %v alpn %v;\nclient offer suites %v groups %v versions %v alpn %v",
					u.CipherSuites, u.Groups, u.SupportedVersions, u.ALPN, c.CipherSuites, c.Groups, c.SupportedVersions, c.ALPN)
			}
			if len(r.Upstream.Attempts) != 0 {
				t.Errorf("attempts %+v: the first offer should have done", r.Upstream.Attempts)
			}
		})
	}
}

// TestLegacyUpstreams: a TLS 1.2 RSA-key-exchange server is reached with the
// client's own offer when it includes RSA key exchange, and by the compat
// retry otherwise; a TLS 1.0-only server is reached by the compat retry, with
// the refused first attempt in the record.
func TestLegacyUpstreams(t *testing.T) {
	t.Parallel()
	pki := testpki.Root(t, "Upstream Test Root")
	rsaLeaf := pki.LeafWithKey(t, testpki.RSAKey(t, 2048), "example.com")
	rsa12 := startUpstream(t, &tls.Config{Certificates: []tls.Certificate{rsaLeaf},
		MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_RSA_WITH_AES_128_GCM_SHA256}})
	tls10 := startUpstream(t, &tls.Config{Certificates: []tls.Certificate{rsaLeaf},
		MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS10, CipherSuites: []uint16{tls.TLS_RSA_WITH_AES_128_CBC_SHA}})
	cases := []struct {
		name         string
		up           *upstream
		client       *tls.Config
		version      string
		suite        string
		firstAlert   string // of the refused first attempt; "" when there is none
		firstVersion string // the highest version of the first offer
	}{
		{"RSA key exchange offered", rsa12, &tls.Config{CipherSuites: []uint16{
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_RSA_WITH_AES_128_GCM_SHA256}},
			"TLS 1.2", "TLS_RSA_WITH_AES_128_GCM_SHA256", "", ""},
		{"RSA key exchange not offered", rsa12, &tls.Config{},
			"TLS 1.2", "TLS_RSA_WITH_AES_128_GCM_SHA256", "handshake_failure", "TLS 1.3"},
		{"TLS 1.0 only", tls10, &tls.Config{},
			"TLS 1.0", "TLS_RSA_WITH_AES_128_CBC_SHA", "protocol_version", "TLS 1.3"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, func(o *Options) { o.UpstreamRoots = pki.Pool() })
			resp, body := get(t, h.httpClient(tc.client), "https://example.com:"+tc.up.port()+"/legacy")
			if resp.StatusCode != http.StatusOK || !strings.Contains(body, "/legacy") {
				t.Fatalf("got %s %q", resp.Status, body)
			}
			r := h.record()
			u := r.Upstream
			if r.Outcome != inspect.OutcomeOK || u.Negotiated.Version != tc.version || u.Negotiated.CipherSuite != tc.suite {
				t.Fatalf("outcome %s upstream negotiated %+v, want %s %s", r.Outcome, u.Negotiated, tc.version, tc.suite)
			}
			if u.KeyExchange == nil || u.KeyExchange.Kind != "RSA" {
				t.Errorf("key_exchange %+v, want RSA", u.KeyExchange)
			}
			if tc.firstAlert == "" {
				if len(u.Attempts) != 0 {
					t.Errorf("attempts %+v, want none", u.Attempts)
				}
				return
			}
			if len(u.Attempts) != 1 {
				t.Fatalf("attempts %+v, want the refused first offer", u.Attempts)
			}
			a := u.Attempts[0]
			if a.Alert != tc.firstAlert || a.Hello == nil || a.Hello.SupportedVersions[0] != tc.firstVersion || a.Error == "" {
				t.Errorf("first attempt %+v, want alert %s on an offer up to %s", a, tc.firstAlert, tc.firstVersion)
			}
			if !slices.Contains(u.Hello.CipherSuites, tc.suite) || slices.Contains(u.Hello.SupportedVersions, "TLS 1.3") {
				t.Errorf("compat offer suites %v versions %v, want every suite Go has, TLS 1.0 to 1.2", u.Hello.CipherSuites, u.Hello.SupportedVersions)
			}
		})
	}
}

// TestLegacyClients: clients down to TLS 1.0 are accepted by default, with
// legacy suites, and refused under a higher client minimum with a record
// saying so.
func TestLegacyClients(t *testing.T) {
	t.Parallel()
	pki := testpki.Root(t, "Upstream Test Root")
	up := startUpstream(t, &tls.Config{Certificates: []tls.Certificate{pki.Leaf(t, "example.com")}})
	cases := []struct {
		name    string
		min     uint16
		client  *tls.Config
		version string // the client's negotiated version; "" when refused
		suite   string
	}{
		{"TLS 1.0 CBC", 0, &tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS10,
			CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA}}, "TLS 1.0", "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA"},
		{"TLS 1.1 RC4", 0, &tls.Config{MinVersion: tls.VersionTLS11, MaxVersion: tls.VersionTLS11,
			CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_RC4_128_SHA}}, "TLS 1.1", "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA"},
		{"TLS 1.0 below a TLS 1.2 minimum", tls.VersionTLS12, &tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS10}, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, func(o *Options) { o.UpstreamRoots = pki.Pool(); o.ClientMinVersion = tc.min })
			cfg := tc.client.Clone()
			cfg.ServerName, cfg.RootCAs = "example.com", h.roots()
			c := tls.Client(h.connect("example.com:"+up.port()), cfg)
			err := c.Handshake()
			r := h.record()
			if tc.version == "" {
				if err == nil {
					t.Fatal("handshake succeeded below the client minimum")
				}
				if r.Outcome != inspect.OutcomeClientHandshakeFailed || !strings.Contains(r.Client.Error, "client_min_version") {
					t.Fatalf("outcome %s error %q, want client_handshake_failed naming client_min_version", r.Outcome, r.Client.Error)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if resp := newReaderClient(t, c).do("GET", "/old", "example.com"); resp.status != http.StatusOK {
				t.Fatalf("status %d %q", resp.status, resp.body)
			}
			if n := r.Client.Negotiated; r.Outcome != inspect.OutcomeOK || n.Version != tc.version || n.CipherSuite != tc.suite {
				t.Fatalf("outcome %s client negotiated %+v, want %s %s", r.Outcome, n, tc.version, tc.suite)
			}
			// The modern server refuses the old offer; the compat retry reaches it.
			if u := r.Upstream; u.Negotiated.Version != "TLS 1.2" || len(u.Attempts) != 1 || u.Attempts[0].Alert != "protocol_version" {
				t.Errorf("upstream negotiated %+v attempts %+v, want TLS 1.2 after a protocol_version refusal", u.Negotiated, u.Attempts)
			}
		})
	}
}

// TestShortRSAKeyUpstream: a server whose RSA key is under 1024 bits fails
// with an error naming legacy_crypto. Not parallel: it sets GODEBUG to make
// the key, and the proxy runs with the default.
func TestShortRSAKeyUpstream(t *testing.T) {
	pki := testpki.Root(t, "Upstream Test Root")
	t.Setenv("GODEBUG", "rsa1024min=0")
	short := pki.LeafWithKey(t, testpki.RSAKey(t, 512), "example.com")
	t.Setenv("GODEBUG", "")
	// RSA key exchange: the server never uses its key before the client
	// (tlslens) encrypts to it and refuses.
	up := startUpstream(t, &tls.Config{Certificates: []tls.Certificate{short},
		MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_RSA_WITH_AES_128_GCM_SHA256}})
	h := newHarness(t, func(o *Options) { o.UpstreamRoots = pki.Pool() })
	resp, body := get(t, h.httpClient(&tls.Config{CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_RSA_WITH_AES_128_GCM_SHA256}}),
		"https://example.com:"+up.port()+"/")
	if resp.StatusCode != http.StatusBadGateway || !strings.Contains(body, "legacy_crypto") {
		t.Errorf("got %s %q, want a 502 naming legacy_crypto", resp.Status, body)
	}
	r := h.record()
	if r.Outcome != inspect.OutcomeUpstreamHandshakeFailed || !strings.Contains(r.Upstream.Error, "512-bit RSA key") {
		t.Fatalf("outcome %s error %q, want the short key named", r.Outcome, r.Upstream.Error)
	}
}
