package inspect

import (
	"fmt"

	"golang.org/x/crypto/cryptobyte"
)

// ECH client hello types (RFC 9849 §5, ECHClientHelloType).
const (
	echOuter = 0 // the outer ClientHello: carries the encrypted inner one
	echInner = 1 // the inner ClientHello: an empty marker, only ever seen decrypted
)

// ParseECH parses the body of a ClientHello's encrypted_client_hello
// extension (RFC 9849 §5; draft-ietf-tls-esni-13 and later have the same
// form):
//
//	enum { outer(0), inner(1) } ECHClientHelloType;
//	struct {
//	    ECHClientHelloType type;
//	    select (ECHClientHello.type) {
//	        case outer:
//	            HpkeSymmetricCipherSuite cipher_suite; // uint16 kdf_id, uint16 aead_id
//	            uint8 config_id;
//	            opaque enc<0..2^16-1>;
//	            opaque payload<1..2^16-1>;
//	        case inner:
//	            Empty;
//	    };
//	} ECHClientHello;
//
// It returns the extension's description, or a *ParseError whose Offset is
// into data. Without the server's ECH keys a real offer and a GREASE one
// (RFC 9849 §6.2) look the same: the payload is opaque either way. An empty
// payload is accepted, as crypto/tls's own GREASE once sent it.
func ParseECH(data []byte) (*ECHInfo, error) {
	d := cryptobyte.String(data)
	var t uint8
	if !d.ReadUint8(&t) {
		return nil, echError("no type", data, d)
	}
	switch t {
	case echOuter:
		e := &ECHInfo{Type: "outer"}
		var enc, payload cryptobyte.String
		if !d.ReadUint16(&e.KDF) || !d.ReadUint16(&e.AEAD) || !d.ReadUint8(&e.ConfigID) {
			return nil, echError("truncated cipher suite or config id", data, d)
		}
		at := d // a failed read may consume the length: errors point at it
		if !d.ReadUint16LengthPrefixed(&enc) {
			return nil, echError("truncated enc", data, at)
		}
		at = d
		if !d.ReadUint16LengthPrefixed(&payload) {
			return nil, echError("truncated payload", data, at)
		}
		e.EncLength, e.PayloadLength = len(enc), len(payload)
		if !d.Empty() {
			return nil, echError("bytes after the payload", data, d)
		}
		return e, nil
	case echInner:
		if !d.Empty() {
			return nil, echError("bytes after the inner type", data, d)
		}
		return &ECHInfo{Type: "inner"}, nil
	}
	return nil, &ParseError{Msg: fmt.Sprintf("encrypted_client_hello: unknown type %d", t), Offset: 0}
}

// echError is a ParseError at the first byte of rest, a suffix of data.
func echError(msg string, data []byte, rest cryptobyte.String) error {
	return &ParseError{Msg: "encrypted_client_hello: " + msg, Offset: len(data) - len(rest)}
}

// HPKEKDFName names an HPKE KDF identifier (RFC 9180 §7.2); an unknown one
// is its code, e.g. "0x0004".
func HPKEKDFName(id uint16) string {
	switch id {
	case 0x0001:
		return "HKDF-SHA256"
	case 0x0002:
		return "HKDF-SHA384"
	case 0x0003:
		return "HKDF-SHA512"
	}
	return fmt.Sprintf("0x%04x", id)
}

// HPKEAEADName names an HPKE AEAD identifier (RFC 9180 §7.3); an unknown
// one is its code, e.g. "0x0004".
func HPKEAEADName(id uint16) string {
	switch id {
	case 0x0001:
		return "AES-128-GCM"
	case 0x0002:
		return "AES-256-GCM"
	case 0x0003:
		return "ChaCha20Poly1305"
	case 0xffff:
		return "Export-only"
	}
	return fmt.Sprintf("0x%04x", id)
}
