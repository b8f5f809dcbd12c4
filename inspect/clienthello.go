package inspect

import (
	"bytes"
	"errors"
	"fmt"
	"slices"

	"golang.org/x/crypto/cryptobyte"
)

// ErrNotTLS reports that the client's first bytes were not a TLS handshake record.
var ErrNotTLS = errors.New("inspect: not a TLS handshake")

// ErrSSLv2 reports an SSL 2.0-compatible ClientHello (RFC 5246 Appendix E.2):
// the first byte has its high bit set. It wraps ErrNotTLS, so
// errors.Is(ErrSSLv2, ErrNotTLS) holds.
var ErrSSLv2 = fmt.Errorf("inspect: SSL 2.0 ClientHello: %w", ErrNotTLS)

// ErrTruncated reports that the bytes end before the ClientHello does: more
// bytes are needed. Errors returned for it wrap ErrTruncated and say how many
// bytes were missing where that is known.
var ErrTruncated = errors.New("inspect: truncated")

// A ParseError reports a malformed handshake message or record.
type ParseError struct {
	Msg    string // what was wrong, e.g. "truncated extensions"
	Offset int    // byte offset: into the records for record errors ("record …"), else into the handshake message
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("inspect: %s at byte %d", e.Msg, e.Offset)
}

// An Extension is one extension as it appeared on the wire.
type Extension struct {
	Type uint16
	Data []byte // the extension_data, without the 4-byte type and length
}

// A KeyShareEntry is one key_share offered in a ClientHello (RFC 8446 §4.2.8).
type KeyShareEntry struct {
	Group  uint16
	Length int // bytes of key_exchange
}

// ECHInfo describes an encrypted_client_hello extension in a ClientHello
// (RFC 9849 §5, ParseECH). Without the server's ECH keys a real ECH offer
// and a GREASE one look the same.
type ECHInfo struct {
	Type          string // "outer" or "inner"
	ConfigID      uint8  // outer only
	KDF, AEAD     uint16 // outer only: the HPKE cipher suite
	EncLength     int    // outer only: bytes of the HPKE encapsulated key
	PayloadLength int    // outer only: bytes of the encrypted inner hello
}

// A ClientHello is a parsed ClientHello message. Lists keep wire order and
// GREASE values. The byte slices alias Raw; a ClientHello is not modified by
// this package after parsing and is safe for concurrent reads.
type ClientHello struct {
	RecordVersion uint16 // version in the first record header; 0 from ParseClientHelloMessage
	LegacyVersion uint16 // legacy_version (client_version before TLS 1.3)
	Random        []byte
	SessionID     []byte

	CipherSuites       []uint16
	CompressionMethods []uint8
	Extensions         []Extension // wire order, GREASE kept; nil when the hello has no extensions block

	// Decoded extensions. A field is zero when its extension is absent; if an
	// extension occurs more than once, the last occurrence wins here (every
	// occurrence stays in Extensions).
	SNI                     string   // server_name host_name
	ALPN                    []string // application_layer_protocol_negotiation
	SupportedVersions       []uint16
	Groups                  []uint16 // supported_groups
	KeyShares               []KeyShareEntry
	SignatureAlgorithms     []uint16
	SignatureAlgorithmsCert []uint16
	PointFormats            []uint8
	PSKModes                []uint8
	SessionTicket           []byte // nil if absent; empty if present and empty
	PSK                     bool   // pre_shared_key present
	PSKIdentities           int
	EarlyData               bool
	ECH                     *ECHInfo
	Padding                 int      // bytes of the padding extension's body
	RecordSizeLimit         int      // 0 when absent
	CompressCertificate     []uint16 // compress_certificate algorithms
	ALPS                    []string // application_settings (either codepoint) protocols
	StatusRequest           bool
	SCT                     bool // signed_certificate_timestamp
	ExtendedMasterSecret    bool
	RenegotiationInfo       bool
	PostHandshakeAuth       bool

	Raw []byte // the handshake message: type 1, 4-byte header included
}

const (
	handshakeHeaderLen = 4

	// maxClientHelloBody is the longest body the ClientHello grammar allows
	// (RFC 8446 §4.1.2): version, random, session id<0..32>,
	// cipher_suites<2..2^16-2>, compression<1..2^8-1>, extensions<8..2^16-1>.
	maxClientHelloBody = 2 + 32 + 1 + 32 + 2 + 65534 + 1 + 255 + 2 + 65535
)

