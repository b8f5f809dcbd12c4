package inspect

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// HTTP2Preface opens every HTTP/2 connection from a client (RFC 9113 §3.4).
const HTTP2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

// ErrNotHTTP2 reports that a client's first bytes were not the HTTP/2
// connection preface.
var ErrNotHTTP2 = errors.New("inspect: not an HTTP/2 connection preface")

// HTTP2Fingerprint returns the HTTP/2 fingerprint of a client's connection,
// in the form of Akamai's "Passive Fingerprinting of HTTP/2 Clients" (Black
// Hat EU 2017), S|WU|P|PS, from b, the bytes the client sent after the TLS
// handshake, up to the end of its first request's header block:
//   - S: the settings of the client's first SETTINGS frame (RFC 9113
//     §6.5.1), as "id:value" in wire order joined by ";", ids and values in
//     decimal; GREASE and unknown ids included, repeats kept.
//   - WU: the increment of the first connection-level WINDOW_UPDATE (stream
//     0, RFC 9113 §6.9) before the first HEADERS; "00" when there is none.
//   - P: each PRIORITY frame (RFC 9113 §6.3) before the first HEADERS, as
//     "stream:exclusive:dependency:weight" joined by ",", exclusive 1 or 0
//     and weight the effective weight, 1-256: the wire byte plus one (RFC
//     7540 §6.3: "Add one to the value to obtain a weight"), as Akamai
//     printed Firefox's "3:0:0:201"; "0" when there is none. Priority carried in the HEADERS frame itself
//     is not counted.
//   - PS: the pseudo-header fields of the first HEADERS (with its
//     CONTINUATIONs, HPACK-decoded, RFC 7541) in order, as letters joined by
//     ",": m :method, a :authority, s :scheme, p :path; any other
//     pseudo-header (:protocol) is left out.
//
// Frames of other types before the first HEADERS (PING, unknown types) are
// skipped. Bytes after the first header block are not read.
//
// It returns ErrNotHTTP2 when b does not start with the preface, an error
// wrapping ErrTruncated when b ends before the first header block does, and
// a ParseError for frames that break RFC 9113's rules.
func HTTP2Fingerprint(b []byte) (string, error) {
	if !bytes.HasPrefix(b, []byte(HTTP2Preface)) {
		if len(b) < len(HTTP2Preface) && bytes.HasPrefix([]byte(HTTP2Preface), b) {
			return "", fmt.Errorf("%w: %d of the %d bytes of the HTTP/2 preface", ErrTruncated, len(b), len(HTTP2Preface))
		}
		return "", ErrNotHTTP2
	}
	r := bytes.NewReader(b[len(HTTP2Preface):])
	fr := http2.NewFramer(nil, r)
	// A frame longer than the bytes left cannot be complete in b: reading
	// it would only allocate its declared length (up to 16 MiB) to fail.
	fr.SetMaxReadFrameSize(uint32(min(len(b), 1<<24-1)))
	// The client's first header block is encoded for the default table
	// size (RFC 9113 §6.5.2: 4096) until it has the server's SETTINGS.
	fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)

	var (
		settings []string
		window   = "00"
		prio     []string
		seenSet  bool
	)
	for {
		offset := len(b) - r.Len()
		f, err := fr.ReadFrame()
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, http2.ErrFrameTooLarge) {
			return "", fmt.Errorf("%w: the bytes end before the first request's header block", ErrTruncated)
		}
		if err != nil {
			return "", &ParseError{Msg: "http/2 frame: " + err.Error(), Offset: offset}
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if f.IsAck() || seenSet {
				continue
			}
			seenSet = true
			f.ForeachSetting(func(s http2.Setting) error {
				settings = append(settings, strconv.FormatUint(uint64(s.ID), 10)+":"+strconv.FormatUint(uint64(s.Val), 10))
				return nil
			})
		case *http2.WindowUpdateFrame:
			if f.StreamID == 0 && window == "00" {
				window = strconv.FormatUint(uint64(f.Increment), 10)
			}
		case *http2.PriorityFrame:
			excl := "0"
			if f.Exclusive {
				excl = "1"
			}
			prio = append(prio, fmt.Sprintf("%d:%s:%d:%d", f.StreamID, excl, f.StreamDep, int(f.Weight)+1))
		case *http2.MetaHeadersFrame:
			var order []string
			for _, hf := range f.PseudoFields() {
				if l, ok := pseudoLetter[hf.Name]; ok {
					order = append(order, l)
				}
			}
			p := "0"
			if len(prio) > 0 {
				p = strings.Join(prio, ",")
			}
			return strings.Join(settings, ";") + "|" + window + "|" + p + "|" + strings.Join(order, ","), nil
		}
	}
}

// pseudoLetter is the letter each request pseudo-header field (RFC 9113
// §8.3.1) has in the fingerprint's PS part.
var pseudoLetter = map[string]string{":method": "m", ":authority": "a", ":scheme": "s", ":path": "p"}
