package web

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tlslens/tlslens/inspect"
	"github.com/tlslens/tlslens/inspect/report"
)

func record(id, target string, outcome inspect.Outcome, codes ...string) *inspect.Record {
	r := &inspect.Record{Schema: inspect.Schema, ID: id, Mode: inspect.ModeMITM, Target: target, Outcome: outcome,
		Client: &inspect.Side{Hello: &inspect.Hello{SNI: strings.Split(target, ":")[0], JA4: "t13d1516h2_8daaf6152771_" + id}}}
	for _, c := range codes {
		r.Findings = append(r.Findings, inspect.Finding{Side: "upstream", Severity: inspect.SeverityWarn, Code: c, Message: c})
	}
	return r
}

func get(t *testing.T, srv *httptest.Server, path string) (int, string) {
	t.Helper()
	resp, err := http.Get(srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestRingBound: the ring keeps the last keep records, forgets older ones
// (their pages, downloads and replay), and the JSON Lines download holds
// what it keeps.
func TestRingBound(t *testing.T) {
	ring := NewRing(3, nil)
	for i, id := range []string{"A", "B", "C", "D", "E"} {
		ring.Add(record(id, "h"+id+".example:443", inspect.OutcomeOK))
		if got, want := ring.Len(), min(i+1, 3); got != want {
			t.Fatalf("after %d records: Len() = %d, want %d", i+1, got, want)
		}
	}
	srv := httptest.NewServer(New(Options{Ring: ring}))
	defer srv.Close()
	for _, c := range []struct {
		path   string
		status int
	}{{"/c/A", 404}, {"/c/B.json", 404}, {"/c/C", 200}, {"/c/E.json", 200}, {"/c/E.nope", 404}} {
		if got, _ := get(t, srv, c.path); got != c.status {
			t.Errorf("GET %s = %d, want %d", c.path, got, c.status)
		}
	}
	_, body := get(t, srv, "/records.jsonl")
	var ids []string
	for _, line := range strings.Split(strings.TrimSpace(body), "\n") {
		var r inspect.Record
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("records.jsonl line %q: %v", line, err)
		}
		if r.Time.IsZero() {
			t.Errorf("record %s has no time", r.ID)
		}
		ids = append(ids, r.ID)
	}
	if got := strings.Join(ids, ","); got != "C,D,E" {
		t.Errorf("records.jsonl = %s, want C,D,E", got)
	}
	backlog, sub := ring.subscribe(0)
	defer ring.unsubscribe(sub)
	if len(backlog) != 3 || !strings.HasPrefix(string(backlog[0]), "id: 3\n") {
		t.Errorf("replay from 0: %d frames starting %q, want 3 from id 3", len(backlog), backlog[0])
	}
}

// event is one Server-Sent Event read from a stream.
type event struct {
	id  string
	row Row
}

func readEvent(t *testing.T, br *bufio.Reader) event {
	t.Helper()
	var e event
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("reading events: %v", err)
		}
		line = strings.TrimRight(line, "\n")
		switch {
		case strings.HasPrefix(line, "id: "):
			e.id = line[4:]
		case strings.HasPrefix(line, "data: "):
			if err := json.Unmarshal([]byte(line[6:]), &e.row); err != nil {
				t.Fatal(err)
			}
		case line == "" && e.id != "":
			return e
		}
	}
}

