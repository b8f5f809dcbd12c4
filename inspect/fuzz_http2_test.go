package inspect

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func FuzzHTTP2Fingerprint(f *testing.F) {
	for client := range http2Captures {
		f.Add(readHTTP2Capture(f, client))
	}
	f.Add([]byte(HTTP2Preface))
	f.Fuzz(func(t *testing.T, b []byte) {
		fp, err := HTTP2Fingerprint(b)
		if (fp != "") != (err == nil) {
			t.Fatalf("got %q, %v: want a fingerprint or an error", fp, err)
		}
		if err != nil {
			var pe *ParseError
			if !errors.Is(err, ErrNotHTTP2) && !errors.Is(err, ErrTruncated) && !errors.As(err, &pe) {
				t.Fatalf("error %v is none of ErrNotHTTP2, ErrTruncated, *ParseError", err)
			}
			return
		}
		// Four parts, and bytes after the first header block change nothing.
		if n := strings.Count(fp, "|"); n != 3 {
			t.Fatalf("fingerprint %q has %d parts, want 4", fp, n+1)
		}
		more := append(bytes.Clone(b), 0, 0, 4, 8, 0, 0, 0, 0, 0, 0, 0, 0, 1)
		if fp2, err := HTTP2Fingerprint(more); fp2 != fp || err != nil {
			t.Fatalf("with bytes after it: %q, %v; want %q", fp2, err, fp)
		}
	})
}
