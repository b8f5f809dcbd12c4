package inspect

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/cryptobyte"

	"github.com/tlslens/tlslens/ca/testpki"
)

// flightPKI is the test PKI: a server root, an intermediate that signs an
// ECDSA and an RSA leaf for "flight.test", and a separate client CA with one
// client leaf. Generated once per test binary; never written to disk.
type flightPKI struct {
	roots      *x509.CertPool
	ecdsaLeaf  tls.Certificate // chain: leaf, intermediate
	rsaLeaf    tls.Certificate
	clientCA   *x509.Certificate
	clientCAs  *x509.CertPool
	clientLeaf tls.Certificate
}

var flightPKIOnce = sync.OnceValues(newFlightPKI)

func testFlightPKI(t testing.TB) *flightPKI {
	t.Helper()
	p, err := flightPKIOnce()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func newFlightPKI() (*flightPKI, error) {
	root, err := testpki.NewRoot("tlslens test root", nil)
	if err != nil {
		return nil, err
	}
	inter, err := root.NewIntermediate("tlslens test intermediate")
	if err != nil {
		return nil, err
	}
	clientCA, err := testpki.NewRoot("tlslens test client CA", nil)
	if err != nil {
		return nil, err
	}
	p := &flightPKI{roots: root.Pool(), clientCA: clientCA.Cert, clientCAs: clientCA.Pool()}
	now := time.Now()
	if p.ecdsaLeaf, err = inter.NewLeaf(nil, now.Add(-time.Hour), now.Add(time.Hour), "flight.test", "127.0.0.1"); err != nil {
		return nil, err
	}
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	if p.rsaLeaf, err = inter.NewLeaf(rk, now.Add(-time.Hour), now.Add(time.Hour), "flight.test", "127.0.0.1"); err != nil {
		return nil, err
	}
	if p.clientLeaf, err = clientCA.NewClientLeaf("client.flight.test"); err != nil {
		return nil, err
	}
	return p, nil
}

// recordingConn tees what a connection reads and writes.
type recordingConn struct {
	net.Conn
	mu          sync.Mutex
	read, wrote []byte
}

func (c *recordingConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.mu.Lock()
	c.read = append(c.read, b[:n]...)
	c.mu.Unlock()
	return n, err
}

func (c *recordingConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.mu.Lock()
	c.wrote = append(c.wrote, b[:n]...)
	c.mu.Unlock()
	return n, err
}

// flightCapture is one real handshake over 127.0.0.1, seen from the client.
type flightCapture struct {
	fromServer, fromClient []byte // as the client read and wrote them
	keyLog                 []byte // the client's key log
	client, server         tls.ConnectionState
	clientErr, serverErr   error
}

// captureHandshake runs tls.Client(cc) against tls.Server(sc) on loopback,
// recording the client's connection. After a successful handshake the server
// writes "ok" and the client reads it, so every record the server sent
// before it (e.g. NewSessionTicket) has been read. The recording is taken
// before the client closes (no close_notify in it).
func captureHandshake(t testing.TB, cc, sc *tls.Config) *flightCapture {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	deadline := time.Now().Add(20 * time.Second)

	type result struct {
		state tls.ConnectionState
		err   error
	}
	done := make(chan result, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- result{err: err}
			return
		}
		defer c.Close()
		c.SetDeadline(deadline)
		s := tls.Server(c, sc)
		err = s.Handshake()
		if err == nil {
			_, err = s.Write([]byte("ok"))
		}
		state := s.ConnectionState()
		if err == nil {
			io.Copy(io.Discard, s) // until the client closes
		}
		done <- result{state, err}
	}()

	raw, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	raw.SetDeadline(deadline)
	rc := &recordingConn{Conn: raw}
	var keyLog bytes.Buffer
	cc = cc.Clone()
	cc.KeyLogWriter = &keyLog
	c := tls.Client(rc, cc)
	cap := &flightCapture{clientErr: c.Handshake()}
	if cap.clientErr == nil {
		buf := make([]byte, 2)
		if _, err := io.ReadFull(c, buf); err != nil {
			cap.clientErr = err
		}
	}
	cap.client = c.ConnectionState()
	rc.mu.Lock()
	cap.fromServer, cap.fromClient = bytes.Clone(rc.read), bytes.Clone(rc.wrote)
	rc.mu.Unlock()
	cap.keyLog = bytes.Clone(keyLog.Bytes())
	raw.Close()
	r := <-done
	cap.server, cap.serverErr = r.state, r.err
	return cap
}