// TestEventsReplayAndLive: a stream opened with Last-Event-ID replays the
// rows after it from the ring, then carries each new record as it is
// added.
func TestEventsReplayAndLive(t *testing.T) {
	ring := NewRing(10, nil)
	ring.Add(record("A", "a.example:443", inspect.OutcomeOK))
	ring.Add(record("B", "b.example:443", inspect.OutcomeUpstreamVerifyFailed, "upstream_untrusted"))
	srv := httptest.NewServer(New(Options{Ring: ring}))
	defer srv.Close()
	req, _ := http.NewRequestWithContext(t.Context(), "GET", srv.URL+"/events", nil)
	req.Header.Set("Last-Event-ID", "1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	br := bufio.NewReader(resp.Body)
	if e := readEvent(t, br); e.id != "2" || e.row.ID != "B" || e.row.Outcome != "upstream_verify_failed" || e.row.Findings.Warn != 1 {
		t.Errorf("replayed event = %+v, want id 2, record B with one warning", e)
	}
	ring.Add(record("C", "c.example:443", inspect.OutcomeOK))
	if e := readEvent(t, br); e.id != "3" || e.row.ID != "C" || e.row.SNI != "c.example" {
		t.Errorf("live event = %+v, want id 3, record C", e)
	}
}

// TestSlowSubscriberDropped: a stream that does not read is dropped once
// its buffer is full; adding records never waits for it.
func TestSlowSubscriberDropped(t *testing.T) {
	ring := NewRing(10, nil)
	_, slow := ring.subscribe(0)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < subscriberBuffer+10; i++ {
			ring.Add(record("X", "x.example:443", inspect.OutcomeOK))
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Add blocked on a subscriber that does not read")
	}
	n := 0
	for range slow.frames { // closed when dropped
		n++
	}
	if n != subscriberBuffer {
		t.Errorf("the slow subscriber got %d frames before being dropped, want %d", n, subscriberBuffer)
	}
	ring.unsubscribe(slow) // after a drop: no double close
}

// TestRecordsFilter: /records.jsonl?q= keeps the records the filter box's
// query matches.
func TestRecordsFilter(t *testing.T) {
	ring := NewRing(10, nil)
	ring.Add(record("A", "a.example:443", inspect.OutcomeOK))
	ring.Add(record("B", "b.example:443", inspect.OutcomeUpstreamVerifyFailed, "upstream_untrusted"))
	ring.Add(record("C", "c.other:8443", inspect.OutcomeUpstreamHandshakeFailed, "weak_cipher"))
	srv := httptest.NewServer(New(Options{Ring: ring}))
	defer srv.Close()
	for _, c := range []struct{ q, want string }{
		{"", "A,B,C"},
		{"host:example", "A,B"},
		{"outcome:upstream", "B,C"},
		{"outcome:ok host:a.", "A"},
		{"code:weak_cipher", "C"},
		{"ja4:_b", "B"},
		{"8443", "C"},
		{"UPSTREAM_untrusted", "B"},
		{"nothing", ""},
	} {
		_, body := get(t, srv, "/records.jsonl?q="+url.QueryEscape(c.q))
		var ids []string
		for _, line := range strings.Fields(body) {
			var r inspect.Record
			json.Unmarshal([]byte(line), &r)
			ids = append(ids, r.ID)
		}
		if got := strings.Join(ids, ","); got != c.want {
			t.Errorf("records.jsonl?q=%q = %s, want %s", c.q, got, c.want)
		}
	}
}

// TestDowngradeComparison: the record of a real connection with TLS 1.3
// and h2 offered by the client and TLS 1.2, http/1.1 upstream compares as
// such, and its page highlights and explains the rows.
func TestDowngradeComparison(t *testing.T) {
	ring := NewRing(10, nil)
	r := downgraded(t, ring)
	cmp := report.Compare(r)
	rows := map[string]report.CompareRow{}
	for _, row := range cmp.Rows {
		rows[row.Dimension] = row
	}
	for _, c := range []struct{ dim, note string }{
		{"versions", "TLS 1.3 to the client, TLS 1.2 upstream"},
		{"ALPN", "h2 became http/1.1"},
		{"cipher suites", " to the client, "},
	} {
		row, ok := rows[c.dim]
		if !ok {
			t.Fatalf("no %s row in %+v", c.dim, cmp.Rows)
		}
		if !row.Differs || !strings.Contains(strings.Join(row.Notes, "\n"), c.note) {
			t.Errorf("%s row: differs %v, notes %q, want a note with %q", c.dim, row.Differs, row.Notes, c.note)
		}
	}
	if got := rows["versions"].Chosen; len(got) < 2 || got[0] != (report.Choice{Leg: "client", Value: "TLS 1.3"}) || got[1] != (report.Choice{Leg: "upstream", Value: "TLS 1.2"}) {
		t.Errorf("versions chosen = %+v, want TLS 1.3 client, TLS 1.2 upstream", got)
	}

	srv := httptest.NewServer(New(Options{Ring: ring}))
	defer srv.Close()
	status, page := get(t, srv, "/c/"+r.ID)
	if status != 200 {
		t.Fatalf("GET /c/%s = %d", r.ID, status)
	}
	for _, want := range []string{
		`<tr class="differs" data-dimension="versions">`,
		"TLS 1.3 to the client, TLS 1.2 upstream",
		"h2 became http/1.1",
		`<span class="verdict-ok">verified</span>`,
		`href="/c/` + r.ID + `.json"`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the connection page lacks %q", want)
		}
	}
}

