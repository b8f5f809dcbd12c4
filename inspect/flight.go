package inspect

import (
	"crypto/x509"
	"errors"
	"fmt"
	"math/big"

	"golang.org/x/crypto/cryptobyte"
)

// Flight is what the server side of one handshake carried, as far as it could
// be read: in clear, or decrypted with the key log (TLS 1.3).
type Flight struct {
	// HelloRetry is the HelloRetryRequest, when the server sent one before
	// its ServerHello (RFC 8446 §4.1.4).
	HelloRetry *ServerHelloMsg
	// ServerHello is the (second, after a HelloRetryRequest) ServerHello; it
	// defines the version and cipher suite.
	ServerHello *ServerHelloMsg
	// ALPN is the selected protocol: from EncryptedExtensions in TLS 1.3,
	// from the ServerHello before.
	ALPN string
	// Certificates is the server's chain as sent, DER, leaf first.
	Certificates [][]byte
	// OCSPResponse is the stapled OCSP response: CertificateStatus in TLS 1.2
	// (RFC 6066 §8), the leaf entry's status_request in TLS 1.3 (RFC 8446
	// §4.4.2.1).
	OCSPResponse []byte
	// SCTs counts the signed certificate timestamps sent in the TLS extension
	// (RFC 6962 §3.3): in the ServerHello (TLS 1.2) or the leaf
	// CertificateEntry (TLS 1.3). SCTs embedded in the certificate are not
	// counted.
	SCTs int
	// KeyExchange is the group and the server's signature scheme: TLS 1.2
	// from ServerKeyExchange (kind RSA, no group, for RSA key transport),
	// TLS 1.3 from key_share and CertificateVerify. nil when not seen.
	KeyExchange *KeyExchange
	// CertificateRequest is set when the server asked for a client
	// certificate (mTLS).
	CertificateRequest *CertRequest
	// Alert is the first alert the server sent, named ("handshake_failure"),
	// in clear or decrypted; AlertLevel is "warning" or "fatal" (or the code
	// as "0x03" when neither).
	Alert      string
	AlertLevel string
	// Decrypted reports that at least one TLS 1.3 record was decrypted.
	Decrypted bool
	// Messages names the handshake messages read, in order (IANA TLS
	// HandshakeType names: "server_hello", "encrypted_extensions",
	// "certificate", …). A HelloRetryRequest is "hello_retry_request".
	Messages []string
}

// ServerHelloRecord returns the record form of the flight's ServerHello
// (ServerHelloMsg.ServerHello) with the flight's ALPN and hello_retry set
// when a HelloRetryRequest came first. When the flight ended after a
// HelloRetryRequest it describes that; nil when there was neither.
func (f *Flight) ServerHelloRecord() *ServerHello {
	switch {
	case f.ServerHello != nil:
		h := f.ServerHello.ServerHello()
		h.ALPN = f.ALPN
		h.HelloRetry = f.HelloRetry != nil
		return h
	case f.HelloRetry != nil:
		return f.HelloRetry.ServerHello()
	}
	return nil
}

// ClientFlight is what a client sent after its ClientHello: its certificate
// (mTLS) and any alert, decrypted in TLS 1.3.
type ClientFlight struct {
	// Certificates is the client's chain, DER, leaf first; empty when the
	// client answered a CertificateRequest with no certificate.
	Certificates [][]byte
	// Alert and AlertLevel are the first alert the client sent, as in Flight.
	Alert      string
	AlertLevel string
	// Decrypted reports that at least one TLS 1.3 record was decrypted.
	Decrypted bool
	// Messages names the handshake messages read, in order.
	Messages []string
}