// flightConfigs returns client and server configs that verify for real: the
// client trusts only the test root and names flight.test.
func flightConfigs(t testing.TB, leaf tls.Certificate) (cc, sc *tls.Config) {
	p := testFlightPKI(t)
	cc = &tls.Config{RootCAs: p.roots, ServerName: "flight.test", NextProtos: []string{"h2", "http/1.1"}}
	sc = &tls.Config{Certificates: []tls.Certificate{leaf}, NextProtos: []string{"h2", "http/1.1"}, SessionTicketsDisabled: true}
	return cc, sc
}

func TestParseServerFlight(t *testing.T) {
	p := testFlightPKI(t)
	sct1, sct2 := []byte("sct one: opaque to the client"), []byte("sct two")
	staple := []byte("an OCSP response the client does not parse")
	stapled := func(c tls.Certificate) tls.Certificate {
		c.OCSPStaple = staple
		c.SignedCertificateTimestamps = [][]byte{sct1, sct2}
		return c
	}
	tests := []struct {
		name     string
		leaf     tls.Certificate
		setup    func(cc, sc *tls.Config)
		messages []string // want, in order
		kind     string   // KeyExchange.Kind
		sig      string   // KeyExchange.SignatureAlgorithm
		hrr      bool
		certReq  bool
		// clientMessages: the client's messages when it was asked for a certificate.
		clientMessages []string
		downgrade      string // RFC 8446 §4.1.3 sentinel: the server could do TLS 1.3
	}{
		{
			name: "TLS 1.3 ECDSA", leaf: p.ecdsaLeaf,
			messages: []string{"server_hello", "encrypted_extensions", "certificate", "certificate_verify", "finished"},
			kind:     "ECDHE", sig: SignatureSchemeName(uint16(tls.ECDSAWithP256AndSHA256)),
		},
		{
			name: "TLS 1.3 RSA with a session ticket", leaf: p.rsaLeaf,
			setup: func(cc, sc *tls.Config) {
				// Tickets go only to clients that can use them (psk_dhe_ke).
				sc.SessionTicketsDisabled = false
				cc.ClientSessionCache = tls.NewLRUClientSessionCache(1)
			},
			// The ticket comes under server_application_traffic_secret_0.
			messages: []string{"server_hello", "encrypted_extensions", "certificate", "certificate_verify", "finished", "new_session_ticket"},
			kind:     "ECDHE", sig: SignatureSchemeName(uint16(tls.PSSWithSHA256)),
		},
		{
			name: "TLS 1.3 HelloRetryRequest", leaf: p.ecdsaLeaf,
			setup: func(cc, sc *tls.Config) {
				// The client sends shares for its first choices only; the
				// server accepts P-256 alone, so it must ask again.
				cc.CurvePreferences = []tls.CurveID{tls.X25519MLKEM768, tls.X25519, tls.CurveP256}
				sc.CurvePreferences = []tls.CurveID{tls.CurveP256}
			},
			messages: []string{"hello_retry_request", "server_hello", "encrypted_extensions", "certificate", "certificate_verify", "finished"},
			kind:     "ECDHE", sig: SignatureSchemeName(uint16(tls.ECDSAWithP256AndSHA256)), hrr: true,
		},
		{
			name: "TLS 1.3 client certificate requested", leaf: p.ecdsaLeaf,
			setup: func(cc, sc *tls.Config) {
				sc.ClientAuth, sc.ClientCAs = tls.RequestClientCert, p.clientCAs
				cc.Certificates = []tls.Certificate{p.clientLeaf}
			},
			messages: []string{"server_hello", "encrypted_extensions", "certificate_request", "certificate", "certificate_verify", "finished"},
			kind:     "ECDHE", sig: SignatureSchemeName(uint16(tls.ECDSAWithP256AndSHA256)), certReq: true,
			clientMessages: []string{"client_hello", "certificate", "certificate_verify", "finished"},
		},
		{
			name: "TLS 1.3 OCSP and SCTs", leaf: stapled(p.ecdsaLeaf),
			messages: []string{"server_hello", "encrypted_extensions", "certificate", "certificate_verify", "finished"},
			kind:     "ECDHE", sig: SignatureSchemeName(uint16(tls.ECDSAWithP256AndSHA256)),
		},
		{
			name: "TLS 1.2 ECDHE-ECDSA", leaf: p.ecdsaLeaf,
			setup:    func(cc, sc *tls.Config) { cc.MaxVersion = tls.VersionTLS12 },
			messages: []string{"server_hello", "certificate", "server_key_exchange", "server_hello_done"},
			kind:     "ECDHE", sig: SignatureSchemeName(uint16(tls.ECDSAWithP256AndSHA256)), downgrade: "TLS 1.2",
		},
		{
			name: "TLS 1.2 ECDHE-RSA", leaf: p.rsaLeaf,
			setup:    func(cc, sc *tls.Config) { cc.MaxVersion = tls.VersionTLS12 },
			messages: []string{"server_hello", "certificate", "server_key_exchange", "server_hello_done"},
			kind:     "ECDHE", sig: SignatureSchemeName(uint16(tls.PSSWithSHA256)), downgrade: "TLS 1.2",
		},
		{
			name: "TLS 1.2 RSA key exchange", leaf: p.rsaLeaf,
			setup: func(cc, sc *tls.Config) {
				cc.MaxVersion = tls.VersionTLS12
				cc.CipherSuites = []uint16{tls.TLS_RSA_WITH_AES_128_GCM_SHA256}
				sc.CipherSuites = cc.CipherSuites
			},
			messages: []string{"server_hello", "certificate", "server_hello_done"},
			kind:     "RSA", downgrade: "TLS 1.2",
		},
		{
			name: "TLS 1.2 client certificate requested", leaf: p.rsaLeaf,
			setup: func(cc, sc *tls.Config) {
				cc.MaxVersion = tls.VersionTLS12
				sc.ClientAuth, sc.ClientCAs = tls.RequestClientCert, p.clientCAs
				cc.Certificates = []tls.Certificate{p.clientLeaf}
			},
			messages: []string{"server_hello", "certificate", "server_key_exchange", "certificate_request", "server_hello_done"},
			kind:     "ECDHE", sig: SignatureSchemeName(uint16(tls.PSSWithSHA256)), certReq: true,
			clientMessages: []string{"client_hello", "certificate", "client_key_exchange", "certificate_verify"},
			downgrade:      "TLS 1.2",
		},
		{
			name: "TLS 1.2 OCSP and SCTs", leaf: stapled(p.ecdsaLeaf),
			setup:    func(cc, sc *tls.Config) { cc.MaxVersion = tls.VersionTLS12 },
			messages: []string{"server_hello", "certificate", "certificate_status", "server_key_exchange", "server_hello_done"},
			kind:     "ECDHE", sig: SignatureSchemeName(uint16(tls.ECDSAWithP256AndSHA256)), downgrade: "TLS 1.2",
		},
		{
			name: "TLS 1.0 RSA", leaf: p.rsaLeaf,
			setup: func(cc, sc *tls.Config) {
				cc.MinVersion, cc.MaxVersion = tls.VersionTLS10, tls.VersionTLS10
				sc.MinVersion = tls.VersionTLS10 // and up to TLS 1.3: the random says so
			},
			messages: []string{"server_hello", "certificate", "server_key_exchange", "server_hello_done"},
			kind:     "ECDHE", sig: "rsa_pkcs1_md5_sha1", downgrade: "TLS 1.1",
		},
		{
			name: "TLS 1.1 ECDSA", leaf: p.ecdsaLeaf,
			setup: func(cc, sc *tls.Config) {
				cc.MinVersion, cc.MaxVersion = tls.VersionTLS11, tls.VersionTLS11
				sc.MinVersion, sc.MaxVersion = tls.VersionTLS11, tls.VersionTLS11
			},
			messages: []string{"server_hello", "certificate", "server_key_exchange", "server_hello_done"},
			kind:     "ECDHE", sig: "ecdsa_sha1",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cc, sc := flightConfigs(t, tt.leaf)
			if tt.setup != nil {
				tt.setup(cc, sc)
			}
			cap := captureHandshake(t, cc, sc)
			if cap.clientErr != nil || cap.serverErr != nil {
				t.Fatalf("handshake: client %v, server %v", cap.clientErr, cap.serverErr)
			}
			cs := cap.client
			f, err := ParseServerFlight(cap.fromServer, cap.keyLog)
			if err != nil {
				t.Fatalf("ParseServerFlight: %v", err)
			}
			if !slices.Equal(f.Messages, tt.messages) {
				t.Errorf("Messages = %q, want %q", f.Messages, tt.messages)
			}
			if f.ServerHello == nil {
				t.Fatal("no ServerHello")
			}
			if got := f.ServerHello.Version(); got != cs.Version {
				t.Errorf("Version() = %s, want %s", VersionName(got), VersionName(cs.Version))
			}
			if got := f.ServerHello.CipherSuite; got != cs.CipherSuite {
				t.Errorf("CipherSuite = %s, want %s", CipherSuiteName(got), CipherSuiteName(cs.CipherSuite))
			}
			if f.ALPN != cs.NegotiatedProtocol {
				t.Errorf("ALPN = %q, want %q", f.ALPN, cs.NegotiatedProtocol)
			}
			if tls13 := cs.Version == tls.VersionTLS13; f.Decrypted != tls13 {
				t.Errorf("Decrypted = %v in %s", f.Decrypted, VersionName(cs.Version))
			}
			var peer [][]byte
			for _, c := range cs.PeerCertificates {
				peer = append(peer, c.Raw)
			}
			if !slices.EqualFunc(f.Certificates, peer, bytes.Equal) || len(peer) != 2 {
				t.Errorf("Certificates: %d, want the %d the client saw", len(f.Certificates), len(peer))
			}
			if !bytes.Equal(f.OCSPResponse, cs.OCSPResponse) {
				t.Errorf("OCSPResponse = %q, want %q", f.OCSPResponse, cs.OCSPResponse)
			}
			if f.SCTs != len(cs.SignedCertificateTimestamps) {
				t.Errorf("SCTs = %d, want %d", f.SCTs, len(cs.SignedCertificateTimestamps))
			}
			if f.Alert != "" {
				t.Errorf("Alert = %q on a good handshake", f.Alert)
			}
			if f.ServerHello.Downgrade != tt.downgrade {
				t.Errorf("Downgrade = %q, want %q", f.ServerHello.Downgrade, tt.downgrade)
			}

			kx := f.KeyExchange
			if kx == nil {
				t.Fatal("no KeyExchange")
			}
			wantGroup := ""
			if cs.CurveID != 0 {
				wantGroup = GroupName(uint16(cs.CurveID))
			}
			if kx.Kind != tt.kind || kx.Group != wantGroup || kx.SignatureAlgorithm != tt.sig {
				t.Errorf("KeyExchange = %+v, want kind %s group %q signature %q", *kx, tt.kind, wantGroup, tt.sig)
			}
			if cs.Version == tls.VersionTLS13 && f.ServerHello.KeyShareGroup != uint16(cs.CurveID) {
				t.Errorf("KeyShareGroup = %s, want %s", GroupName(f.ServerHello.KeyShareGroup), GroupName(uint16(cs.CurveID)))
			}

			if (f.HelloRetry != nil) != cs.HelloRetryRequest || cs.HelloRetryRequest != tt.hrr {
				t.Errorf("HelloRetry = %v, ConnectionState.HelloRetryRequest = %v, want %v", f.HelloRetry != nil, cs.HelloRetryRequest, tt.hrr)
			}
			if f.HelloRetry != nil {
				if !f.HelloRetry.HelloRetry || f.HelloRetry.KeyShareGroup != uint16(cs.CurveID) || f.HelloRetry.CipherSuite != cs.CipherSuite {
					t.Errorf("HelloRetryRequest = %+v: want selected_group %s and suite %s", f.HelloRetry, GroupName(uint16(cs.CurveID)), CipherSuiteName(cs.CipherSuite))
				}
				if sh := f.ServerHelloRecord(); !sh.HelloRetry || sh.Group != GroupName(uint16(cs.CurveID)) {
					t.Errorf("ServerHelloRecord() = %+v: want hello_retry and the second hello's group", sh)
				}
			}

			if (f.CertificateRequest != nil) != tt.certReq {
				t.Fatalf("CertificateRequest = %+v, want one: %v", f.CertificateRequest, tt.certReq)
			}
			if cr := f.CertificateRequest; cr != nil {
				if want := []string{p.clientCA.Subject.String()}; !slices.Equal(cr.Authorities, want) {
					t.Errorf("Authorities = %q, want %q", cr.Authorities, want)
				}
				if !slices.Contains(cr.SignatureAlgorithms, SignatureSchemeName(uint16(tls.ECDSAWithP256AndSHA256))) {
					t.Errorf("SignatureAlgorithms = %q: no ecdsa_secp256r1_sha256", cr.SignatureAlgorithms)
				}
				if cs.Version == tls.VersionTLS12 && !slices.Contains(cr.CertificateTypes, "ecdsa_sign") {
					t.Errorf("CertificateTypes = %q: no ecdsa_sign", cr.CertificateTypes)
				}
				cf, err := ParseClientFlight(cap.fromClient, cs.CipherSuite, cap.keyLog)
				if err != nil {
					t.Fatalf("ParseClientFlight: %v", err)
				}
				var got [][]byte
				for _, c := range cap.server.PeerCertificates {
					got = append(got, c.Raw)
				}
				if !slices.EqualFunc(cf.Certificates, got, bytes.Equal) || len(got) != 1 {
					t.Errorf("client Certificates: %d, want the %d the server saw", len(cf.Certificates), len(got))
				}
				if !slices.Equal(cf.Messages, tt.clientMessages) {
					t.Errorf("client Messages = %q, want %q", cf.Messages, tt.clientMessages)
				}
				if cf.Decrypted != (cs.Version == tls.VersionTLS13) || cf.Alert != "" {
					t.Errorf("ClientFlight = %+v", cf)
				}
			}

			// The record form agrees with the message.
			sh := f.ServerHelloRecord()
			if sh.Version != VersionName(cs.Version) || sh.CipherSuite != CipherSuiteName(cs.CipherSuite) || sh.ALPN != cs.NegotiatedProtocol {
				t.Errorf("ServerHelloRecord() = %+v", sh)
			}
			if hash, raw := JA3S(f.ServerHello); sh.JA3S != hash || sh.JA3SRaw != raw || len(hash) != 32 {
				t.Errorf("ServerHelloRecord() JA3S = %q %q, want %q %q", sh.JA3S, sh.JA3SRaw, hash, raw)
			}
		})
	}
}

