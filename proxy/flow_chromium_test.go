//go:build unix

package proxy

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tlslens/tlslens/ca/testpki"
	"github.com/tlslens/tlslens/inspect"
	"github.com/tlslens/tlslens/inspect/report"
	"github.com/tlslens/tlslens/inspect/report/hartest"
)

// seenRequest is a request as the upstream saw and answered it.
type seenRequest struct {
	method, url, proto string
	status             int
}

// TestFlowsChromiumH2 loads a page with subresources (a stylesheet, a
// script, a PNG, a fetch() of JSON and one of a missing file) in headless
// Chromium through tlslens, over h2. Every request the upstream answered is
// exactly one flow, with its URL, method, status and "HTTP/2.0", carrying
// the id of an ok record of the page's host; Chromium's favicon request is
// one of them when Chromium makes it, and is then a 404 flow like any other.
// The HAR of the flows passes the HAR 1.2 check and Chromium's own DevTools
// HAR importer (the one behind the Network panel's "Import HAR file") reads
// back one request per entry with the same URL, method, status and protocol.
func TestFlowsChromiumH2(t *testing.T) {
	chromium := lookPath(t, "chromium", "chromium")
	certutil := lookPath(t, "certutil", "libnss3-tools")

	// The upstream, h2 on 127.0.0.1, reports each request it answered.
	seen := make(chan seenRequest, 100)
	var port string
	pngBytes := onePixelPNG(t)
	pki := testpki.Root(t, "Flows Chromium Upstream Root")
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		status := http.StatusOK
		switch r.URL.Path {
		case "/page":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprintf(w, `<!DOCTYPE html><html><head><title>flows</title>
<link rel="stylesheet" href="/style.css"><script src="/app.js" defer></script></head>
<body><p id="marker">loaded over %s</p><img id="img" src="/pixel.png"></body></html>
`, r.Proto)
		case "/style.css":
			w.Header().Set("Content-Type", "text/css")
			fmt.Fprintln(w, "p { color: green }")
		case "/app.js":
			w.Header().Set("Content-Type", "text/javascript")
			fmt.Fprintln(w, `Promise.all([fetch("/data.json").then(r => r.json()), fetch("/missing.json").then(r => r.status)])
  .then(([d, s]) => { document.getElementById("marker").dataset.done = d.answer + "/" + s; });`)
		case "/pixel.png":
			w.Header().Set("Content-Type", "image/png")
			w.Write(pngBytes)
		case "/data.json":
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintln(w, `{"answer": 42}`)
		default: // /missing.json, and /favicon.ico if Chromium asks for it
			status = http.StatusNotFound
			http.NotFound(w, r)
		}
		seen <- seenRequest{r.Method, "https://localhost:" + port + r.URL.RequestURI(), r.Proto, status}
	}))
	srv.EnableHTTP2 = true
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{pki.Leaf(t, "localhost", "127.0.0.1")}, NextProtos: []string{"h2"}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	_, port, _ = net.SplitHostPort(srv.Listener.Addr().String())
	target := "localhost:" + port

	// Only loopback is intercepted: Chromium's background CONNECTs go nowhere.
	policy, err := Rules([]Rule{
		{Match: "127.0.0.0/8", Action: ActionMITM},
		{Match: "localhost", Action: ActionMITM},
		{Match: "*", Action: ActionDeny},
	})
	if err != nil {
		t.Fatal(err)
	}
	flows := make(chan *inspect.Flow, 100)
	e := &clientsEnv{dir: t.TempDir()}
	e.h = newHarness(t, func(o *Options) {
		o.UpstreamRoots = pki.Pool()
		o.Policy = policy
		o.Dial = clientsDial
		o.HandshakeTimeout = 30 * time.Second
		o.OnFlow = func(f *inspect.Flow) { flows <- f }
	})

	// Chromium trusts the tlslens CA from the NSS database under its HOME.
	e.caFile = writeFile(t, e.dir, "tlslens-ca.pem", e.h.auth.PEM())
	home := e.chromiumHome(t, certutil)
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium), chromedp.NoSandbox,
		chromedp.UserDataDir(filepath.Join(e.dir, "chromium-profile")), chromedp.Env("HOME="+home),
		chromedp.ProxyServer("http://"+e.h.addr), chromedp.Flag("proxy-bypass-list", "<-loopback>"),
		chromedp.Flag("disable-quic", true))
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelB := chromedp.NewContext(actx)
	ctx, cancelC := context.WithTimeout(ctx, clientTimeout)
	t.Cleanup(func() { cancelC(); cancelB(); cancelA() })

	pageURL := "https://" + target + "/page"
	if _, err := chromedp.Run(ctx, chromedp.Navigate(pageURL)); err != nil {
		t.Fatalf("navigate to %s: %v", pageURL, err)
	}
	done := `document.readyState === "complete" && document.getElementById("marker").dataset.done === "42/404" &&
		document.getElementById("img").naturalWidth === 1 && getComputedStyle(document.getElementById("marker")).color === "rgb(0, 128, 0)"`
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](done, chromedp.WithPollingTimeout(30*time.Second))); err != nil {
		dom, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.documentElement.outerHTML`))
		t.Fatalf("the page did not load with its stylesheet, script, image and fetches: %v\n%s", err, dom)
	}
	if marker, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("marker").textContent`)); marker != "loaded over HTTP/2.0" {
		t.Fatalf("page says %q, want it loaded over HTTP/2.0", marker)
	}

	// Collect until every request the upstream answered has its flow and
	// every page resource was answered. A request Chromium makes after the
	// page (its favicon) is taken in if it comes within the wait.
	want := []string{"/page", "/style.css", "/app.js", "/pixel.png", "/data.json", "/missing.json"}
	records := map[string]*inspect.Record{}
	var answered []seenRequest
	var got []*inspect.Flow
	complete := func() bool {
		for _, p := range want {
			if !slices.ContainsFunc(answered, func(s seenRequest) bool { return s.url == "https://"+target+p }) {
				return false
			}
		}
		n := 0
		for _, f := range got {
			if strings.HasPrefix(f.URL, "https://"+target+"/") {
				n++
			}
		}
		return n >= len(answered)
	}
	settle := time.After(clientTimeout)
	for quiet := false; !quiet; {
		var idle <-chan time.Time
		if complete() {
			idle = time.After(time.Second) // a favicon request follows the load event closely
		}
		select {
		case s := <-seen:
			answered = append(answered, s)
		case f := <-flows:
			got = append(got, f)
		case r := <-e.h.records:
			records[r.ID] = r
		case <-idle:
			quiet = true
		case <-settle:
			t.Fatalf("after %s: the upstream answered %v, flows %d", clientTimeout, answered, len(got))
		}
	}
	for drained := false; !drained; { // records written while the flows came in
		select {
		case r := <-e.h.records:
			records[r.ID] = r
		default:
			drained = true
		}
	}

	favicon := false
	for _, s := range answered {
		var match []*inspect.Flow
		for _, f := range got {
			if f.URL == s.url && f.Method == s.method {
				match = append(match, f)
			}
		}
		if len(match) != 1 {
			t.Errorf("%s %s: %d flows, want 1", s.method, s.url, len(match))
			continue
		}
		f := match[0]
		if f.Status != s.status || f.Proto != "HTTP/2.0" || s.proto != "HTTP/2.0" || f.Error != "" {
			t.Errorf("flow %s %s: status %d, %s (upstream %s), error %q; want %d over HTTP/2.0",
				f.Method, f.URL, f.Status, f.Proto, s.proto, f.Error, s.status)
		}
		if r := records[f.ID]; r == nil || r.Target != target || r.Outcome != inspect.OutcomeOK {
			t.Errorf("flow %s: record id %q is no ok record of %s (%v)", f.URL, f.ID, target, r)
		}
		if strings.HasSuffix(s.url, "/favicon.ico") {
			favicon = true
		}
	}
	// Chromium's own background requests (plain http:// to Google's
	// update and time services, even with background networking off) are
	// flows too: refused by the policy, on denied records.
	var page []*inspect.Flow
	for _, f := range got {
		if strings.HasPrefix(f.URL, "https://"+target+"/") {
			page = append(page, f)
			continue
		}
		r := records[f.ID]
		if f.Status != http.StatusForbidden || r == nil || r.Outcome != inspect.OutcomeDenied {
			t.Errorf("flow %s %s for another host: status %d, record %v; want 403 on a denied record", f.Method, f.URL, f.Status, r)
		}
	}
	if len(page) != len(answered) {
		for _, f := range page {
			t.Logf("flow %s %s %d", f.Method, f.URL, f.Status)
		}
		t.Errorf("%d flows to %s for %d requests answered upstream", len(page), target, len(answered))
	}
	t.Logf("%d flows of the page (favicon requested: %v), %d of Chromium's background requests, %d records",
		len(page), favicon, len(got)-len(page), len(records))

	// The HAR of the page: HAR 1.2, and read back by Chromium's DevTools.
	var recs []*inspect.Record
	for _, r := range records {
		recs = append(recs, r)
	}
	har, err := report.HAR(recs, page, "test")
	if err != nil {
		t.Fatal(err)
	}
	if err := hartest.Check(har); err != nil {
		t.Fatalf("the HAR of Chromium's page fails the HAR 1.2 check: %v\n%s", err, har)
	}
	checkDevToolsImport(t, ctx, har)
}

