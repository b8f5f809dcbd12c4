package inspect

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// testdataHellos returns the ClientHello records in testdata/*.bin, by file.
func testdataHellos(tb testing.TB) map[string][]byte {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "*.bin"))
	if err != nil || len(files) == 0 {
		tb.Fatalf("testdata/*.bin: %v, %d files", err, len(files))
	}
	hellos := make(map[string][]byte, len(files))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			tb.Fatal(err)
		}
		hellos[filepath.Base(name)] = b
	}
	return hellos
}

// concat returns the bytes of its arguments in order, in a new slice.
func concat(bs ...[]byte) []byte {
	return bytes.Join(bs, nil)
}

func TestHelloComplete(t *testing.T) {
	goHello := capturedHello(t, &tls.Config{ServerName: "example.test", NextProtos: []string{"h2", "http/1.1"}})
	msg := goHello[RecordHeaderLen:]
	appData := []byte{RecordTypeApplicationData, 3, 3, 0, 1, 0}
	// A record longer than the hello: what follows the hello in it must be
	// in before the hello counts as complete, or the parser would say
	// truncated.
	long := frameRecords(concat(msg, []byte{typeFinished, 0, 0, 0}), 0x0301)

	tests := []struct {
		name string
		in   []byte
		want bool
		err  error // ErrNotTLS or ErrBadFraming
	}{
		{"empty", nil, false, nil},
		{"one record", goHello, true, nil},
		{"header only", goHello[:RecordHeaderLen], false, nil},
		{"one byte short", goHello[:len(goHello)-1], false, nil},
		{"spanning records", frameRecords(msg, 0x0301, 10, 100), true, nil},
		{"a record per byte", frameRecords(msg, 0x0303, ones(len(msg)-1)...), true, nil},
		{"handshake header split across records", frameRecords(msg, 0x0301, 1, 2)[:RecordHeaderLen+1+RecordHeaderLen+2], false, nil},
		{"bytes after the hello", concat(goHello, appData), true, nil},
		{"record longer than the hello, not all in", long[:len(long)-1], false, nil},
		{"record longer than the hello", long, true, nil},
		{"zero-length record first", concat([]byte{RecordTypeHandshake, 3, 1, 0, 0}, goHello), true, nil},
		{"record of the largest length, not all in", []byte{RecordTypeHandshake, 3, 1, MaxFragmentLen >> 8, MaxFragmentLen & 0xff, typeClientHello}, false, nil},

		{"HTTP", []byte("GET / HTTP/1.1\r\nHost: example.test\r\n\r\n"), false, ErrNotTLS},
		{"SSL 2.0 hello", []byte{0x80, 0x2e, 0x01, 0x00, 0x02}, false, ErrNotTLS},
		{"application data after a partial hello", concat(frameRecords(msg, 0x0301, 10)[:RecordHeaderLen+10], appData), false, ErrNotTLS},
		{"alert", AlertRecord(AlertLevelFatal, "handshake_failure"), false, ErrNotTLS},

		{"record version 2.0", []byte{RecordTypeHandshake, 2}, false, ErrBadFraming},
		{"second record version 4.3", concat(frameRecords(msg, 0x0301, 10)[:RecordHeaderLen+10], []byte{RecordTypeHandshake, 4, 3}), false, ErrBadFraming},
		{"oversized record", []byte{RecordTypeHandshake, 3, 1, (MaxFragmentLen + 1) >> 8, (MaxFragmentLen + 1) & 0xff}, false, ErrBadFraming},
		{"ServerHello", []byte{RecordTypeHandshake, 3, 3, 0, 4, typeServerHello, 0, 0, 0}, false, ErrBadFraming},
		{"ServerHello header in a partial record", []byte{RecordTypeHandshake, 3, 3, 0, 40, typeServerHello, 0, 0, 36}, false, ErrBadFraming},
	}
	for name, b := range testdataHellos(t) {
		tests = append(tests, struct {
			name string
			in   []byte
			want bool
			err  error
		}{name, b, true, nil})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := HelloComplete(tt.in)
			if got != tt.want || !errors.Is(err, tt.err) || (err == nil) != (tt.err == nil) {
				t.Fatalf("HelloComplete(% x…) = %v, %v; want %v, %v", tt.in[:min(len(tt.in), 9)], got, err, tt.want, tt.err)
			}
			_, perr := ParseClientHello(tt.in)
			if got && errors.Is(perr, ErrTruncated) {
				t.Errorf("HelloComplete = true, but ParseClientHello: %v", perr)
			}
			if err != nil && perr == nil {
				t.Errorf("HelloComplete: %v, but ParseClientHello parsed a hello", err)
			}
		})
	}
}