// TestParseClientFlight covers what clients send: a TLS 1.3 client
// certificate and the alert a client sends when it rejects the server's
// certificate, encrypted in TLS 1.3 and clear in TLS 1.2.
func TestParseClientFlight(t *testing.T) {
	p := testFlightPKI(t)
	tests := []struct {
		name      string
		max       uint16
		decrypted bool
	}{
		{"TLS 1.3", tls.VersionTLS13, true},
		{"TLS 1.2", tls.VersionTLS12, false},
	}
	for _, tt := range tests {
		t.Run(tt.name+" client rejects the certificate", func(t *testing.T) {
			cc, sc := flightConfigs(t, p.ecdsaLeaf)
			cc.RootCAs = x509.NewCertPool() // without the test root
			cc.MaxVersion = tt.max
			cap := captureHandshake(t, cc, sc)
			var verr *tls.CertificateVerificationError
			if !errors.As(cap.clientErr, &verr) || cap.serverErr == nil {
				t.Fatalf("handshake: client %v, server %v: want a verification failure", cap.clientErr, cap.serverErr)
			}
			f, err := ParseServerFlight(cap.fromServer, cap.keyLog)
			if err != nil || f.ServerHello == nil {
				t.Fatalf("ParseServerFlight: %v, %+v", err, f)
			}
			cf, err := ParseClientFlight(cap.fromClient, f.ServerHello.CipherSuite, cap.keyLog)
			if err != nil {
				t.Fatalf("ParseClientFlight: %v", err)
			}
			// crypto/tls answers a failed verification with bad_certificate.
			if cf.Alert != AlertName(42) || cf.AlertLevel != "fatal" || cf.Decrypted != tt.decrypted {
				t.Errorf("ClientFlight = %+v, want a fatal %s, decrypted %v", cf, AlertName(42), tt.decrypted)
			}
			if want := []string{"client_hello"}; !slices.Equal(cf.Messages, want) {
				t.Errorf("client Messages = %q, want %q", cf.Messages, want)
			}
		})
	}
}

