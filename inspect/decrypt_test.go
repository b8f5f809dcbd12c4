package inspect

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"testing"
)

// RFC 8448 §3, "{server} derive write traffic keys for handshake data".
const (
	rfc8448ServerHSSecret = "b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38"
	rfc8448ServerHSKey    = "3fce516009c21727d0f2e4e86ee403bc"
	rfc8448ServerHSIV     = "5d313eb2671276ee13000b30"
)

// The TLS 1.3 suites this package decrypts (RFC 8446 §B.4).
const (
	suiteAES128GCMSHA256        = 0x1301
	suiteAES256GCMSHA384        = 0x1302
	suiteCHACHA20POLY1305SHA256 = 0x1303
)

func TestHKDFExpandLabel(t *testing.T) {
	secret, _ := hex.DecodeString(rfc8448ServerHSSecret)
	tests := []struct{ label, want string }{
		{"key", rfc8448ServerHSKey},
		{"iv", rfc8448ServerHSIV},
	}
	for _, tt := range tests {
		t.Run(tt.label, func(t *testing.T) {
			got, err := hkdfExpandLabel(sha256.New, secret, tt.label, nil, len(tt.want)/2)
			if err != nil || hex.EncodeToString(got) != tt.want {
				t.Errorf("hkdfExpandLabel(%q) = %x, %v, want %s", tt.label, got, err, tt.want)
			}
		})
	}
	c, err := newRecordCipher(suiteAES128GCMSHA256, secret)
	if err != nil || hex.EncodeToString(c.iv) != rfc8448ServerHSIV {
		t.Errorf("newRecordCipher: iv %x, %v", c.iv, err)
	}
}

func TestNewRecordCipher(t *testing.T) {
	secret32, secret48 := make([]byte, 32), make([]byte, 48)
	tests := []struct {
		name   string
		suite  uint16
		secret []byte
		ok     bool
	}{
		{"AES-128-GCM", suiteAES128GCMSHA256, secret32, true},
		{"AES-256-GCM", suiteAES256GCMSHA384, secret48, true},
		{"ChaCha20-Poly1305", suiteCHACHA20POLY1305SHA256, secret32, true},
		{"AES-256-GCM with a SHA-256 secret", suiteAES256GCMSHA384, secret32, false},
		{"AES-128-CCM", 0x1304, secret32, false},
		{"a TLS 1.2 suite", 0xc02f, secret32, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := newRecordCipher(tt.suite, tt.secret)
			if (err == nil) != tt.ok || (c != nil) != tt.ok {
				t.Errorf("newRecordCipher(%s) = %v, %v; want ok %v", CipherSuiteName(tt.suite), c, err, tt.ok)
			}
		})
	}
}

// seal encrypts one TLSInnerPlaintext as RFC 8446 §5.2 describes, for the
// opening tests: content, the content type, then padding zeros.
func seal(c *recordCipher, seq uint64, content []byte, typ uint8, padding int) []byte {
	if err := c.derive(); err != nil {
		panic(err)
	}
	inner := append(append(bytes.Clone(content), typ), make([]byte, padding)...)
	header := []byte{RecordTypeApplicationData, 3, 3, 0, 0}
	binary.BigEndian.PutUint16(header[3:], uint16(len(inner)+c.aead.Overhead()))
	nonce := bytes.Clone(c.iv)
	for i := range 8 {
		nonce[4+i] ^= byte(seq >> (56 - 8*i))
	}
	return c.aead.Seal(header, nonce, inner, header)
}

func TestRecordCipherOpen(t *testing.T) {
	for _, suite := range []uint16{suiteAES128GCMSHA256, suiteAES256GCMSHA384, suiteCHACHA20POLY1305SHA256} {
		t.Run(CipherSuiteName(suite), func(t *testing.T) {
			secret := bytes.Repeat([]byte{0x5a}, suiteHash(suite)().Size())
			w, _ := newRecordCipher(suite, secret)
			r, _ := newRecordCipher(suite, secret)
			tests := []struct {
				content []byte
				typ     uint8
				padding int
			}{
				{[]byte{typeFinished, 0, 0, 1, 0xff}, RecordTypeHandshake, 0},
				{[]byte{2, 40}, RecordTypeAlert, 17},                         // padded alert
				{[]byte("hello, world\x00"), RecordTypeApplicationData, 300}, // content ending in a zero
			}
			for i, tt := range tests {
				rec := seal(w, uint64(i), tt.content, tt.typ, tt.padding)
				typ, content, err := r.open(rec[:5], rec[5:])
				if err != nil || typ != tt.typ || !bytes.Equal(content, tt.content) {
					t.Errorf("open(record %d) = %d, %q, %v; want %d, %q", i, typ, content, err, tt.typ, tt.content)
				}
			}
			// A record out of sequence (replayed) fails and does not move the sequence.
			if _, _, err := r.open([]byte{23, 3, 3, 0, 0}, seal(w, 0, []byte("x"), RecordTypeApplicationData, 0)[5:]); !errors.Is(err, errDecrypt) || r.seq != 3 {
				t.Errorf("replayed record: %v, seq %d", err, r.seq)
			}
			// Nothing but padding: no content type.
			rec := seal(w, 3, nil, 0, 5)
			if _, _, err := r.open(rec[:5], rec[5:]); err == nil || errors.Is(err, errDecrypt) {
				t.Errorf("all-zero plaintext: %v, want a missing content type", err)
			}
			// KeyUpdate (RFC 8446 §7.2): both sides move to the same next secret.
			wn, err1 := w.next()
			rn, err2 := r.next()
			if err1 != nil || err2 != nil || bytes.Equal(rn.secret, r.secret) || rn.seq != 0 {
				t.Fatalf("next(): %v %v", err1, err2)
			}
			rec = seal(wn, 0, []byte{1}, RecordTypeApplicationData, 0)
			if _, _, err := rn.open(rec[:5], rec[5:]); err != nil {
				t.Errorf("after next(): %v", err)
			}
		})
	}
}
