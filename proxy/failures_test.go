package proxy

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/tlslens/tlslens/ca/testpki"
	"github.com/tlslens/tlslens/inspect"
)

// The client-side failure classes of issue 4: a client that rejects the
// proxy's certificate by alert, one that closes without an alert after the
// certificate, one that closes before its hello is complete, one that
// completes the handshake and leaves without a request, and one that stalls.
// Every case is a real client on loopback; the record's outcome, alert and
// error are what is checked.

// failuresUpstream starts a TLS server for example.com trusted by the
// returned roots, so that the upstream leg succeeds and only the client's
// behaviour decides the outcome.
func failuresUpstream(t *testing.T) (*upstream, *x509.CertPool) {
	t.Helper()
	pki := testpki.Root(t, "Upstream Test Root")
	up := startUpstream(t, &tls.Config{Certificates: []tls.Certificate{pki.Leaf(t, "example.com")}})
	return up, pki.Pool()
}

// readTLSRecord reads one TLS record (RFC 8446 §5.1): its content type and
// payload.
func readTLSRecord(c net.Conn) (byte, []byte, error) {
	hdr := make([]byte, 5)
	if _, err := io.ReadFull(c, hdr); err != nil {
		return 0, nil, err
	}
	body := make([]byte, int(hdr[3])<<8|int(hdr[4]))
	if _, err := io.ReadFull(c, body); err != nil {
		return 0, nil, err
	}
	return hdr[0], body, nil
}

// readServerFlight reads what a TLS server sends in answer to a ClientHello,
// up to the point where the client must speak: in TLS 1.2 through
// ServerHelloDone (RFC 5246 §7.4.5), in TLS 1.3 through the four encrypted
// records crypto/tls writes after the ServerHello: EncryptedExtensions,
// Certificate, CertificateVerify and Finished (RFC 8446 §4.4). It returns the
// handshake message types seen in clear and the encrypted record count.
func readServerFlight(t *testing.T, c net.Conn, tls13 bool) (clear []byte, encrypted int) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second)) // a guard, not a wait
	defer c.SetReadDeadline(time.Time{})
	var hs []byte // handshake bytes in clear, across records
	for {
		typ, body, err := readTLSRecord(c)
		if err != nil {
			t.Fatalf("reading the server flight (clear messages %v, %d encrypted records): %v", clear, encrypted, err)
		}
		switch typ {
		case 21:
			t.Fatalf("the proxy sent an alert %v instead of its flight", body)
		case 22:
			hs = append(hs, body...)
			for len(hs) >= 4 {
				n := 4 + (int(hs[1])<<16 | int(hs[2])<<8 | int(hs[3]))
				if len(hs) < n {
					break
				}
				clear = append(clear, hs[0])
				hs = hs[n:]
				if !tls13 && clear[len(clear)-1] == 14 { // server_hello_done
					return clear, encrypted
				}
			}
		case 23:
			encrypted++
			if tls13 && encrypted == 4 {
				return clear, encrypted
			}
		}
	}
}

// alertRecord is a fatal alert in a plaintext TLS 1.2 record, as a client
// sends it before ChangeCipherSpec (RFC 5246 §7.2).
func alertRecord(code uint8) []byte {
	return []byte{21, 3, 3, 0, 2, 2, code}
}