func TestParseServerFlightServerAlert(t *testing.T) {
	p := testFlightPKI(t)
	cc, sc := flightConfigs(t, p.ecdsaLeaf)
	// The only suite offered needs an RSA certificate: the server has none.
	cc.MaxVersion = tls.VersionTLS12
	cc.CipherSuites = []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256}
	cap := captureHandshake(t, cc, sc)
	if cap.clientErr == nil || cap.serverErr == nil {
		t.Fatalf("handshake: client %v, server %v: want a failure", cap.clientErr, cap.serverErr)
	}
	f, err := ParseServerFlight(cap.fromServer, cap.keyLog)
	if err != nil {
		t.Fatalf("ParseServerFlight: %v", err)
	}
	// crypto/tls: no shared cipher suite → handshake_failure.
	if f.Alert != AlertName(40) || f.AlertLevel != "fatal" || f.ServerHello != nil || len(f.Messages) != 0 {
		t.Errorf("Flight = %+v, want only a fatal %s", f, AlertName(40))
	}
}

// TestParseServerFlightPartial checks that what can be read is returned:
// without the key log, with another connection's key log, cut short, and
// not TLS at all.
func TestParseServerFlightPartial(t *testing.T) {
	p := testFlightPKI(t)
	cc, sc := flightConfigs(t, p.ecdsaLeaf)
	first := captureHandshake(t, cc, sc)
	second := captureHandshake(t, cc, sc)
	if first.clientErr != nil || second.clientErr != nil {
		t.Fatal(first.clientErr, second.clientErr)
	}
	whole, err := ParseServerFlight(first.fromServer, first.keyLog)
	if err != nil {
		t.Fatal(err)
	}
	// The ServerHello record comes first; cut inside the encrypted flight.
	shLen, _ := RecordLen(first.fromServer)
	tests := []struct {
		name     string
		records  []byte
		keyLog   []byte
		messages int
		wantErr  error // ErrTruncated or ErrNotTLS
		parseErr bool  // a *ParseError
	}{
		{name: "no key log", records: first.fromServer, messages: 1},
		{name: "another connection's key log", records: first.fromServer, keyLog: second.keyLog, messages: 1, parseErr: true},
		{name: "cut in the ServerHello", records: first.fromServer[:shLen-10], messages: 0, wantErr: ErrTruncated},
		{name: "cut in a record header", records: first.fromServer[:shLen+4], messages: 1, wantErr: ErrTruncated},
		{name: "cut in the encrypted flight", records: first.fromServer[:shLen+40], keyLog: first.keyLog, messages: 1, wantErr: ErrTruncated},
		{name: "HTTP", records: []byte("HTTP/1.1 400 Bad Request\r\n\r\n"), messages: 0, wantErr: ErrNotTLS},
		{name: "empty", records: nil, messages: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := ParseServerFlight(tt.records, tt.keyLog)
			if f == nil {
				t.Fatal("nil Flight")
			}
			var pe *ParseError
			switch {
			case tt.wantErr != nil && !errors.Is(err, tt.wantErr):
				t.Errorf("error = %v, want %v", err, tt.wantErr)
			case tt.parseErr && !errors.As(err, &pe):
				t.Errorf("error = %v, want a *ParseError", err)
			case tt.wantErr == nil && !tt.parseErr && err != nil:
				t.Errorf("error = %v", err)
			}
			if len(f.Messages) != tt.messages {
				t.Errorf("Messages = %q, want %d", f.Messages, tt.messages)
			}
			if tt.messages > 0 && (f.ServerHello == nil || f.ServerHello.CipherSuite != whole.ServerHello.CipherSuite || f.Decrypted || f.Certificates != nil) {
				t.Errorf("Flight = %+v: want the clear ServerHello only", f)
			}
		})
	}
}

