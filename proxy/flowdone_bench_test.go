package proxy

import (
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/tlslens/tlslens/inspect"
)

// BenchmarkFlowDone is the cost of writing one finished flow, as tlslens
// --flows writes it (FlowFormatter), to io.Discard and to a file, and
// keeping it in memory: the per-request cost of flows beyond the wrappers.
func BenchmarkFlowDone(b *testing.B) {
	f := inspect.Flow{ID: "01KBXJ0F3W7Q8Z5R2N4M6P9T1V", Method: "GET", URL: "https://bench.test/", Proto: "HTTP/1.1", Status: 200,
		Request:  []inspect.Header{{Name: "Host", Value: "bench.test"}, {Name: "User-Agent", Value: "tlslens-load"}},
		Response: []inspect.Header{{Name: "Content-Length", Value: "3"}, {Name: "Date", Value: "Thu, 03 Dec 2026 07:00:00 GMT"}},
		ResponseSize: 3, Start: time.Now(), SentMS: 0, FirstByteMS: 0.25, DoneMS: 0.3}
	for _, out := range []string{"discard", "file"} {
		b.Run(out, func(b *testing.B) {
			l := logrus.New()
			l.Formatter, l.Out = FlowFormatter{TimestampFormat: "2006-01-02T15:04:05.000Z07:00"}, io.Discard
			if out == "file" {
				fh, err := os.Create(filepath.Join(b.TempDir(), "flows.jsonl"))
				if err != nil {
					b.Fatal(err)
				}
				defer fh.Close()
				l.Out = fh
			}
			st := newFlowStore(Options{Flows: l})
			b.ReportAllocs()
			for b.Loop() {
				c := f
				st.done(&c)
			}
		})
	}
}