// TestClientRejectsByAlert: a client that answers the proxy's certificate
// with a certificate alert is client_rejected_certificate, its alert named
// and the error saying to install the CA; another alert is a plain failed
// handshake. crypto/tls clients send bad_certificate in TLS 1.3 and 1.2; the
// other alerts come from a raw TLS 1.2 client (plaintext alerts, RFC 5246
// §7.2) that read the proxy's whole flight, certificate included.
func TestClientRejectsByAlert(t *testing.T) {
	t.Parallel()
	up, roots := failuresUpstream(t)
	target := "example.com:" + up.port()
	goClient := func(version uint16) func(t *testing.T, h *harness) {
		return func(t *testing.T, h *harness) {
			tc := tls.Client(h.connect(target), &tls.Config{ServerName: "example.com",
				RootCAs: x509.NewCertPool(), MaxVersion: version})
			if err := tc.Handshake(); err == nil {
				t.Fatal("handshake succeeded with a client that trusts no CA")
			}
		}
	}
	rawAlert := func(code uint8) func(t *testing.T, h *harness) {
		return func(t *testing.T, h *harness) {
			hello := clientHelloRecords(t, &tls.Config{ServerName: "example.com", MaxVersion: tls.VersionTLS12})
			c := h.connect(target)
			if _, err := c.Write(hello); err != nil {
				t.Fatal(err)
			}
			clear, _ := readServerFlight(t, c, false)
			if len(clear) < 2 || clear[1] != 11 { // certificate, after server_hello
				t.Fatalf("server flight messages %v: want a Certificate after the ServerHello", clear)
			}
			if _, err := c.Write(alertRecord(code)); err != nil {
				t.Fatal(err)
			}
			c.Close()
		}
	}
	cases := []struct {
		name    string
		client  func(t *testing.T, h *harness)
		outcome inspect.Outcome
		alert   string
		error   string // in the record's client error
		version string // of the proxy's ServerHello to the client
	}{
		{"crypto/tls TLS 1.3", goClient(tls.VersionTLS13), inspect.OutcomeClientRejectedCertificate, "bad_certificate", "install the tlslens CA", "TLS 1.3"},
		{"crypto/tls TLS 1.2", goClient(tls.VersionTLS12), inspect.OutcomeClientRejectedCertificate, "bad_certificate", "install the tlslens CA", "TLS 1.2"},
		{"raw unknown_ca", rawAlert(48), inspect.OutcomeClientRejectedCertificate, "unknown_ca", "install the tlslens CA", "TLS 1.2"},
		{"raw certificate_unknown", rawAlert(46), inspect.OutcomeClientRejectedCertificate, "certificate_unknown", "install the tlslens CA", "TLS 1.2"},
		{"raw internal_error", rawAlert(80), inspect.OutcomeClientHandshakeFailed, "internal_error", "aborted the handshake with alert internal_error", "TLS 1.2"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, func(o *Options) { o.UpstreamRoots = roots })
			tc.client(t, h)
			r := h.record()
			c := r.Client
			if r.Outcome != tc.outcome || c.Alert != tc.alert {
				t.Fatalf("outcome %s alert %q (error %q), want %s with alert %s", r.Outcome, c.Alert, c.Error, tc.outcome, tc.alert)
			}
			if !strings.Contains(c.Error, tc.error) {
				t.Errorf("client error %q, want it to contain %q", c.Error, tc.error)
			}
			if c.Negotiated != nil {
				t.Errorf("client negotiated %+v for a refused handshake", c.Negotiated)
			}
			if c.ServerHello == nil || c.ServerHello.Version != tc.version || len(c.Chain) != 1 {
				t.Errorf("client server_hello %+v, chain of %d: want the %s flight and the minted chain", c.ServerHello, len(c.Chain), tc.version)
			}
			if r.Upstream == nil || r.Upstream.Negotiated == nil || r.Upstream.Verify == nil || !r.Upstream.Verify.OK {
				t.Errorf("upstream %+v: the upstream leg should have succeeded", r.Upstream)
			}
			rejected := findingsWith(r.Findings, inspect.CodeClientRejectedCertificate)
			if tc.outcome == inspect.OutcomeClientRejectedCertificate {
				if len(rejected) != 1 || rejected[0].Side != "client" || rejected[0].Severity != inspect.SeverityWarn ||
					!strings.Contains(rejected[0].Message, tc.alert) {
					t.Errorf("findings %+v, want one client warn %s naming %s", r.Findings, inspect.CodeClientRejectedCertificate, tc.alert)
				}
			} else if len(rejected) != 0 {
				t.Errorf("findings %+v: %s for a handshake the client aborted for another reason", r.Findings, inspect.CodeClientRejectedCertificate)
			}
			select {
			case req := <-up.requests:
				t.Errorf("a request reached the upstream: %s", req.URL)
			default:
			}
			h.recordCount(1)
		})
	}
}