// TestDownloads: a Download is served at /c/<id>.<ext> and linked from the
// connection page.
func TestDownloads(t *testing.T) {
	ring := NewRing(10, nil)
	ring.Add(record("A", "a.example:443", inspect.OutcomeOK))
	srv := httptest.NewServer(New(Options{Ring: ring, Downloads: []Download{{Ext: "txt", Label: "a text file",
		Serve: func(w http.ResponseWriter, r *http.Request, id string) { io.WriteString(w, "file of "+id) }}}}))
	defer srv.Close()
	if _, body := get(t, srv, "/c/A.txt"); body != "file of A" {
		t.Errorf("GET /c/A.txt = %q", body)
	}
	if _, page := get(t, srv, "/c/A"); !strings.Contains(page, `<a href="/c/A.txt" download>a text file</a>`) {
		t.Errorf("the page does not link the download:\n%s", page)
	}
	if _, css := get(t, srv, "/style.css"); !strings.HasPrefix(css, report.CSS) || !strings.Contains(css, ".cmp") {
		t.Error("/style.css is not the report's styles followed by the web view's")
	}
}

// TestRowsThenEvents: the page's first load, /rows.json, holds the ring's
// rows and the newest seq; /events?after= that seq carries only what
// follows.
func TestRowsThenEvents(t *testing.T) {
	ring := NewRing(10, nil)
	for _, id := range []string{"A", "B", "C"} {
		ring.Add(record(id, strings.ToLower(id)+".example:443", inspect.OutcomeOK))
	}
	srv := httptest.NewServer(New(Options{Ring: ring}))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/rows.json")
	if err != nil {
		t.Fatal(err)
	}
	var rows []Row
	err = json.NewDecoder(resp.Body).Decode(&rows)
	resp.Body.Close()
	if err != nil || len(rows) != 3 || rows[2].ID != "C" || resp.Header.Get("X-Last-Seq") != "3" {
		t.Fatalf("/rows.json = %+v (%v), X-Last-Seq %q; want A, B, C and 3", rows, err, resp.Header.Get("X-Last-Seq"))
	}
	req, _ := http.NewRequestWithContext(t.Context(), "GET", srv.URL+"/events?after=3", nil)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	ring.Add(record("D", "d.example:443", inspect.OutcomeOK))
	if e := readEvent(t, bufio.NewReader(resp.Body)); e.id != "4" || e.row.ID != "D" {
		t.Errorf("first event after 3 = %+v, want id 4, record D", e)
	}
}

// TestRingMemory measures what the ring keeps per record, for the bound
// README states (web_keep records of about 5-10 KB each), with the record
// of a real connection.
func TestRingMemory(t *testing.T) {
	ring := NewRing(100, nil)
	r := downgraded(t, ring)
	for i := range 100 {
		ring.Add(synthetic(r, i, inspect.OutcomeOK))
	}
	total := 0
	for _, e := range ring.entries {
		total += len(e.rec) + len(e.frame)
	}
	per := total / len(ring.entries)
	t.Logf("the ring keeps %d bytes of JSON per record (record and row)", per)
	if per > 10<<10 {
		t.Errorf("%d bytes per record, more than README's about 10 KB", per)
	}
}

