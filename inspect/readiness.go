package inspect

// Readiness says how far a client has moved with TLS: whether it offers and
// gets a post-quantum key exchange, whether it hides its real hello with
// Encrypted Client Hello, and what legacy it still offers. It is the
// record's "readiness" key, on every record with a ClientHello
// (docs/record.md).
type Readiness struct {
	PostQuantum PostQuantum `json:"post_quantum"`
	ECH         ECHOffer    `json:"ech"`
	Legacy      Legacy      `json:"legacy"`
}

// PostQuantum is the client's post-quantum key exchange: a hybrid or pure
// ML-KEM group (X25519MLKEM768, SecP256r1MLKEM768, SecP384r1MLKEM1024,
// MLKEM512/768/1024) or a pre-standard Kyber one (X25519Kyber768Draft00).
type PostQuantum struct {
	Offered  bool     `json:"offered"`          // a post-quantum group in supported_groups
	Groups   []string `json:"groups,omitempty"` // those groups, wire order
	KeyShare bool     `json:"key_share"`        // a post-quantum key share in the first ClientHello
	// ClientLeg and UpstreamLeg report that the leg agreed a post-quantum
	// group; ClientGroup and UpstreamGroup are the group each agreed,
	// omitted when it is not known (the handshake failed before it, or a
	// TLS 1.2 resumption). A passthrough's client leg is its upstream leg:
	// one handshake, relayed.
	ClientLeg     bool   `json:"client_leg"`
	UpstreamLeg   bool   `json:"upstream_leg"`
	ClientGroup   string `json:"client_group,omitempty"`
	UpstreamGroup string `json:"upstream_group,omitempty"`
	// ClientHelloRetry and UpstreamHelloRetry report a HelloRetryRequest
	// on the leg: the server wanted a group the hello had no key share for,
	// a round trip that a post-quantum group offered without its (large)
	// key share costs, or one sent for a server that does not support it.
	ClientHelloRetry   bool `json:"client_hello_retry"`
	UpstreamHelloRetry bool `json:"upstream_hello_retry"`
}

// ECHInnerHidden is what the record says of the inner ClientHello of an ECH
// offer.
const ECHInnerHidden = "not visible: the inner ClientHello (the real server name and offer) is encrypted to the server's ECH key; a GREASE ECH extension looks the same"

// ECHOffer is the client's encrypted_client_hello extension (RFC 9849), as
// far as anyone without the server's ECH key can see it: the outer hello's
// server name and the extension's header. The inner hello is encrypted.
type ECHOffer struct {
	Offered  bool   `json:"offered"`
	Type     string `json:"type,omitempty"`      // "outer", or "inner" (only inside an outer hello's payload)
	OuterSNI string `json:"outer_sni,omitempty"` // the server name of the hello tlslens saw: the public name
	// ConfigID, KDF, AEAD, EncLength and PayloadLength are the outer
	// extension's fields (RFC 9849 §5): which of the server's ECHConfigs
	// it used, its HPKE cipher suite by name (RFC 9180 §7.2, §7.3), the
	// bytes of the encapsulated key and of the encrypted inner hello.
	ConfigID      *uint8 `json:"config_id,omitempty"`
	KDF           string `json:"kdf,omitempty"`
	AEAD          string `json:"aead,omitempty"`
	EncLength     int    `json:"enc_length,omitempty"`
	PayloadLength int    `json:"payload_length,omitempty"`
	Inner         string `json:"inner,omitempty"` // ECHInnerHidden when offered
}

// Legacy is what the client still offers from TLS's past.
type Legacy struct {
	// LowestVersion is the lowest version the client offers: of its
	// supported_versions, or its legacy_version when it sends none (RFC
	// 5246 §7.4.1.2: then the highest it speaks, and it may accept lower).
	LowestVersion string `json:"lowest_version,omitempty"`
	// WeakSuites are the cipher suites offered that findings call weak
	// (weak_cipher_offered: NULL, EXPORT, anon, RC4, RC2, IDEA, DES, 3DES),
	// wire order.
	WeakSuites []string `json:"weak_suites,omitempty"`
}

// ReadinessOf judges r's client: its hello and what each leg agreed. h is
// the parsed ClientHello the record's client hello came from, for the
// details of an ECH offer; with a nil h (a record read back from a file)
// the ECH offer has only what the record names. It returns nil when r has no
// client hello.
func ReadinessOf(r *Record, h *ClientHello) *Readiness {
	if r == nil || r.Client == nil || r.Client.Hello == nil {
		return nil
	}
	hello := r.Client.Hello
	rd := &Readiness{}

	pq := &rd.PostQuantum
	for _, g := range hello.Groups {
		if isPQ(g) {
			pq.Groups = append(pq.Groups, g)
		}
	}
	pq.Offered = len(pq.Groups) > 0
	for _, k := range hello.KeyShares {
		pq.KeyShare = pq.KeyShare || isPQ(k.Group)
	}
	pq.UpstreamGroup, pq.UpstreamHelloRetry = legKeyExchange(r.Upstream)
	pq.ClientGroup, pq.ClientHelloRetry = legKeyExchange(r.Client)
	if r.Mode == ModePassthrough && pq.ClientGroup == "" {
		pq.ClientGroup, pq.ClientHelloRetry = pq.UpstreamGroup, pq.UpstreamHelloRetry
	}
	pq.ClientLeg, pq.UpstreamLeg = isPQ(pq.ClientGroup), isPQ(pq.UpstreamGroup)

	if hello.ECH {
		e := &rd.ECH
		e.Offered, e.Type, e.OuterSNI, e.Inner = true, hello.ECHType, hello.SNI, ECHInnerHidden
		if h != nil && h.ECH != nil && h.ECH.Type == "outer" {
			id := h.ECH.ConfigID
			e.ConfigID = &id
			e.KDF, e.AEAD = HPKEKDFName(h.ECH.KDF), HPKEAEADName(h.ECH.AEAD)
			e.EncLength, e.PayloadLength = h.ECH.EncLength, h.ECH.PayloadLength
		}
	}

	rd.Legacy.LowestVersion = lowestOffered(hello)
	for _, s := range hello.CipherSuites {
		if len(weakCipher(s)) > 0 {
			rd.Legacy.WeakSuites = append(rd.Legacy.WeakSuites, s)
		}
	}
	return rd
}

// legKeyExchange is the group a leg agreed ("" when unknown) and whether it
// went through a HelloRetryRequest.
func legKeyExchange(s *Side) (group string, retry bool) {
	if s == nil {
		return "", false
	}
	a, _ := s.Agreed()
	group = a.Group
	if group == "" && s.KeyExchange != nil {
		group = s.KeyExchange.Group
	}
	retry = s.Negotiated != nil && s.Negotiated.HelloRetry || s.ServerHello != nil && s.ServerHello.HelloRetry
	return group, retry
}

// lowestOffered is the lowest SSL/TLS version of h's supported_versions,
// or its legacy_version without them; "" when none is a known version.
func lowestOffered(h *Hello) string {
	vs := h.SupportedVersions
	if len(vs) == 0 {
		vs = []string{h.Version}
	}
	low := ""
	for _, v := range vs {
		if versionOrder[v] != 0 && (low == "" || versionOrder[v] < versionOrder[low]) {
			low = v
		}
	}
	return low
}
