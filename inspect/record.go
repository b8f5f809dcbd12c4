// Package inspect turns handshake bytes and certificates into facts: it parses
// ClientHello, ServerHello and the server's flight (decrypting TLS 1.3 with a
// key log), names every code by its IANA name, computes JA3/JA3S/JA4
// fingerprints, summarises certificates, derives findings, and defines the
// handshake Record (docs/record.md, schema 1) and its aggregation for reports.
//
// inspect is pure: bytes in, facts out. It opens no sockets, reads no clock
// (callers pass now), and logs nothing. Connections, deadlines and writing
// records belong to package proxy.
package inspect

import "time"

// Schema is the version of the record format (docs/record.md). It is raised
// only when a key is renamed or dropped.
const Schema = 1

// Mode says how tlslens handled a connection.
type Mode string

// Modes of a record.
const (
	ModeMITM        Mode = "mitm"        // both handshakes terminated, traffic decrypted
	ModePassthrough Mode = "passthrough" // hellos inspected, traffic relayed encrypted
	ModeTunnel      Mode = "tunnel"      // not TLS, bytes relayed
	// ModeHTTP is a connection that spoke plain HTTP to the proxy and no
	// TLS: http:// proxy requests, the onboarding page, or a request the
	// proxy could not serve (OutcomeBadRequest).
	ModeHTTP Mode = "http"
)

// Via says how a client connection reached tlslens.
type Via string

// Ways a connection arrives. A record of a connection that came through the
// proxy port (a CONNECT, a plain proxy request) has no via key: Via is empty
// or ViaConnect then, and IsZero reports true.
const (
	ViaConnect     Via = "connect"     // a CONNECT or proxy request on the proxy port: the default, omitted
	ViaTransparent Via = "transparent" // redirected to tlslens by the kernel (iptables/nftables REDIRECT)
	ViaWireGuard   Via = "wireguard"   // carried by a WireGuard peer's tunnel
	// ViaHTTPSWithoutConnect is an https:// URL sent to the proxy port in
	// plain HTTP, without CONNECT (ReasonPlainHTTPS): tlslens made the TLS
	// connection upstream itself.
	ViaHTTPSWithoutConnect Via = "https_without_connect"
)

// IsZero reports whether v is the default, the proxy port (ViaConnect or
// empty): the record omits it (encoding/json's omitzero).
func (v Via) IsZero() bool { return v == "" || v == ViaConnect }

// ReasonPlainHTTPS is the reason of a record for an https:// URL that a
// client sent to the proxy in plain HTTP, without CONNECT: tlslens made the
// TLS connection upstream, and the client side has no TLS at all.
const ReasonPlainHTTPS = "https_request_without_connect"

// Outcome says how a connection's handshakes ended.
type Outcome string

// Outcomes of a record, stable strings users filter on.
const (
	OutcomeOK                        Outcome = "ok"
	OutcomeClientRejectedCertificate Outcome = "client_rejected_certificate"
	OutcomeClientHandshakeFailed     Outcome = "client_handshake_failed"
	OutcomeUpstreamUnreachable       Outcome = "upstream_unreachable"
	OutcomeUpstreamHandshakeFailed   Outcome = "upstream_handshake_failed"
	OutcomeUpstreamVerifyFailed      Outcome = "upstream_verify_failed"
	OutcomeNotTLS                    Outcome = "not_tls"
	OutcomeDenied                    Outcome = "denied"
	// OutcomeBadRequest is a connection that never completed a proxy
	// request: malformed, over a limit, stalled, closed without a byte, or
	// TLS sent to the plain HTTP proxy port. Client.Status is the HTTP
	// status sent, if one was.
	OutcomeBadRequest Outcome = "bad_request"
)

