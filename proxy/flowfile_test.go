package proxy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/tlslens/tlslens/inspect"
)

// notifyBuffer is a buffer safe for concurrent use that signals each write.
type notifyBuffer struct {
	mu     sync.Mutex
	b      bytes.Buffer
	writes chan struct{}
}

func (nb *notifyBuffer) Write(p []byte) (int, error) {
	nb.mu.Lock()
	defer nb.mu.Unlock()
	select {
	case nb.writes <- struct{}{}:
	default:
	}
	return nb.b.Write(p)
}

func (nb *notifyBuffer) lines() []string {
	nb.mu.Lock()
	defer nb.mu.Unlock()
	return splitLines(nb.b.String())
}

// waitLines flushes p's flow file until nb holds n lines, waiting up to
// 10s for each write.
func (nb *notifyBuffer) waitLines(t *testing.T, p *Proxy, n int) {
	t.Helper()
	for len(nb.lines()) < n {
		if err := p.FlushFlows(); err != nil {
			t.Fatal(err)
		}
		select {
		case <-nb.writes:
		case <-time.After(10 * time.Second):
			t.Fatalf("flow file after FlushFlows: %q", nb.lines())
		}
	}
}

// splitLines splits s after each newline.
func splitLines(s string) []string {
	l := strings.SplitAfter(s, "\n")
	return l[:len(l)-1] // after the last newline: "", or a line cut short
}

// TestFlowFile: Options.FlowFile gets, for each flow, the line Options.Flows
// writes through FlowFormatter (credentials redacted alike), written by
// itself within flowFlushDelay of the flow's end, and by FlushFlows at once.
func TestFlowFile(t *testing.T) {
	t.Parallel()
	_, port, pki := flowUpstream(t, false)
	file := &notifyBuffer{writes: make(chan struct{}, 1)}
	var viaLogrus bytes.Buffer
	flows := logrus.New()
	flows.Out, flows.Formatter = &viaLogrus, FlowFormatter{TimestampFormat: FlowTimeFormat}
	h := newHarness(t, func(o *Options) {
		o.UpstreamRoots = pki.Pool()
		o.Flows = flows
		o.FlowFile = file
	})
	c := h.httpClient(nil)
	get := func(path string) {
		req, _ := http.NewRequest(http.MethodGet, "https://example.com:"+port+path, nil)
		req.Header.Set("Authorization", "Bearer top-secret")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}

	get("/first")
	select {
	case <-file.writes:
	case <-time.After(10 * time.Second):
		t.Fatalf("no flow line written within 10s (the delay is %v)", flowFlushDelay)
	}
	get("/second")
	file.waitLines(t, h.p, 2) // the second flow may end after the answer is read
	if err := h.p.FlushFlows(); err != nil {
		t.Fatal(err)
	}

	got, want := file.lines(), splitLines(viaLogrus.String())
	if len(got) != 2 || len(want) != 2 {
		t.Fatalf("flow file %q, logrus %q: want two lines each", got, want)
	}
	for i := range got {
		if strings.Contains(got[i], "top-secret") || !strings.Contains(got[i], `"Bearer [redacted]"`) || !strings.HasSuffix(got[i], "}\n") {
			t.Errorf("flow file line %d not redacted or not a line: %s", i, got[i])
		}
		var g, w map[string]any
		if err := json.Unmarshal([]byte(got[i]), &g); err != nil {
			t.Fatalf("flow file line %d is not JSON (%v): %s", i, err, got[i])
		}
		json.Unmarshal([]byte(want[i]), &w)
		gt, _ := time.Parse(FlowTimeFormat, g["time"].(string))
		wt, _ := time.Parse(FlowTimeFormat, w["time"].(string))
		if d := gt.Sub(wt); d < -time.Second || d > time.Second {
			t.Errorf("line %d: time %v in the flow file, %v through logrus", i, g["time"], w["time"])
		}
		delete(g, "time")
		delete(w, "time")
		if !reflect.DeepEqual(g, w) {
			t.Errorf("line %d:\nflow file %s\nlogrus    %s", i, got[i], want[i])
		}
	}
}