// rewriteCipherSuites returns a ClientHello record whose cipher_suites are
// replaced by suites (RFC 8446 §4.1.2), everything else kept.
func rewriteCipherSuites(t testing.TB, record []byte, suites []uint16) []byte {
	t.Helper()
	s := cryptobyte.String(record[5+4:])
	var version uint16
	var random []byte
	var sid, oldSuites cryptobyte.String
	if !s.ReadUint16(&version) || !s.ReadBytes(&random, 32) || !s.ReadUint8LengthPrefixed(&sid) || !s.ReadUint16LengthPrefixed(&oldSuites) {
		t.Fatal("malformed ClientHello")
	}
	var b cryptobyte.Builder
	b.AddUint8(22)
	b.AddUint16(0x0301)
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
		b.AddUint8(typeClientHello)
		b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) {
			b.AddUint16(version)
			b.AddBytes(random)
			b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(sid) })
			b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
				for _, c := range suites {
					b.AddUint16(c)
				}
			})
			b.AddBytes(s) // compression methods and extensions
		})
	})
	return b.BytesOrPanic()
}

// goClientHello returns the first record of a crypto/tls client with cfg.
func goClientHello(t testing.TB, cfg *tls.Config) []byte {
	t.Helper()
	c, s := net.Pipe()
	defer s.Close()
	go func() {
		tls.Client(c, cfg).Handshake()
		c.Close()
	}()
	rec := make([]byte, 5)
	if _, err := io.ReadFull(s, rec); err != nil {
		t.Fatal(err)
	}
	rec = append(rec, make([]byte, int(rec[3])<<8|int(rec[4]))...)
	if _, err := io.ReadFull(s, rec[5:]); err != nil {
		t.Fatal(err)
	}
	return rec
}

