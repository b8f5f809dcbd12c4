package inspect

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"strings"

	"golang.org/x/crypto/chacha20poly1305"
)

// isTLS13Suite reports whether suite is a TLS 1.3 cipher suite (the IANA
// registry's, per inspect.CipherSuite.TLS13).
func isTLS13Suite(suite uint16) bool { return cipherSuites[suite].TLS13 }

// suiteHash returns the hash of a TLS 1.3 suite whose records this package
// decrypts: AES-GCM and ChaCha20-Poly1305 (RFC 8446 §B.4), or nil for any
// other suite.
func suiteHash(suite uint16) func() hash.Hash {
	s := cipherSuites[suite]
	if !s.TLS13 || !(s.Mode == "GCM" && strings.HasPrefix(s.Cipher, "AES-") || s.Cipher == "ChaCha20") {
		return nil
	}
	switch s.Hash {
	case "SHA256":
		return sha256.New
	case "SHA384":
		return sha512.New384
	}
	return nil
}

// hkdfExpandLabel is HKDF-Expand-Label (RFC 8446 §7.1):
//
//	struct {
//	    uint16 length = Length;
//	    opaque label<7..255> = "tls13 " + Label;
//	    opaque context<0..255> = Context;
//	} HkdfLabel;
func hkdfExpandLabel(h func() hash.Hash, secret []byte, label string, context []byte, length int) ([]byte, error) {
	info, err := hkdfLabel(label, context, length)
	if err != nil {
		return nil, err
	}
	return hkdf.Expand(h, secret, string(info), length)
}

// hkdfLabel encodes the HkdfLabel structure.
func hkdfLabel(label string, context []byte, length int) ([]byte, error) {
	const prefix = "tls13 "
	if len(prefix)+len(label) > 255 || len(context) > 255 || length > 0xffff {
		return nil, fmt.Errorf("inspect: HKDF label %q: too long", label)
	}
	info := make([]byte, 0, 2+1+len(prefix)+len(label)+1+len(context)+1)
	info = binary.BigEndian.AppendUint16(info, uint16(length))
	info = append(info, byte(len(prefix)+len(label)))
	info = append(append(info, prefix...), label...)
	info = append(info, byte(len(context)))
	return append(info, context...), nil
}

// expandShort is HKDF-Expand-Label for each of labels (empty context),
// every length at most the hash's size: then HKDF-Expand (RFC 5869 §2.3)
// is the one block HMAC(secret, info || 0x01), and one HMAC keyed with the
// secret serves all the labels.
func expandShort(h func() hash.Hash, secret []byte, labels []string, lengths []int) ([][]byte, error) {
	mac := hmac.New(h, secret)
	out := make([][]byte, len(labels))
	for i, label := range labels {
		if lengths[i] > mac.Size() {
			return nil, fmt.Errorf("inspect: HKDF-Expand-Label %q: %d bytes is more than one block", label, lengths[i])
		}
		info, err := hkdfLabel(label, nil, lengths[i])
		if err != nil {
			return nil, err
		}
		mac.Reset()
		mac.Write(append(info, 1))
		out[i] = mac.Sum(nil)[:lengths[i]]
	}
	return out, nil
}

// recordCipher opens the TLS 1.3 records of one direction under one traffic
// secret. Its sequence number counts the records opened so far.
type recordCipher struct {
	suite  uint16
	secret []byte
	aead   cipher.AEAD // nil until derived from secret: see derive
	iv     []byte
	seq    uint64
}

// newRecordCipher derives the traffic key and IV from a traffic secret
// (RFC 8446 §7.3) for a suite suiteHash knows.
func newRecordCipher(suite uint16, secret []byte) (*recordCipher, error) {
	c, err := lazyRecordCipher(suite, secret)
	if err != nil {
		return nil, err
	}
	return c, c.derive()
}

// lazyRecordCipher is newRecordCipher with the key and IV derived only when
// the first record is opened: a flight often ends where a key starts (the
// application traffic secret after Finished), and deriving one costs two
// HKDF expansions and an AES key schedule.
func lazyRecordCipher(suite uint16, secret []byte) (*recordCipher, error) {
	h := suiteHash(suite)
	if h == nil {
		return nil, fmt.Errorf("inspect: cannot decrypt cipher suite %s", CipherSuiteName(suite))
	}
	if len(secret) != h().Size() {
		return nil, fmt.Errorf("inspect: %d-byte traffic secret for %s, want %d", len(secret), CipherSuiteName(suite), h().Size())
	}
	return &recordCipher{suite: suite, secret: secret}, nil
}

// derive sets the traffic key and IV from the secret, once.
func (c *recordCipher) derive() error {
	if c.aead != nil {
		return nil
	}
	h := suiteHash(c.suite)
	s := cipherSuites[c.suite]
	keyLen := 32 // AES-256, ChaCha20
	if s.Cipher == "AES-128" {
		keyLen = 16
	}
	kv, err := expandShort(h, c.secret, []string{"key", "iv"}, []int{keyLen, 12})
	if err != nil {
		return err
	}
	key, iv := kv[0], kv[1]
	var aead cipher.AEAD
	if s.Cipher == "ChaCha20" {
		aead, err = chacha20poly1305.New(key)
	} else {
		var block cipher.Block
		block, err = aes.NewCipher(key)
		if err == nil {
			aead, err = cipher.NewGCM(block)
		}
	}
	if err != nil {
		return fmt.Errorf("inspect: traffic key: %w", err)
	}
	c.aead, c.iv = aead, iv
	return nil
}

// next returns the cipher for the next generation of traffic secret after a
// KeyUpdate (RFC 8446 §7.2):
// application_traffic_secret_N+1 = HKDF-Expand-Label(secret_N, "traffic upd", "", Hash.length).
func (c *recordCipher) next() (*recordCipher, error) {
	h := suiteHash(c.suite)
	secret, err := hkdfExpandLabel(h, c.secret, "traffic upd", nil, len(c.secret))
	if err != nil {
		return nil, err
	}
	return lazyRecordCipher(c.suite, secret)
}

// errDecrypt reports a record that did not authenticate under the key: a key
// log for another connection, another key epoch, or corrupt bytes.
var errDecrypt = errors.New("record did not decrypt")

// open decrypts one TLSCiphertext (RFC 8446 §5.2) given its 5-byte header
// and encrypted_record, and returns the inner content type and content with
// the padding zeros stripped. The sequence number advances only on success.
func (c *recordCipher) open(header, record []byte) (uint8, []byte, error) {
	if err := c.derive(); err != nil {
		return 0, nil, err
	}
	// RFC 8446 §5.3: the nonce is the 64-bit sequence number, left-padded
	// with zeros to the IV length, XORed with the IV.
	var nonceBuf [12]byte
	nonce := nonceBuf[:copy(nonceBuf[:], c.iv)]
	var seq [8]byte
	binary.BigEndian.PutUint64(seq[:], c.seq)
	for i, b := range seq {
		nonce[len(nonce)-8+i] ^= b
	}
	// RFC 8446 §5.2: additional_data = the record header.
	plain, err := c.aead.Open(nil, nonce, record, header)
	if err != nil {
		return 0, nil, errDecrypt
	}
	c.seq++
	// TLSInnerPlaintext: content || ContentType type || uint8 zeros[length_of_padding].
	i := len(plain) - 1
	for i >= 0 && plain[i] == 0 {
		i--
	}
	if i < 0 {
		return 0, nil, errors.New("decrypted record has no content type")
	}
	return plain[i], plain[:i], nil
}