// A Record is one client connection: what each side offered, what was
// negotiated, the chains and the key exchange. Its JSON keys are the contract
// of docs/record.md; add keys freely, never rename or drop one.
type Record struct {
	// Time is when the record was written. It is filled by the logger on
	// output (logrus's "time" key) and by decoding on input; the proxy leaves
	// it zero.
	Time     time.Time `json:"time,omitzero"`
	Schema   int       `json:"schema"`
	ID       string    `json:"id"`
	Mode     Mode      `json:"mode"`
	Target   string    `json:"target"`
	Via      Via       `json:"via,omitzero"` // how the client connection arrived; omitted for the proxy port
	Outcome  Outcome   `json:"outcome"`
	Reason   string    `json:"reason,omitempty"` // why the mode was chosen, e.g. "auto_passthrough: 3 rejections"
	Client   *Side     `json:"client"`
	Upstream *Side     `json:"upstream,omitempty"` // nil when never dialled
	// Probe is the server's clear answer to the client's own ClientHello,
	// sent unchanged on a second connection that tlslens closes without
	// completing it (mitm only); nil when no probe was sent.
	Probe    *Side     `json:"probe,omitempty"`
	Findings []Finding `json:"findings"`
	// Readiness judges the client's post-quantum, ECH and legacy offers
	// and what each leg agreed (ReadinessOf); nil without a ClientHello.
	Readiness *Readiness `json:"readiness,omitempty"`

	// Ignored marks a connection to a host of ignore_hosts, relayed
	// untouched and recorded only because record_ignored asked for it.
	Ignored bool `json:"ignored,omitempty"`
}

// A Side is one leg of a connection: client ↔ proxy or proxy ↔ server.
type Side struct {
	Addr  string `json:"addr,omitempty"`  // the peer's ip:port
	Local string `json:"local,omitempty"` // tlslens's own ip:port on this leg
	// Resolved is, upstream, every address the target resolved to, each
	// judged by the policy before one of them (Addr) was dialled.
	Resolved           []string      `json:"resolved,omitempty"`
	Hello              *Hello        `json:"hello,omitempty"`
	OfferDelta         []OfferChange `json:"offer_delta,omitempty"` // upstream: where Hello differs from the client's, and why (OfferDelta)
	ServerHello        *ServerHello  `json:"server_hello,omitempty"`
	Negotiated         *Negotiated   `json:"negotiated,omitempty"`
	Chain              []Cert        `json:"chain,omitempty"` // leaf first
	Verify             *Verify       `json:"verify,omitempty"`
	KeyExchange        *KeyExchange  `json:"key_exchange,omitempty"`
	CertificateRequest *CertRequest  `json:"certificate_request,omitempty"`
	ClientCertificate  *Cert         `json:"client_certificate,omitempty"`
	OCSPStapled        *bool         `json:"ocsp_stapled,omitempty"` // nil when the handshake did not get that far
	SCTs               *int          `json:"scts,omitempty"`         // nil when the handshake did not get that far
	DurationMS         float64       `json:"duration_ms"`
	Attempts           []Attempt     `json:"attempts,omitempty"` // upstream: earlier failed attempts (compat retry)
	Alert              string        `json:"alert,omitempty"`    // a TLS alert received from the peer
	Stage              string        `json:"stage,omitempty"`    // client: when it failed, if not during the handshake ("after_handshake")
	Error              string        `json:"error,omitempty"`    // why this side failed, in words a person can act on
	Status             int           `json:"status,omitempty"`   // client: the HTTP status tlslens answered with itself (bad_request, a refused http:// request)
	// Identity is, on the client leg, which known client sent the hello,
	// from the known-client table; nil when the hello matches none.
	Identity *Identity `json:"identity,omitempty"`
	// HTTP2Fingerprint is, on the client leg of an h2 connection, the
	// client's connection preface in the Akamai form:
	// SETTINGS|WINDOW_UPDATE|PRIORITY|pseudo-header order.
	HTTP2Fingerprint string `json:"http2_fingerprint,omitempty"`
	// UserAgent is, on the client leg in mitm mode, the User-Agent of the
	// client's first request, when it came before the record was written.
	// Findings compares it with Identity (client_identity_mismatch); the
	// record does not carry it.
	UserAgent string `json:"-"`
}

