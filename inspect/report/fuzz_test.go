package report

import (
	"bytes"
	"context"
	"io"
	"testing"
	"time"
)

// FuzzRead feeds arbitrary input to the JSON Lines reader: every line is
// counted exactly once as a record, a log line, a bad line or a blank one,
// and every format renders whatever was read.
func FuzzRead(f *testing.F) {
	f.Add(genLines(f, 30).data)
	for _, m := range malformed {
		f.Add([]byte(m + "\n"))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := New(Options{Now: time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC), MaxLineBytes: 1 << 16})
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Read(context.Background(), "fuzz", bytes.NewReader(data)); err != nil {
			t.Fatalf("Read = %v, want no error (only the context's)", err)
		}
		r := b.Report()
		tot := r.Totals
		if tot.Records+tot.LogLines+tot.BadLines > tot.Lines || tot.Matched+tot.Filtered != tot.Records {
			t.Fatalf("totals do not add up: %+v", tot)
		}
		for _, format := range Formats {
			if err := r.Write(io.Discard, format); err != nil {
				t.Fatalf("Write(%s) = %v", format, err)
			}
		}
	})
}