// ParseServerFlight parses the bytes a server sent on one connection (TLS
// records, server to client, from the first byte), reassembling handshake
// messages across records. For TLS 1.3 it decrypts the encrypted handshake
// with SERVER_HANDSHAKE_TRAFFIC_SECRET from keyLog (an NSS key log for this
// connection), and what follows the server's Finished with
// SERVER_TRAFFIC_SECRET_0 when the log has it (NewSessionTicket, alerts). A
// nil keyLog means no decryption: the fields come from the clear bytes only.
// ChangeCipherSpec records are skipped (TLS 1.3 middlebox compatibility); in
// TLS 1.2 the records after it are encrypted and not read.
//
// It parses as far as it can and returns what it got with any error: one
// wrapping ErrNotTLS when the first record is not TLS, one wrapping
// ErrTruncated when the bytes end inside a record or a handshake message, a
// *ParseError for a malformed record or message or a record that does not
// decrypt (a key log for another connection). The Flight is never nil.
func ParseServerFlight(records []byte, keyLog []byte) (*Flight, error) {
	f := &Flight{}
	keys, kerr := parseKeyLogOrNil(keyLog)
	p := &serverParser{f: f, r: recordReader{keys: keys}}
	err := p.r.read(records, p.message)
	f.Messages = p.r.messages
	f.Alert, f.AlertLevel = p.r.alert, p.r.alertLevel
	f.Decrypted = p.r.decrypted
	return f, errors.Join(kerr, err)
}

// ParseClientFlight parses the bytes a client sent on one connection after
// (or from, the ClientHello is then skipped) its ClientHello. suite is the
// negotiated cipher suite: a TLS 1.3 suite means the records after the
// ClientHello are decrypted with CLIENT_HANDSHAKE_TRAFFIC_SECRET from keyLog,
// then CLIENT_TRAFFIC_SECRET_0 after the client's Finished; any other suite
// means TLS 1.2 or earlier, where records after ChangeCipherSpec are not
// read. Early data (0-RTT) is not decrypted: a record under the early
// traffic secret fails with an error.
//
// It parses as far as it can and returns what it got with any error; the
// ClientFlight is never nil.
func ParseClientFlight(records []byte, suite uint16, keyLog []byte) (*ClientFlight, error) {
	f := &ClientFlight{}
	keys, kerr := parseKeyLogOrNil(keyLog)
	p := &clientParser{f: f, r: recordReader{keys: keys, tls13: isTLS13Suite(suite), suite: suite}}
	var err error
	if p.r.tls13 {
		err = p.r.setKey(keyLogClientHandshake)
	}
	if err == nil {
		err = p.r.read(records, p.message)
	}
	f.Messages = p.r.messages
	f.Alert, f.AlertLevel = p.r.alert, p.r.alertLevel
	f.Decrypted = p.r.decrypted
	return f, errors.Join(kerr, err)
}

func parseKeyLogOrNil(b []byte) (map[string][]byte, error) {
	if b == nil {
		return nil, nil
	}
	return ParseKeyLog(b)
}

// recordReader walks the records of one direction, decrypting TLS 1.3
// records, and hands each reassembled handshake message to a callback.
type recordReader struct {
	keys    map[string][]byte
	tls13   bool          // the records follow TLS 1.3 rules
	suite   uint16        // TLS 1.3 cipher suite, for the key schedule
	cipher  *recordCipher // opens type-23 records; nil when the keys are unknown
	changed bool          // TLS 1.2: ChangeCipherSpec seen, later records are encrypted
	// keyChanged is set by a message that changes the read key: any bytes
	// of a next message already buffered are then an error (RFC 8446 §5.1:
	// handshake messages MUST NOT span key changes).
	keyChanged bool
	hs         []byte // handshake bytes not yet making a whole message

	decrypted         bool
	alert, alertLevel string
	messages          []string
}

// setKey makes the secret under label the read key; a missing label leaves
// the records unread (no error: the caller had no key log, or not this one).
func (r *recordReader) setKey(label string) error {
	r.cipher = nil
	secret, ok := r.keys[label]
	if !ok {
		return nil
	}
	c, err := lazyRecordCipher(r.suite, secret)
	if err != nil {
		return fmt.Errorf("%s: %w", label, err)
	}
	r.cipher = c
	return nil
}

