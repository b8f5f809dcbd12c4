package proxy

import (
	"bytes"
	"crypto/tls"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"

	"github.com/tlslens/tlslens/ca/testpki"
	"github.com/tlslens/tlslens/inspect"
)

func basic(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

// TestProxyAuth checks Basic proxy authentication on CONNECT and on plain
// requests: the right credentials pass, anything else gets 407 with the
// challenge, and a refused CONNECT writes exactly one denied record that
// does not hold the credentials.
func TestProxyAuth(t *testing.T) {
	pki := testpki.Root(t, "Upstream Test Root")
	up := startUpstream(t, &tls.Config{Certificates: []tls.Certificate{pki.Leaf(t, "example.com")}})
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Proxy-Authorization") != "" {
			t.Error("Proxy-Authorization forwarded upstream")
		}
		io.WriteString(w, "plain upstream")
	}))
	t.Cleanup(plain.Close)
	const user, pass = "alice", "correct horse battery staple"
	h := newHarness(t, func(o *Options) {
		o.UpstreamRoots = pki.Pool()
		o.ProxyAuth = []Credential{{"bob", "other"}, {user, pass}}
	})
	target := "example.com:" + up.port()

	tests := []struct {
		name    string
		auth    string // Proxy-Authorization; "" sends none
		ok      bool
		errPart string // in the denied record's client.error
	}{
		{"right credentials", basic(user, pass), true, ""},
		{"second credential of two", basic("bob", "other"), true, ""},
		{"scheme is case-insensitive", "basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass)), true, ""},
		{"no credentials", "", false, "sent no credentials"},
		{"wrong password", basic(user, "wrong"), false, "wrong username or password"},
		{"wrong user", basic("mallory", pass), false, "wrong username or password"},
		{"another user's password", basic("bob", pass), false, "wrong username or password"},
		{"password prefix", basic(user, pass[:5]), false, "wrong username or password"},
		{"bearer scheme", "Bearer " + pass, false, `"Bearer" scheme`},
		{"not base64", "Basic !!!", false, "not valid base64"},
		{"no colon", "Basic " + base64.StdEncoding.EncodeToString([]byte(user)), false, "no username:password"},
	}
	for _, tt := range tests {
		t.Run("CONNECT "+tt.name, func(t *testing.T) {
			before := len(h.hook.AllEntries())
			resp, body := connectRaw(t, h.addr, target, tt.auth)
			r := h.record()
			if tt.ok {
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("CONNECT = %s %q, want 200", resp.Status, body)
				}
				// Admitted, then closed without a handshake: the record says so.
				if r.Outcome != inspect.OutcomeClientHandshakeFailed || r.Reason != "" {
					t.Errorf("record outcome %s reason %q after an admitted CONNECT, want %s", r.Outcome, r.Reason, inspect.OutcomeClientHandshakeFailed)
				}
				return
			}
			if resp.StatusCode != http.StatusProxyAuthRequired {
				t.Fatalf("CONNECT = %s, want 407", resp.Status)
			}
			if got := resp.Header.Get("Proxy-Authenticate"); got != `Basic realm="tlslens"` {
				t.Errorf("Proxy-Authenticate = %q", got)
			}
			if r.Outcome != inspect.OutcomeDenied || r.Target != target || r.Upstream != nil ||
				!strings.HasPrefix(r.Client.Error, "proxy authentication failed") || !strings.Contains(r.Client.Error, tt.errPart) {
				t.Errorf("record = outcome %s target %s upstream %v client.error %q, want denied with %q",
					r.Outcome, r.Target, r.Upstream, r.Client.Error, tt.errPart)
			}
			if got := len(h.hook.AllEntries()) - before; got != 1 {
				t.Errorf("%d records written for one refused CONNECT, want 1", got)
			}
		})
	}

	t.Run("HTTPS through the proxy with credentials", func(t *testing.T) {
		c := h.proxyClient(url.UserPassword(user, pass))
		resp, body := get(t, c, "https://"+target+"/x")
		if resp.StatusCode != http.StatusOK || body != "hello from upstream /x over HTTP/1.1" {
			t.Fatalf("got %s %q", resp.Status, body)
		}
		if r := h.record(); r.Outcome != inspect.OutcomeOK {
			t.Errorf("record outcome %s, want ok", r.Outcome)
		}
	})
	t.Run("HTTPS through the proxy without credentials", func(t *testing.T) {
		_, err := h.proxyClient(nil).Get("https://" + target + "/x")
		if err == nil || !strings.Contains(err.Error(), "Proxy Authentication Required") {
			t.Fatalf("GET error = %v, want Proxy Authentication Required", err)
		}
		if r := h.record(); r.Outcome != inspect.OutcomeDenied {
			t.Errorf("record outcome %s, want denied", r.Outcome)
		}
	})
	t.Run("plain HTTP", func(t *testing.T) {
		resp, body := fetch(t, h.proxyClient(url.UserPassword(user, pass)), http.MethodGet, plain.URL)
		if resp.StatusCode != http.StatusOK || string(body) != "plain upstream" {
			t.Errorf("with credentials: %s %q", resp.Status, body)
		}
		resp, _ = fetch(t, h.proxyClient(url.UserPassword(user, "nope")), http.MethodGet, plain.URL)
		if resp.StatusCode != http.StatusProxyAuthRequired || resp.Header.Get("Proxy-Authenticate") != `Basic realm="tlslens"` {
			t.Errorf("wrong password: %s, Proxy-Authenticate %q", resp.Status, resp.Header.Get("Proxy-Authenticate"))
		}
		resp, _ = fetch(t, h.proxyClient(nil), http.MethodGet, "http://tlslens/")
		if resp.StatusCode != http.StatusProxyAuthRequired {
			t.Errorf("onboarding page through the proxy without credentials: %s, want 407", resp.Status)
		}
		resp, _ = fetch(t, directClient(t), http.MethodGet, "http://"+h.addr+"/ca.pem")
		if resp.StatusCode != http.StatusOK {
			t.Errorf("onboarding page directly: %s, want 200 (the CA is public)", resp.Status)
		}
	})

	// Neither records nor logs hold a password or the header that carries it.
	for _, e := range append(h.hook.AllEntries(), h.logHook.AllEntries()...) {
		b, err := (&logrus.JSONFormatter{}).Format(e)
		if err != nil {
			t.Fatal(err)
		}
		for _, secret := range []string{pass, "other", base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))} {
			if bytes.Contains(b, []byte(secret)) {
				t.Errorf("log entry %q holds a credential", b)
			}
		}
	}
}

