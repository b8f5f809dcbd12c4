package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tlslens/tlslens/inspect"
)

// TestWebViewThroughRun: the start-up line names the web view's URL; a
// connection made through the proxy is on it (list download and page);
// the web listener is not reachable through the proxy; with proxy_auth
// each request must sign in with a proxy_auth credential.
func TestWebViewThroughRun(t *testing.T) {
	e := newEnv(t)
	if err := os.WriteFile(filepath.Join(e.dir, "config.yaml"), []byte("proxy_auth: [{username: ann, password: s3cret}]\ncapture: {enabled: true}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	logs := e.startRun("--web-listen", "127.0.0.1:0", "--records", filepath.Join(e.dir, "r.jsonl"), "--flows", filepath.Join(e.dir, "flows.jsonl"))
	started := logs.wait(t, "tlslens listening")
	addr := started["addr"].(string)
	webURL, _ := started["web"].(string)
	if !strings.HasPrefix(webURL, "http://127.0.0.1:") {
		t.Fatalf("the start-up line's web = %q, want the web view's URL", webURL)
	}
	webGet := func(path string, auth bool) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", webURL+strings.TrimPrefix(path, "/"), nil)
		if auth {
			req.SetBasicAuth("ann", "s3cret")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if status, _ := webGet("/", false); status != http.StatusUnauthorized {
		t.Errorf("GET / without credentials = %d, want 401", status)
	}
	if status, body := webGet("/", true); status != http.StatusOK || !strings.Contains(body, "/static/app.js") {
		t.Errorf("GET / = %d, want the live list", status)
	}

	// An event stream open while the connection is made carries its row,
	// and does not hold up the shutdown at cleanup.
	req, _ := http.NewRequest("GET", webURL+"events", nil)
	req.SetBasicAuth("ann", "s3cret")
	stream, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Body.Close()
	rows := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stream.Body)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "data: ") {
				rows <- sc.Text()
				return
			}
		}
	}()

	c := e.client(addr)
	c.Transport.(*http.Transport).Proxy = http.ProxyURL(&url.URL{Scheme: "http", Host: addr, User: url.UserPassword("ann", "s3cret")})
	e.get(c, "/web", "hello /web")
	var rec inspect.Record
	deadline := time.Now().Add(10 * time.Second)
	for rec.ID == "" && time.Now().Before(deadline) { // the record is written at the request, added just after
		_, body := webGet("/records.jsonl", true)
		if line, _, _ := strings.Cut(body, "\n"); line != "" {
			json.Unmarshal([]byte(line), &rec)
		}
	}
	if rec.Outcome != inspect.OutcomeOK {
		t.Fatalf("the web view's records: %+v, want the connection made", rec)
	}
	select {
	case row := <-rows:
		if !strings.Contains(row, `"id":"`+rec.ID+`"`) {
			t.Errorf("the event stream's row %s, want record %s", row, rec.ID)
		}
	case <-time.After(10 * time.Second):
		t.Error("no row on the event stream")
	}
	if status, body := webGet("/c/"+rec.ID, true); status != http.StatusOK || !strings.Contains(body, "tlslens offered the server") {
		t.Errorf("GET /c/%s = %d, want its page", rec.ID, status)
	}
	// With captures on, the page offers the pcapng and the key log.
	if status, pcapng := webGet("/c/"+rec.ID+".pcapng", true); status != http.StatusOK || !strings.HasPrefix(pcapng, "\x0a\x0d\x0d\x0a") {
		t.Errorf("GET /c/%s.pcapng = %d, %d bytes; want a pcapng", rec.ID, status, len(pcapng))
	}
	if status, keys := webGet("/c/"+rec.ID+".keylog", true); status != http.StatusOK || !strings.Contains(keys, "CLIENT_TRAFFIC_SECRET_0 ") {
		t.Errorf("GET /c/%s.keylog = %d %q; want key log lines", rec.ID, status, keys)
	}
	if status, _ := webGet("/c/NOSUCHID.pcapng", true); status != http.StatusNotFound {
		t.Errorf("GET the pcapng of an unknown id = %d, want 404", status)
	}
	// With a flow file, the page lists the connection's requests.
	var page string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) && !strings.Contains(page, "/web</td>"); {
		_, page = webGet("/c/"+rec.ID, true)
	}
	if !strings.Contains(page, `href="/c/`+rec.ID+`.pcapng"`) {
		t.Errorf("the page of %s does not link its pcapng", rec.ID)
	}
	if !strings.Contains(page, "<code>GET</code>") || !strings.Contains(page, "/web</td>") {
		t.Errorf("the page of %s does not list its GET /web flow", rec.ID)
	}

	// Through the proxy, the web listener is a protected address.
	resp, err := c.Get(webURL + "records.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("GET the web view through the proxy = %d, want 403", resp.StatusCode)
	}
}