// read walks the records of b (RFC 8446 §5.1, RFC 5246 §6.2.1: struct {
// ContentType type; ProtocolVersion legacy_record_version; uint16 length;
// opaque fragment[length]; }), calling message for each handshake message.
func (r *recordReader) read(b []byte, message func(typ uint8, msg []byte) error) error {
	off := 0
	for off < len(b) {
		rec := cryptobyte.String(b[off:])
		var typ uint8
		var version uint16
		var frag cryptobyte.String
		if !rec.ReadUint8(&typ) || !rec.ReadUint16(&version) {
			return fmt.Errorf("%w: record header at byte %d", ErrTruncated, off)
		}
		if typ < RecordTypeChangeCipherSpec || typ > RecordTypeApplicationData || version>>8 != 3 {
			if off == 0 {
				return fmt.Errorf("%w: first record type %d, version 0x%04x", ErrNotTLS, typ, version)
			}
			return &ParseError{Msg: fmt.Sprintf("bad record type %d version 0x%04x", typ, version), Offset: off}
		}
		var n uint16
		if !rec.ReadUint16(&n) {
			return fmt.Errorf("%w: record header at byte %d", ErrTruncated, off)
		}
		if !rec.ReadBytes((*[]byte)(&frag), int(n)) {
			return fmt.Errorf("%w: record at byte %d needs %d more bytes", ErrTruncated, off, int(n)-len(rec))
		}
		if len(frag) > MaxFragmentLen {
			return &ParseError{Msg: "record too long", Offset: off}
		}
		header := b[off : off+5]
		at := off
		off += 5 + len(frag)

		if typ == RecordTypeApplicationData && r.tls13 && r.cipher != nil {
			inner, content, err := r.cipher.open(header, frag)
			if err != nil {
				// Most often a key log from another connection.
				return &ParseError{Msg: err.Error(), Offset: at}
			}
			r.decrypted = true
			typ, frag = inner, content
			// RFC 8446 §5: a protected change_cipher_spec is an error.
			if typ < RecordTypeAlert || typ > RecordTypeApplicationData {
				return &ParseError{Msg: fmt.Sprintf("decrypted record has content type %d", typ), Offset: at}
			}
		} else if typ == RecordTypeApplicationData || (r.changed && typ != RecordTypeChangeCipherSpec) {
			// Encrypted under keys this package does not have: TLS 1.2
			// after ChangeCipherSpec, or TLS 1.3 without the key log.
			continue
		}

		switch typ {
		case RecordTypeChangeCipherSpec:
			// RFC 8446 §5: in TLS 1.3 ChangeCipherSpec only serves middlebox
			// compatibility (Appendix D.4) and is skipped. RFC 5246 §7.1: in
			// TLS 1.2 it switches the sender to the negotiated keys.
			if !r.tls13 {
				r.changed = true
			}
		case RecordTypeAlert:
			// RFC 8446 §6: struct { AlertLevel level; AlertDescription description; } Alert.
			if len(frag) < 2 {
				return &ParseError{Msg: "short alert", Offset: at}
			}
			if r.alert == "" {
				r.alert, r.alertLevel = AlertName(frag[1]), alertLevelName(frag[0])
			}
		case RecordTypeHandshake:
			if err := r.handshake(frag, at, message); err != nil {
				return err
			}
		}
	}
	if len(r.hs) > 0 {
		return fmt.Errorf("%w: %s message at the end", ErrTruncated, handshakeTypeName(r.hs[0]))
	}
	return nil
}

// handshake appends a fragment to the handshake stream and hands on every
// complete message (RFC 8446 §4: uint8 msg_type, uint24 length, body;
// messages may be split across records and several may share one).
func (r *recordReader) handshake(frag []byte, at int, message func(uint8, []byte) error) error {
	if len(frag) == 0 {
		// RFC 8446 §5.1: zero-length fragments of Handshake type are not allowed.
		return &ParseError{Msg: "empty handshake record", Offset: at}
	}
	r.hs = append(r.hs, frag...)
	for len(r.hs) >= 4 {
		n := int(r.hs[1])<<16 | int(r.hs[2])<<8 | int(r.hs[3])
		if len(r.hs) < 4+n {
			break
		}
		msg := r.hs[: 4+n : 4+n]
		r.hs = r.hs[4+n:]
		r.messages = append(r.messages, handshakeTypeName(msg[0]))
		r.keyChanged = false
		if err := message(msg[0], msg); err != nil {
			return fmt.Errorf("%s in record at byte %d: %w", handshakeTypeName(msg[0]), at, err)
		}
		if r.keyChanged && len(r.hs) > 0 {
			return &ParseError{Msg: "handshake message spans a key change", Offset: at}
		}
	}
	return nil
}

// serverParser interprets the server's handshake messages.
type serverParser struct {
	f *Flight
	r recordReader
	// kind and auth are the key exchange and authentication of a TLS 1.2
	// suite ("ECDHE", "RSA"…), "" when unknown.
	kind, auth string
}