// checkDevToolsImport opens Chromium's bundled DevTools front end in a new
// tab of ctx's browser and runs har through its HAR importer (models/har:
// HARRoot, then Importer.requestsFromHARLog, what the Network panel's
// "Import HAR file" calls). It checks that DevTools reads one request per
// entry with the entry's URL, method, status and protocol.
func checkDevToolsImport(t *testing.T, ctx context.Context, har []byte) {
	t.Helper()
	var h struct {
		Log struct {
			Entries []struct {
				Request  struct{ Method, URL, HTTPVersion string }
				Response struct{ Status int }
			}
		}
	}
	if err := json.Unmarshal(har, &h); err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, en := range h.Log.Entries {
		proto := map[string]string{"HTTP/2.0": "h2", "HTTP/1.1": "http/1.1"}[en.Request.HTTPVersion]
		want = append(want, fmt.Sprintf("%s %s %d %s", en.Request.Method, en.Request.URL, en.Response.Status, proto))
	}
	tab, cancel := chromedp.NewContext(ctx)
	defer cancel()
	if _, err := chromedp.Run(tab, chromedp.Navigate("devtools://devtools/bundled/devtools_app.html")); err != nil {
		t.Fatalf("opening Chromium's DevTools front end: %v", err)
	}
	script := `(async () => {
  const HAR = await import("./models/har/har.js");
  const root = new HAR.HARFormat.HARRoot(` + string(har) + `);
  return HAR.Importer.Importer.requestsFromHARLog(root.log).map(r => r.requestMethod + " " + r.url() + " " + r.statusCode + " " + r.protocol);
})()`
	got, err := chromedp.Run(tab, chromedp.Evaluate[[]string](script, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("Chromium's DevTools HAR importer: %v", err)
	}
	t.Logf("DevTools imported %d requests from the HAR", len(got))
	if len(got) == 0 || !slices.Equal(got, want) {
		t.Errorf("DevTools imported\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// onePixelPNG is a 1×1 green PNG.
func onePixelPNG(t *testing.T) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 1, 1))
	img.Set(0, 0, color.RGBA{G: 128, A: 255})
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