// TestClientClosesSilently: a client that closes after the proxy's
// certificate without an alert (an app that pins, or a CA it does not trust)
// is client_rejected_certificate, with an error saying so; one that closes
// before its ClientHello is complete is client_handshake_failed.
func TestClientClosesSilently(t *testing.T) {
	t.Parallel()
	up, roots := failuresUpstream(t)
	target := "example.com:" + up.port()
	afterFlight := func(version uint16) func(t *testing.T, h *harness) {
		return func(t *testing.T, h *harness) {
			hello := clientHelloRecords(t, &tls.Config{ServerName: "example.com", MaxVersion: version})
			c := h.connect(target)
			if _, err := c.Write(hello); err != nil {
				t.Fatal(err)
			}
			clear, encrypted := readServerFlight(t, c, version == tls.VersionTLS13)
			if len(clear) == 0 || clear[0] != 2 || version == tls.VersionTLS13 && encrypted != 4 {
				t.Fatalf("server flight: clear messages %v, %d encrypted records", clear, encrypted)
			}
			c.Close() // no alert
		}
	}
	cases := []struct {
		name    string
		client  func(t *testing.T, h *harness)
		outcome inspect.Outcome
		error   string
	}{
		{"after the TLS 1.3 flight", afterFlight(tls.VersionTLS13), inspect.OutcomeClientRejectedCertificate,
			"closed the connection after receiving tlslens's certificate, without an alert"},
		{"after the TLS 1.2 flight", afterFlight(tls.VersionTLS12), inspect.OutcomeClientRejectedCertificate,
			"closed the connection after receiving tlslens's certificate, without an alert"},
		{"crypto/tls client dropping the connection in VerifyConnection", func(t *testing.T, h *harness) {
			c := h.connect(target)
			tc := tls.Client(c, &tls.Config{ServerName: "example.com", RootCAs: h.roots(),
				VerifyConnection: func(tls.ConnectionState) error {
					c.Close() // before crypto/tls can send its alert
					return errors.New("pinned: not the expected key")
				}})
			if err := tc.Handshake(); err == nil {
				t.Fatal("handshake succeeded")
			}
		}, inspect.OutcomeClientRejectedCertificate, "closed the connection after receiving tlslens's certificate, without an alert"},
		{"before sending anything", func(t *testing.T, h *harness) {
			h.connect(target).Close()
		}, inspect.OutcomeClientHandshakeFailed, "closed the tunnel without sending anything"},
		{"in the middle of the ClientHello", func(t *testing.T, h *harness) {
			hello := clientHelloRecords(t, &tls.Config{ServerName: "example.com"})
			c := h.connect(target)
			if _, err := c.Write(hello[:len(hello)/2]); err != nil {
				t.Fatal(err)
			}
			c.Close()
		}, inspect.OutcomeClientHandshakeFailed, "closed the connection in the middle of its ClientHello"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, func(o *Options) { o.UpstreamRoots = roots })
			tc.client(t, h)
			r := h.record()
			if r.Outcome != tc.outcome || r.Client.Alert != "" {
				t.Fatalf("outcome %s alert %q error %q, want %s without an alert", r.Outcome, r.Client.Alert, r.Client.Error, tc.outcome)
			}
			if !strings.Contains(r.Client.Error, tc.error) {
				t.Errorf("client error %q, want it to contain %q", r.Client.Error, tc.error)
			}
			if tc.outcome == inspect.OutcomeClientRejectedCertificate {
				if !strings.Contains(r.Client.Error, "passthrough") {
					t.Errorf("client error %q should name passthrough for pinning apps", r.Client.Error)
				}
				if r.Client.Hello == nil || r.Client.ServerHello == nil {
					t.Errorf("client hello %+v server_hello %+v: both were exchanged", r.Client.Hello, r.Client.ServerHello)
				}
				if fs := findingsWith(r.Findings, inspect.CodeClientRejectedCertificate); len(fs) != 1 || fs[0].Side != "client" {
					t.Errorf("findings %+v, want one client %s", r.Findings, inspect.CodeClientRejectedCertificate)
				}
			} else if r.Upstream != nil {
				t.Errorf("upstream %+v dialled for a client that never sent a whole hello", r.Upstream)
			}
			h.recordCount(1)
		})
	}
}

// logEvent is what logChanHook keeps of an operational log entry.
type logEvent struct {
	level  logrus.Level
	msg    string
	id     any
	target any
}

// logChanHook sends each operational log entry on a channel, so a test can
// wait for a line logged after the record without polling.
type logChanHook chan logEvent

func (logChanHook) Levels() []logrus.Level { return logrus.AllLevels }

func (h logChanHook) Fire(e *logrus.Entry) error {
	select {
	case h <- logEvent{e.Level, e.Message, e.Data["id"], e.Data["target"]}:
	default: // never block the proxy; the buffer is larger than any test needs
	}
	return nil
}

// waitLog waits for the first operational entry at level whose message
// contains msg.
func waitLog(t *testing.T, events logChanHook, level logrus.Level, msg string) logEvent {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case e := <-events:
			if e.level == level && strings.Contains(e.msg, msg) {
				return e
			}
		case <-timeout:
			t.Fatalf("no %s log line containing %q within 10s", level, msg)
		}
	}
}

