//go:build unix

package proxy

import (
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os/exec"
	"strings"
	"testing"

	"github.com/tlslens/tlslens/ca/testpki"
	"github.com/tlslens/tlslens/inspect"
)

// chromeUA is a desktop Chrome's User-Agent, as a scraper copies it.
const chromeUA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36"

// pythonGet is a Python program getting argv[3] through the proxy argv[2],
// trusting only the CA file argv[1], with User-Agent argv[4] (none: the
// library's own), and printing the body. LIB is urllib or requests; both
// make their TLS context as they do by default, so their hello is the one
// inspect/testdata/clients/capture.sh captured.
const pythonGet = `
import os, sys
os.environ["SSL_CERT_FILE"] = os.environ["REQUESTS_CA_BUNDLE"] = sys.argv[1]
os.environ["https_proxy"] = sys.argv[2]
headers = {"User-Agent": sys.argv[4]} if len(sys.argv) > 4 else {}
if "LIB" == "requests":
    import requests
    print(requests.get(sys.argv[3], headers=headers, timeout=60).text, end="")
else:
    import urllib.request
    req = urllib.request.Request(sys.argv[3], headers=headers)
    print(urllib.request.urlopen(req, timeout=60).read().decode(), end="")
`

// testIdentity: a Python client (urllib, and requests when Debian's
// python3-requests is installed) is identified as itself from its hello,
// and flagged client_identity_mismatch when it sends a Chrome User-Agent
// (the record is written at its first request, whose User-Agent it
// compares); with its own User-Agent it is not flagged.
func (e *clientsEnv) testIdentity(t *testing.T) {
	python := lookPath(t, "/usr/bin/python3", "python3") // Debian's: python3-requests installs into it
	for _, tc := range []struct {
		lib, ua, name string
		mismatch      string // the finding's start; "" for none
	}{
		{"urllib", chromeUA, "Python urllib ", "the User-Agent says Chrome, the hello is Python urllib "},
		{"urllib", "", "Python urllib ", ""},
		{"requests", chromeUA, "Python requests ", "the User-Agent says Chrome, the hello is Python requests "},
		{"requests", "", "Python requests ", ""},
	} {
		t.Run(tc.lib+"/ua="+strings.Fields(tc.ua + " own")[0], func(t *testing.T) {
			if tc.lib == "requests" && exec.Command(python, "-c", "import requests").Run() != nil {
				t.Skip("python3-requests not installed (Debian package python3-requests)")
			}
			path := "/" + tc.lib
			args := []string{"-c", strings.ReplaceAll(pythonGet, "LIB", tc.lib), e.caFile, "http://" + e.h.addr, "https://" + e.target + path}
			if tc.ua != "" {
				args = append(args, tc.ua)
			}
			out, exit := e.run(t, python, "", args...)
			if want := e.marker + " " + path + " over HTTP/1.1\n"; exit != 0 || out != want {
				t.Fatalf("python %s: exit %d, printed %q; want 0 and %q", tc.lib, exit, out, want)
			}
			// Python's hello has no GREASE: a late connection of Chromium's
			// (the subtest before) to the same target is not this one.
			r := e.waitRecord(t, func(r *inspect.Record) bool { return r.Client.Hello != nil && !r.Client.Hello.Grease })
			e.checkOK(t, r, "TLS 1.3", "http/1.1")
			checkIdentity(t, r, tc.name, tc.mismatch)
		})
	}
}

// checkIdentity checks the record's client.identity starts with name, and
// that its one client_identity_mismatch finding starts with mismatch, or
// that it has none when mismatch is "".
func checkIdentity(t *testing.T, r *inspect.Record, name, mismatch string) {
	t.Helper()
	if id := r.Client.Identity; id == nil || !strings.HasPrefix(id.Name, name) || id.Match != inspect.MatchExact {
		t.Errorf("client.identity %+v, want %s… (exact)\nrecord: %s", id, name, recordJSON(r))
	}
	got := findingsWith(r.Findings, inspect.CodeClientIdentityMismatch)
	switch {
	case mismatch == "" && len(got) > 0:
		t.Errorf("findings %+v, want no %s", got, inspect.CodeClientIdentityMismatch)
	case mismatch != "" && (len(got) != 1 || !strings.HasPrefix(got[0].Message, mismatch) || got[0].Severity != inspect.SeverityWarn):
		t.Errorf("findings %+v, want one warn %s starting %q\nrecord: %s", r.Findings, inspect.CodeClientIdentityMismatch, mismatch, recordJSON(r))
	}
}

// TestIdentityMismatchH2: Go's net/http over HTTP/2 through tlslens is
// identified from its hello; the User-Agent of its first request, read from
// the HTTP/2 HEADERS, is compared with it: a Chrome User-Agent is flagged,
// Go's own is not.
func TestIdentityMismatchH2(t *testing.T) {
	pki := testpki.Root(t, "Upstream Test Root")
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, r.Proto) }))
	up.EnableHTTP2 = true
	up.TLS = &tls.Config{Certificates: []tls.Certificate{pki.Leaf(t, "example.com")}}
	up.StartTLS()
	t.Cleanup(up.Close)
	h := newHarness(t, func(o *Options) { o.UpstreamRoots = pki.Pool() })
	u, _ := url.Parse("http://" + h.addr)
	for _, tc := range []struct{ ua, mismatch string }{
		{chromeUA, "the User-Agent says Chrome, the hello is Go net/http "},
		{"", ""}, // net/http's own: Go-http-client/2.0
	} {
		// net/http's transport as it is by default, but for the proxy and
		// the roots: the hello capture.sh took.
		tr := &http.Transport{Proxy: http.ProxyURL(u), TLSClientConfig: &tls.Config{RootCAs: h.roots()}, ForceAttemptHTTP2: true}
		req, _ := http.NewRequest("GET", "https://example.com:"+listenerPort(up.Listener)+"/", nil)
		if tc.ua != "" {
			req.Header.Set("User-Agent", tc.ua)
		}
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		tr.CloseIdleConnections()
		if resp.ProtoMajor != 2 || string(body) != "HTTP/2.0" {
			t.Fatalf("got %s with body %q, want HTTP/2 both ways", resp.Proto, body)
		}
		checkIdentity(t, h.record(), "Go net/http ", tc.mismatch)
	}
}
