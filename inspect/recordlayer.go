package inspect

import (
	"errors"
	"fmt"
	"sync"

	"golang.org/x/crypto/cryptobyte"
)

// The TLS record layer (RFC 8446 §5.1, RFC 5246 §6.2.1): every byte of a
// connection travels in records,
//
//	struct {
//	    ContentType type;
//	    ProtocolVersion legacy_record_version;
//	    uint16 length;
//	    opaque fragment[TLSPlaintext.length];
//	} TLSPlaintext;
//
// This file frames byte streams into records for callers that hold
// connections (package proxy, the hellocap tool): whether a ClientHello or a
// server's clear flight is complete, where a record ends, and alerts.

// Record content types (RFC 8446 §5.1, RFC 5246 §6.2.1).
const (
	RecordTypeChangeCipherSpec = 20
	RecordTypeAlert            = 21
	RecordTypeHandshake        = 22
	RecordTypeApplicationData  = 23
)

const (
	// RecordHeaderLen is the length of a record header: type, version and
	// length (RFC 8446 §5.1).
	RecordHeaderLen = 5

	// MaxFragmentLen is the longest record fragment any TLS version allows:
	// TLSCiphertext's 2^14+2048 bytes (RFC 5246 §6.2.3). TLS 1.3 allows only
	// 2^14+256 (RFC 8446 §5.2) but a record's version is not known until the
	// ServerHello.
	MaxFragmentLen = 1<<14 + 2048
)

// Alert levels (RFC 5246 §7.2; RFC 8446 §6 keeps the field, and every TLS 1.3
// alert but user_canceled and close_notify is fatal).
const (
	AlertLevelWarning = 1
	AlertLevelFatal   = 2
)

// AlertRecordLen is the length of a record holding one alert: the header,
// then the level and description (RFC 8446 §6).
const AlertRecordLen = RecordHeaderLen + 2

// ErrBadFraming reports TLS record framing that no ClientHello can have: a
// record version other than 3.x, a record longer than MaxFragmentLen, or a
// first handshake message that is not a ClientHello. Errors returned for it
// wrap ErrBadFraming and say which.
var ErrBadFraming = errors.New("inspect: malformed TLS records before the ClientHello was complete")

// IsHandshakeRecord reports whether b starts with the content type of a
// handshake record (RFC 8446 §5.1), as a TLS client's first bytes do. It is
// false for empty b.
func IsHandshakeRecord(b []byte) bool {
	return len(b) > 0 && b[0] == RecordTypeHandshake
}

// RecordLen reports the length of the first record in b, header included.
// ok is false until the RecordHeaderLen bytes of the header are in. It
// checks neither the type nor the version.
func RecordLen(b []byte) (n int, ok bool) {
	s := cryptobyte.String(b)
	var length uint16
	if !s.Skip(1+2) || !s.ReadUint16(&length) { // type, legacy_record_version, length
		return 0, false
	}
	return RecordHeaderLen + int(length), true
}

// SplitRecord splits the first record off b (RFC 8446 §5.1): its content
// type, its fragment and the bytes after it. ok is false, and the rest zero,
// while b holds less than a whole record. It checks neither the type, the
// version nor the length against MaxFragmentLen: callers judge those.
// fragment and rest alias b.
func SplitRecord(b []byte) (typ uint8, fragment, rest []byte, ok bool) {
	s := cryptobyte.String(b)
	var frag cryptobyte.String
	if !s.ReadUint8(&typ) || !s.Skip(2) || !s.ReadUint16LengthPrefixed(&frag) {
		return 0, nil, nil, false
	}
	return typ, frag, s, true
}

// HelloComplete reports whether b, a client's first bytes, holds its whole
// first handshake message (a ClientHello, RFC 8446 §4.1.2) and every byte of
// the record that completes it, so that ParseClientHello(b) does not report
// ErrTruncated. A message may span several records and records may arrive
// in pieces; HelloComplete copies nothing and allocates nothing (but an
// ErrBadFraming error), so a caller may call it after every read.
//
// It returns ErrNotTLS itself (unwrapped) when a record is not a handshake
// record, and an error wrapping ErrBadFraming for framing no ClientHello can
// have, as soon as the bytes show it rather than waiting for more that will
// never make sense; ParseClientHello then says what the bytes were. Empty b
// is incomplete, not an error.
func HelloComplete(b []byte) (bool, error) {
	var hdr [handshakeHeaderLen]byte // the first message's header, gathered across records
	got := 0                         // handshake bytes so far
	for off := 0; off < len(b); {
		rec := b[off:]
		// RFC 8446 §5.1: handshake messages MUST NOT be interleaved with
		// other record types.
		if rec[0] != RecordTypeHandshake {
			return false, ErrNotTLS
		}
		// Every TLS and SSL 3.0 record version is 3.x (RFC 8446 §5.1).
		if len(rec) >= 2 && rec[1] != 3 {
			return false, fmt.Errorf("%w: record version major %d at byte %d", ErrBadFraming, rec[1], off)
		}
		n, ok := RecordLen(rec)
		if !ok {
			return false, nil
		}
		if n-RecordHeaderLen > MaxFragmentLen { // RFC 5246 §6.2.3
			return false, fmt.Errorf("%w: record length %d at byte %d exceeds 2^14+2048", ErrBadFraming, n-RecordHeaderLen, off)
		}
		body := rec[RecordHeaderLen:min(len(rec), n)]
		if got < len(hdr) {
			copy(hdr[got:], body)
		}
		got += len(body)
		if got >= len(hdr) && hdr[0] != typeClientHello { // RFC 8446 §4: a client starts with client_hello
			return false, fmt.Errorf("%w: first handshake message has type %d, want client_hello (1)", ErrBadFraming, hdr[0])
		}
		if len(rec) < n {
			return false, nil // the rest of this record is still to come
		}
		if m, ok := HandshakeMessageLen(hdr[:min(got, len(hdr))]); ok && got >= m {
			return true, nil
		}
		off += n
	}
	return false, nil
}