// TestClientLeavesWithoutRequest: a client that completes the handshake and
// idles past pinningCloseWindow gets an ok record (written at the window);
// when it then closes without a request it is a preconnection it did not
// need (issue 19), logged at debug level with the record's id, not the
// pinning warning (a close within the window is: TestRejectionAfterHandshake,
// TestSettleIdlePreconnect). A client that sent a request gets neither.
func TestClientLeavesWithoutRequest(t *testing.T) {
	t.Parallel()
	up, roots := failuresUpstream(t)
	target := "example.com:" + up.port()
	events := make(logChanHook, 256)
	h := newHarness(t, func(o *Options) {
		o.UpstreamRoots = roots
		o.Log.(*logrus.Logger).AddHook(events)
	})
	const warning = "client closed without sending a request after a successful handshake"
	const preconnect = "client closed an idle connection without a request"

	// First a client that does send a request, then closes.
	busy := tls.Client(h.connect(target), &tls.Config{ServerName: "example.com", RootCAs: h.roots(), NextProtos: []string{"http/1.1"}})
	if resp := newReaderClient(t, busy).do("GET", "/busy", "example.com"); resp.status != 200 {
		t.Fatalf("GET /busy: %d %q", resp.status, resp.body)
	}
	busy.Close()
	busyRec := h.record()

	// Then one that handshakes and leaves.
	idle := tls.Client(h.connect(target), &tls.Config{ServerName: "example.com", RootCAs: h.roots(), NextProtos: []string{"http/1.1"}})
	if err := idle.Handshake(); err != nil {
		t.Fatal(err)
	}
	r := h.record()
	idle.Close()
	if r.Outcome != inspect.OutcomeOK || r.Client.Negotiated == nil || r.Client.Negotiated.ALPN != "http/1.1" {
		t.Fatalf("outcome %s client negotiated %+v, want ok over http/1.1", r.Outcome, r.Client.Negotiated)
	}
	got := waitLog(t, events, logrus.DebugLevel, preconnect)
	if got.id != r.ID || got.target != r.Target {
		t.Errorf("debug line id %v target %v, want the record's %s %s", got.id, got.target, r.ID, r.Target)
	}
	// The test hook holds the same line, once, with the record's id, and
	// no warning.
	n := 0
	for _, e := range h.logHook.AllEntries() {
		if e.Level == logrus.WarnLevel && strings.Contains(e.Message, warning) {
			t.Errorf("pinning warning for %v, which idled past the window: %s", e.Data["id"], e.Message)
		}
		if strings.Contains(e.Message, preconnect) {
			switch e.Data["id"] {
			case r.ID:
				n++
			case busyRec.ID:
				t.Errorf("preconnection line for %s, which sent a request", busyRec.ID)
			}
		}
	}
	if n != 1 {
		t.Errorf("%d preconnection lines with id %s in the operational log, want 1", n, r.ID)
	}
	h.recordCount(2)
}

// TestClientStalls: a client that stops sending, before its ClientHello is
// complete or after it, is client_handshake_failed with an error naming the
// timeout.
func TestClientStalls(t *testing.T) {
	t.Parallel()
	up, roots := failuresUpstream(t)
	target := "example.com:" + up.port()
	const timeout = 300 * time.Millisecond
	hello := clientHelloRecords(t, &tls.Config{ServerName: "example.com"})
	cases := []struct {
		name  string
		send  []byte
		error string
	}{
		{"mid-handshake", hello, fmt.Sprintf("the client stalled: the handshake did not finish within %s", timeout)},
		{"mid-hello", hello[:len(hello)/2], fmt.Sprintf("the client sent no complete ClientHello within %s (%d bytes received)", timeout, len(hello)/2)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, func(o *Options) { o.UpstreamRoots = roots; o.HandshakeTimeout = timeout })
			c := h.connect(target)
			if _, err := c.Write(tc.send); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			r := h.record() // the client sends nothing more and keeps the connection open
			if r.Outcome != inspect.OutcomeClientHandshakeFailed || !strings.Contains(r.Client.Error, tc.error) {
				t.Fatalf("outcome %s error %q, want client_handshake_failed saying %q", r.Outcome, r.Client.Error, tc.error)
			}
			if waited := time.Since(start); waited < timeout/2 {
				t.Errorf("record after %s, before the %s timeout could pass", waited, timeout)
			}
			// The proxy closes the stalled connection.
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			if _, err := io.Copy(io.Discard, c); err != nil {
				t.Errorf("reading until the proxy closes: %v", err)
			}
			h.recordCount(1)
		})
	}
}

// findingsWith returns the findings with code, in record order.
func findingsWith(fs []inspect.Finding, code string) []inspect.Finding {
	var out []inspect.Finding
	for _, f := range fs {
		if f.Code == code {
			out = append(out, f)
		}
	}
	return out
}
