package inspect

import (
	"bytes"
	"crypto/tls"
	"errors"
	"testing"
)

// helloSeeds are ClientHello records for the record-layer fuzz targets:
// testdata's real clients, crypto/tls's, and crypto/tls's framed into
// several records.
func helloSeeds(tb testing.TB) [][]byte {
	var seeds [][]byte
	for _, b := range testdataHellos(tb) {
		seeds = append(seeds, b)
	}
	goHello := capturedHello(tb, &tls.Config{ServerName: "example.test", NextProtos: []string{"h2", "http/1.1"}})
	msg := goHello[RecordHeaderLen:]
	return append(seeds, goHello,
		frameRecords(msg, 0x0301, 10, 100),
		frameRecords(msg, 0x0303, 1, 1, 1, 1, 1),
		frameRecords(kitchenSink().message(), 0x0301),
	)
}

// serverFlightSeeds returns what crypto/tls servers send in handshakes whose
// clear flights end differently: TLS 1.3, TLS 1.3 after a HelloRetryRequest
// (and its ChangeCipherSpec), TLS 1.2, TLS 1.2 resumed, and a refusal with an
// alert. The certificate is ECDSA, so that fuzz workers, which each build
// their seeds, start in moments (testFlightPKI generates an RSA key).
func serverFlightSeeds(tb testing.TB) [][]byte {
	cert, pool := helloTestCertificate(tb)
	setups := []func(cc, sc *tls.Config){
		func(cc, sc *tls.Config) {},
		func(cc, sc *tls.Config) {
			cc.CurvePreferences = []tls.CurveID{tls.X25519, tls.CurveP256}
			sc.CurvePreferences = []tls.CurveID{tls.CurveP256}
		},
		func(cc, sc *tls.Config) { cc.MaxVersion = tls.VersionTLS12 },
		func(cc, sc *tls.Config) {
			cc.MaxVersion = tls.VersionTLS12
			cc.ClientSessionCache = tls.NewLRUClientSessionCache(1)
			captureHandshake(tb, cc, sc) // leaves a ticket in the cache
		},
		func(cc, sc *tls.Config) {
			cc.MaxVersion = tls.VersionTLS12
			cc.CipherSuites = []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256} // needs RSA: refused
		},
	}
	var seeds [][]byte
	for _, setup := range setups {
		cc := &tls.Config{ServerName: "example.test", RootCAs: pool}
		sc := &tls.Config{Certificates: []tls.Certificate{cert}}
		setup(cc, sc)
		seeds = append(seeds, captureHandshake(tb, cc, sc).fromServer)
	}
	return seeds
}

// FuzzHelloComplete checks HelloComplete against ParseClientHello: a hello
// HelloComplete calls complete is never truncated for the parser, one the
// parser reads is complete, framing HelloComplete rejects the parser rejects
// too, and bytes after a complete hello change nothing.
func FuzzHelloComplete(f *testing.F) {
	for _, b := range helloSeeds(f) {
		f.Add(b, uint16(len(b)/2))
	}
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"), uint16(3))
	f.Add([]byte{RecordTypeHandshake, 3, 1, 0, 0}, uint16(5))
	f.Fuzz(func(t *testing.T, b []byte, cut uint16) {
		done, err := HelloComplete(b)
		if err != nil && (done || !errors.Is(err, ErrNotTLS) && !errors.Is(err, ErrBadFraming)) {
			t.Fatalf("HelloComplete = %v, %v: want false and ErrNotTLS or ErrBadFraming", done, err)
		}
		h, perr := ParseClientHello(b)
		switch {
		case done && errors.Is(perr, ErrTruncated):
			t.Fatalf("HelloComplete = true, but ParseClientHello: %v", perr)
		case perr == nil && !done:
			t.Fatalf("ParseClientHello parsed a hello (%d bytes) but HelloComplete = false, %v", len(h.Raw), err)
		case err != nil && perr == nil:
			t.Fatalf("HelloComplete: %v, but ParseClientHello parsed a hello", err)
		}
		k := int(cut) % (len(b) + 1)
		if pdone, perr := HelloComplete(b[:k]); pdone && (!done || err != nil) {
			t.Fatalf("HelloComplete(first %d bytes) = true, %v but of all %d = %v, %v", k, perr, len(b), done, err)
		}
	})
}

