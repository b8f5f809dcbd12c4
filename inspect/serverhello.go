package inspect

import (
	"bytes"
	"fmt"

	"golang.org/x/crypto/cryptobyte"
)

// helloRetryRequestRandom is the Random of a HelloRetryRequest:
// SHA-256("HelloRetryRequest") (RFC 8446 §4.1.3).
var helloRetryRequestRandom = []byte{
	0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
	0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
}

// downgradeCanary is the first seven bytes of the last eight of a ServerHello
// random from a TLS 1.3 server negotiating an older version (RFC 8446 §4.1.3):
// "DOWNGRD" followed by 0x01 (TLS 1.2) or 0x00 (TLS 1.1 or below).
var downgradeCanary = []byte("DOWNGRD")

// ServerHelloMsg is a parsed ServerHello, or a HelloRetryRequest (RFC 8446
// §4.1.3: a ServerHello whose Random is the HelloRetryRequest magic value).
// Slices alias Raw.
type ServerHelloMsg struct {
	LegacyVersion uint16
	Random        []byte
	SessionID     []byte
	CipherSuite   uint16
	Compression   uint8
	Extensions    []Extension // wire order; nil when the message has no extensions block
	// SupportedVersion is the supported_versions extension's selected_version
	// (RFC 8446 §4.2.1), 0 when absent.
	SupportedVersion uint16
	// KeyShareGroup is the key_share group (RFC 8446 §4.2.8): the server's
	// share in a ServerHello, selected_group in a HelloRetryRequest; 0 when
	// absent.
	KeyShareGroup uint16
	// ALPN is the protocol the server selected in the ServerHello (RFC 7301
	// §3.1); TLS 1.3 servers send it in EncryptedExtensions instead.
	ALPN       string
	HelloRetry bool
	// Downgrade is "TLS 1.2" or "TLS 1.1" when the random ends with the
	// RFC 8446 §4.1.3 downgrade sentinel, else "".
	Downgrade string
	Raw       []byte // the whole handshake message, header included
}