func (p *serverParser) message(typ uint8, msg []byte) error {
	f := p.f
	body := cryptobyte.String(msg[4:])
	switch typ {
	case typeServerHello:
		return p.serverHello(msg)
	case typeEncryptedExtensions:
		// RFC 8446 §4.3.1: struct { Extension extensions<0..2^16-1>; } EncryptedExtensions.
		var exts cryptobyte.String
		if !body.ReadUint16LengthPrefixed(&exts) || !body.Empty() {
			return &ParseError{Msg: "bad EncryptedExtensions", Offset: 4}
		}
		for !exts.Empty() {
			var et uint16
			var data cryptobyte.String
			if !exts.ReadUint16(&et) || !exts.ReadUint16LengthPrefixed(&data) {
				return &ParseError{Msg: "truncated extension", Offset: len(msg) - len(exts)}
			}
			if et == extApplicationLayerProtocolNegotiation {
				name, ok := parseServerALPN(data)
				if !ok {
					return &ParseError{Msg: "bad application_layer_protocol_negotiation", Offset: len(msg) - len(exts) - len(data)}
				}
				f.ALPN = name
			}
		}
	case typeCertificate:
		certs, ocsp, scts, err := parseCertificateMsg(msg, p.r.tls13)
		if err != nil {
			return err
		}
		f.Certificates = certs
		if p.r.tls13 {
			f.OCSPResponse, f.SCTs = ocsp, scts
		} else if p.kind == "RSA" {
			// RSA key transport: no ServerKeyExchange follows (RFC 5246 §7.4.3).
			f.KeyExchange = &KeyExchange{Kind: "RSA"}
		}
	case typeCertificateStatus:
		// RFC 6066 §8: struct { CertificateStatusType status_type;
		// select (status_type) { case ocsp: OCSPResponse; } } CertificateStatus.
		ocsp, ok := parseCertificateStatus(body)
		if !ok {
			return &ParseError{Msg: "bad CertificateStatus", Offset: 4}
		}
		f.OCSPResponse = ocsp
	case typeServerKeyExchange:
		return p.serverKeyExchange(body)
	case typeCertificateRequest:
		cr, err := parseCertificateRequest(body, p.version())
		if err != nil {
			return err
		}
		f.CertificateRequest = cr
	case typeCertificateVerify:
		// RFC 8446 §4.4.3: struct { SignatureScheme algorithm; opaque signature<0..2^16-1>; } CertificateVerify.
		var scheme uint16
		var sig cryptobyte.String
		if !body.ReadUint16(&scheme) || !body.ReadUint16LengthPrefixed(&sig) || !body.Empty() {
			return &ParseError{Msg: "bad CertificateVerify", Offset: 4}
		}
		if f.KeyExchange == nil {
			f.KeyExchange = &KeyExchange{}
		}
		f.KeyExchange.SignatureAlgorithm = SignatureSchemeName(scheme)
	case typeFinished:
		if p.r.tls13 && p.r.cipher != nil {
			// RFC 8446 §7.3: after its Finished the server sends under
			// server_application_traffic_secret_0.
			p.r.keyChanged = true
			return p.r.setKey(keyLogServerTraffic)
		}
	case typeKeyUpdate:
		return p.r.keyUpdate()
	}
	return nil
}

// version is the negotiated version, 0 before the ServerHello.
func (p *serverParser) version() uint16 {
	if p.f.ServerHello == nil {
		return 0
	}
	return p.f.ServerHello.Version()
}