// ServerFlightDone reports whether b, the bytes a server sent so far, holds
// everything it sends in clear (RFC 8446 §4, RFC 5246 §7.3): in TLS 1.3 the
// ServerHello (the rest is encrypted); in TLS 1.2 and earlier the flight up
// to ServerHelloDone, or to ChangeCipherSpec in an abbreviated (resumed)
// handshake. An alert or any record other than a handshake also ends it,
// and so do fewer bytes than a record header whose first byte is no content
// type: there is nothing more to wait for. A whole header waits for its
// record, whatever its type. Once true for records that end at a record
// boundary, it is true for every extension of them. Empty b is not done.
func ServerFlightDone(b []byte) bool {
	var hs []byte    // handshake bytes not yet making a whole message
	retried := false // a HelloRetryRequest came, and its ChangeCipherSpec may follow
	for {
		typ, body, rest, ok := SplitRecord(b)
		if !ok {
			break
		}
		b = rest
		switch typ {
		case RecordTypeHandshake:
		case RecordTypeChangeCipherSpec:
			if retried && len(hs) == 0 {
				continue // TLS 1.3 middlebox compatibility after a HelloRetryRequest (RFC 8446 §D.4)
			}
			return true // TLS 1.2 resumption: the server's Finished follows, encrypted
		default: // alert, application data, or not TLS at all
			return true
		}
		hs = append(hs, body...)
		for {
			msgLen, ok := HandshakeMessageLen(hs)
			if !ok || len(hs) < msgLen {
				break
			}
			msg := hs[:msgLen]
			hs = hs[msgLen:]
			switch msg[0] {
			case typeServerHello: // or hello_retry_request (RFC 8446 §4.1.4)
				sh, err := ParseServerHelloMessage(msg)
				if err != nil {
					return true // malformed: parse what there is
				}
				if sh.HelloRetry {
					retried = true // the client answers with a second ClientHello
					continue
				}
				if sh.Version() >= 0x0304 {
					return true // the rest of a TLS 1.3 flight is encrypted
				}
			case typeServerHelloDone:
				return true
			}
		}
	}
	if _, ok := RecordLen(b); ok {
		return false // wait for the rest of the record
	}
	return len(b) > 0 && (b[0] < RecordTypeChangeCipherSpec || b[0] > RecordTypeApplicationData)
}

// AlertRecord returns a record holding one alert (RFC 8446 §6): level, such
// as AlertLevelFatal, and the description named as AlertName names it, such
// as "access_denied". The record version is 0x0301, as crypto/tls writes
// before a version is negotiated (RFC 8446 §5.1, Appendix D). It panics if
// no alert description has that name: a programmer error.
func AlertRecord(level uint8, description string) []byte {
	d, ok := alertCodes()[description]
	if !ok {
		panic("inspect: no TLS alert named " + description)
	}
	return []byte{RecordTypeAlert, 3, 1, 0, 2, level, d}
}

// ParseAlert reads the alert at the start of b: the level and the named
// description of the first record, if it is an alert record (RFC 8446 §6:
// struct { AlertLevel level; AlertDescription description; } Alert). It
// needs only the header and the first alert's two bytes, so it reads the
// start of a stream. ok is false for anything else, including an alert
// record whose fragment is shorter than an alert and bytes still too few.
func ParseAlert(b []byte) (level uint8, description string, ok bool) {
	s := cryptobyte.String(b)
	var typ, desc uint8
	var length uint16
	if !s.ReadUint8(&typ) || typ != RecordTypeAlert || !s.Skip(2) ||
		!s.ReadUint16(&length) || length < 2 || !s.ReadUint8(&level) || !s.ReadUint8(&desc) {
		return 0, "", false
	}
	return level, AlertName(desc), true
}

// alertCodes maps every name AlertName gives, "0x1a" forms included, back
// to its code; built once, read-only after.
var alertCodes = sync.OnceValue(func() map[string]uint8 {
	m := make(map[string]uint8, 256)
	for v := range 256 {
		m[AlertName(uint8(v))] = uint8(v)
	}
	return m
})