// HandshakeMessageLen reports the total length (4-byte header included) of
// the first handshake message in hs, the reassembled bodies of handshake
// records. ok is false until the 4-byte header is in.
func HandshakeMessageLen(hs []byte) (n int, ok bool) {
	if len(hs) < handshakeHeaderLen {
		return 0, false
	}
	return handshakeHeaderLen + (int(hs[1])<<16 | int(hs[2])<<8 | int(hs[3])), true
}

// ParseClientHello parses the first ClientHello from TLS records (5-byte
// record headers, RFC 8446 §5.1), reassembling a message that spans several
// handshake records. Bytes after the ClientHello are ignored.
//
// It returns an error wrapping ErrNotTLS if the first byte is not a handshake
// record (ErrSSLv2, which wraps ErrNotTLS, for an SSL 2.0-compatible hello),
// one wrapping ErrTruncated if the records end before the ClientHello does,
// and a *ParseError if the records or the message are malformed. A
// ParseError about the records ("record …") has its Offset in records; one
// about the message has it in the reassembled message, as
// ParseClientHelloMessage reports it.
func ParseClientHello(records []byte) (*ClientHello, error) {
	if len(records) == 0 {
		return nil, fmt.Errorf("%w: no bytes", ErrTruncated)
	}
	if records[0]&0x80 != 0 && (len(records) < 3 || records[2] == typeClientHello) {
		// SSL 2.0 record header: 2-byte length with the high bit set, then
		// msg_type 1 (RFC 5246 Appendix E.2).
		return nil, ErrSSLv2
	}
	if records[0] != RecordTypeHandshake {
		return nil, fmt.Errorf("%w: first byte 0x%02x", ErrNotTLS, records[0])
	}
	if len(records) >= 2 && records[1] != 3 {
		// Every TLS and SSL 3.0 record version is 3.x (RFC 8446 §5.1).
		return nil, fmt.Errorf("%w: record version major %d", ErrNotTLS, records[1])
	}

	var hs []byte // handshake record bodies so far
	var recordVersion uint16
	for off := 0; ; {
		recLen, ok := RecordLen(records[off:])
		if !ok {
			return nil, fmt.Errorf("%w: record header at byte %d needs %d more bytes",
				ErrTruncated, off, RecordHeaderLen-(len(records)-off))
		}
		typ := records[off]
		vers := uint16(records[off+1])<<8 | uint16(records[off+2])
		n := recLen - RecordHeaderLen
		if off == 0 {
			recordVersion = vers
		}
		// RFC 8446 §5.1: handshake messages MUST NOT be interleaved with
		// other record types.
		if typ != RecordTypeHandshake {
			return nil, &ParseError{Msg: fmt.Sprintf("record of type %d inside the ClientHello", typ), Offset: off}
		}
		if vers>>8 != 3 {
			return nil, &ParseError{Msg: fmt.Sprintf("record version 0x%04x", vers), Offset: off + 1}
		}
		if n == 0 {
			// RFC 8446 §5.1, RFC 5246 §6.2.1: no zero-length handshake
			// fragments (crypto/tls rejects them too).
			return nil, &ParseError{Msg: "zero-length handshake record", Offset: off + 3}
		}
		if n > MaxFragmentLen {
			return nil, &ParseError{Msg: fmt.Sprintf("record length %d exceeds 2^14+2048", n), Offset: off + 3}
		}
		end := off + recLen
		if end > len(records) {
			return nil, fmt.Errorf("%w: record at byte %d needs %d more bytes", ErrTruncated, off, end-len(records))
		}
		body := records[off+RecordHeaderLen : end]
		if hs == nil {
			hs = body[:len(body):len(body)] // no copy until a second record arrives
		} else {
			hs = append(hs, body...)
		}
		off = end

		if len(hs) > 0 && hs[0] != typeClientHello {
			return nil, &ParseError{Msg: fmt.Sprintf("first handshake message has type %d, not ClientHello", hs[0]), Offset: RecordHeaderLen}
		}
		m, ok := HandshakeMessageLen(hs)
		if !ok || len(hs) < m {
			if ok && m-handshakeHeaderLen > maxClientHelloBody {
				return nil, &ParseError{Msg: fmt.Sprintf("ClientHello length %d exceeds the largest possible", m-handshakeHeaderLen), Offset: RecordHeaderLen + 1}
			}
			continue
		}
		h, err := ParseClientHelloMessage(hs[:m])
		if err != nil {
			return nil, err
		}
		h.RecordVersion = recordVersion
		return h, nil
	}
}