func (p *serverParser) serverHello(msg []byte) error {
	f := p.f
	sh, err := ParseServerHelloMessage(msg)
	if err != nil {
		return err
	}
	if sh.HelloRetry {
		// RFC 8446 §4.1.4: at most one HelloRetryRequest, before the ServerHello.
		if f.HelloRetry != nil || f.ServerHello != nil {
			return &ParseError{Msg: "unexpected HelloRetryRequest", Offset: 0}
		}
		f.HelloRetry = sh
		p.r.messages[len(p.r.messages)-1] = "hello_retry_request"
		p.r.tls13 = true // only TLS 1.3 has HelloRetryRequest
		return nil
	}
	if f.ServerHello != nil {
		return &ParseError{Msg: "second ServerHello", Offset: 0}
	}
	f.ServerHello = sh
	f.ALPN = sh.ALPN
	if sh.Version() >= 0x0304 && isTLS13Suite(sh.CipherSuite) {
		p.r.tls13, p.r.suite = true, sh.CipherSuite
		f.KeyExchange = tls13KeyExchange(sh)
		// RFC 8446 §7.3: the rest of the server's flight is under
		// server_handshake_traffic_secret.
		p.r.keyChanged = true
		return p.r.setKey(keyLogServerHandshake)
	}
	p.r.tls13 = false
	p.kind, p.auth = suiteKeyExchange(sh.CipherSuite)
	// RFC 6962 §3.3: the SCT list may come in the TLS 1.2 ServerHello.
	for _, e := range sh.Extensions {
		if e.Type == extSignedCertificateTimestamp {
			n, ok := countSCTs(e.Data)
			if !ok {
				return &ParseError{Msg: "bad signed_certificate_timestamp", Offset: 0}
			}
			f.SCTs = n
		}
	}
	return nil
}

// tls13KeyExchange describes a TLS 1.3 key exchange from the ServerHello
// (RFC 8446 §4.2.8, §4.2.9): a key_share means (EC)DHE, alone or with a PSK
// (psk_dhe_ke); a pre_shared_key without key_share means psk_ke.
func tls13KeyExchange(sh *ServerHelloMsg) *KeyExchange {
	switch {
	case sh.KeyShareGroup == 0 && sh.hasExtension(extPreSharedKey):
		return &KeyExchange{Kind: "PSK"}
	case sh.KeyShareGroup == 0:
		return nil
	}
	kx := &KeyExchange{Kind: "ECDHE", Group: GroupName(sh.KeyShareGroup)}
	switch g := sh.KeyShareGroup; {
	case g >= 0x0100 && g <= 0x01ff:
		// RFC 7919 §6: ffdhe2048 … ffdhe8192.
		kx.Kind = "DHE"
		kx.DHBits = map[uint16]int{256: 2048, 257: 3072, 258: 4096, 259: 6144, 260: 8192}[g]
	case g >= 0x0200 && g <= 0x0202:
		// draft-ietf-tls-mlkem: pure ML-KEM-512/768/1024, no (EC)DH.
		kx.Kind = "KEM"
	}
	return kx
}

// suiteKeyExchange returns a TLS 1.2 suite's key exchange kind ("ECDHE",
// "DHE", "RSA", "PSK", "ECDH", "DH", "SRP") and its authentication ("RSA",
// "ECDSA", "DSS", "PSK", "anon", or "" when none is named), from the IANA
// suite table. Other suites (KRB5, ECCPWD, GOST, TLS 1.3, unknown codes)
// give "", "": their ServerKeyExchange, if any, is read by its shape.
func suiteKeyExchange(suite uint16) (kind, auth string) {
	s := cipherSuites[suite]
	switch s.KeyExchange {
	case "ECDHE", "DHE", "ECDH", "DH", "PSK", "SRP":
		return s.KeyExchange, s.Auth
	case "RSA":
		return "RSA", "" // RSA key transport: no signed parameters
	}
	return "", ""
}