// checkFlowLine checks that line, a flow file's, is the line logrus's
// JSONFormatter writes for its flow, id and time, byte for byte, and that
// its headers are req and resp (nil: null), and returns its flow.
func checkFlowLine(t *testing.T, line string, req, resp []inspect.Header) *inspect.Flow {
	t.Helper()
	var l struct {
		Flow *inspect.Flow `json:"flow"`
		ID   string        `json:"id"`
		Time string        `json:"time"`
	}
	if err := json.Unmarshal([]byte(line), &l); err != nil || l.Flow == nil {
		t.Fatalf("flow line %s: %v", line, err)
	}
	at, err := time.Parse(FlowTimeFormat, l.Time)
	if err != nil {
		t.Fatal(err)
	}
	e := &logrus.Entry{Data: logrus.Fields{"id": l.ID, "flow": l.Flow}, Message: "flow", Level: logrus.InfoLevel, Time: at}
	want, err := (&logrus.JSONFormatter{TimestampFormat: FlowTimeFormat}).Format(e)
	if err != nil {
		t.Fatal(err)
	}
	if line != string(want) {
		t.Errorf("flow file line:\n%s\nlogrus's JSONFormatter:\n%s", line, want)
	}
	if !reflect.DeepEqual(l.Flow.Request, req) || !reflect.DeepEqual(l.Flow.Response, resp) {
		t.Errorf("flow file headers %#v, %#v; want %#v, %#v", l.Flow.Request, l.Flow.Response, req, resp)
	}
	return l.Flow
}

// oddHeaders are header fields whose values JSON escapes, and credentials.
func oddHeaders() http.Header {
	return http.Header{
		"Authorization": {"Bearer top-secret"},
		"Cookie":        {"sid=s3cret; lang=<en>&"},
		"X-Odd":         {"a<b>&c\u2028d\u2029\"e\"\\", ""},
		"X-Ünïcode":     {"☃\t"}, // invalid UTF-8 would not decode back (TestFlowFormatterBytes has it)
	}
}

// TestFlowFileBytes: a flow file's lines, from the header maps straight,
// are logrus's JSONFormatter's lines byte for byte, with the headers of
// the flow kept in memory redacted (FlowSecrets: as they are), an
// interim answer's replaced by the final one's, null for no answer.
func TestFlowFileBytes(t *testing.T) {
	for _, secrets := range []bool{false, true} {
		var file bytes.Buffer
		st := newFlowStore(Options{FlowFile: &file, KeepFlows: true, FlowSecrets: secrets})
		if !st.direct {
			t.Fatal("FlowFile and KeepFlows: not direct")
		}
		p := &Proxy{flows: st}
		for i, answers := range [][]int{{http.StatusContinue, http.StatusCreated}, {http.StatusOK}, nil} {
			id := fmt.Sprint("id", i)
			url := "https://example.com/a?b=<c>&d=\u2028"
			r := httptest.NewRequest(http.MethodPost, url, strings.NewReader("body"))
			r.Header = oddHeaders()
			w := &discardWriter{h: http.Header{}}
			fl, fw := st.start(w, r, id, url)
			io.Copy(io.Discard, r.Body)
			for _, status := range answers {
				fw.Header().Set("Content-Type", fmt.Sprint("text/x-", status, "&<>"))
				fw.Header()["Set-Cookie"] = []string{"sid=new; Path=/", "b=<2>"}
				fw.WriteHeader(status)
			}
			if answers != nil {
				fw.Write([]byte("done"))
			}
			fl.end()
			if err := p.FlushFlows(); err != nil {
				t.Fatal(err)
			}
			lines := splitLines(file.String())
			kept := p.Flows(id)
			if len(lines) != i+1 || len(kept) != 1 {
				t.Fatalf("%d lines, %d flows kept, want %d and 1", len(lines), len(kept), i+1)
			}
			req, resp := kept[0].Request, kept[0].Response
			if !secrets {
				req, resp = inspect.Redact(req), inspect.Redact(resp)
			}
			if inspect.HeaderValue(kept[0].Request, "Authorization") != "Bearer top-secret" || (answers == nil) != (resp == nil) {
				t.Errorf("flow kept with headers %v, %v", kept[0].Request, kept[0].Response)
			}
			got := checkFlowLine(t, lines[i], req, resp)
			got.Request, got.Response = kept[0].Request, kept[0].Response
			want := *kept[0]
			want.RequestBody, want.ResponseBody = nil, nil // never in the file
			if got.Start.Equal(want.Start) {
				got.Start = want.Start // decoded in UTC, kept in Local
			}
			if !reflect.DeepEqual(*got, want) {
				t.Errorf("flow line %+v, flow kept %+v", *got, want)
			}
		}
	}
}