// ParseClientHelloMessage parses one handshake message, starting with its
// type byte (1) and 3-byte length. Bytes after the message are ignored. The
// message is copied: the result does not alias msg.
//
// It returns an error wrapping ErrTruncated if msg is shorter than its
// header says, and a *ParseError if it is malformed or not a ClientHello.
func ParseClientHelloMessage(msg []byte) (*ClientHello, error) {
	if len(msg) > 0 && msg[0] != typeClientHello {
		return nil, &ParseError{Msg: fmt.Sprintf("handshake message type %d, not ClientHello", msg[0]), Offset: 0}
	}
	n, ok := HandshakeMessageLen(msg)
	if !ok {
		return nil, fmt.Errorf("%w: handshake header needs %d more bytes", ErrTruncated, handshakeHeaderLen-len(msg))
	}
	if n-handshakeHeaderLen > maxClientHelloBody {
		return nil, &ParseError{Msg: fmt.Sprintf("ClientHello length %d exceeds the largest possible", n-handshakeHeaderLen), Offset: 1}
	}
	if len(msg) < n {
		return nil, fmt.Errorf("%w: ClientHello needs %d more bytes", ErrTruncated, n-len(msg))
	}
	h := &ClientHello{Raw: bytes.Clone(msg[:n])}
	if err := h.unmarshal(); err != nil {
		return nil, err
	}
	return h, nil
}

// unmarshal decodes h.Raw, following crypto/tls's clientHelloMsg.unmarshal.
func (h *ClientHello) unmarshal() error {
	raw := h.Raw
	s := cryptobyte.String(raw[handshakeHeaderLen:])
	// s is always a suffix of raw, so pos is where parsing stands; errors
	// point at the start of the field that was wrong.
	pos := func() int { return len(raw) - len(s) }
	fail := func(at int, msg string) error { return &ParseError{Msg: msg, Offset: at} }

	// RFC 8446 §4.1.2 (RFC 5246 §7.4.1.2 for TLS 1.2 and earlier).
	at := pos()
	if !s.ReadUint16(&h.LegacyVersion) {
		return fail(at, "truncated legacy_version")
	}
	at = pos()
	if !s.ReadBytes(&h.Random, 32) {
		return fail(at, "truncated random")
	}
	h.Random = slices.Clip(h.Random)
	at = pos()
	var sid cryptobyte.String
	if !s.ReadUint8LengthPrefixed(&sid) || len(sid) > 32 {
		return fail(at, "malformed legacy_session_id")
	}
	h.SessionID = slices.Clip(sid)
	at = pos()
	var suites cryptobyte.String
	if !s.ReadUint16LengthPrefixed(&suites) || len(suites)%2 != 0 {
		return fail(at, "malformed cipher_suites")
	}
	h.CipherSuites = make([]uint16, 0, len(suites)/2)
	for !suites.Empty() {
		var v uint16
		suites.ReadUint16(&v)
		h.CipherSuites = append(h.CipherSuites, v)
	}
	at = pos()
	var comp cryptobyte.String
	if !s.ReadUint8LengthPrefixed(&comp) {
		return fail(at, "malformed legacy_compression_methods")
	}
	h.CompressionMethods = slices.Clip(comp)
	if s.Empty() {
		return nil // RFC 5246 §7.4.1.2: a hello may end before the extensions
	}
	at = pos()
	var exts cryptobyte.String
	if !s.ReadUint16LengthPrefixed(&exts) {
		return fail(at, "malformed extensions")
	}
	if !s.Empty() {
		return fail(pos(), "trailing bytes after extensions")
	}
	// Nothing follows the extensions block, so exts is a suffix of raw too.
	h.Extensions = []Extension{}
	for !exts.Empty() {
		at := len(raw) - len(exts)
		var typ uint16
		var data cryptobyte.String
		if !exts.ReadUint16(&typ) || !exts.ReadUint16LengthPrefixed(&data) {
			return &ParseError{Msg: "malformed extension header", Offset: at}
		}
		h.Extensions = append(h.Extensions, Extension{Type: typ, Data: slices.Clip(data)})
		if ok := h.decodeExtension(typ, data); !ok {
			return &ParseError{Msg: "malformed " + ExtensionName(typ) + " extension", Offset: at}
		}
	}
	return nil
}