// serverKeyExchange parses a TLS 1.0–1.2 ServerKeyExchange for (EC)DHE
// suites. Other suites' parameters (RSA_EXPORT keys, SRP) are not described.
func (p *serverParser) serverKeyExchange(body cryptobyte.String) error {
	kind := p.kind
	if kind == "" && len(body) > 0 {
		// A suite this package cannot name: go by the shape. ECDHE
		// parameters start with curve_type 3 (named_curve).
		kind = "DHE"
		if body[0] == 3 {
			kind = "ECDHE"
		}
	}
	if kind != "ECDHE" && kind != "DHE" {
		return nil
	}
	if p.auth == "PSK" {
		// RFC 5489 §2, RFC 4279 §4: ECDHE_PSK and DHE_PSK parameters
		// follow opaque psk_identity_hint<0..2^16-1>.
		var hint cryptobyte.String
		if !body.ReadUint16LengthPrefixed(&hint) {
			return &ParseError{Msg: "truncated psk_identity_hint", Offset: 4}
		}
	}
	kx := &KeyExchange{Kind: kind}
	if kind == "ECDHE" {
		// RFC 8422 §5.4: ServerECDHParams { ECParameters curve_params
		// (ECCurveType curve_type = named_curve(3); NamedCurve namedcurve);
		// ECPoint public (opaque point<1..2^8-1>) }.
		var curveType uint8
		var curve uint16
		var point cryptobyte.String
		if !body.ReadUint8(&curveType) {
			return &ParseError{Msg: "truncated ServerKeyExchange", Offset: 4}
		}
		if curveType != 3 {
			return &ParseError{Msg: fmt.Sprintf("ServerKeyExchange curve type %d, want named_curve", curveType), Offset: 4}
		}
		if !body.ReadUint16(&curve) || !body.ReadUint8LengthPrefixed(&point) {
			return &ParseError{Msg: "truncated ServerKeyExchange", Offset: 5}
		}
		kx.Group = GroupName(curve)
	} else {
		// RFC 5246 §7.4.3: ServerDHParams { opaque dh_p<1..2^16-1>;
		// opaque dh_g<1..2^16-1>; opaque dh_Ys<1..2^16-1>; }.
		var prime, g, ys cryptobyte.String
		if !body.ReadUint16LengthPrefixed(&prime) || !body.ReadUint16LengthPrefixed(&g) ||
			!body.ReadUint16LengthPrefixed(&ys) {
			return &ParseError{Msg: "truncated ServerKeyExchange", Offset: 4}
		}
		kx.DHBits = new(big.Int).SetBytes(prime).BitLen()
	}
	if p.auth != "anon" && p.auth != "PSK" {
		// RFC 5246 §7.4.3: digitally-signed struct { … } signed_params. TLS
		// 1.2 (§4.7) starts it with SignatureAndHashAlgorithm; TLS 1.0 and
		// 1.1 have none: MD5+SHA-1 for RSA, SHA-1 for ECDSA and DSA (RFC
		// 4346 §7.4.3, RFC 4492 §5.4).
		var sig cryptobyte.String
		if p.version() >= 0x0303 {
			var scheme uint16
			if !body.ReadUint16(&scheme) || !body.ReadUint16LengthPrefixed(&sig) {
				return &ParseError{Msg: "truncated ServerKeyExchange signature", Offset: 4}
			}
			kx.SignatureAlgorithm = SignatureSchemeName(scheme)
		} else {
			if !body.ReadUint16LengthPrefixed(&sig) {
				return &ParseError{Msg: "truncated ServerKeyExchange signature", Offset: 4}
			}
			kx.SignatureAlgorithm = legacySignature(p.auth, p.f.Certificates)
		}
	}
	p.f.KeyExchange = kx
	return nil
}

// legacySignature names the fixed TLS 1.0/1.1 signature of a suite's
// authentication, or of the leaf's key when the suite is unknown.
func legacySignature(auth string, certs [][]byte) string {
	if auth == "" && len(certs) > 0 {
		if c, err := x509.ParseCertificate(certs[0]); err == nil {
			switch c.PublicKeyAlgorithm {
			case x509.RSA:
				auth = "RSA"
			case x509.ECDSA:
				auth = "ECDSA"
			case x509.DSA:
				auth = "DSS"
			}
		}
	}
	switch auth {
	case "RSA":
		return "rsa_pkcs1_md5_sha1"
	case "ECDSA":
		return "ecdsa_sha1"
	case "DSS":
		return "dsa_sha1"
	}
	return ""
}

// clientParser interprets the client's handshake messages.
type clientParser struct {
	f *ClientFlight
	r recordReader
}

func (p *clientParser) message(typ uint8, msg []byte) error {
	switch typ {
	case typeCertificate:
		certs, _, _, err := parseCertificateMsg(msg, p.r.tls13)
		if err != nil {
			return err
		}
		p.f.Certificates = certs
	case typeFinished:
		if p.r.tls13 && p.r.cipher != nil {
			// RFC 8446 §7.3: after its Finished the client sends under
			// client_application_traffic_secret_0.
			p.r.keyChanged = true
			return p.r.setKey(keyLogClientTraffic)
		}
	case typeKeyUpdate:
		return p.r.keyUpdate()
	}
	return nil
}

