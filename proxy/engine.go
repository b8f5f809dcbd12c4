package proxy

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/tlslens/tlslens/inspect"
	"github.com/tlslens/tlslens/proxy/internal/advice"
)

// readClientHello reads TLS records from c, after the bytes first already
// read from it, until a whole ClientHello is in, and returns every byte read
// and the parsed hello. On error the bytes read so far are returned, so a
// non-TLS client's bytes can still be relayed. It appends to first.
func (p *Proxy) readClientHello(c net.Conn, first []byte) ([]byte, *inspect.ClientHello, error) {
	buf := first
	n, err := len(first), error(nil) // first is taken as the first read
	for {
		if n > 0 {
			switch done, ferr := inspect.HelloComplete(buf); {
			case ferr != nil:
				_, perr := inspect.ParseClientHello(buf)
				if perr == nil {
					perr = ferr
				}
				return buf, nil, perr
			case done:
				h, perr := inspect.ParseClientHello(buf)
				return buf, h, perr
			}
			if len(buf) > p.opts.MaxHelloSize {
				return buf, nil, &advice.HelloTooLargeError{Limit: p.opts.MaxHelloSize}
			}
		}
		if err != nil {
			if len(buf) > 0 {
				_, perr := inspect.ParseClientHello(buf)
				if perr != nil && !errors.Is(perr, inspect.ErrTruncated) {
					return buf, nil, perr
				}
			}
			return buf, nil, &helloReadError{err: err, got: len(buf)}
		}
		if cap(buf)-len(buf) < helloReadMin {
			buf = slices.Grow(buf, helloReadSize)
		}
		n, err = c.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
	}
}

// helloReadSize is how much readClientHello reads at once, and helloReadMin
// the least room it reads into before growing its buffer.
const (
	helloReadSize = 4096
	helloReadMin  = 1024
)

type helloReadError struct {
	err error
	got int
}

func (e *helloReadError) Error() string {
	return fmt.Sprintf("proxy: reading ClientHello (%d bytes read): %v", e.got, e.err)
}

func (e *helloReadError) Unwrap() error { return e.err }

func preview(b []byte) []byte {
	if len(b) > 16 {
		return b[:16]
	}
	return b
}

func msSince(t time.Time) float64 {
	return float64(time.Since(t).Microseconds()) / 1000
}

func negotiated(st tls.ConnectionState) *inspect.Negotiated {
	n := &inspect.Negotiated{
		Version:     inspect.VersionName(st.Version),
		CipherSuite: inspect.CipherSuiteName(st.CipherSuite),
		ALPN:        st.NegotiatedProtocol,
		Resumed:     st.DidResume,
		HelloRetry:  st.HelloRetryRequest,
		ECH:         st.ECHAccepted,
	}
	if st.CurveID != 0 {
		n.Group = inspect.GroupName(uint16(st.CurveID))
	}
	return n
}

// keyLog collects one connection's NSS key log lines, and passes each on to
// out (Options.KeyLog) when that is set.
type keyLog struct {
	out func([]byte) // nil: collect only

	mu  sync.Mutex
	buf []byte
}

// keyLogSize holds a TLS 1.3 handshake's five lines (labels, two 64-digit
// hex values, SHA-384 secrets) without growing.
const keyLogSize = 1024

func (k *keyLog) Write(b []byte) (int, error) {
	k.mu.Lock()
	if k.buf == nil {
		k.buf = make([]byte, 0, keyLogSize)
	}
	k.buf = append(k.buf, b...)
	k.mu.Unlock()
	if k.out != nil {
		k.out(b)
	}
	return len(b), nil
}

// Bytes returns the lines collected so far, not copied: crypto/tls writes
// them only during the handshake, so once that has returned they no longer
// change.
func (k *keyLog) Bytes() []byte {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.buf
}

// release drops the collected key log lines once the handshake has been
// parsed: the connection's tls.Config keeps the writer as long as it lives.
func (k *keyLog) release() {
	k.mu.Lock()
	k.buf = nil
	k.mu.Unlock()
}

// keyLogOut is where a leg's keyLog passes its lines on: nil without
// Options.KeyLog.
func (p *Proxy) keyLogOut() func([]byte) {
	if p.opts.KeyLog == nil {
		return nil
	}
	return p.writeKeyLog
}

// portOf returns the numeric port of a host:port, or 0.
func portOf(target string) int {
	_, port, _ := net.SplitHostPort(target)
	n, _ := strconv.Atoi(port)
	return n
}