// An Identity names the client software a hello came from.
type Identity struct {
	Name  string `json:"name"`  // e.g. "curl 7.88", "Chromium 120-156"
	Match string `json:"match"` // MatchExact (ja4_r matched) or MatchJA4 (only ja4 matched)
}

// An Attempt is an upstream handshake that failed before the one the Side
// describes, e.g. the first try before a compat retry with legacy versions.
type Attempt struct {
	Hello       *Hello       `json:"hello,omitempty"`
	ServerHello *ServerHello `json:"server_hello,omitempty"`
	Alert       string       `json:"alert,omitempty"`
	Error       string       `json:"error"`
}

// Hello is a ClientHello as the record shows it: names, not numbers, in wire
// order, GREASE values as "GREASE".
type Hello struct {
	Version                 string     `json:"version"` // legacy_version
	SupportedVersions       []string   `json:"supported_versions,omitempty"`
	CipherSuites            []string   `json:"cipher_suites"`
	Extensions              []string   `json:"extensions,omitempty"`
	SNI                     string     `json:"sni,omitempty"`
	ALPN                    []string   `json:"alpn,omitempty"`
	Groups                  []string   `json:"groups,omitempty"`
	KeyShares               []KeyShare `json:"key_shares,omitempty"`
	SignatureAlgorithms     []string   `json:"signature_algorithms,omitempty"`
	SignatureAlgorithmsCert []string   `json:"signature_algorithms_cert,omitempty"`
	PointFormats            []string   `json:"point_formats,omitempty"`
	CompressionMethods      []string   `json:"compression_methods,omitempty"`
	PSKModes                []string   `json:"psk_modes,omitempty"`
	SessionTicket           bool       `json:"session_ticket"` // a non-empty ticket was offered
	PSK                     bool       `json:"psk"`            // pre_shared_key present
	EarlyData               bool       `json:"early_data,omitempty"`
	ECH                     bool       `json:"ech"` // encrypted_client_hello present
	ECHType                 string     `json:"ech_type,omitempty"`
	Grease                  bool       `json:"grease"`
	SessionIDLength         int        `json:"session_id_length,omitempty"`
	Padding                 int        `json:"padding,omitempty"` // bytes of the padding extension
	RecordSizeLimit         int        `json:"record_size_limit,omitempty"`
	CompressCertificate     []string   `json:"compress_certificate,omitempty"`
	ALPS                    []string   `json:"alps,omitempty"`
	StatusRequest           bool       `json:"status_request,omitempty"`
	SCT                     bool       `json:"sct,omitempty"`
	ExtendedMasterSecret    bool       `json:"extended_master_secret,omitempty"`
	RenegotiationInfo       bool       `json:"renegotiation_info,omitempty"`
	JA3                     string     `json:"ja3,omitempty"`
	JA3Raw                  string     `json:"ja3_raw,omitempty"`
	JA3N                    string     `json:"ja3n,omitempty"`
	JA4                     string     `json:"ja4,omitempty"`
	JA4R                    string     `json:"ja4_r,omitempty"`
	Size                    int        `json:"size"` // bytes of the handshake message
}

// A KeyShare is one key_share entry of a ClientHello.
type KeyShare struct {
	Group  string `json:"group"`
	Length int    `json:"length"` // bytes of key_exchange
}

// ServerHello is a ServerHello as the record shows it.
type ServerHello struct {
	Version     string   `json:"version"` // selected, after supported_versions
	CipherSuite string   `json:"cipher_suite"`
	Group       string   `json:"group,omitempty"` // TLS 1.3 key_share
	Extensions  []string `json:"extensions,omitempty"`
	ALPN        string   `json:"alpn,omitempty"` // TLS 1.3: from EncryptedExtensions
	HelloRetry  bool     `json:"hello_retry"`
	Downgrade   string   `json:"downgrade,omitempty"` // RFC 8446 §4.1.3 sentinel: "TLS 1.2" or "TLS 1.1"
	JA3S        string   `json:"ja3s,omitempty"`
	JA3SRaw     string   `json:"ja3s_raw,omitempty"`
}

