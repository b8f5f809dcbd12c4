package proxy

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/tlslens/tlslens/ca/testpki"
)

// TestSpareConnectionIsNotARejection: a browser (Chromium) races several
// connections to a host and closes, unused and at once, those an HTTP/2
// connection made redundant. Such a close, while the same client has another
// connection to the host open, is logged at debug level and does not count
// toward automatic passthrough; the same close with no other connection open
// is the pinning warning and does count.
func TestSpareConnectionIsNotARejection(t *testing.T) {
	up, roots := failuresUpstream(t)
	target := "example.com:" + up.port()
	events := make(logChanHook, 256)
	h := newHarness(t, func(o *Options) {
		o.UpstreamRoots = roots
		o.AutoPassthrough = AutoPassthrough{Threshold: 1, Window: time.Minute, TTL: time.Hour}
		o.Log.(*logrus.Logger).AddHook(events)
	})
	dial := func() *tls.Conn {
		c := tls.Client(h.connect(target), &tls.Config{ServerName: "example.com", RootCAs: h.roots(), NextProtos: []string{"http/1.1"}})
		if err := c.Handshake(); err != nil {
			t.Fatal(err)
		}
		return c
	}

	// The connection the browser uses: it carries a request and stays open.
	used := dial()
	if resp := newReaderClient(t, used).do("GET", "/page", "example.com"); resp.status != 200 {
		t.Fatalf("GET /page: %d %q", resp.status, resp.body)
	}
	h.record()

	// A spare dropped mid-handshake: the client reads tlslens's flight and
	// closes without an alert. Not a certificate rejection.
	mid := tls.Client(&dropAfterRead{Conn: h.connect(target)}, &tls.Config{ServerName: "example.com", RootCAs: h.roots(), NextProtos: []string{"http/1.1"}})
	if err := mid.Handshake(); err == nil {
		t.Fatal("the handshake over a connection closed after the server's flight succeeded")
	}
	if r := h.record(); r.Outcome == "client_rejected_certificate" || r.Client.Alert != "" {
		t.Errorf("spare dropped mid-handshake: outcome %s alert %q error %q, want no rejection", r.Outcome, r.Client.Alert, r.Client.Error)
	}
	if on, why := h.p.auto.active("example.com"); on {
		t.Fatalf("a spare dropped mid-handshake engaged automatic passthrough: %s", why)
	}

	// Spares, closed at once without a request.
	for i := 0; i < 3; i++ {
		spare := dial()
		spare.Close()
		r := h.record()
		got := waitLog(t, events, logrus.DebugLevel, "client closed a spare connection without a request")
		if got.id != r.ID {
			t.Errorf("spare %d: debug line for %v, want %s", i, got.id, r.ID)
		}
		if on, why := h.p.auto.active("example.com"); on {
			t.Fatalf("spare %d engaged automatic passthrough: %s", i, why)
		}
	}
	for _, e := range h.logHook.AllEntries() {
		if e.Level == logrus.WarnLevel {
			t.Errorf("warning while the client had a connection in use: %s %v", e.Message, e.Data)
		}
	}

	used.Close()

	// A client with no other connection to the host that closes without a
	// request is what a pinning client does: warned and counted.
	events2 := make(logChanHook, 256)
	h2 := newHarness(t, func(o *Options) {
		o.UpstreamRoots = roots
		o.AutoPassthrough = AutoPassthrough{Threshold: 1, Window: time.Minute, TTL: time.Hour}
		o.Log.(*logrus.Logger).AddHook(events2)
	})
	lone := tls.Client(h2.connect(target), &tls.Config{ServerName: "example.com", RootCAs: h2.roots(), NextProtos: []string{"http/1.1"}})
	if err := lone.Handshake(); err != nil {
		t.Fatal(err)
	}
	lone.Close()
	r := h2.record()
	got := waitLog(t, events2, logrus.WarnLevel, "client closed without sending a request")
	if got.id != r.ID {
		t.Errorf("pinning warning for %v, want %s", got.id, r.ID)
	}
	waitLog(t, events2, logrus.WarnLevel, "auto passthrough engaged")
	if on, _ := h2.p.auto.active("example.com"); !on {
		t.Error("a lone close after the handshake did not engage automatic passthrough")
	}
}

// dropAfterRead is a client connection that closes, without sending
// anything more, when the client first writes after reading from the
// server: a browser abandoning a connection attempt mid-handshake.
type dropAfterRead struct {
	net.Conn
	read bool
}

func (d *dropAfterRead) Read(b []byte) (int, error) {
	d.read = true
	return d.Conn.Read(b)
}

func (d *dropAfterRead) Write(b []byte) (int, error) {
	if d.read {
		d.Conn.Close()
		return 0, errors.New("dropped")
	}
	return d.Conn.Write(b)
}

// TestWebSocketEndsWhenUpstreamCloses: after a WebSocket upgrade (Chromium's
// wss:// goes over HTTP/1.1), the relay ends when the server closes, and
// tlslens then closes the client's connection too instead of leaving it open
// (it would count in connections_active and hold up shutdown's drain).
func TestWebSocketEndsWhenUpstreamCloses(t *testing.T) {
	pki := testpki.Root(t, "Upstream Test Root")
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, rw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Errorf("upstream hijack: %v", err)
			return
		}
		defer c.Close()
		rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
			"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\nframe-from-server")
		rw.Flush()
	}))
	srv.TLS = &tls.Config{
		Certificates: []tls.Certificate{pki.Leaf(t, "example.com")},
		NextProtos:   []string{"http/1.1"},
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	target := "example.com:" + port
	h := newHarness(t, func(o *Options) { o.UpstreamRoots = pki.Pool() })

	c := tls.Client(h.connect(target), &tls.Config{ServerName: "example.com", RootCAs: h.roots(), NextProtos: []string{"http/1.1"}})
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "GET /ws HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("the client's connection was not closed after the server ended the WebSocket: %v (read %q)", err, got)
	}
	if !strings.HasPrefix(string(got), "HTTP/1.1 101") || !strings.HasSuffix(string(got), "frame-from-server") {
		t.Errorf("client read %q, want the 101 and the server's bytes", got)
	}
	if r := h.record(); r.Outcome != "ok" {
		t.Errorf("outcome %s, want ok", r.Outcome)
	}
}
