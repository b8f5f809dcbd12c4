package web

import (
	"context"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tlslens/tlslens/inspect"
)

// screenshots, when set, is the directory the browser tests write the
// README's screenshots to: TLSLENS_SCREENSHOTS=../../docs go test -run TestBrowser.
var screenshots = os.Getenv("TLSLENS_SCREENSHOTS")

// browser starts headless Chromium (Debian's chromium, installed by
// .ci/run) driven by chromedp, or skips the test without it.
func browser(t *testing.T) context.Context {
	t.Helper()
	bin := ""
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			bin = p
			break
		}
	}
	if bin == "" {
		t.Skip("no chromium on PATH: apt-get install chromium to run the web view's browser tests")
	}
	dir := t.TempDir()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(bin), chromedp.NoSandbox,
		chromedp.UserDataDir(filepath.Join(dir, "profile")), chromedp.WindowSize(1500, 900),
		chromedp.Env("HOME="+dir)) // Chromium writes its config under HOME
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelB := chromedp.NewContext(actx)
	ctx, cancelC := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() { cancelC(); cancelB(); cancelA() })
	return ctx
}

// run runs one chromedp action, failing the test on error.
func run[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

func shot(t *testing.T, ctx context.Context, name string, full bool) {
	t.Helper()
	if screenshots == "" {
		return
	}
	a := chromedp.CaptureScreenshot()
	if full {
		a = chromedp.FullScreenshot(100)
	}
	png := run(t, ctx, "screenshot", a)
	if err := os.WriteFile(filepath.Join(screenshots, name), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestBrowserLiveList: in real Chromium, a connection made after the page
// loaded appears in the list within a second, without reload; the filter
// narrows the list; the page of a downgraded connection (TLS 1.3 and h2
// offered by the client, TLS 1.2 and http/1.1 upstream) highlights and
// explains the differences.
func TestBrowserLiveList(t *testing.T) {
	ring := NewRing(0, nil)
	modern, old, untrusted := modernUpstream(t), tls12Upstream(t), untrustedUpstream(t)
	lp := newLiveProxy(t, ring, modern, old)
	srv := httptest.NewServer(New(Options{Ring: ring, Flows: lp.p.Flows}))
	t.Cleanup(srv.Close) // after the browser's cleanup has closed its streams
	ctx := browser(t)

	run(t, ctx, "open the list", chromedp.Navigate(srv.URL+"/"))
	run(t, ctx, "stream connected", chromedp.Poll[bool](`document.getElementById('status').textContent === 'live'`, chromedp.WithPollingTimeout(10*time.Second)))

	var downgradedID string
	for i, c := range []struct {
		url     string
		outcome inspect.Outcome
	}{{modern.URL + "/", inspect.OutcomeOK}, {old.URL + "/", inspect.OutcomeOK}, {untrusted.URL + "/", inspect.OutcomeUpstreamVerifyFailed}} {
		lp.get(c.url)
		r := lp.record()
		written := time.Now()
		if r.Outcome != c.outcome {
			t.Fatalf("connection to %s: outcome %s, want %s", c.url, r.Outcome, c.outcome)
		}
		if c.url == old.URL+"/" {
			downgradedID = r.ID
		}
		run(t, ctx, "the new row", chromedp.Poll[bool](
			`document.querySelector('#rows .row[data-id="`+r.ID+`"]') !== null`,
			chromedp.WithPollingTimeout(5*time.Second), chromedp.WithPollingInterval(10*time.Millisecond)))
		took := time.Since(written)
		t.Logf("connection %d: on the page %v after its record was written", i+1, took)
		if took > time.Second {
			t.Errorf("connection %d appeared %v after its record, want within a second", i+1, took)
		}
	}
	if n := run(t, ctx, "rows", chromedp.Evaluate[int](`document.querySelectorAll('#rows .row').length`)); n != 3 {
		t.Errorf("%d rows, want 3", n)
	}
	if screenshots != "" {
		run(t, ctx, "a short window", chromedp.EmulateViewport(1500, 300))
		shot(t, ctx, "web-list.png", false)
		run(t, ctx, "the window back", chromedp.EmulateViewport(1500, 900))
	}

	// The filter: the TLS 1.2 server's port, then an outcome.
	port := old.URL[strings.LastIndex(old.URL, ":")+1:]
	run(t, ctx, "type a filter", chromedp.SendKeys("#filter", ":"+port))
	run(t, ctx, "the filtered list", chromedp.Poll[bool](`tlslens.shown() === 1 && document.querySelectorAll('#rows .row').length === 1 && document.querySelector('#rows .row').dataset.id === '`+downgradedID+`'`,
		chromedp.WithPollingTimeout(5*time.Second)))
	run(t, ctx, "clear the filter", chromedp.Evaluate[bool](`(() => { const f = document.getElementById('filter'); f.value = ''; return true; })()`))
	run(t, ctx, "type an outcome", chromedp.SendKeys("#filter", "outcome:upstream"))
	run(t, ctx, "the outcome filter", chromedp.Poll[bool](`tlslens.shown() === 1 && document.querySelector('#rows .row .out').textContent === 'upstream_verify_failed'`,
		chromedp.WithPollingTimeout(5*time.Second)))
	if href := run(t, ctx, "download link", chromedp.Evaluate[string](`document.getElementById('download').getAttribute('href')`)); href != "/records.jsonl?q=outcome%3Aupstream" {
		t.Errorf("the download link is %q, want the filtered list", href)
	}

	// The connection page of the downgraded connection.
	run(t, ctx, "open the connection page", chromedp.Navigate(srv.URL+"/c/"+downgradedID))
	type rowView struct {
		Class, Text, Background string
	}
	for _, c := range []struct{ dim, note string }{
		{"versions", "TLS 1.3 to the client, TLS 1.2 upstream"},
		{"ALPN", "h2 became http/1.1"},
	} {
		got := run(t, ctx, "the "+c.dim+" row", chromedp.Evaluate[rowView](`(() => {
			const tr = document.querySelector('tr[data-dimension="`+c.dim+`"]');
			return {Class: tr.className, Text: tr.innerText, Background: getComputedStyle(tr.querySelector('td')).backgroundColor};
		})()`))
		if got.Class != "differs" || !strings.Contains(got.Text, c.note) || got.Background == "rgba(0, 0, 0, 0)" || got.Background == "rgb(255, 255, 255)" {
			t.Errorf("%s row: %+v, want highlighted with %q", c.dim, got, c.note)
		}
	}
	if same := run(t, ctx, "an equal row", chromedp.Evaluate[string](`document.querySelector('tr[data-dimension="GREASE"]').className`)); same != "" {
		t.Errorf("the GREASE row (no difference) has class %q", same)
	}
	shot(t, ctx, "web-connection.png", true)
}

// TestBrowserTenThousand: with the ring full (10 000 records, replayed over
// the event stream), the list renders, scrolls and filters within a
// measured time.
func TestBrowserTenThousand(t *testing.T) {
	ring := NewRing(DefaultKeep, nil)
	base := downgraded(t, ring)
	outcomes := []inspect.Outcome{inspect.OutcomeOK, inspect.OutcomeOK, inspect.OutcomeOK, inspect.OutcomeUpstreamVerifyFailed, inspect.OutcomeClientRejectedCertificate}
	for i := range DefaultKeep + 500 { // more than it keeps: the oldest go
		ring.Add(synthetic(base, i, outcomes[i%len(outcomes)]))
	}
	srv := httptest.NewServer(New(Options{Ring: ring}))
	t.Cleanup(srv.Close) // after the browser's cleanup has closed its streams
	ctx := browser(t)
	run(t, ctx, "start the browser", chromedp.Navigate("about:blank"))

	start := time.Now()
	run(t, ctx, "open the list", chromedp.Navigate(srv.URL+"/"))
	run(t, ctx, "every row received", chromedp.Poll[bool](`tlslens.rows() === 10000 && document.querySelectorAll('#rows .row').length > 0`,
		chromedp.WithPollingTimeout(60*time.Second), chromedp.WithPollingInterval(10*time.Millisecond)))
	loaded := time.Since(start)
	renderMs := run(t, ctx, "render time", chromedp.Evaluate[float64](`tlslens.renderMs`))
	inDOM := run(t, ctx, "rows in the DOM", chromedp.Evaluate[int](`document.querySelectorAll('#rows .row').length`))
	t.Logf("10000 rows: loaded and drawn in %v; one render %.1f ms; %d rows in the DOM", loaded, renderMs, inDOM)
	if inDOM > 100 {
		t.Errorf("%d rows in the DOM, want only those in view", inDOM)
	}
	if loaded > 20*time.Second {
		t.Errorf("10000 rows took %v to load, want under 20s", loaded)
	}

	// Scroll to the end: the oldest kept row is drawn.
	bottom := run(t, ctx, "scroll", chromedp.Evaluate[string](`(async () => {
		const v = document.getElementById('viewport'); v.scrollTop = v.scrollHeight;
		await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
		const rows = document.querySelectorAll('#rows .row'); return rows[rows.length - 1].dataset.id;
	})()`, chromedp.EvalAwaitPromise))
	if bottom != "SYN000500" {
		t.Errorf("the last row after scrolling to the end is %s, want SYN000500 (the oldest kept)", bottom)
	}

	start = time.Now()
	run(t, ctx, "filter", chromedp.Evaluate[bool](`(() => { const f = document.getElementById('filter'); f.value = 'host:host777 outcome:upstream'; f.dispatchEvent(new Event('input')); return true; })()`))
	// Of host777 and host7770..host7779, those upstream_verify_failed (n%5 == 3): 7773, 7778.
	run(t, ctx, "the filtered list", chromedp.Poll[bool](`tlslens.shown() === 2 && document.querySelectorAll('#rows .row').length === 2`,
		chromedp.WithPollingTimeout(10*time.Second), chromedp.WithPollingInterval(5*time.Millisecond)))
	filtered := time.Since(start)
	filterMs := run(t, ctx, "filter time", chromedp.Evaluate[float64](`tlslens.filterMs`))
	t.Logf("filtering 10000 rows: %.1f ms in the page, %v from typing to the list drawn (80 ms of it the typing debounce)", filterMs, filtered)
	if filterMs > 1000 || filtered > 5*time.Second {
		t.Errorf("filtering 10000 rows took %.1f ms (%v in all), want under 1s", filterMs, filtered)
	}
}
