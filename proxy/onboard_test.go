package proxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	pkcs12 "software.sslmate.com/src/go-pkcs12"

	"github.com/tlslens/tlslens/inspect"
)

// proxyClient is an HTTP client sending every request through the proxy.
func (h *harness) proxyClient(user *url.Userinfo) *http.Client {
	u := &url.URL{Scheme: "http", Host: h.addr, User: user}
	tr := &http.Transport{Proxy: http.ProxyURL(u), TLSClientConfig: &tls.Config{RootCAs: h.roots()}, DisableKeepAlives: true}
	h.tb.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 15 * time.Second}
}

// directClient is an HTTP client that uses no proxy.
func directClient(t *testing.T) *http.Client {
	tr := &http.Transport{Proxy: nil, DisableKeepAlives: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 15 * time.Second}
}

func fetch(t *testing.T, c *http.Client, method, u string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// TestOnboardingPage fetches the page and each download through the proxy
// (http://tlslens/), through the proxy at its own address, and directly, and
// parses each download back to the proxy's CA certificate.
func TestOnboardingPage(t *testing.T) {
	h := newHarness(t, nil)
	want := h.auth.Certificate()
	ways := []struct {
		name   string
		client *http.Client
		base   string
	}{
		{"through the proxy", h.proxyClient(nil), "http://tlslens"},
		{"through the proxy, upper case and trailing dot", h.proxyClient(nil), "http://TLSLENS."},
		{"through the proxy to its own address", h.proxyClient(nil), "http://" + h.addr},
		{"directly", directClient(t), "http://" + h.addr},
	}
	parsePEM := func(t *testing.T, b []byte) *x509.Certificate {
		block, rest := pem.Decode(b)
		if block == nil || block.Type != "CERTIFICATE" || len(strings.TrimSpace(string(rest))) != 0 {
			t.Fatalf("not one PEM CERTIFICATE block: %q", b)
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	downloads := []struct {
		path, ctype, filename string
		parse                 func(*testing.T, []byte) *x509.Certificate
	}{
		{"/ca.pem", "application/x-x509-ca-cert", "tlslens-ca.pem", parsePEM},
		{"/ca.der", "application/x-x509-ca-cert", "tlslens-ca.der", func(t *testing.T, b []byte) *x509.Certificate {
			c, err := x509.ParseCertificate(b)
			if err != nil {
				t.Fatal(err)
			}
			return c
		}},
		{"/ca.p12", "application/x-pkcs12", "tlslens-ca.p12", func(t *testing.T, b []byte) *x509.Certificate {
			certs, err := pkcs12.DecodeTrustStore(b, "")
			if err != nil {
				t.Fatal(err)
			}
			if len(certs) != 1 {
				t.Fatalf("PKCS#12 holds %d certificates, want 1", len(certs))
			}
			return certs[0]
		}},
		{"/ca.0", "application/x-x509-ca-cert", h.auth.SubjectHashOld() + ".0", parsePEM},
		{"/" + h.auth.SubjectHashOld() + ".0", "application/x-x509-ca-cert", h.auth.SubjectHashOld() + ".0", parsePEM},
	}
	for _, way := range ways {
		t.Run(way.name, func(t *testing.T) {
			resp, body := fetch(t, way.client, http.MethodGet, way.base+"/")
			if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
				t.Fatalf("GET / = %s %s, want 200 text/html", resp.Status, resp.Header.Get("Content-Type"))
			}
			page := string(body)
			for _, s := range []string{h.auth.Fingerprint(), want.Subject.CommonName, h.auth.SubjectHashOld() + ".0",
				`href="/ca.pem"`, `href="/ca.der"`, `href="/ca.p12"`, `href="/ca.0"`,
				"Firefox", "certutil -d sql:$HOME/.pki/nssdb", "security add-trusted-cert", "certutil -addstore",
				"network_security_config", "Certificate Trust Settings", "REQUESTS_CA_BUNDLE",
				"NODE_EXTRA_CA_CERTS", "keytool -importcert", "curl --proxy"} {
				if !strings.Contains(page, s) {
					t.Errorf("page lacks %q", s)
				}
			}
			if strings.Contains(page, "://cdn") || strings.Contains(page, "<script") || strings.Contains(page, `src="http`) {
				t.Error("page loads external resources or scripts")
			}
			for _, d := range downloads {
				resp, body := fetch(t, way.client, http.MethodGet, way.base+d.path)
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("GET %s = %s", d.path, resp.Status)
				}
				if got := resp.Header.Get("Content-Type"); got != d.ctype {
					t.Errorf("GET %s Content-Type = %q, want %q", d.path, got, d.ctype)
				}
				_, params, err := mime.ParseMediaType(resp.Header.Get("Content-Disposition"))
				if err != nil || params["filename"] != d.filename {
					t.Errorf("GET %s Content-Disposition = %q, want filename %q", d.path, resp.Header.Get("Content-Disposition"), d.filename)
				}
				if got := d.parse(t, body); !got.Equal(want) {
					t.Errorf("GET %s parses to %s, want the proxy's CA %s", d.path, got.Subject, want.Subject)
				}
			}
			resp, body = fetch(t, way.client, http.MethodHead, way.base+"/ca.der")
			if resp.StatusCode != http.StatusOK || len(body) != 0 || resp.ContentLength != int64(len(want.Raw)) {
				t.Errorf("HEAD /ca.der = %s, %d body bytes, Content-Length %d; want 200, none, %d",
					resp.Status, len(body), resp.ContentLength, len(want.Raw))
			}
			resp, _ = fetch(t, way.client, http.MethodGet, way.base+"/nope")
			if resp.StatusCode != http.StatusNotFound {
				t.Errorf("GET /nope = %s, want 404", resp.Status)
			}
			resp, _ = fetch(t, way.client, http.MethodPost, way.base+"/")
			if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
				t.Errorf("POST / = %s (Allow %q), want 405 with Allow: GET, HEAD", resp.Status, resp.Header.Get("Allow"))
			}
		})
	}
	// Plain HTTP, no handshake, but a record per connection (each fetch has
	// its own): records equal tlslens_connections_total (badrequest.go).
	h.recordCount(len(ways) * (len(downloads) + 4))
	for _, e := range h.hook.AllEntries() {
		if e.Data["mode"] != inspect.ModeHTTP || e.Data["outcome"] != inspect.OutcomeOK || e.Data["reason"] != "onboarding" {
			t.Errorf("record mode %v outcome %v reason %v, want http ok onboarding", e.Data["mode"], e.Data["outcome"], e.Data["reason"])
		}
	}
}