// FuzzServerFlightDone checks that a server's clear flight, once done at a
// record boundary, stays done whatever follows.
func FuzzServerFlightDone(f *testing.F) {
	for _, b := range serverFlightSeeds(f) {
		f.Add(b, uint16(1))
		f.Add(b, uint16(3))
	}
	f.Add([]byte("HTTP/1.1 400 Bad Request\r\n\r\n"), uint16(0))
	f.Add(concat([]byte{RecordTypeChangeCipherSpec, 3, 3, 0, 1, 1}, AlertRecord(AlertLevelFatal, "handshake_failure")), uint16(1))
	f.Fuzz(func(t *testing.T, b []byte, boundary uint16) {
		off := 0 // the end of record number boundary, or of the last whole one
		for range boundary {
			_, _, rest, ok := SplitRecord(b[off:])
			if !ok {
				break
			}
			off = len(b) - len(rest)
		}
		if ServerFlightDone(b[:off]) && !ServerFlightDone(b) {
			t.Fatalf("ServerFlightDone(first %d bytes, whole records) = true but of all %d = false", off, len(b))
		}
	})
}

// FuzzSplitRecord checks that the records SplitRecord finds, and what is
// left, join back to the input, that RecordLen agrees on each one's length,
// and that ParseAlert reads what an alert record's fragment holds.
func FuzzSplitRecord(f *testing.F) {
	for _, b := range helloSeeds(f) {
		f.Add(b)
	}
	for _, b := range serverFlightSeeds(f) {
		f.Add(b)
	}
	f.Add(AlertRecord(AlertLevelFatal, "access_denied"))
	f.Add([]byte{RecordTypeAlert, 3, 3, 0, 1, 2})
	f.Fuzz(func(t *testing.T, b []byte) {
		var joined []byte
		rest := b
		for {
			n, lok := RecordLen(rest)
			typ, frag, next, ok := SplitRecord(rest)
			if lok != (len(rest) >= RecordHeaderLen) || ok != (lok && n <= len(rest)) {
				t.Fatalf("RecordLen = %d, %v and SplitRecord ok = %v for %d bytes", n, lok, ok, len(rest))
			}
			level, desc, aok := ParseAlert(rest)
			if ok && aok != (typ == RecordTypeAlert && len(frag) >= 2) ||
				aok && (level != rest[RecordHeaderLen] || desc != AlertName(rest[RecordHeaderLen+1])) {
				t.Fatalf("ParseAlert(% x…) = %d, %q, %v", rest[:min(len(rest), AlertRecordLen)], level, desc, aok)
			}
			if !ok {
				break
			}
			if n != len(rest)-len(next) || typ != rest[0] || !bytes.Equal(frag, rest[RecordHeaderLen:n]) {
				t.Fatalf("SplitRecord = %d, %d bytes, %d left from %d bytes; RecordLen = %d", typ, len(frag), len(next), len(rest), n)
			}
			joined = append(joined, rest[:n]...)
			rest = next
		}
		if joined = append(joined, rest...); !bytes.Equal(joined, b) {
			t.Fatalf("the records and the rest join to % x, want % x", joined, b)
		}
	})
}

// FuzzAlertRecord checks that AlertRecord and ParseAlert round-trip every
// level and description.
func FuzzAlertRecord(f *testing.F) {
	f.Add(uint8(AlertLevelFatal), uint8(49))
	f.Add(uint8(AlertLevelWarning), uint8(0))
	f.Add(uint8(7), uint8(0xfe))
	f.Fuzz(func(t *testing.T, level, desc uint8) {
		name := AlertName(desc)
		rec := AlertRecord(level, name)
		if len(rec) != AlertRecordLen || rec[AlertRecordLen-1] != desc {
			t.Fatalf("AlertRecord(%d, %q) = % x: want %d bytes ending in %d", level, name, rec, AlertRecordLen, desc)
		}
		if l, d, ok := ParseAlert(rec); l != level || d != name || !ok {
			t.Fatalf("ParseAlert(AlertRecord(%d, %q)) = %d, %q, %v", level, name, l, d, ok)
		}
		if typ, frag, rest, ok := SplitRecord(rec); typ != RecordTypeAlert || !bytes.Equal(frag, []byte{level, desc}) || len(rest) != 0 || !ok {
			t.Fatalf("SplitRecord(AlertRecord(%d, %q)) = %d, % x, % x, %v", level, name, typ, frag, rest, ok)
		}
	})
}