// TestFlowFileBytesProxy: TestFlowFileBytes through the proxy, as tlslens
// --flows runs it (a flow file and flows kept, nothing else).
func TestFlowFileBytesProxy(t *testing.T) {
	t.Parallel()
	_, port, pki := flowUpstream(t, false)
	file := &notifyBuffer{writes: make(chan struct{}, 1)}
	h := newHarness(t, func(o *Options) {
		o.UpstreamRoots = pki.Pool()
		o.FlowFile = file
		o.KeepFlows = true
	})
	url := "https://example.com:" + port + "/a?b=<c>&d=%E2%80%A8"
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header = oddHeaders()
	delete(req.Header, "X-Ünïcode") // not a field name net/http sends
	resp, err := h.httpClient(nil).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	file.waitLines(t, h.p, 1) // the flow may end after the answer is read
	lines := file.lines()
	rec := <-h.records
	kept := h.p.Flows(rec.ID)
	if len(lines) != 1 || len(kept) != 1 {
		t.Fatalf("%d lines, %d flows kept, want 1 each", len(lines), len(kept))
	}
	f := checkFlowLine(t, lines[0], inspect.Redact(kept[0].Request), inspect.Redact(kept[0].Response))
	checkFlow(t, f, rec.ID, "GET", url, "HTTP/1.1", 200, 0, kept[0].ResponseSize)
	if inspect.HeaderValue(f.Request, "X-Odd") != oddHeaders()["X-Odd"][0] {
		t.Errorf("flow line's request headers %v, want %v", f.Request, oddHeaders())
	}
}

// TestFlowClock: the flow file's clock formats times as time.RFC3339Nano
// and FlowTimeFormat do, within a second and across seconds and zones.
func TestFlowClock(t *testing.T) {
	east := time.FixedZone("east", 5*3600+30*60)
	west := time.FixedZone("west", -(3*3600 + 17*60 + 5)) // seconds in the offset: Z07:00 drops them
	base := time.Date(2026, 12, 3, 23, 59, 59, 0, time.UTC)
	var c flowClock
	for _, d := range []time.Duration{0, 1, 10, 999999, 1000000, 123456789, 999999999, time.Second, time.Second + 100} {
		for _, loc := range []*time.Location{time.UTC, east, west, time.Local, east} {
			at := base.Add(d).In(loc)
			for _, nano := range []bool{true, false} {
				layout := FlowTimeFormat
				if nano {
					layout = time.RFC3339Nano
				}
				got := string(c.append(nil, at, nano))
				if want := `"` + at.Format(layout) + `"`; got != want {
					t.Errorf("flow clock of %v (nano %v) = %s, want %s", at, nano, got, want)
				}
			}
		}
	}
}

// TestFlowFileAdd: the flow file's line of each sample flow, its "time"
// included, is logrus's JSONFormatter's line, byte for byte.
func TestFlowFileAdd(t *testing.T) {
	var out bytes.Buffer
	ff := &flowFile{w: &out, log: discardLogger()}
	now := time.Date(2026, 12, 3, 6, 0, 1, 5e8+12345, time.Local)
	var want []string
	for _, f := range keptSamples() {
		ff.add(f, appendHeaders(nil, f.Request), appendHeaders(nil, f.Response), now)
		e := &logrus.Entry{Data: logrus.Fields{"id": f.ID, "flow": f}, Message: "flow", Level: logrus.InfoLevel, Time: now}
		line, err := (&logrus.JSONFormatter{TimestampFormat: FlowTimeFormat}).Format(e)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, string(line))
	}
	if err := ff.flush(); err != nil {
		t.Fatal(err)
	}
	got := splitLines(out.String())
	if !reflect.DeepEqual(got, want) {
		t.Errorf("flow file:\n%s\nlogrus's JSONFormatter:\n%s", got, want)
	}
}

// BenchmarkInterceptKeepAliveFlowFile is BenchmarkInterceptKeepAlive with
// flows on as tlslens --flows FILE runs them: each line written to a file
// through Options.FlowFile, each flow kept in memory with its bodies.
func BenchmarkInterceptKeepAliveFlowFile(b *testing.B) {
	lh := newLoadHarness(b, 0)
	f, err := os.Create(filepath.Join(b.TempDir(), "flows.jsonl"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.Close() })
	lh.p.flows = newFlowStore(Options{FlowFile: f}) // before any connection
	benchKeepAliveOn(b, lh, true)
}
