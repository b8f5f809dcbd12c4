package inspect

import (
	"crypto/tls"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// repeatSuffix ends the name of a repeated capture of one client: chromium-2.
var repeatSuffix = regexp.MustCompile(`-[0-9]+$`)

// knownClientFiles returns, for each client in testdata/clients/clients.txt,
// its capture's file and the name its identity must start with.
func knownClientFiles(t *testing.T) map[string]string {
	t.Helper()
	want := map[string]string{ // capture (less any -N) → name prefix
		"chromium": "Chromium ", "firefox": "Firefox ESR ", "curl": "curl ", "wget": "Wget ",
		"openssl": "OpenSSL s_client ", "gnutls": "GnuTLS gnutls-cli ", "nethttp": "Go net/http ",
		"python-urllib": "Python urllib ", "python-requests": "Python requests ",
		"node": "Node.js ", "java": "Java HttpClient ",
	}
	list, err := os.ReadFile(filepath.Join("testdata", "clients", "clients.txt"))
	if err != nil {
		t.Fatalf("%v: run inspect/testdata/clients/capture.sh", err)
	}
	files := map[string]string{}
	for line := range strings.Lines(string(list)) {
		name, _, _ := strings.Cut(line, "\t")
		prefix, ok := want[repeatSuffix.ReplaceAllString(name, "")]
		if !ok {
			t.Fatalf("clients.txt lists %s, which this test does not know", name)
		}
		files[filepath.Join("testdata", "clients", name+".bin")] = prefix
	}
	if len(files) < len(want) {
		t.Errorf("clients.txt lists %d captures, want at least one of each of %d clients", len(files), len(want))
	}
	return files
}

// TestKnownClientsGolden identifies every hello captured from a real client
// as that client, by an exact match, with a name of a known family.
func TestKnownClientsGolden(t *testing.T) {
	table := KnownClients()
	for file, prefix := range knownClientFiles(t) {
		t.Run(filepath.Base(file), func(t *testing.T) {
			_, h := readHelloFile(t, file)
			got := table.Identify(h.Hello())
			if got == nil {
				t.Fatalf("Identify(%s) = nil, want %s…", file, prefix)
			}
			if !strings.HasPrefix(got.Name, prefix) || strings.Contains(got.Name, " or ") || got.Match != MatchExact {
				t.Errorf("Identify(%s) = %+v, want %s… alone, exact", file, got, prefix)
			}
			if _, ok := identityFamilies(got); !ok {
				t.Errorf("identityFamilies(%q): no known family", got.Name)
			}
		})
	}
}

// TestKnownClientsChromiumStable: Chromium randomises its extension order
// and GREASE values, so capture.sh takes it more than once; JA4 and ja4_r
// sort what is random away, and every capture has the same of each.
func TestKnownClientsChromiumStable(t *testing.T) {
	var ja4s, raws []string
	for file := range knownClientFiles(t) {
		if !strings.HasPrefix(filepath.Base(file), "chromium") {
			continue
		}
		_, h := readHelloFile(t, file)
		ja4, raw := JA4(h)
		ja4s, raws = append(ja4s, ja4), append(raws, raw)
	}
	if len(ja4s) < 2 {
		t.Fatalf("%d Chromium captures, want at least 2", len(ja4s))
	}
	for i := range ja4s {
		if ja4s[i] != ja4s[0] || raws[i] != raws[0] {
			t.Errorf("Chromium capture %d: ja4 %s, ja4_r %s; capture 0: %s, %s", i, ja4s[i], raws[i], ja4s[0], raws[0])
		}
	}
}

func TestKnownClientsParse(t *testing.T) {
	if n := KnownClients().Len(); n < 2*11 {
		t.Errorf("KnownClients().Len() = %d, want a ja4 and a ja4_r for each of 11 clients at least", n)
	}
	if a, b := KnownClients(), KnownClients(); a != b {
		t.Errorf("KnownClients() returned %p, then %p: want one table", a, b)
	}
}

// TestClientTableExtend: a user's table adds fingerprints and replaces the
// shipped names of the fingerprints it has, leaving the shipped table as
// it was.
func TestClientTableExtend(t *testing.T) {
	_, curl := readHelloFile(t, filepath.Join("testdata", "clients", "curl.bin"))
	curlHello := curl.Hello()
	// A real crypto/tls hello no shipped client sends: TLS 1.2 only, one ALPN.
	own, err := ParseClientHello(capturedHello(t, &tls.Config{
		ServerName: "app.test", MaxVersion: tls.VersionTLS12, NextProtos: []string{"app/1"},
	}))
	if err != nil {
		t.Fatal(err)
	}
	ownHello := own.Hello()
	if id := KnownClients().Identify(ownHello); id != nil {
		t.Fatalf("the shipped table identifies a TLS 1.2-only crypto/tls hello as %+v", id)
	}

	user, err := ParseClientTable([]byte("# my clients\n\n" +
		"ja4 " + ownHello.JA4 + " MyApp 2.1\n" +
		"ja4_r\t" + curlHello.JA4R + "\tcurl 7.88 (our build)\n"))
	if err != nil {
		t.Fatal(err)
	}
	table := KnownClients().Extend(user)
	for _, tc := range []struct {
		name  string
		h     *Hello
		table *ClientTable
		want  *Identity
	}{
		{"added", ownHello, table, &Identity{Name: "MyApp 2.1", Match: MatchJA4}},
		{"overridden", curlHello, table, &Identity{Name: "curl 7.88 (our build)", Match: MatchExact}},
		{"shipped unchanged", curlHello, KnownClients(), &Identity{Name: "curl 7.88", Match: MatchExact}},
		{"nil table", curlHello, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.table.Identify(tc.h)
			if (got == nil) != (tc.want == nil) || got != nil && *got != *tc.want {
				t.Errorf("Identify(%s) = %+v, want %+v", tc.h.JA4, got, tc.want)
			}
		})
	}

	rows, err := NewClientTable([]KnownClient{{Name: "Two", JA4: ownHello.JA4}, {Name: "Names", JA4: ownHello.JA4}})
	if err != nil {
		t.Fatal(err)
	}
	if got := rows.Identify(ownHello); got == nil || got.Name != "Two or Names" {
		t.Errorf("Identify with two names for one ja4 = %+v, want \"Two or Names\"", got)
	}
}

func TestClientTableErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		text string
		want []string // in the error
	}{
		{"short line", "ja4 t13d1516h2_8daaf6152771_e5627efa2ab1\n", []string{"line 1", "KIND FINGERPRINT NAME"}},
		{"kind", "ja3 t13d1516h2_8daaf6152771_e5627efa2ab1 Chrome\n", []string{"line 1", `kind "ja3"`}},
		{"not a ja4", "# c\nja4 e7d705a3286e19ea42f587b344ee6865 Chrome\n", []string{"line 2", "not a JA4"}},
		{"not a ja4_r", "ja4_r t13d1516h2_zz Chrome\n", []string{"line 1", "not a raw JA4"}},
		{"every bad line", "x\nja4 t13d1516h2_8daaf6152771_e5627efa2ab1 ok\ny y y\n", []string{"line 1", "line 3"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseClientTable([]byte(tc.text))
			if err == nil {
				t.Fatalf("ParseClientTable(%q) = %v, want an error", tc.text, got)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("ParseClientTable(%q) error %q, want it to contain %q", tc.text, err, w)
				}
			}
		})
	}
	if _, err := NewClientTable([]KnownClient{{Name: "a"}, {JA4: "t13d1516h2_8daaf6152771_e5627efa2ab1"}}); err == nil ||
		!strings.Contains(err.Error(), "row 1: a: neither ja4 nor ja4_r") || !strings.Contains(err.Error(), "row 2: no name") {
		t.Errorf("NewClientTable with bad rows: error %v, want rows 1 and 2 named", err)
	}
}