// TestConnectionPageSparse: a record with as little as a record can hold
// (no hellos, no upstream, an upstream without a client side) still has a
// page.
func TestConnectionPageSparse(t *testing.T) {
	ring := NewRing(10, nil)
	ring.Add(&inspect.Record{ID: "A", Target: "a.example:443", Outcome: inspect.OutcomeNotTLS, Client: &inspect.Side{Error: "the client spoke no TLS"}})
	ring.Add(&inspect.Record{ID: "B", Target: "b.example:443", Outcome: inspect.OutcomeUpstreamUnreachable, Upstream: &inspect.Side{Error: "connection refused"}})
	srv := httptest.NewServer(New(Options{Ring: ring}))
	defer srv.Close()
	for id, want := range map[string]string{"A": "the client spoke no TLS", "B": "connection refused"} {
		if status, page := get(t, srv, "/c/"+id); status != 200 || !strings.Contains(page, want) {
			t.Errorf("GET /c/%s = %d, want the page with %q:\n%s", id, status, want, page)
		}
	}
}

// TestConnectionFlows: a connection's page lists the HTTP flows the proxy
// kept of it (Options.Flows: proxy.Proxy.Flows).
func TestConnectionFlows(t *testing.T) {
	ring := NewRing(10, nil)
	up := modernUpstream(t)
	lp := newLiveProxy(t, ring, up)
	if got := lp.get(up.URL + "/some/page?x=1"); got != 200 {
		t.Fatalf("GET through the proxy: %d", got)
	}
	r := lp.record()
	srv := httptest.NewServer(New(Options{Ring: ring, Flows: lp.p.Flows}))
	defer srv.Close()
	var page string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); { // the flow is kept when its body is done
		if _, page = get(t, srv, "/c/"+r.ID); strings.Contains(page, "/some/page?x=1") {
			break
		}
	}
	if !strings.Contains(page, "<h2>HTTP flows") || !strings.Contains(page, "<code>GET</code>") || !strings.Contains(page, `<td class="num">200</td>`) {
		t.Errorf("the page does not list the GET /some/page?x=1 → 200 flow:\n%s", page)
	}
	srv2 := httptest.NewServer(New(Options{Ring: ring}))
	defer srv2.Close()
	if _, page := get(t, srv2, "/c/"+r.ID); strings.Contains(page, "HTTP flows") {
		t.Error("without Options.Flows the page has a flows section")
	}
}

// TestConnectionReadiness: the connection page of a real connection (a Go
// client, TLS 1.2 upstream) shows its readiness: the post-quantum offer,
// the classical upstream leg, no ECH, the lowest version offered.
func TestConnectionReadiness(t *testing.T) {
	ring := NewRing(10, nil)
	r := downgraded(t, ring)
	if r.Readiness == nil {
		t.Fatal("the record has no readiness")
	}
	srv := httptest.NewServer(New(Options{Ring: ring}))
	defer srv.Close()
	_, page := get(t, srv, "/c/"+r.ID)
	for _, want := range []string{
		"<h2>Readiness",
		"<dt>post-quantum</dt><dd>offered X25519MLKEM768, SecP256r1MLKEM768, SecP384r1MLKEM1024 with a key share; client leg X25519MLKEM768, upstream leg ",
		"<dt>ECH</dt><dd>not offered</dd>",
		"<dt>legacy</dt><dd>lowest version TLS 1.2; no weak suites</dd>",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the connection page lacks %q", want)
		}
	}
}