// ParseServerHelloMessage parses one ServerHello handshake message, from its
// 4-byte handshake header (type 2, uint24 length) to its last byte. The
// message is copied: the result does not alias msg.
//
// It returns an error wrapping ErrTruncated if msg is shorter than its
// header says, and a *ParseError if it is malformed, not a ServerHello, or
// followed by other bytes.
func ParseServerHelloMessage(msg []byte) (*ServerHelloMsg, error) {
	s := cryptobyte.String(msg)
	off := func() int { return len(msg) - len(s) }
	// RFC 8446 §4: struct { HandshakeType msg_type; uint24 length; ... } Handshake.
	if len(msg) > 0 && msg[0] != typeServerHello {
		return nil, &ParseError{Msg: fmt.Sprintf("handshake message type %d, not ServerHello", msg[0]), Offset: 0}
	}
	n, ok := HandshakeMessageLen(msg)
	switch {
	case !ok:
		return nil, fmt.Errorf("%w: handshake header needs %d more bytes", ErrTruncated, handshakeHeaderLen-len(msg))
	case len(msg) < n:
		return nil, fmt.Errorf("%w: ServerHello needs %d more bytes", ErrTruncated, n-len(msg))
	case len(msg) > n:
		return nil, &ParseError{Msg: "bytes after the ServerHello", Offset: n}
	}
	msg = bytes.Clone(msg)
	m := &ServerHelloMsg{Raw: msg}
	s = cryptobyte.String(msg[4:])
	// RFC 8446 §4.1.3 (and RFC 5246 §7.4.1.3):
	//	ProtocolVersion legacy_version = 0x0303;
	//	Random random;
	//	opaque legacy_session_id_echo<0..32>;
	//	CipherSuite cipher_suite;
	//	uint8 legacy_compression_method = 0;
	//	Extension extensions<6..2^16-1>;
	var sid cryptobyte.String
	if !s.ReadUint16(&m.LegacyVersion) || !s.ReadBytes(&m.Random, 32) {
		return nil, &ParseError{Msg: "truncated random", Offset: off()}
	}
	if !s.ReadUint8LengthPrefixed(&sid) || len(sid) > 32 {
		return nil, &ParseError{Msg: "bad session id", Offset: off()}
	}
	m.SessionID = sid
	if !s.ReadUint16(&m.CipherSuite) || !s.ReadUint8(&m.Compression) {
		return nil, &ParseError{Msg: "truncated cipher suite", Offset: off()}
	}
	m.HelloRetry = bytes.Equal(m.Random, helloRetryRequestRandom)
	if tail := m.Random[24:]; !m.HelloRetry && bytes.Equal(tail[:7], downgradeCanary) {
		switch tail[7] {
		case 1:
			m.Downgrade = "TLS 1.2"
		case 0:
			m.Downgrade = "TLS 1.1"
		}
	}
	if s.Empty() {
		// RFC 5246 §7.4.1.3: a TLS 1.2 ServerHello may end before the
		// extensions block.
		return m, nil
	}
	var exts cryptobyte.String
	if !s.ReadUint16LengthPrefixed(&exts) {
		return nil, &ParseError{Msg: "truncated extensions", Offset: off()}
	}
	if !s.Empty() {
		return nil, &ParseError{Msg: "trailing bytes after extensions", Offset: off()}
	}
	m.Extensions = []Extension{}
	for !exts.Empty() {
		var typ uint16
		var data cryptobyte.String
		if !exts.ReadUint16(&typ) || !exts.ReadUint16LengthPrefixed(&data) {
			return nil, &ParseError{Msg: "truncated extension", Offset: len(msg) - len(exts)}
		}
		m.Extensions = append(m.Extensions, Extension{Type: typ, Data: data})
		at := len(msg) - len(exts) - len(data)
		switch typ {
		case extSupportedVersions:
			// RFC 8446 §4.2.1: ServerHello carries ProtocolVersion selected_version.
			if !data.ReadUint16(&m.SupportedVersion) || !data.Empty() {
				return nil, &ParseError{Msg: "bad supported_versions", Offset: at}
			}
		case extKeyShare:
			// RFC 8446 §4.2.8: ServerHello carries KeyShareEntry server_share
			// (NamedGroup group; opaque key_exchange<1..2^16-1>), a
			// HelloRetryRequest only NamedGroup selected_group.
			var share cryptobyte.String
			if !data.ReadUint16(&m.KeyShareGroup) ||
				(!m.HelloRetry && !data.ReadUint16LengthPrefixed(&share)) || !data.Empty() {
				return nil, &ParseError{Msg: "bad key_share", Offset: at}
			}
		case extApplicationLayerProtocolNegotiation:
			// RFC 7301 §3.1: the server's ProtocolNameList holds exactly one name.
			var list, name cryptobyte.String
			if !data.ReadUint16LengthPrefixed(&list) || !list.ReadUint8LengthPrefixed(&name) ||
				!list.Empty() || !data.Empty() || len(name) == 0 {
				return nil, &ParseError{Msg: "bad application_layer_protocol_negotiation", Offset: at}
			}
			m.ALPN = string(name)
		}
	}
	return m, nil
}

// Version is the negotiated version: supported_versions when present (TLS
// 1.3, RFC 8446 §4.2.1), else legacy_version.
func (s *ServerHelloMsg) Version() uint16 {
	if s.SupportedVersion != 0 {
		return s.SupportedVersion
	}
	return s.LegacyVersion
}

// hasExtension reports whether the message carries an extension of type typ.
func (s *ServerHelloMsg) hasExtension(typ uint16) bool {
	for _, e := range s.Extensions {
		if e.Type == typ {
			return true
		}
	}
	return false
}

// ServerHello returns the record form of the message (docs/record.md,
// "ServerHello"), with its JA3S. ALPN is the ServerHello's own; for TLS 1.3
// use Flight.ServerHelloRecord, which takes it from EncryptedExtensions.
func (s *ServerHelloMsg) ServerHello() *ServerHello {
	h := &ServerHello{
		Version:     VersionName(s.Version()),
		CipherSuite: CipherSuiteName(s.CipherSuite),
		ALPN:        s.ALPN,
		HelloRetry:  s.HelloRetry,
		Downgrade:   s.Downgrade,
	}
	if s.KeyShareGroup != 0 {
		h.Group = GroupName(s.KeyShareGroup)
	}
	for _, e := range s.Extensions {
		h.Extensions = append(h.Extensions, ExtensionName(e.Type))
	}
	h.JA3S, h.JA3SRaw = JA3S(s)
	return h
}
