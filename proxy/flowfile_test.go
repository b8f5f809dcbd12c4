package proxy

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
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
	for len(file.lines()) < 2 { // the second flow may end after the answer is read
		if err := h.p.FlushFlows(); err != nil {
			t.Fatal(err)
		}
		select {
		case <-file.writes:
		case <-time.After(10 * time.Second):
			t.Fatalf("flow file after FlushFlows: %q", file.lines())
		}
	}
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