// decodeExtension fills h's fields from one extension's data and reports
// whether the data was well formed. Extensions it does not decode are kept
// only in h.Extensions.
func (h *ClientHello) decodeExtension(typ uint16, d cryptobyte.String) bool {
	switch typ {
	case extServerName:
		// RFC 6066 §3: ServerName server_name_list<1..2^16-1>, each
		// NameType name_type (0 = host_name) and opaque HostName<1..2^16-1>.
		var list cryptobyte.String
		if !d.ReadUint16LengthPrefixed(&list) || list.Empty() {
			return false
		}
		for !list.Empty() {
			var nameType uint8
			var name cryptobyte.String
			if !list.ReadUint8(&nameType) || !list.ReadUint16LengthPrefixed(&name) {
				return false
			}
			if nameType == 0 {
				h.SNI = string(name)
			}
		}
	case extStatusRequest:
		// RFC 6066 §8 (and RFC 8446 §4.4.2.1): only its presence matters here.
		h.StatusRequest = true
		return true
	case extSupportedGroups:
		// RFC 8446 §4.2.7, RFC 8422 §5.1.1: NamedGroup named_group_list<2..2^16-1>.
		var ok bool
		if h.Groups, ok = readUint16List(&d); !ok {
			return false
		}
	case extECPointFormats:
		// RFC 8422 §5.1.2: ECPointFormat ec_point_format_list<1..2^8-1>.
		var list cryptobyte.String
		if !d.ReadUint8LengthPrefixed(&list) {
			return false
		}
		h.PointFormats = slices.Clip(list)
	case extSignatureAlgorithms:
		// RFC 8446 §4.2.3: SignatureScheme supported_signature_algorithms<2..2^16-2>.
		var ok bool
		if h.SignatureAlgorithms, ok = readUint16List(&d); !ok {
			return false
		}
	case extSignatureAlgorithmsCert:
		// RFC 8446 §4.2.3: same form as signature_algorithms.
		var ok bool
		if h.SignatureAlgorithmsCert, ok = readUint16List(&d); !ok {
			return false
		}
	case extApplicationLayerProtocolNegotiation:
		// RFC 7301 §3.1: ProtocolName protocol_name_list<2..2^16-1>, each
		// opaque ProtocolName<1..2^8-1>. Empty names are kept (JA4 defines
		// how to fingerprint them) rather than rejected.
		var ok bool
		if h.ALPN, ok = readProtocolNames(&d); !ok {
			return false
		}
	case extApplicationSettingsOld, extApplicationSettings:
		// draft-vvv-tls-alps §3: the ClientHello carries
		// ProtocolName supported_protocols<2..2^16-1>, as ALPN does.
		var ok bool
		if h.ALPS, ok = readProtocolNames(&d); !ok {
			return false
		}
	case extSignedCertificateTimestamp:
		// RFC 6962 §3.3.1: empty in the ClientHello.
		h.SCT = true
		return true
	case extPadding:
		// RFC 7685 §3: zero bytes of any length; we report the length.
		h.Padding = len(d)
		return true
	case extExtendedMasterSecret:
		// RFC 7627 §5.1: empty.
		h.ExtendedMasterSecret = true
		return true
	case extCompressCertificate:
		// RFC 8879 §3: CertificateCompressionAlgorithm algorithms<2..2^8-2>.
		var list cryptobyte.String
		if !d.ReadUint8LengthPrefixed(&list) || len(list)%2 != 0 {
			return false
		}
		h.CompressCertificate = make([]uint16, 0, len(list)/2)
		for !list.Empty() {
			var v uint16
			list.ReadUint16(&v)
			h.CompressCertificate = append(h.CompressCertificate, v)
		}
	case extRecordSizeLimit:
		// RFC 8449 §4: uint16 RecordSizeLimit.
		var v uint16
		if !d.ReadUint16(&v) {
			return false
		}
		h.RecordSizeLimit = int(v)
	case extSessionTicket:
		// RFC 5077 §3.2: the opaque ticket, empty to ask for a new one.
		h.SessionTicket = slices.Clip(d)
		return true
	case extPreSharedKey:
		// RFC 8446 §4.2.11: PskIdentity identities<7..2^16-1> (opaque
		// identity<1..2^16-1>, uint32 obfuscated_ticket_age), then
		// PskBinderEntry binders<33..2^16-1> (opaque <32..255>).
		var ids, binders cryptobyte.String
		if !d.ReadUint16LengthPrefixed(&ids) || !d.ReadUint16LengthPrefixed(&binders) {
			return false
		}
		n := 0
		for !ids.Empty() {
			var id cryptobyte.String
			var age uint32
			if !ids.ReadUint16LengthPrefixed(&id) || !ids.ReadUint32(&age) {
				return false
			}
			n++
		}
		for !binders.Empty() {
			var b cryptobyte.String
			if !binders.ReadUint8LengthPrefixed(&b) {
				return false
			}
		}
		h.PSK, h.PSKIdentities = true, n
	case extEarlyData:
		// RFC 8446 §4.2.10: empty in the ClientHello.
		h.EarlyData = true
		return true
	case extSupportedVersions:
		// RFC 8446 §4.2.1: ProtocolVersion versions<2..254>.
		var list cryptobyte.String
		if !d.ReadUint8LengthPrefixed(&list) || len(list)%2 != 0 {
			return false
		}
		h.SupportedVersions = make([]uint16, 0, len(list)/2)
		for !list.Empty() {
			var v uint16
			list.ReadUint16(&v)
			h.SupportedVersions = append(h.SupportedVersions, v)
		}
	case extPSKKeyExchangeModes:
		// RFC 8446 §4.2.9: PskKeyExchangeMode ke_modes<1..255>.
		var list cryptobyte.String
		if !d.ReadUint8LengthPrefixed(&list) {
			return false
		}
		h.PSKModes = slices.Clip(list)
	case extPostHandshakeAuth:
		// RFC 8446 §4.2.6: empty.
		h.PostHandshakeAuth = true
		return true
	case extKeyShare:
		// RFC 8446 §4.2.8: KeyShareEntry client_shares<0..2^16-1>, each
		// NamedGroup group and opaque key_exchange<1..2^16-1>.
		var list cryptobyte.String
		if !d.ReadUint16LengthPrefixed(&list) {
			return false
		}
		h.KeyShares = []KeyShareEntry{}
		for !list.Empty() {
			var group uint16
			var key cryptobyte.String
			if !list.ReadUint16(&group) || !list.ReadUint16LengthPrefixed(&key) {
				return false
			}
			h.KeyShares = append(h.KeyShares, KeyShareEntry{Group: group, Length: len(key)})
		}
	case extEncryptedClientHello:
		// RFC 9849 §5: ECHClientHello (ParseECH).
		e, err := ParseECH(d)
		if err != nil {
			return false
		}
		h.ECH = e
		return true
	case extRenegotiationInfo:
		// RFC 5746 §3.2: opaque renegotiated_connection<0..255>.
		var rc cryptobyte.String
		if !d.ReadUint8LengthPrefixed(&rc) {
			return false
		}
		h.RenegotiationInfo = true
	default:
		return true
	}
	return d.Empty()
}

