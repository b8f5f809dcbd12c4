package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tlslens/tlslens/inspect"
)

// TestFingerprintsFile runs tlslens twice with a net/http client: first
// without a fingerprints file (its hello to an IP address, without SNI, is
// not in the shipped table: no client.identity), then with a YAML file
// naming the ja4_r the first record holds: client.identity is the file's
// name, an exact match.
func TestFingerprintsFile(t *testing.T) {
	e := newEnv(t)
	first := e.fetchOnce(t)
	client, _ := first["client"].(map[string]any)
	hello, _ := client["hello"].(map[string]any)
	ja4r, _ := hello["ja4_r"].(string)
	if client["identity"] != nil || ja4r == "" {
		t.Fatalf("without a fingerprints file: client.identity %v, ja4_r %q; want none and a ja4_r", client["identity"], ja4r)
	}
	fp := filepath.Join(e.dir, "clients.yaml")
	if err := os.WriteFile(fp, []byte("# our services\n- name: Our Go service 3\n  ja4_r: "+ja4r+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	client, _ = e.fetchOnce(t, "--fingerprints", fp)["client"].(map[string]any)
	id, _ := client["identity"].(map[string]any)
	if id["name"] != "Our Go service 3" || id["match"] != "exact" {
		t.Errorf("client.identity = %v, want Our Go service 3, exact", client["identity"])
	}
}

// fetchOnce runs tlslens with args, gets one page through it with net/http
// (h2 attempted, as its default transport does) and returns the one record.
func (e *env) fetchOnce(t *testing.T, args ...string) map[string]any {
	t.Helper()
	records := filepath.Join(t.TempDir(), "records.jsonl")
	logs, stop := e.launch(append([]string{"--admin-listen=", "--records", records}, args...)...)
	addr := logs.wait(t, "tlslens listening")["addr"].(string)
	pool := x509.NewCertPool()
	pool.AddCert(e.auth.Certificate())
	tr := &http.Transport{Proxy: http.ProxyURL(&url.URL{Scheme: "http", Host: addr}),
		TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}
	e.get(&http.Client{Transport: tr, Timeout: 60 * time.Second}, "/go", "hello /go")
	tr.CloseIdleConnections()
	stop()
	if t.Failed() {
		t.FailNow()
	}
	recs := readRecords(t, records)
	if len(recs) != 1 {
		t.Fatalf("%d records, want 1", len(recs))
	}
	return recs[0]
}

// TestFingerprintsFileErrors: a fingerprints file that cannot be read or
// parsed stops tlslens at start-up with an error naming the key, the file
// and what is wrong.
func TestFingerprintsFileErrors(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		name, file, text string
		want             []string
	}{
		{"missing", "none.txt", "", []string{"fingerprints: ", "none.txt", "no such file"}},
		{"yaml unknown key", "c.yaml", "- name: A\n  ja4: t13d1516h2_8daaf6152771_e5627efa2ab1\n  ja3: x\n", []string{"fingerprints: ", "c.yaml", "ja3"}},
		{"yaml bad ja4", "c.yml", "- name: A\n  ja4: abc\n", []string{"fingerprints: ", "c.yml", "row 1", "not a JA4"}},
		{"yaml no fingerprint", "c.yaml", "- name: A\n", []string{"row 1", "neither ja4 nor ja4_r"}},
		{"table bad line", "c.txt", "# mine\nja4 t13d1516h2_8daaf6152771_e5627efa2ab1\n", []string{"fingerprints: ", "c.txt", "line 2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			file := filepath.Join(dir, tc.file)
			if tc.text != "" {
				if err := os.WriteFile(file, []byte(tc.text), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			err := run(context.Background(), append(e.args, "--admin-listen=", "--fingerprints", file,
				"--records", filepath.Join(dir, "r.jsonl")), strings.NewReader(""), io.Discard, io.Discard)
			for _, w := range tc.want {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("run with fingerprints %s = %v, want an error containing %q", tc.file, err, w)
				}
			}
		})
	}
}

// TestKnownClientsText: a fingerprints file in the shipped table's own
// format overrides the shipped table's name for a fingerprint (here
// crypto/tls's hello, captured by inspect/testdata/capture.sh, which the
// shipped table names Go net/http); none leaves it as shipped.
func TestKnownClientsText(t *testing.T) {
	shipped, err := knownClients("")
	if err != nil || shipped != inspect.KnownClients() {
		t.Fatalf("knownClients(\"\") = %p, %v; want the shipped table", shipped, err)
	}
	capture, err := os.ReadFile("../../inspect/testdata/go.bin")
	if err != nil {
		t.Fatal(err)
	}
	h, err := inspect.ParseClientHello(capture)
	if err != nil {
		t.Fatal(err)
	}
	hello := h.Hello()
	if id := shipped.Identify(hello); id == nil || !strings.HasPrefix(id.Name, "Go net/http ") {
		t.Fatalf("the shipped table names crypto/tls's hello %+v, want Go net/http", id)
	}
	file := filepath.Join(t.TempDir(), "mine")
	if err := os.WriteFile(file, []byte("ja4_r "+hello.JA4R+" Our TLS stack 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := knownClients(file)
	if err != nil {
		t.Fatal(err)
	}
	if got.Len() != shipped.Len() {
		t.Errorf("knownClients(%s).Len() = %d, want the shipped %d: one replaced", file, got.Len(), shipped.Len())
	}
	if id := got.Identify(hello); id == nil || id.Name != "Our TLS stack 1" || id.Match != inspect.MatchExact {
		t.Errorf("Identify = %+v, want Our TLS stack 1, exact", id)
	}
}