// TestOnboardingPageNamesTheProxy checks that the steps name the address the
// client reached the proxy at, and ask for credentials when the proxy does.
func TestOnboardingPageNamesTheProxy(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.ProxyAuth = []Credential{{"alice", "s3cret"}} })
	_, body := fetch(t, directClient(t), http.MethodGet, "http://"+h.addr+"/")
	page := string(body)
	host, port, _ := net.SplitHostPort(h.addr)
	for _, s := range []string{"curl --proxy http://" + h.addr + " --proxy-user USER:PASSWORD",
		"-Dhttps.proxyHost=" + host + " -Dhttps.proxyPort=" + port} {
		if !strings.Contains(page, s) {
			t.Errorf("page lacks %q", s)
		}
	}
	if strings.Contains(page, "s3cret") || strings.Contains(page, "alice") {
		t.Error("page shows the configured credentials")
	}
}

// TestOnboardingConnectRefused checks that a TLS tunnel to the onboarding
// host is refused with a pointer to the plain-HTTP page, dials nothing, and
// is recorded once as denied.
func TestOnboardingConnectRefused(t *testing.T) {
	dialled := make(chan string, 1)
	h := newHarness(t, func(o *Options) {
		o.Dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
			dialled <- addr
			return nil, fmt.Errorf("test: no dial expected, got %s", addr)
		}
	})
	resp, body := connectRaw(t, h.addr, "tlslens:443", "")
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "http://tlslens/") {
		t.Fatalf("CONNECT tlslens:443 = %s %q, want 403 naming http://tlslens/", resp.Status, body)
	}
	r := h.record()
	h.recordCount(1)
	if r.Outcome != inspect.OutcomeDenied || r.Target != "tlslens:443" || r.Upstream != nil ||
		!strings.Contains(r.Client.Error, "http://tlslens/") {
		t.Errorf("record = outcome %s target %s upstream %v error %q", r.Outcome, r.Target, r.Upstream, r.Client.Error)
	}
	select {
	case addr := <-dialled:
		t.Errorf("dialled %s", addr)
	default:
	}
}

// connectRaw sends one CONNECT with an optional Proxy-Authorization value
// and returns the response and its body.
func connectRaw(t *testing.T, proxyAddr, target, auth string) (*http.Response, string) {
	t.Helper()
	c, err := net.Dial("tcp", proxyAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(15 * time.Second))
	req := fmt.Sprintf("CONNECT %s HTTP/1.1\r\nHost: %s\r\n", target, target)
	if auth != "" {
		req += "Proxy-Authorization: " + auth + "\r\n"
	}
	if _, err := io.WriteString(c, req+"\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: http.MethodConnect})
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode == http.StatusOK {
		return resp, "" // the tunnel: closed here, before any handshake
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}