// readUint16List reads a uint16-length-prefixed list of uint16 values.
func readUint16List(d *cryptobyte.String) ([]uint16, bool) {
	var list cryptobyte.String
	if !d.ReadUint16LengthPrefixed(&list) || len(list)%2 != 0 {
		return nil, false
	}
	out := make([]uint16, 0, len(list)/2)
	for !list.Empty() {
		var v uint16
		list.ReadUint16(&v)
		out = append(out, v)
	}
	return out, true
}

// readProtocolNames reads RFC 7301's ProtocolNameList.
func readProtocolNames(d *cryptobyte.String) ([]string, bool) {
	var list cryptobyte.String
	if !d.ReadUint16LengthPrefixed(&list) {
		return nil, false
	}
	out := []string{}
	for !list.Empty() {
		var p cryptobyte.String
		if !list.ReadUint8LengthPrefixed(&p) {
			return nil, false
		}
		out = append(out, string(p))
	}
	return out, true
}

// hasExtension reports whether the hello carries an extension of type typ.
func (h *ClientHello) hasExtension(typ uint16) bool {
	for _, e := range h.Extensions {
		if e.Type == typ {
			return true
		}
	}
	return false
}

// Grease reports whether the hello uses GREASE (RFC 8701) anywhere: cipher
// suites, extensions, groups, key shares, versions, signature algorithms,
// certificate compression algorithms, PSK modes or ALPN.
func (h *ClientHello) Grease() bool {
	any16 := func(vs []uint16) bool {
		for _, v := range vs {
			if IsGREASE(v) {
				return true
			}
		}
		return false
	}
	if any16(h.CipherSuites) || any16(h.Groups) || any16(h.SupportedVersions) ||
		any16(h.SignatureAlgorithms) || any16(h.SignatureAlgorithmsCert) || any16(h.CompressCertificate) {
		return true
	}
	for _, e := range h.Extensions {
		if IsGREASE(e.Type) {
			return true
		}
	}
	for _, k := range h.KeyShares {
		if IsGREASE(k.Group) {
			return true
		}
	}
	for _, m := range h.PSKModes {
		if isGREASEPSKMode(m) {
			return true
		}
	}
	for _, p := range h.ALPN {
		// RFC 8701 §2: ALPN GREASE identifiers are the two bytes of a
		// GREASE value, e.g. "\x0a\x0a".
		if len(p) == 2 && IsGREASE(uint16(p[0])<<8|uint16(p[1])) {
			return true
		}
	}
	return false
}

