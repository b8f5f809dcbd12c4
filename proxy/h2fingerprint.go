package proxy

import (
	"github.com/tlslens/tlslens/inspect"
)

// The client leg's HTTP/2 fingerprint (inspect.HTTP2Fingerprint) is read
// from the decrypted bytes the client sends first: its connection preface,
// SETTINGS, WINDOW_UPDATE and PRIORITY frames and its first request's
// HEADERS. The resetGuard that the inner HTTP/2 server reads through keeps a
// copy of them in a prefaceTee, up to the end of that first header block,
// and stops copying there: the server reads what it would have read anyway.
// The fingerprint is computed on the server's reading goroutine before the
// bytes of that HEADERS frame reach the server, so before its request
// reaches a handler and settles the record (rejection.go).

// maxPreface bounds the bytes a prefaceTee keeps. A browser's preface and
// first request fit in 1-2 KiB; a client whose first header block ends past
// this has no fingerprint.
const maxPreface = 64 << 10

// A prefaceTee keeps a copy of the first bytes a client sends on an HTTP/2
// connection, up to the end of its first header block (a HEADERS frame,
// then CONTINUATIONs until END_HEADERS, RFC 9113 §6.10) or maxPreface, and
// hands them to done once. Used by the server's one reading goroutine only.
type prefaceTee struct {
	buf  []byte
	scan frameScanner
	end  int // where the first header block ends in buf; 0 until its last frame header is read
	done func(b []byte)
}

func newPrefaceTee(done func(b []byte)) *prefaceTee {
	t := &prefaceTee{done: done}
	t.scan.skip = len(clientPreface)
	return t
}

// add appends b, the next bytes the client sent, and reports whether the tee
// is complete: done has been called, and add must not be called again.
func (t *prefaceTee) add(b []byte) bool {
	base := len(t.buf)
	t.buf = append(t.buf, b[:min(len(b), maxPreface-base)]...)
	for p, k := b, 0; len(p) > 0 && t.end == 0; {
		n, ok := t.scan.next(p)
		p, k = p[n:], k+n
		if ok && (t.scan.typ() == frameHeaders || t.scan.typ() == frameContinuation) && t.scan.flags()&flagEndHeaders != 0 {
			t.end = base + k + t.scan.skip // the frame's payload follows its header
		}
	}
	switch {
	case t.end > 0 && len(t.buf) >= t.end:
		t.done(t.buf[:t.end])
	case len(t.buf) >= maxPreface:
		t.done(t.buf)
	default:
		return false
	}
	t.buf = nil
	return true
}

// fingerprintHTTP2 computes the client leg's HTTP/2 fingerprint from the
// first bytes the client sent, b, and keeps it for the record.
func (p *Proxy) fingerprintHTTP2(s *session, b []byte) {
	fp, err := inspect.HTTP2Fingerprint(b)
	if err != nil {
		p.log.WithError(err).WithField("id", s.id).Debug("no http/2 fingerprint of the client's first bytes")
		return
	}
	s.http2FP.Store(&fp)
}