// TestIdentityFindings: only a User-Agent of a known family that none of
// the identity's families (nor the library they are built on) can send is
// a finding.
func TestIdentityFindings(t *testing.T) {
	const (
		chromeUA  = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36"
		headless  = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.0.0 Safari/537.36"
		edgeUA    = chromeUA + " Edg/156.0.0.0"
		firefoxUA = "Mozilla/5.0 (X11; Linux x86_64; rv:153.0) Gecko/20100101 Firefox/153.0"
	)
	for _, tc := range []struct {
		identity string
		ua       string
		want     string // the finding's message; "" for none
	}{
		{"Python urllib 3.11", chromeUA, "the User-Agent says Chrome, the hello is Python urllib 3.11's (exact match): the client is not what it claims to be"},
		{"Python requests 2.28", firefoxUA, "the User-Agent says Firefox, the hello is Python requests 2.28's (exact match): the client is not what it claims to be"},
		{"Chromium 156", "curl/7.88.1", "the User-Agent says curl, the hello is Chromium 156's (exact match): the client is not what it claims to be"},
		{"Node.js 20", edgeUA, "the User-Agent says Chrome, the hello is Node.js 20's (exact match): the client is not what it claims to be"},
		{"Go net/http 1.26", "Python-urllib/3.11", "the User-Agent says Python's urllib, the hello is Go net/http 1.26's (exact match): the client is not what it claims to be"},
		{"OpenSSL s_client 3.0", chromeUA, "the User-Agent says Chrome, the hello is OpenSSL s_client 3.0's (exact match): the client is not what it claims to be"},
		{"Chromium 156", chromeUA, ""},
		{"Chromium 156", headless, ""},
		{"Chromium 156", edgeUA, ""},
		{"Firefox ESR 153", firefoxUA, ""},
		{"curl 7.88", "curl/7.88.1", ""},
		{"Wget 1.21", "Wget/1.21.3", ""},
		{"Python urllib 3.11", "python-requests/2.28.1", ""}, // one family: requests may send urllib's hello
		{"Python requests 2.28", "Python-urllib/3.11", ""},
		{"Go net/http 1.26", "Go-http-client/2.0", ""},
		{"Java HttpClient 17", "Java-http-client/17.0.15", ""},
		{"OpenSSL s_client 3.0", "curl/7.88.1", ""},                     // curl on OpenSSL may send the library's hello
		{"GnuTLS gnutls-cli 3.7", "Wget/1.21.3", ""},                    // wget on GnuTLS likewise
		{"curl 7.88 or Wget 1.21", "Wget/1.21.3", ""},                   // one fingerprint, two clients
		{"MyApp 2.1", chromeUA, ""},                                     // a user's name of no known family
		{"Node.js 20", "axios/1.7.2", ""},                               // a User-Agent of no known family
		{"Python urllib 3.11", "", ""},                                  // no User-Agent
		{"Chromium 156", "Mozilla/5.0 (Macintosh) Safari/605.1.15", ""}, // Safari: not a family the table knows
	} {
		t.Run(tc.identity+"/"+tc.ua, func(t *testing.T) {
			r := &Record{Mode: ModeMITM, Client: &Side{
				Identity:  &Identity{Name: tc.identity, Match: MatchExact},
				UserAgent: tc.ua,
			}}
			var got []Finding
			for _, f := range Findings(r, time.Time{}) {
				if f.Code == CodeClientIdentityMismatch {
					got = append(got, f)
				}
			}
			switch {
			case tc.want == "" && len(got) > 0:
				t.Errorf("Findings = %+v, want no %s", got, CodeClientIdentityMismatch)
			case tc.want != "" && (len(got) != 1 || got[0].Message != tc.want || got[0].Severity != SeverityWarn || got[0].Side != "client"):
				t.Errorf("Findings = %+v, want one warn client finding %q", got, tc.want)
			}
		})
	}
	r := &Record{Mode: ModePassthrough, Client: &Side{Identity: &Identity{Name: "Python urllib 3.11", Match: MatchJA4}, UserAgent: "Chrome/1"}}
	for _, f := range Findings(r, time.Time{}) {
		if f.Code == CodeClientIdentityMismatch {
			t.Errorf("Findings of a passthrough record: %+v, want no %s (mitm only)", f, CodeClientIdentityMismatch)
		}
	}
}