// Negotiated is what a finished handshake agreed.
type Negotiated struct {
	Version     string `json:"version"`
	CipherSuite string `json:"cipher_suite"`
	Group       string `json:"group,omitempty"`
	ALPN        string `json:"alpn,omitempty"`
	Resumed     bool   `json:"resumed"`
	HelloRetry  bool   `json:"hello_retry"`
	ECH         bool   `json:"ech"`
}

// An Agreement is what one leg of a connection agreed: its version, cipher
// suite, key exchange group and ALPN protocol, as the record names them.
type Agreement struct {
	Version     string
	CipherSuite string
	Group       string // "" when unknown (TLS 1.2 resumption, or not in the ServerHello)
	ALPN        string // "" for none
}

// Agreed is what the leg agreed: its Negotiated when its handshake finished,
// otherwise its ServerHello's choice (a handshake that failed after it, or
// passthrough, where only the clear ServerHello is seen). ok is false when
// the leg has neither, or s is nil.
func (s *Side) Agreed() (a Agreement, ok bool) {
	switch {
	case s == nil:
		return Agreement{}, false
	case s.Negotiated != nil:
		n := s.Negotiated
		return Agreement{Version: n.Version, CipherSuite: n.CipherSuite, Group: n.Group, ALPN: n.ALPN}, true
	case s.ServerHello != nil:
		sh := s.ServerHello
		return Agreement{Version: sh.Version, CipherSuite: sh.CipherSuite, Group: sh.Group, ALPN: sh.ALPN}, true
	}
	return Agreement{}, false
}

// Cert summarises one certificate.
type Cert struct {
	Subject    string   `json:"subject"` // RFC 2253
	Issuer     string   `json:"issuer"`  // RFC 2253
	SANs       []string `json:"sans,omitempty"`
	Serial     string   `json:"serial"` // hex
	NotBefore  string   `json:"not_before"`
	NotAfter   string   `json:"not_after"`
	Key        string   `json:"key"`         // "ECDSA P-256", "RSA 2048", "Ed25519"
	Signature  string   `json:"signature"`   // "SHA256-RSA"
	SHA256     string   `json:"sha256"`      // hex of the DER
	SPKISHA256 string   `json:"spki_sha256"` // base64, the pinning form
	IsCA       bool     `json:"is_ca"`
}

// Verify is the proxy's verification of the upstream chain.
type Verify struct {
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
	Roots string `json:"roots"` // "system", or "system+FILE"
}

// KeyExchange is the group and the server's signature: TLS 1.2 from
// ServerKeyExchange, TLS 1.3 from key_share and CertificateVerify.
type KeyExchange struct {
	Kind               string `json:"kind"` // "ECDHE", "DHE", "RSA", "PSK"
	Group              string `json:"group,omitempty"`
	DHBits             int    `json:"dh_bits,omitempty"` // DHE: size of the prime
	SignatureAlgorithm string `json:"signature_algorithm,omitempty"`
}

// CertRequest is a server's CertificateRequest (mTLS).
type CertRequest struct {
	SignatureAlgorithms []string `json:"signature_algorithms,omitempty"`
	Authorities         []string `json:"authorities,omitempty"`       // RFC 2253
	CertificateTypes    []string `json:"certificate_types,omitempty"` // TLS 1.2 only
}

// Severity ranks a finding.
type Severity string

// Severities, least to most severe.
const (
	SeverityInfo     Severity = "info"
	SeverityWarn     Severity = "warn"
	SeverityCritical Severity = "critical"
)

// A Finding is something an auditor should notice.
type Finding struct {
	Side     string   `json:"side"` // "client" or "upstream"
	Severity Severity `json:"severity"`
	Code     string   `json:"code"` // stable snake_case
	Message  string   `json:"message"`
}