// ones returns n ones: record sizes for frameRecords.
func ones(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = 1
	}
	return s
}

// TestHelloCompleteByteAtATime feeds HelloComplete every prefix of real
// hellos, as the proxy does for a client writing its hello a byte at a
// time: incomplete without error until the last byte, complete at it.
func TestHelloCompleteByteAtATime(t *testing.T) {
	hellos := testdataHellos(t)
	hellos["go"] = capturedHello(t, &tls.Config{ServerName: "example.test"})
	hellos["go, fragmented"] = frameRecords(hellos["go"][RecordHeaderLen:], 0x0301, 1, 2, 3, 500)
	for name, rec := range hellos {
		t.Run(name, func(t *testing.T) {
			for i := 0; i <= len(rec); i++ {
				if done, err := HelloComplete(rec[:i]); err != nil || done != (i == len(rec)) {
					t.Fatalf("HelloComplete(first %d of %d bytes) = %v, %v", i, len(rec), done, err)
				}
			}
		})
	}
}

// TestHelloCompleteAllocs: the proxy calls HelloComplete after every read of
// every connection's hello.
func TestHelloCompleteAllocs(t *testing.T) {
	rec := frameRecords(capturedHello(t, &tls.Config{ServerName: "example.test"})[RecordHeaderLen:], 0x0301, 100)
	if n := testing.AllocsPerRun(100, func() { HelloComplete(rec) }); n != 0 {
		t.Errorf("HelloComplete allocates %v times, want 0", n)
	}
}

// endOfMessage returns the end of the record holding the nth (from 1)
// handshake record that starts with a message of type typ; -1 if none.
// crypto/tls writes one clear handshake message per record.
func endOfMessage(records []byte, typ uint8, nth int) int {
	off := 0
	for {
		rt, frag, rest, ok := SplitRecord(records[off:])
		if !ok {
			return -1
		}
		off = len(records) - len(rest)
		if rt == RecordTypeHandshake && len(frag) > 0 && frag[0] == typ {
			if nth--; nth == 0 {
				return off
			}
		}
	}
}

// endOfRecord returns the end of the first record of type typ; -1 if none.
func endOfRecord(records []byte, typ uint8) int {
	off := 0
	for {
		rt, _, rest, ok := SplitRecord(records[off:])
		if !ok {
			return -1
		}
		off = len(records) - len(rest)
		if rt == typ {
			return off
		}
	}
}

