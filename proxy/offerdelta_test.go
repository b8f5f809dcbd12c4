package proxy

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/tlslens/tlslens/inspect"
	"github.com/tlslens/tlslens/proxy/internal/gotls"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestOfferDeltaGolden: for the hellos captured from real Chromium, Firefox
// ESR and curl (inspect/testdata), the offer delta between each and the
// hello crypto/tls sends with upstreamConfig made from it equals
// testdata/offer_delta/<client>.golden.json. Run with -update after a
// deliberate change (or a Go upgrade, which changes what crypto/tls sends),
// and review the diff.
func TestOfferDeltaGolden(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"chromium", "firefox", "curl"} {
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("..", "inspect", "testdata", name+".bin"))
			if err != nil {
				t.Fatal(err)
			}
			client, err := inspect.ParseClientHello(b)
			if err != nil {
				t.Fatal(err)
			}
			sent := sentHello(t, upstreamConfig(client, "example.com", "example.com", false))
			delta := inspect.OfferDelta(client, sent, gotls.Stack(), false)
			checkOfferDelta(t, client, delta)
			got, err := json.MarshalIndent(delta, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			golden := filepath.Join("testdata", "offer_delta", name+".golden.json")
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./proxy -run OfferDeltaGolden -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("offer delta for %s differs from %s:\ngot:\n%s\nwant:\n%s", name, golden, got, want)
			}
		})
	}
}

// checkOfferDelta checks what is known of a delta without the golden file:
// every GREASE value the client sent is dropped as GREASE, an ECH or
// padding extension as such, and every suite Go lacks as not implemented.
func checkOfferDelta(t *testing.T, client *inspect.ClientHello, delta []inspect.OfferChange) {
	t.Helper()
	dropped := func(field, reason, value string) bool {
		return slices.ContainsFunc(delta, func(c inspect.OfferChange) bool {
			return c.Field == field && c.Change == inspect.ChangeDropped && c.Reason == reason && slices.Contains(c.Values, value)
		})
	}
	for _, id := range client.CipherSuites {
		switch {
		case inspect.IsGREASE(id):
			if !dropped("cipher_suites", inspect.DeltaGREASE, "GREASE") {
				t.Errorf("GREASE suite not dropped as grease: %+v", delta)
			}
		case !slices.Contains(gotls.AllSuites(), id):
			if !dropped("cipher_suites", inspect.DeltaNotImplemented, inspect.CipherSuiteName(id)) {
				t.Errorf("suite %s, which Go lacks, not dropped as not_implemented: %+v", inspect.CipherSuiteName(id), delta)
			}
		}
	}
	if client.ECH != nil && !dropped("extensions", inspect.DeltaECH, "encrypted_client_hello") {
		t.Errorf("ECH not dropped as ech: %+v", delta)
	}
	if client.Padding > 0 && !dropped("extensions", inspect.DeltaPadding, "padding") {
		t.Errorf("padding not dropped as padding: %+v", delta)
	}
}

// TestOfferDeltaRecord: a TLS 1.0 client's offer refused by a modern server
// reaches it by the compat retry; the record's upstream.offer_delta says the
// suites tlslens added are the compat retry's.
func TestOfferDeltaRecord(t *testing.T) {
	t.Parallel()
	up, roots := failuresUpstream(t)
	h := newHarness(t, func(o *Options) { o.UpstreamRoots = roots })
	c := tls.Client(h.connect("example.com:"+up.port()), &tls.Config{ServerName: "example.com", RootCAs: h.roots(),
		MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS10, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA}})
	if err := c.Handshake(); err != nil {
		t.Fatal(err)
	}
	if resp := newReaderClient(t, c).do("GET", "/delta", "example.com"); resp.status != 200 {
		t.Fatalf("GET: %d %q", resp.status, resp.body)
	}
	r := h.record()
	if r.Outcome != inspect.OutcomeOK || len(r.Upstream.Attempts) != 1 {
		t.Fatalf("outcome %s attempts %+v, want ok after a compat retry", r.Outcome, r.Upstream.Attempts)
	}
	added := slices.IndexFunc(r.Upstream.OfferDelta, func(c inspect.OfferChange) bool {
		return c.Field == "cipher_suites" && c.Change == inspect.ChangeAdded && c.Reason == inspect.DeltaCompatRetry
	})
	if added < 0 || !slices.Contains(r.Upstream.OfferDelta[added].Values, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256") {
		t.Fatalf("offer_delta %+v, want the compat retry's added suites", r.Upstream.OfferDelta)
	}
	up2, _ := h.recordJSON()["upstream"].(map[string]any)
	if d, _ := up2["offer_delta"].([]any); len(d) != len(r.Upstream.OfferDelta) {
		t.Errorf("JSON upstream.offer_delta %v, record %d changes", up2["offer_delta"], len(r.Upstream.OfferDelta))
	}
}