// TestConnectionPageHTTP2Fingerprint: the client's HTTP/2 fingerprint is on
// its connection page beside its hello's JA4, and absent without one.
func TestConnectionPageHTTP2Fingerprint(t *testing.T) {
	ring := NewRing(10, nil)
	h2 := record("H", "h.example:443", inspect.OutcomeOK)
	h2.Client.HTTP2Fingerprint = "1:65536;2:0;4:6291456;6:262144|15663105|0|m,a,s,p"
	ring.Add(h2)
	ring.Add(record("P", "p.example:443", inspect.OutcomeOK))
	srv := httptest.NewServer(New(Options{Ring: ring}))
	defer srv.Close()
	want := `HTTP/2 <code title="SETTINGS|WINDOW_UPDATE|PRIORITY|pseudo-header order">1:65536;2:0;4:6291456;6:262144|15663105|0|m,a,s,p</code>`
	if status, page := get(t, srv, "/c/H"); status != 200 || !strings.Contains(page, want) {
		t.Errorf("GET /c/H = %d, want the page with %q:\n%s", status, want, page)
	}
	if _, page := get(t, srv, "/c/P"); strings.Contains(page, "HTTP/2 <code") {
		t.Errorf("the page of a connection without an HTTP/2 fingerprint shows one:\n%s", page)
	}
}

// TestIdentityShown: the known client a hello came from is on its row (and
// found by the free-text filter's text) and on its connection page.
func TestIdentityShown(t *testing.T) {
	ring := NewRing(10, nil)
	r := record("I", "i.example:443", inspect.OutcomeOK)
	r.Client.Identity = &inspect.Identity{Name: "curl 7.88", Match: "exact"}
	ring.Add(r)
	ring.Add(record("U", "u.example:443", inspect.OutcomeOK))
	srv := httptest.NewServer(New(Options{Ring: ring}))
	defer srv.Close()
	_, rows := get(t, srv, "/rows.json")
	if !strings.Contains(rows, `"identity":"curl 7.88"`) || strings.Count(rows, `"identity"`) != 1 {
		t.Errorf("/rows.json: want one row with identity curl 7.88:\n%s", rows)
	}
	want := `<b class="identity">curl 7.88</b> <span class="muted">(exact match)</span>`
	if _, page := get(t, srv, "/c/I"); !strings.Contains(page, want) {
		t.Errorf("the page of an identified client lacks %q:\n%s", want, page)
	}
	if _, page := get(t, srv, "/c/U"); strings.Contains(page, `class="identity"`) {
		t.Error("the page of an unidentified client names one")
	}
}

// TestRingAddJSON: a record added with its JSON (the proxy's
// Options.OnRecordJSON) is served as those bytes, and listed as Add lists
// it.
func TestRingAddJSON(t *testing.T) {
	at := time.Date(2026, 11, 22, 15, 20, 1, 123456789, time.UTC)
	ring := NewRing(10, func() time.Time { return at })
	ring.Add(record("A", "a.example:443", inspect.OutcomeOK, "weak_cipher_offered"))
	r := record("B", "b.example:443", inspect.OutcomeOK, "weak_cipher_offered")
	r.Time = at
	rec, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	ring.AddJSON(r, append(rec[:len(rec):len(rec)], ' ')) // a trailing space: kept as given, not re-encoded
	if got, ok := ring.record("B"); !ok || string(got) != string(rec)+" " {
		t.Errorf("record(B) = %q, %v, want the bytes given", got, ok)
	}
	rows, _ := ring.rows(nil, 0)
	var list []Row
	if err := json.Unmarshal(rows, &list); err != nil || len(list) != 2 {
		t.Fatalf("rows %s: %v, want two", rows, err)
	}
	a, b := list[0], list[1]
	a.Seq, a.ID, a.Target, a.SNI, a.JA4 = b.Seq, b.ID, b.Target, b.SNI, b.JA4
	if !reflect.DeepEqual(a, b) {
		t.Errorf("row of AddJSON %+v, want as Add's %+v (but for its record's own values)", list[1], list[0])
	}
}