// TestServerFlightDone feeds ServerFlightDone every prefix of what crypto/tls
// servers send: it must turn true exactly at the end of the record holding
// the ServerHello (TLS 1.3) or the ServerHelloDone (TLS 1.2), and stay true.
// After a HelloRetryRequest (and its ChangeCipherSpec, RFC 8446 §D.4) it is
// the second ServerHello; in a resumed TLS 1.2 handshake the
// ChangeCipherSpec; when the server refuses, its alert.
func TestServerFlightDone(t *testing.T) {
	p := testFlightPKI(t)
	cases := []struct {
		name   string
		setup  func(cc, sc *tls.Config)
		resume bool // run one handshake first, then capture the resumed one
		want   func(out []byte) int
	}{
		{"TLS 1.2", func(cc, sc *tls.Config) { cc.MaxVersion = tls.VersionTLS12 }, false,
			func(out []byte) int { return endOfMessage(out, typeServerHelloDone, 1) }},
		{"TLS 1.3", func(cc, sc *tls.Config) {}, false,
			func(out []byte) int { return endOfMessage(out, typeServerHello, 1) }},
		{"TLS 1.3 HelloRetryRequest", func(cc, sc *tls.Config) {
			cc.CurvePreferences = []tls.CurveID{tls.X25519MLKEM768, tls.X25519, tls.CurveP256}
			sc.CurvePreferences = []tls.CurveID{tls.CurveP256}
		}, false, func(out []byte) int {
			sh := endOfMessage(out, typeServerHello, 2)
			if ccs := endOfRecord(out, RecordTypeChangeCipherSpec); ccs < 0 || ccs > sh {
				return -1 // the middlebox-compatibility ChangeCipherSpec must come between
			}
			return sh
		}},
		{"TLS 1.2 RSA key transport", func(cc, sc *tls.Config) {
			cc.MaxVersion = tls.VersionTLS12
			cc.CipherSuites = []uint16{tls.TLS_RSA_WITH_AES_128_GCM_SHA256}
			sc.CipherSuites = cc.CipherSuites
			sc.Certificates = []tls.Certificate{p.rsaLeaf}
		}, false, func(out []byte) int { return endOfMessage(out, typeServerHelloDone, 1) }},
		{"TLS 1.2 client certificate requested", func(cc, sc *tls.Config) {
			cc.MaxVersion = tls.VersionTLS12
			sc.ClientAuth, sc.ClientCAs = tls.RequestClientCert, p.clientCAs
			cc.Certificates = []tls.Certificate{p.clientLeaf}
		}, false, func(out []byte) int { return endOfMessage(out, typeServerHelloDone, 1) }},
		{"TLS 1.2 resumed", func(cc, sc *tls.Config) {
			cc.MaxVersion = tls.VersionTLS12
			cc.ClientSessionCache = tls.NewLRUClientSessionCache(1)
			sc.SessionTicketsDisabled = false
		}, true, func(out []byte) int { return endOfRecord(out, RecordTypeChangeCipherSpec) }},
		{"TLS 1.3 resumed", func(cc, sc *tls.Config) {
			cc.ClientSessionCache = tls.NewLRUClientSessionCache(1)
			sc.SessionTicketsDisabled = false
		}, true, func(out []byte) int { return endOfMessage(out, typeServerHello, 1) }},
		{"server alert", func(cc, sc *tls.Config) {
			// The only suite offered needs an RSA certificate: the server has none.
			cc.MaxVersion = tls.VersionTLS12
			cc.CipherSuites = []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256}
		}, false, func(out []byte) int { return endOfRecord(out, RecordTypeAlert) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cc, sc := flightConfigs(t, p.ecdsaLeaf)
			tc.setup(cc, sc)
			if tc.resume {
				if first := captureHandshake(t, cc, sc); first.clientErr != nil {
					t.Fatal(first.clientErr)
				}
			}
			cap := captureHandshake(t, cc, sc)
			if tc.resume != cap.client.DidResume {
				t.Fatalf("DidResume = %v, want %v", cap.client.DidResume, tc.resume)
			}
			out := cap.fromServer
			want := tc.want(out)
			if want < 0 {
				t.Fatalf("the server's %d bytes lack the record that ends its clear flight", len(out))
			}
			for n := 0; n <= len(out); n++ {
				if got := ServerFlightDone(out[:n]); got != (n >= want) {
					t.Fatalf("ServerFlightDone(first %d of %d bytes) = %v; the clear flight ends at %d", n, len(out), got, want)
				}
			}
		})
	}
}