// keyUpdate moves the read key to the next generation (RFC 8446 §4.6.3).
func (r *recordReader) keyUpdate() error {
	if !r.tls13 || r.cipher == nil {
		return nil
	}
	c, err := r.cipher.next()
	if err != nil {
		return err
	}
	r.cipher, r.keyChanged = c, true
	return nil
}

// parseCertificateMsg parses a Certificate message: TLS 1.2 (RFC 5246
// §7.4.2: ASN.1Cert certificate_list<0..2^24-1>) or TLS 1.3 (RFC 8446
// §4.4.2: opaque certificate_request_context<0..2^8-1>; CertificateEntry
// certificate_list<0..2^24-1>), with the leaf entry's OCSP response and SCT
// count in TLS 1.3.
func parseCertificateMsg(msg []byte, tls13 bool) (certs [][]byte, ocsp []byte, scts int, err error) {
	body := cryptobyte.String(msg[4:])
	var context, list cryptobyte.String
	if tls13 && !body.ReadUint8LengthPrefixed(&context) {
		return nil, nil, 0, &ParseError{Msg: "truncated certificate_request_context", Offset: 4}
	}
	if !body.ReadUint24LengthPrefixed(&list) || !body.Empty() {
		return nil, nil, 0, &ParseError{Msg: "bad certificate_list", Offset: len(msg) - len(body)}
	}
	certs = [][]byte{}
	for !list.Empty() {
		at := len(msg) - len(list)
		var der cryptobyte.String
		if !list.ReadUint24LengthPrefixed(&der) || len(der) == 0 {
			return certs, ocsp, scts, &ParseError{Msg: "bad certificate entry", Offset: at}
		}
		certs = append(certs, der)
		if !tls13 {
			continue
		}
		// CertificateEntry: cert_data, then Extension extensions<0..2^16-1>.
		var exts cryptobyte.String
		if !list.ReadUint16LengthPrefixed(&exts) {
			return certs, ocsp, scts, &ParseError{Msg: "truncated certificate entry extensions", Offset: at}
		}
		for !exts.Empty() {
			var et uint16
			var data cryptobyte.String
			if !exts.ReadUint16(&et) || !exts.ReadUint16LengthPrefixed(&data) {
				return certs, ocsp, scts, &ParseError{Msg: "truncated certificate entry extension", Offset: at}
			}
			if len(certs) != 1 {
				continue // RFC 8446 §4.4.2.1: status and SCTs belong to the end-entity
			}
			var ok bool
			switch et {
			case extStatusRequest:
				ocsp, ok = parseCertificateStatus(data)
			case extSignedCertificateTimestamp:
				scts, ok = countSCTs(data)
			default:
				ok = true
			}
			if !ok {
				return certs, ocsp, scts, &ParseError{Msg: "bad " + ExtensionName(et) + " in certificate entry", Offset: at}
			}
		}
	}
	return certs, ocsp, scts, nil
}

// parseCertificateStatus reads a CertificateStatus (RFC 6066 §8) of type ocsp(1):
// uint8 status_type; opaque OCSPResponse<1..2^24-1>.
func parseCertificateStatus(s cryptobyte.String) ([]byte, bool) {
	var statusType uint8
	var resp cryptobyte.String
	if !s.ReadUint8(&statusType) || statusType != 1 || !s.ReadUint24LengthPrefixed(&resp) || !s.Empty() || len(resp) == 0 {
		return nil, false
	}
	return resp, true
}

// countSCTs counts a SignedCertificateTimestampList (RFC 6962 §3.3):
// SerializedSCT sct_list<1..2^16-1>, each opaque<1..2^16-1>.
func countSCTs(s cryptobyte.String) (int, bool) {
	var list cryptobyte.String
	if !s.ReadUint16LengthPrefixed(&list) || !s.Empty() {
		return 0, false
	}
	n := 0
	for !list.Empty() {
		var sct cryptobyte.String
		if !list.ReadUint16LengthPrefixed(&sct) || len(sct) == 0 {
			return 0, false
		}
		n++
	}
	return n, true
}

// parseServerALPN reads the server's ALPN extension_data (RFC 7301 §3.1):
// a ProtocolNameList holding exactly one non-empty name.
func parseServerALPN(s cryptobyte.String) (string, bool) {
	var list, name cryptobyte.String
	if !s.ReadUint16LengthPrefixed(&list) || !list.ReadUint8LengthPrefixed(&name) ||
		!list.Empty() || !s.Empty() || len(name) == 0 {
		return "", false
	}
	return string(name), true
}

