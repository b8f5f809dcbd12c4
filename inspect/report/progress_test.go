package report

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

func TestProgress(t *testing.T) {
	const total = 5 << 20
	var out bytes.Buffer
	p := NewProgress(&out, total)
	n, err := io.Copy(io.Discard, p.Reader(bytes.NewReader(make([]byte, total))))
	if err != nil || n != total {
		t.Fatalf("copied %d, %v; want %d", n, err, total)
	}
	p.Done()
	s := out.String()
	draws := strings.Count(s, "\r")
	if draws < 2 || draws > 1002 {
		t.Errorf("%d redraws for one read to the end, want between 2 and 1002 (one per tenth of a percent)", draws)
	}
	last := s[strings.LastIndex(s, "\r")+1:]
	if want := "reading 100.0% [" + strings.Repeat("#", barWidth) + "] 5.2 MB of 5.2 MB\n"; last != want {
		t.Errorf("last draw %q, want %q", last, want)
	}
}

func TestHumanBytes(t *testing.T) {
	for _, tt := range []struct {
		n    int64
		want string
	}{{0, "0 B"}, {999, "999 B"}, {1000, "1.0 kB"}, {1500000, "1.5 MB"}, {1 << 30, "1.1 GB"}} {
		if got := humanBytes(tt.n); got != tt.want {
			t.Errorf("humanBytes(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}