func TestServerFlightDoneNotTLS(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want bool
	}{
		{"nothing yet", nil, false},
		{"less than a header, not TLS", []byte("HTT"), true},
		{"less than a header, a handshake record", []byte{RecordTypeHandshake, 3, 3}, false},
		// A whole header waits for its record: today's passthrough reads
		// until the server ends or times out.
		{"a header, not TLS", []byte("HTTP/1.1 400 Bad Request\r\n"), false},
		{"application data", []byte{RecordTypeApplicationData, 3, 3, 0, 1, 0}, true},
		{"a whole record of unknown type", []byte{99, 3, 3, 0, 0}, true},
		{"empty handshake record", []byte{RecordTypeHandshake, 3, 3, 0, 0}, false},
		{"malformed ServerHello", []byte{RecordTypeHandshake, 3, 3, 0, 5, typeServerHello, 0, 0, 1, 0}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ServerFlightDone(tt.in); got != tt.want {
				t.Errorf("ServerFlightDone(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestSplitRecord(t *testing.T) {
	hello := capturedHello(t, &tls.Config{ServerName: "example.test"})
	alert := AlertRecord(AlertLevelWarning, "close_notify")
	tests := []struct {
		name     string
		in       []byte
		typ      uint8
		fragment []byte
		rest     []byte
		ok       bool
	}{
		{"empty", nil, 0, nil, nil, false},
		{"partial header", hello[:4], 0, nil, nil, false},
		{"header only", hello[:RecordHeaderLen], 0, nil, nil, false},
		{"one byte short", hello[:len(hello)-1], 0, nil, nil, false},
		{"one record", hello, RecordTypeHandshake, hello[RecordHeaderLen:], []byte{}, true},
		{"two records", concat(hello, alert), RecordTypeHandshake, hello[RecordHeaderLen:], alert, true},
		{"alert", alert, RecordTypeAlert, []byte{AlertLevelWarning, 0}, []byte{}, true},
		{"zero-length record", []byte{RecordTypeChangeCipherSpec, 3, 3, 0, 0, 1}, RecordTypeChangeCipherSpec, []byte{}, []byte{1}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			typ, frag, rest, ok := SplitRecord(tt.in)
			if typ != tt.typ || !bytes.Equal(frag, tt.fragment) || !bytes.Equal(rest, tt.rest) || ok != tt.ok {
				t.Fatalf("SplitRecord(% x…) = %d, %d bytes, %d bytes, %v; want %d, %d bytes, %d bytes, %v",
					tt.in[:min(len(tt.in), 9)], typ, len(frag), len(rest), ok, tt.typ, len(tt.fragment), len(tt.rest), tt.ok)
			}
			n, lok := RecordLen(tt.in)
			if wantHeader := len(tt.in) >= RecordHeaderLen; lok != wantHeader || ok && n != len(tt.in)-len(rest) {
				t.Errorf("RecordLen = %d, %v; want %v and the record's %d bytes", n, lok, wantHeader, len(tt.in)-len(rest))
			}
		})
	}
}

func TestIsHandshakeRecord(t *testing.T) {
	for name, b := range testdataHellos(t) {
		if !IsHandshakeRecord(b) {
			t.Errorf("IsHandshakeRecord(%s) = false, want true", name)
		}
	}
	for _, b := range [][]byte{nil, []byte("CONNECT"), []byte("GET / HTTP/1.1"), {0x80, 0x2e}, AlertRecord(AlertLevelFatal, "access_denied")} {
		if IsHandshakeRecord(b) {
			t.Errorf("IsHandshakeRecord(%q) = true, want false", b)
		}
	}
}

func TestAlertRecord(t *testing.T) {
	// The bytes proxy wrote by hand to deny a connection by policy.
	if got, want := AlertRecord(AlertLevelFatal, "access_denied"), []byte{21, 3, 1, 0, 2, 2, 49}; !bytes.Equal(got, want) {
		t.Errorf("AlertRecord(fatal, access_denied) = % x, want % x", got, want)
	}
	if n := len(AlertRecord(AlertLevelWarning, "close_notify")); n != AlertRecordLen {
		t.Errorf("len(AlertRecord) = %d, want AlertRecordLen %d", n, AlertRecordLen)
	}
	if got := AlertRecord(AlertLevelFatal, AlertName(0xfe)); got[6] != 0xfe {
		t.Errorf("AlertRecord(fatal, %q) = % x, want description 0xfe", AlertName(0xfe), got)
	}
	defer func() {
		if recover() == nil {
			t.Errorf("AlertRecord(fatal, \"access_deny\") did not panic")
		}
	}()
	AlertRecord(AlertLevelFatal, "access_deny")
}

// TestParseAlertCryptoTLS reads the alert a crypto/tls TLS 1.2 client sends
// in clear when it does not trust the server's certificate, and checks its
// name against what the crypto/tls server reports receiving.
func TestParseAlertCryptoTLS(t *testing.T) {
	p := testFlightPKI(t)
	cc, sc := flightConfigs(t, p.ecdsaLeaf)
	cc.MaxVersion = tls.VersionTLS12
	cc.RootCAs = x509.NewCertPool()
	cap := captureHandshake(t, cc, sc)
	if cap.clientErr == nil || cap.serverErr == nil {
		t.Fatalf("handshake: client %v, server %v: want a failure", cap.clientErr, cap.serverErr)
	}
	at := endOfMessage(cap.fromClient, typeClientHello, 1)
	if at < 0 {
		t.Fatalf("no ClientHello in the client's %d bytes", len(cap.fromClient))
	}
	level, name, ok := ParseAlert(cap.fromClient[at:])
	if !ok || level != AlertLevelFatal || !strings.Contains(cap.serverErr.Error(), strings.ReplaceAll(name, "_", " ")) {
		t.Fatalf("ParseAlert(% x) = %d, %q, %v; want a fatal alert, the one in the server's error %q", cap.fromClient[at:], level, name, ok, cap.serverErr)
	}
}

func TestParseAlert(t *testing.T) {
	tests := []struct {
		name  string
		in    []byte
		level uint8
		desc  string
		ok    bool
	}{
		{"access_denied", AlertRecord(AlertLevelFatal, "access_denied"), AlertLevelFatal, "access_denied", true},
		{"close_notify then more", concat(AlertRecord(AlertLevelWarning, "close_notify"), []byte{RecordTypeApplicationData}), AlertLevelWarning, "close_notify", true},
		{"unnamed description", []byte{RecordTypeAlert, 3, 3, 0, 2, AlertLevelFatal, 0xfe}, AlertLevelFatal, "0xfe", true},
		{"two alerts in a record: the first", []byte{RecordTypeAlert, 3, 3, 0, 4, AlertLevelWarning, 90, AlertLevelFatal, 40}, AlertLevelWarning, "user_canceled", true},
		{"empty", nil, 0, "", false},
		{"description still to come", AlertRecord(AlertLevelFatal, "access_denied")[:AlertRecordLen-1], 0, "", false},
		{"fragment too short", []byte{RecordTypeAlert, 3, 3, 0, 1, AlertLevelFatal, RecordTypeHandshake}, 0, "", false},
		{"handshake record", capturedHello(t, &tls.Config{ServerName: "example.test"}), 0, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			level, desc, ok := ParseAlert(tt.in)
			if level != tt.level || desc != tt.desc || ok != tt.ok {
				t.Errorf("ParseAlert(% x…) = %d, %q, %v; want %d, %q, %v", tt.in[:min(len(tt.in), 9)], level, desc, ok, tt.level, tt.desc, tt.ok)
			}
		})
	}
}

// BenchmarkHelloByteAtATime walks the framing once per byte, as the proxy
// does for a client writing its hello a byte at a time.
func BenchmarkHelloByteAtATime(b *testing.B) {
	rec := capturedHello(b, &tls.Config{ServerName: "example.com"})
	b.SetBytes(int64(len(rec)))
	for b.Loop() {
		for i := 1; i <= len(rec); i++ {
			if done, err := HelloComplete(rec[:i]); err != nil || done != (i == len(rec)) {
				b.Fatal(i, done, err)
			}
		}
	}
}