// serverFlightForSuite sends a real Go ClientHello, with its cipher suites
// narrowed to suite, to a crypto/tls server and returns everything the
// server sent until it gave up waiting for the client's Finished, and the
// server's key log. crypto/tls clients always prefer AES-128-GCM on this
// hardware; narrowing the offer is how a test reaches the other suites.
func serverFlightForSuite(t testing.TB, sc *tls.Config, suite uint16) (records, keyLog []byte) {
	t.Helper()
	cc, _ := flightConfigs(t, tls.Certificate{})
	hello := rewriteCipherSuites(t, goClientHello(t, cc), []uint16{suite})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var log bytes.Buffer
	sc = sc.Clone()
	sc.KeyLogWriter = &log
	done := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(20 * time.Second))
		done <- tls.Server(c, sc).Handshake()
	}()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := conn.Write(hello); err != nil {
		t.Fatal(err)
	}
	conn.(*net.TCPConn).CloseWrite() // the server's handshake ends at our missing Finished
	records, err = io.ReadAll(conn)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-done; err == nil {
		t.Fatal("server handshake succeeded without a client Finished")
	}
	return records, bytes.Clone(log.Bytes())
}

func TestParseServerFlightSuites(t *testing.T) {
	p := testFlightPKI(t)
	for _, suite := range []uint16{tls.TLS_AES_128_GCM_SHA256, tls.TLS_AES_256_GCM_SHA384, tls.TLS_CHACHA20_POLY1305_SHA256} {
		t.Run(CipherSuiteName(suite), func(t *testing.T) {
			_, sc := flightConfigs(t, p.ecdsaLeaf)
			records, keyLog := serverFlightForSuite(t, sc, suite)
			f, err := ParseServerFlight(records, keyLog)
			if err != nil {
				t.Fatalf("ParseServerFlight: %v", err)
			}
			want := []string{"server_hello", "encrypted_extensions", "certificate", "certificate_verify", "finished"}
			if !slices.Equal(f.Messages, want) || !f.Decrypted {
				t.Errorf("Messages = %q (decrypted %v), want %q", f.Messages, f.Decrypted, want)
			}
			if f.ServerHello == nil || f.ServerHello.CipherSuite != suite || f.ServerHello.Version() != tls.VersionTLS13 {
				t.Fatalf("ServerHello = %+v, want TLS 1.3 with %s", f.ServerHello, CipherSuiteName(suite))
			}
			if !slices.EqualFunc(f.Certificates, p.ecdsaLeaf.Certificate, bytes.Equal) {
				t.Errorf("Certificates: %d, want the server's %d", len(f.Certificates), len(p.ecdsaLeaf.Certificate))
			}
			if f.ALPN != "h2" || f.KeyExchange == nil || f.KeyExchange.SignatureAlgorithm != SignatureSchemeName(uint16(tls.ECDSAWithP256AndSHA256)) {
				t.Errorf("ALPN %q, KeyExchange %+v", f.ALPN, f.KeyExchange)
			}
		})
	}
}

