package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"testing"
)

func BenchmarkReport(b *testing.B) {
	g := genLines(b, 20000)
	b.SetBytes(int64(len(g.data)))
	b.ReportAllocs()
	for b.Loop() {
		bl, err := New(Options{})
		if err != nil {
			b.Fatal(err)
		}
		if err := bl.Read(b.Context(), "bench", bytes.NewReader(g.data)); err != nil {
			b.Fatal(err)
		}
		if err := bl.Report().WriteText(io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReport1GB reads 100 MB and then 1 GB of records generated on the
// fly (no file, no buffer of the input) with 50,000 distinct JA4s and targets,
// five times the group cap, and reports the peak heap in use for each: the
// two should be about the same. It takes a minute; -short skips it.
//
//	go test ./inspect/report -run '^$' -bench Report1GB -benchtime 1x
func BenchmarkReport1GB(b *testing.B) {
	if testing.Short() {
		b.Skip("reads 1.1 GB of generated records")
	}
	for b.Loop() {
		peak100 := peakHeap(b, 100<<20)
		peak1G := peakHeap(b, 1<<30)
		b.ReportMetric(float64(peak100)/(1<<20), "MB-heap@100MB")
		b.ReportMetric(float64(peak1G)/(1<<20), "MB-heap@1GB")
		if peak1G > 2*peak100+32<<20 {
			b.Errorf("peak heap %d MB for 1 GB of records, %d MB for 100 MB: memory grows with the input",
				peak1G>>20, peak100>>20)
		}
	}
}

// peakHeap aggregates size bytes of generated records and returns the
// largest HeapInuse seen, sampled every 8 MB of input.
func peakHeap(b *testing.B, size int64) uint64 {
	b.Helper()
	runtime.GC()
	var ms runtime.MemStats
	var peak uint64
	sample := func() {
		runtime.ReadMemStats(&ms)
		peak = max(peak, ms.HeapInuse)
	}
	s := newRecordStream(b, size, 50000, 8<<20, sample)
	bl, err := New(Options{})
	if err != nil {
		b.Fatal(err)
	}
	if err := bl.Read(b.Context(), "generated", s); err != nil {
		b.Fatal(err)
	}
	r := bl.Report()
	sample()
	if r.Totals.Records != s.lines || r.Totals.ClientGroups != DefaultMaxGroups+1 {
		b.Fatalf("%d records in %d client groups, want %d in %d", r.Totals.Records, r.Totals.ClientGroups,
			s.lines, DefaultMaxGroups+1)
	}
	return peak
}

// recordStream is an io.Reader of generated record lines, size bytes in
// all (whole lines), made on the fly from a few templates whose JA4, SNI and
// target are stamped with a counter modulo distinct.
type recordStream struct {
	templates [][]byte
	marks     [][]int // offsets of the placeholder in each template
	distinct  int
	left      int64 // bytes still to produce
	line      []byte
	pos       int
	lines     int
	every     int64 // call tick after this many bytes
	next      int64
	read      int64
	tick      func()
}

// placeholder is replaced by the record's number in hex, same width.
const placeholder = "ffffffffffff"

func newRecordStream(tb testing.TB, size int64, distinct int, every int64, tick func()) *recordStream {
	s := &recordStream{distinct: distinct, left: size, every: every, next: every, tick: tick}
	for i := range 15 { // every client and server profile pairing, and a not_tls record
		r := genRecord(i)
		r.Target = placeholder + ".example.test:443"
		if h := r.Client.Hello; h != nil {
			hc := *h
			hc.JA4 = "t13d1516h2_" + placeholder + "_d8a2da3f94cd"
			hc.SNI = placeholder + ".example.test"
			c := *r.Client
			c.Hello = &hc
			r.Client = &c
		}
		text, err := json.Marshal(line{Msg: "handshake", Record: *r})
		if err != nil {
			tb.Fatal(err)
		}
		text = append(text, '\n')
		var marks []int
		for off := 0; ; {
			i := bytes.Index(text[off:], []byte(placeholder))
			if i < 0 {
				break
			}
			marks = append(marks, off+i)
			off += i + len(placeholder)
		}
		s.templates = append(s.templates, text)
		s.marks = append(s.marks, marks)
	}
	return s
}

func (s *recordStream) Read(p []byte) (int, error) {
	if s.pos == len(s.line) {
		t := s.lines % len(s.templates)
		if s.left < int64(len(s.templates[t])) {
			return 0, io.EOF
		}
		s.line = append(s.line[:0], s.templates[t]...)
		var buf [len(placeholder)]byte
		stamp := fmt.Appendf(buf[:0], "%012x", s.lines%s.distinct)
		for _, m := range s.marks[t] {
			copy(s.line[m:], stamp)
		}
		s.pos = 0
		s.left -= int64(len(s.line))
		s.lines++
	}
	n := copy(p, s.line[s.pos:])
	s.pos += n
	s.read += int64(n)
	if s.read >= s.next {
		s.next += s.every
		s.tick()
	}
	return n, nil
}