// parseCertificateRequest parses a CertificateRequest body: TLS 1.3 (RFC 8446
// §4.3.2) when version is TLS 1.3, else TLS 1.0–1.2 (RFC 5246 §7.4.4;
// supported_signature_algorithms only in TLS 1.2).
func parseCertificateRequest(body cryptobyte.String, version uint16) (*CertRequest, error) {
	cr := &CertRequest{}
	var dns [][]byte
	readDNs := func(s cryptobyte.String) bool {
		// DistinguishedName authorities<3..2^16-1>, each opaque<1..2^16-1>.
		var list cryptobyte.String
		if !s.ReadUint16LengthPrefixed(&list) || !s.Empty() {
			return false
		}
		for !list.Empty() {
			var dn cryptobyte.String
			if !list.ReadUint16LengthPrefixed(&dn) || len(dn) == 0 {
				return false
			}
			dns = append(dns, dn)
		}
		return true
	}
	readSchemes := func(s *cryptobyte.String) bool {
		// SignatureScheme supported_signature_algorithms<2..2^16-2>.
		var list cryptobyte.String
		if !s.ReadUint16LengthPrefixed(&list) || len(list)%2 != 0 {
			return false
		}
		for !list.Empty() {
			var v uint16
			list.ReadUint16(&v)
			cr.SignatureAlgorithms = append(cr.SignatureAlgorithms, SignatureSchemeName(v))
		}
		return true
	}
	if version >= 0x0304 {
		// opaque certificate_request_context<0..2^8-1>; Extension extensions<2..2^16-1>.
		var context, exts cryptobyte.String
		if !body.ReadUint8LengthPrefixed(&context) || !body.ReadUint16LengthPrefixed(&exts) || !body.Empty() {
			return nil, &ParseError{Msg: "bad CertificateRequest", Offset: 4}
		}
		for !exts.Empty() {
			var et uint16
			var data cryptobyte.String
			if !exts.ReadUint16(&et) || !exts.ReadUint16LengthPrefixed(&data) {
				return nil, &ParseError{Msg: "truncated CertificateRequest extension", Offset: 4}
			}
			switch et {
			case extSignatureAlgorithms: // RFC 8446 §4.2.3
				if !readSchemes(&data) || !data.Empty() {
					return nil, &ParseError{Msg: "bad signature_algorithms", Offset: 4}
				}
			case extCertificateAuthorities: // RFC 8446 §4.2.4
				if !readDNs(data) {
					return nil, &ParseError{Msg: "bad certificate_authorities", Offset: 4}
				}
			}
		}
	} else {
		// ClientCertificateType certificate_types<1..2^8-1>;
		// SignatureAndHashAlgorithm supported_signature_algorithms<2^16-1> (TLS 1.2);
		// DistinguishedName certificate_authorities<0..2^16-1>.
		var types cryptobyte.String
		if !body.ReadUint8LengthPrefixed(&types) {
			return nil, &ParseError{Msg: "bad certificate_types", Offset: 4}
		}
		for _, t := range types {
			cr.CertificateTypes = append(cr.CertificateTypes, certificateTypeName(t))
		}
		if version == 0x0303 && !readSchemes(&body) {
			return nil, &ParseError{Msg: "bad supported_signature_algorithms", Offset: 4}
		}
		if !readDNs(body) {
			return nil, &ParseError{Msg: "bad certificate_authorities", Offset: 4}
		}
	}
	cr.Authorities = DistinguishedNames(dns)
	return cr, nil
}

// alertLevelName names an AlertLevel (RFC 8446 §6).
func alertLevelName(v uint8) string {
	switch v {
	case AlertLevelWarning:
		return "warning"
	case AlertLevelFatal:
		return "fatal"
	}
	return hexName8(v)
}

// certificateTypeName names a ClientCertificateType (IANA TLS
// ClientCertificateType Identifiers registry).
func certificateTypeName(v uint8) string {
	return name8(clientCertificateTypeNames, v)
}

// handshakeTypeName names a handshake message type (IANA TLS HandshakeType
// registry).
func handshakeTypeName(v uint8) string {
	return name8(handshakeTypeNames, v)
}