func BenchmarkParseServerFlight13(b *testing.B) {
	p := testFlightPKI(b)
	cc, sc := flightConfigs(b, p.ecdsaLeaf)
	cap := captureHandshake(b, cc, sc)
	if cap.clientErr != nil {
		b.Fatal(cap.clientErr)
	}
	b.SetBytes(int64(len(cap.fromServer)))
	for b.Loop() {
		f, err := ParseServerFlight(cap.fromServer, cap.keyLog)
		if err != nil || !f.Decrypted {
			b.Fatal(err)
		}
	}
}

// TestParseServerFlightKeyUpdate makes a crypto/tls server update its keys
// (RFC 8446 §4.6.3): the client's side of the exchange is sealed here with
// the client's logged secret, since crypto/tls has no API to send a
// KeyUpdate. The server's answer and the data after it must decrypt under
// the next generation of the server's secret.
func TestParseServerFlightKeyUpdate(t *testing.T) {
	p := testFlightPKI(t)
	cc, sc := flightConfigs(t, p.ecdsaLeaf)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	deadline := time.Now().Add(20 * time.Second)
	done := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		c.SetDeadline(deadline)
		s := tls.Server(c, sc)
		buf := make([]byte, 1)
		if _, err := io.ReadFull(s, buf); err != nil { // after the KeyUpdate
			done <- err
			return
		}
		_, err = s.Write([]byte("ok"))
		done <- err
	}()
	raw, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	raw.SetDeadline(deadline)
	rc := &recordingConn{Conn: raw}
	var keyLog bytes.Buffer
	cc.KeyLogWriter = &keyLog
	c := tls.Client(rc, cc)
	if err := c.Handshake(); err != nil {
		t.Fatal(err)
	}
	keys, err := ParseKeyLog(keyLog.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	out, err := newRecordCipher(c.ConnectionState().CipherSuite, keys[keyLogClientTraffic])
	if err != nil {
		t.Fatal(err)
	}
	next, err := out.next()
	if err != nil {
		t.Fatal(err)
	}
	// KeyUpdate(update_requested) as the first record under the client's
	// application secret, then one byte of data under the next one.
	keyUpdate := seal(out, 0, []byte{typeKeyUpdate, 0, 0, 1, 1}, RecordTypeHandshake, 0)
	data := seal(next, 0, []byte("x"), RecordTypeApplicationData, 0)
	if _, err := raw.Write(append(keyUpdate, data...)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 2)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "ok" {
		t.Fatalf("read %q, %v", buf, err)
	}
	if err := <-done; err != nil {
		t.Fatalf("server: %v", err)
	}
	rc.mu.Lock()
	fromServer := bytes.Clone(rc.read)
	rc.mu.Unlock()

	f, err := ParseServerFlight(fromServer, keyLog.Bytes())
	if err != nil {
		t.Fatalf("ParseServerFlight: %v", err)
	}
	want := []string{"server_hello", "encrypted_extensions", "certificate", "certificate_verify", "finished", "key_update"}
	if !slices.Equal(f.Messages, want) {
		t.Errorf("Messages = %q, want %q", f.Messages, want)
	}
	// The "ok" after the server's KeyUpdate is the last record; it decrypts
	// only under the updated key, and a bad key would be an error above.
	// Cutting it off must not change the messages.
	last := len(fromServer) - (5 + 2 + 1 + 16)
	if g, err := ParseServerFlight(fromServer[:last], keyLog.Bytes()); err != nil || !slices.Equal(g.Messages, want) {
		t.Errorf("without the data record: %q, %v", g.Messages, err)
	}
}