// Hello returns the record form of h (docs/record.md): codes as names in
// wire order, GREASE values as "GREASE", with JA3, JA3N and JA4
// fingerprints and Size = len(h.Raw).
func (h *ClientHello) Hello() *Hello {
	out := &Hello{
		Version:                 VersionName(h.LegacyVersion),
		SupportedVersions:       nameList(h.SupportedVersions, VersionName),
		CipherSuites:            nameList(h.CipherSuites, CipherSuiteName),
		SNI:                     h.SNI,
		ALPN:                    cloneStrings(h.ALPN),
		Groups:                  nameList(h.Groups, GroupName),
		SignatureAlgorithms:     nameList(h.SignatureAlgorithms, SignatureSchemeName),
		SignatureAlgorithmsCert: nameList(h.SignatureAlgorithmsCert, SignatureSchemeName),
		PointFormats:            nameList(h.PointFormats, PointFormatName),
		CompressionMethods:      nameList(h.CompressionMethods, CompressionMethodName),
		PSKModes:                nameList(h.PSKModes, PSKModeName),
		SessionTicket:           len(h.SessionTicket) > 0,
		PSK:                     h.PSK,
		EarlyData:               h.EarlyData,
		ECH:                     h.ECH != nil,
		Grease:                  h.Grease(),
		SessionIDLength:         len(h.SessionID),
		Padding:                 h.Padding,
		RecordSizeLimit:         h.RecordSizeLimit,
		CompressCertificate:     nameList(h.CompressCertificate, CertCompressionName),
		ALPS:                    cloneStrings(h.ALPS),
		StatusRequest:           h.StatusRequest,
		SCT:                     h.SCT,
		ExtendedMasterSecret:    h.ExtendedMasterSecret,
		RenegotiationInfo:       h.RenegotiationInfo,
		Size:                    len(h.Raw),
	}
	if out.CipherSuites == nil {
		out.CipherSuites = []string{} // the key is always present in the record
	}
	for _, e := range h.Extensions {
		out.Extensions = append(out.Extensions, ExtensionName(e.Type))
	}
	for _, k := range h.KeyShares {
		out.KeyShares = append(out.KeyShares, KeyShare{Group: GroupName(k.Group), Length: k.Length})
	}
	if h.ECH != nil {
		out.ECHType = h.ECH.Type
	}
	out.JA3, out.JA3Raw = JA3(h)
	out.JA3N, _ = JA3N(h)
	out.JA4, out.JA4R = JA4(h)
	return out
}

// nameList maps codes to names; nil for an empty list.
func nameList[T uint8 | uint16](vs []T, name func(T) string) []string {
	if len(vs) == 0 {
		return nil
	}
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = name(v)
	}
	return out
}

func cloneStrings(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return append([]string(nil), s...)
}

// VersionRange is the span of TLS versions, TLS 1.0 to 1.3, that the client
// offers: its supported_versions, or its legacy_version when it sends none.
// GREASE, SSL 3.0 and DTLS versions are left out; a hello offering none of
// TLS 1.0 to 1.3 gives the whole span.
func (h *ClientHello) VersionRange() (lo, hi uint16) {
	const tls10, tls13 = 0x0301, 0x0304
	vs := h.SupportedVersions
	if len(vs) == 0 {
		vs = []uint16{h.LegacyVersion}
	}
	for _, v := range vs {
		if v < tls10 || v > tls13 {
			continue // GREASE, SSL 3.0, DTLS: nothing Go can offer
		}
		if lo == 0 || v < lo {
			lo = v
		}
		if v > hi {
			hi = v
		}
	}
	if lo == 0 {
		return tls10, tls13
	}
	return lo, hi
}