// TestAllowCIDRs checks the client allow-list on CONNECT, plain requests and
// the onboarding page, with a list that excludes 127.0.0.1 and one that
// includes it.
func TestAllowCIDRs(t *testing.T) {
	pki := testpki.Root(t, "Upstream Test Root")
	up := startUpstream(t, &tls.Config{Certificates: []tls.Certificate{pki.Leaf(t, "example.com")}})
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "plain upstream")
	}))
	t.Cleanup(plain.Close)
	target := "example.com:" + up.port()

	tests := []struct {
		name  string
		allow []string
		ok    bool
	}{
		{"outside 10.0.0.0/8", []string{"10.0.0.0/8"}, false},
		{"outside several", []string{"192.168.0.0/16", "::1/128", "127.0.0.2/32"}, false},
		{"inside 127.0.0.0/8", []string{"10.0.0.0/8", "127.0.0.0/8"}, true},
		{"the exact address", []string{"127.0.0.1/32"}, true},
		{"IPv4-mapped range", []string{"::ffff:127.0.0.0/104"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var prefixes []netip.Prefix
			for _, s := range tt.allow {
				prefixes = append(prefixes, netip.MustParsePrefix(s))
			}
			h := newHarness(t, func(o *Options) { o.UpstreamRoots = pki.Pool(); o.AllowCIDRs = prefixes })

			wantPlain := http.StatusForbidden
			if tt.ok {
				wantPlain = http.StatusOK
			}
			resp, _ := fetch(t, h.proxyClient(nil), http.MethodGet, plain.URL)
			if resp.StatusCode != wantPlain {
				t.Errorf("plain request: %s, want %d", resp.Status, wantPlain)
			}
			resp, _ = fetch(t, directClient(t), http.MethodGet, "http://"+h.addr+"/")
			if resp.StatusCode != wantPlain {
				t.Errorf("onboarding page directly: %s, want %d", resp.Status, wantPlain)
			}
			resp, _ = fetch(t, h.proxyClient(nil), http.MethodGet, "http://tlslens/")
			if resp.StatusCode != wantPlain {
				t.Errorf("onboarding page through the proxy: %s, want %d", resp.Status, wantPlain)
			}
			// Each plain connection has a record of mode http (badrequest.go).
			for range 3 {
				wantOutcome := inspect.OutcomeDenied
				if tt.ok {
					wantOutcome = inspect.OutcomeOK
				}
				if r := h.record(); r.Mode != inspect.ModeHTTP || r.Outcome != wantOutcome {
					t.Errorf("plain connection's record: mode %s outcome %s, want http %s", r.Mode, r.Outcome, wantOutcome)
				}
			}

			if tt.ok {
				resp, body := get(t, h.httpClient(nil), "https://"+target+"/in")
				if resp.StatusCode != http.StatusOK || body != "hello from upstream /in over HTTP/1.1" {
					t.Errorf("HTTPS: %s %q", resp.Status, body)
				}
				if r := h.record(); r.Outcome != inspect.OutcomeOK {
					t.Errorf("record outcome %s, want ok", r.Outcome)
				}
				h.recordCount(1 + 3)
				return
			}
			resp, body := connectRaw(t, h.addr, target, "")
			if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "allow-list") {
				t.Fatalf("CONNECT = %s %q, want 403 naming the allow-list", resp.Status, body)
			}
			r := h.record()
			h.recordCount(1 + 3)
			if r.Outcome != inspect.OutcomeDenied || r.Reason != "access: allow_cidrs" || r.Upstream != nil ||
				!strings.Contains(r.Client.Error, "127.0.0.1 is not in the allow-list") {
				t.Errorf("record = outcome %s reason %q upstream %v client.error %q", r.Outcome, r.Reason, r.Upstream, r.Client.Error)
			}
		})
	}
}

func TestNewRejectsBadAccessOptions(t *testing.T) {
	auth := newHarness(t, nil).auth
	tests := []struct {
		name string
		opts Options
	}{
		{"empty password", Options{Authority: auth, ProxyAuth: []Credential{{"a", ""}}}},
		{"empty username", Options{Authority: auth, ProxyAuth: []Credential{{"", "p"}}}},
		{"colon in username", Options{Authority: auth, ProxyAuth: []Credential{{"a:b", "p"}}}},
		{"zero prefix", Options{Authority: auth, AllowCIDRs: []netip.Prefix{{}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if p, err := New(tt.opts); err == nil || !strings.HasPrefix(err.Error(), "proxy: ") {
				t.Errorf("New = %v, %v; want a proxy: error", p, err)
			}
		})
	}
}