// TestWebExposure: a web view beyond loopback is refused at start-up
// unless access is restricted or allow_open is set; "" disables it.
func TestWebExposure(t *testing.T) {
	for _, tt := range []struct {
		name string
		cfg  func(*Config)
		ok   bool
	}{
		{"loopback", func(c *Config) {}, true},
		{"disabled", func(c *Config) { c.WebListen = "" }, true},
		{"every address", func(c *Config) { c.WebListen = "0.0.0.0:8081" }, false},
		{"lan with proxy_auth", func(c *Config) {
			c.WebListen = "192.168.1.2:8081"
			c.ProxyAuth = []ProxyUser{{"a", "b"}}
		}, true},
		{"lan with allow_cidrs", func(c *Config) { c.WebListen = ":8081"; c.AllowCIDRs = []string{"10.0.0.0/8"} }, true},
		{"lan with allow_open", func(c *Config) { c.WebListen = ":8081"; c.AllowOpen = true }, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := defaults()
			tt.cfg(&c)
			err := checkWebExposure(c)
			if (err == nil) != tt.ok || err != nil && !strings.Contains(err.Error(), "web_listen") {
				t.Errorf("checkWebExposure(%s) = %v, want ok %v", c.WebListen, err, tt.ok)
			}
		})
	}
	e := newEnv(t)
	err := run(t.Context(), append(e.args, "--web-listen", "0.0.0.0:0"), strings.NewReader(""), io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "web_listen") {
		t.Errorf("run with an open web view beyond loopback = %v, want a web_listen refusal", err)
	}
}

// TestWebBusyPort: a web_listen address that is busy is a warning, and
// tlslens runs without the web view, as without the admin listener.
func TestWebBusyPort(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	e := newEnv(t)
	logs := e.startRun("--web-listen", busy.Addr().String(), "--records", filepath.Join(e.dir, "r.jsonl"))
	w := logs.wait(t, "web view disabled: cannot listen (set web_listen to a free address, or \"\" to disable it)")
	if want := "web_listen " + busy.Addr().String() + ": address already in use: set web_listen (or --web-listen) to another port"; w["addr"] != busy.Addr().String() || w["error"] != want {
		t.Errorf("the warning: addr %v, error %v; want %s, %q", w["addr"], w["error"], busy.Addr(), want)
	}
	if started := logs.wait(t, "tlslens listening"); started["web"] != nil {
		t.Errorf("the start-up line names a web view (%v) that is not running", started["web"])
	}
}

// TestWebViewFlowsWithoutFile: with the web view on and no flow file, a
// connection's page still lists its requests (kept in memory), and no flow
// file appears.
func TestWebViewFlowsWithoutFile(t *testing.T) {
	e := newEnv(t)
	logs := e.startRun("--web-listen", "127.0.0.1:0", "--records", filepath.Join(e.dir, "r.jsonl"))
	started := logs.wait(t, "tlslens listening")
	webURL, _ := started["web"].(string)
	e.get(e.client(started["addr"].(string)), "/kept", "hello /kept")
	get := func(path string) string {
		t.Helper()
		resp, err := http.Get(webURL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	var rec inspect.Record
	var page string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) && !strings.Contains(page, "/kept</td>"); time.Sleep(20 * time.Millisecond) {
		if rec.ID == "" {
			line, _, _ := strings.Cut(get("records.jsonl"), "\n")
			json.Unmarshal([]byte(line), &rec)
			continue
		}
		page = get("c/" + rec.ID)
	}
	if !strings.Contains(page, "<code>GET</code>") || !strings.Contains(page, "/kept</td>") {
		t.Errorf("the page of %q does not list its GET /kept flow:\n%s", rec.ID, page)
	}
	if matches, _ := filepath.Glob(filepath.Join(e.dir, "*flow*")); len(matches) > 0 {
		t.Errorf("flow files %v written without --flows", matches)
	}
	// Captures are kept too, with no capture setting: the page's pcapng.
	if !strings.Contains(page, `href="/c/`+rec.ID+`.pcapng"`) {
		t.Errorf("the page of %s does not link its pcapng", rec.ID)
	}
	if pcapng := get("c/" + rec.ID + ".pcapng"); !strings.HasPrefix(pcapng, "\x0a\x0d\x0d\x0a") {
		t.Errorf("GET /c/%s.pcapng: %d bytes, want a pcapng", rec.ID, len(pcapng))
	}
}

// TestCaptureOn: captures are kept while the web view is on unless
// capture.enabled says otherwise, and always for a capture file.
func TestCaptureOn(t *testing.T) {
	yes, no := true, false
	for _, tt := range []struct {
		c       CaptureConfig
		webView bool
		want    bool
	}{
		{CaptureConfig{}, true, true},
		{CaptureConfig{}, false, false},
		{CaptureConfig{Enabled: &no}, true, false},
		{CaptureConfig{Enabled: &yes}, false, true},
		{CaptureConfig{Enabled: &no, File: "all.pcapng"}, false, true},
	} {
		if got := tt.c.on(tt.webView); got != tt.want {
			t.Errorf("%+v.on(web view %v) = %v, want %v", tt.c, tt.webView, got, tt.want)
		}
	}
}
