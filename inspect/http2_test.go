package inspect

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// The clients' decrypted first bytes in testdata/h2/*.bin were captured
// through tlslens by proxy's TestClients -update, which also checks these
// fingerprints against tshark's dissection of the same frames.
var http2Captures = map[string]string{
	"curl":     "3:100;4:33554432;2:0|33488897|0|m,p,s,a",
	"chromium": "1:65536;2:0;4:6291456;6:262144|15663105|0|m,a,s,p",
}

func readHTTP2Capture(tb testing.TB, client string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "h2", client+".bin"))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// framed returns the HTTP/2 preface followed by what write writes with
// x/net/http2's Framer and an HPACK encoder.
func framed(t *testing.T, write func(fr *http2.Framer, block func(fields ...string) []byte)) []byte {
	t.Helper()
	var buf bytes.Buffer
	buf.WriteString(HTTP2Preface)
	fr := http2.NewFramer(&buf, nil)
	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	write(fr, func(fields ...string) []byte {
		hb.Reset()
		for i := 0; i+1 < len(fields); i += 2 {
			enc.WriteField(hpack.HeaderField{Name: fields[i], Value: fields[i+1]})
		}
		return bytes.Clone(hb.Bytes())
	})
	return buf.Bytes()
}

func TestHTTP2Fingerprint(t *testing.T) {
	get := []string{":method", "GET", ":path", "/", ":authority", "example.com", ":scheme", "https", "user-agent", "t"}
	tests := []struct {
		name string
		b    []byte
		want string
	}{
		{"curl", readHTTP2Capture(t, "curl"), http2Captures["curl"]},
		{"chromium", readHTTP2Capture(t, "chromium"), http2Captures["chromium"]},
		// Firefox's old dependency tree (Akamai's example): PRIORITY
		// frames, weights printed as the wire byte plus one; no
		// WINDOW_UPDATE is "00".
		{"priority frames", framed(t, func(fr *http2.Framer, block func(...string) []byte) {
			fr.WriteSettings(http2.Setting{ID: 1, Val: 65536}, http2.Setting{ID: 4, Val: 131072}, http2.Setting{ID: 5, Val: 16384})
			fr.WritePriority(3, http2.PriorityParam{Weight: 200})
			fr.WritePriority(5, http2.PriorityParam{Weight: 100})
			fr.WritePriority(9, http2.PriorityParam{StreamDep: 7, Weight: 0})
			fr.WritePriority(11, http2.PriorityParam{StreamDep: 3, Exclusive: true, Weight: 255})
			fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 13, BlockFragment: block(get...), EndHeaders: true, EndStream: true})
		}), "1:65536;4:131072;5:16384|00|3:0:0:201,5:0:0:101,9:0:7:1,11:1:3:256|m,p,a,s"},
		// Only the first SETTINGS and the first connection-level
		// WINDOW_UPDATE count; an ACK, a stream's WINDOW_UPDATE, PING and
		// unknown frame types are skipped; a header block split over
		// CONTINUATIONs is read whole; a GREASE setting id is kept.
		{"continuation and noise", framed(t, func(fr *http2.Framer, block func(...string) []byte) {
			fr.WriteSettingsAck()
			fr.WriteSettings(http2.Setting{ID: 2, Val: 0}, http2.Setting{ID: 0x0a0a, Val: 7})
			fr.WriteWindowUpdate(3, 99)
			fr.WritePing(false, [8]byte{})
			fr.WriteRawFrame(0xb, 0, 0, []byte("grease"))
			fr.WriteWindowUpdate(0, 1000)
			fr.WriteWindowUpdate(0, 2000)
			fr.WriteSettings(http2.Setting{ID: 4, Val: 1})
			hb := block(":scheme", "https", ":method", "GET", ":path", "/x", ":authority", "a.example", "accept", "*/*")
			fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: hb[:3]})
			fr.WriteContinuation(1, false, hb[3:5])
			fr.WriteContinuation(1, true, hb[5:])
		}), "2:0;2570:7|1000|0|s,m,p,a"},
		// An extended CONNECT (RFC 8441): :protocol has no letter.
		{"extended connect", framed(t, func(fr *http2.Framer, block func(...string) []byte) {
			fr.WriteSettings()
			fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, EndHeaders: true,
				BlockFragment: block(":method", "CONNECT", ":protocol", "websocket", ":scheme", "https", ":path", "/ws", ":authority", "a.example")})
		}), "|00|0|m,s,p,a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := HTTP2Fingerprint(tt.b)
			if err != nil || got != tt.want {
				t.Errorf("HTTP2Fingerprint(%s) = %q, %v; want %q", tt.name, got, err, tt.want)
			}
			// Bytes after the first header block are not read.
			more := append(bytes.Clone(tt.b), framed(t, func(fr *http2.Framer, _ func(...string) []byte) { fr.WriteWindowUpdate(0, 5) })...)
			if got2, err := HTTP2Fingerprint(more); err != nil || got2 != got {
				t.Errorf("HTTP2Fingerprint(%s and more frames) = %q, %v; want %q", tt.name, got2, err, got)
			}
		})
	}
}

// TestHTTP2FingerprintTruncated: every proper prefix of a client's first
// bytes, cut in the preface, a frame header or a payload, is ErrTruncated.
func TestHTTP2FingerprintTruncated(t *testing.T) {
	for client := range http2Captures {
		b := readHTTP2Capture(t, client)
		for n := 0; n < len(b); n++ {
			if fp, err := HTTP2Fingerprint(b[:n]); !errors.Is(err, ErrTruncated) {
				t.Fatalf("HTTP2Fingerprint(%s[:%d]) = %q, %v; want ErrTruncated", client, n, fp, err)
			}
		}
	}
}

func TestHTTP2FingerprintErrors(t *testing.T) {
	tests := []struct {
		name   string
		b      []byte
		target error // errors.Is, else a *ParseError
	}{
		{"http/1.1", []byte("GET / HTTP/1.1\r\nHost: a\r\n\r\n"), ErrNotHTTP2},
		{"TLS", []byte{0x16, 0x03, 0x01, 0x00, 0x05}, ErrNotHTTP2},
		{"settings on a stream", framed(t, func(fr *http2.Framer, _ func(...string) []byte) {
			fr.WriteRawFrame(http2.FrameSettings, 0, 1, nil)
		}), nil},
		{"continuation without headers", framed(t, func(fr *http2.Framer, _ func(...string) []byte) {
			fr.WriteSettings()
			fr.WriteContinuation(1, true, []byte{0x82})
		}), nil},
		{"bad hpack", framed(t, func(fr *http2.Framer, _ func(...string) []byte) {
			fr.WriteSettings()
			fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, EndHeaders: true, BlockFragment: []byte{0xff, 0xff, 0xff, 0xff}})
		}), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fp, err := HTTP2Fingerprint(tt.b)
			var pe *ParseError
			ok := tt.target != nil && errors.Is(err, tt.target) || tt.target == nil && errors.As(err, &pe)
			if !ok || fp != "" {
				t.Errorf("HTTP2Fingerprint(%s) = %q, %v; want the error %v", tt.name, fp, err, tt.target)
			}
			if err != nil && !strings.HasPrefix(err.Error(), "inspect: ") {
				t.Errorf("error %q does not start with the package", err)
			}
		})
	}
}
