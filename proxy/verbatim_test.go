package proxy

import (
	"bytes"
	"compress/gzip"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/tlslens/tlslens/ca/testpki"
)

// TestResponseHeadersVerbatim: the client gets the server's response headers
// and no others: net/http's server would add a Date, and a Content-Type
// sniffed from the body, to an answer without them.
func TestResponseHeadersVerbatim(t *testing.T) {
	pki := testpki.Root(t, "Upstream Test Root")
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Date"] = nil // the test server sends neither
		w.Header()["Content-Type"] = nil
		io.WriteString(w, "<html>sniffable</html>")
	}))
	up.EnableHTTP2 = true
	up.TLS = &tls.Config{Certificates: []tls.Certificate{pki.Leaf(t, "example.com")},
		NextProtos: []string{"h2", "http/1.1"}}
	up.StartTLS()
	t.Cleanup(up.Close)
	_, port, _ := net.SplitHostPort(up.Listener.Addr().String())
	h := newHarness(t, func(o *Options) { o.UpstreamRoots = pki.Pool() })
	proxyURL, _ := url.Parse("http://" + h.addr)
	for _, h2 := range []bool{false, true} {
		tr := &http.Transport{Proxy: http.ProxyURL(proxyURL), TLSClientConfig: &tls.Config{RootCAs: h.roots()},
			ForceAttemptHTTP2: h2, DisableKeepAlives: true}
		if !h2 {
			tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
		}
		resp, body := get(t, &http.Client{Transport: tr, Timeout: 15 * time.Second}, "https://example.com:"+port+"/")
		tr.CloseIdleConnections()
		if body != "<html>sniffable</html>" || (resp.ProtoMajor == 2) != h2 {
			t.Fatalf("%s: body %q", resp.Proto, body)
		}
		for _, k := range []string{"Date", "Content-Type"} {
			if v, ok := resp.Header[k]; ok {
				t.Errorf("%s: client got %s %q, which the server did not send", resp.Proto, k, v)
			}
		}
	}
}

// TestRequestHeadersVerbatim: what the client sends is what the server
// gets. net/http's transport adds "User-Agent: Go-http-client/…" and
// "Accept-Encoding: gzip" to requests without them (and then gunzips the
// answer): a proxy must not, over either protocol or a plain http:// request.
// A gzip answer the client asked for reaches it still compressed.
func TestRequestHeadersVerbatim(t *testing.T) {
	pki := testpki.Root(t, "Upstream Test Root")
	seen := make(chan http.Header, 10)
	gz := gzipped(t, "compressed body")
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen <- r.Header.Clone()
		if r.Header.Get("Accept-Encoding") == "gzip" {
			w.Header().Set("Content-Encoding", "gzip")
			w.Write(gz)
			return
		}
		io.WriteString(w, "plain body")
	})
	up := httptest.NewUnstartedServer(handler)
	up.EnableHTTP2 = true
	up.TLS = &tls.Config{Certificates: []tls.Certificate{pki.Leaf(t, "example.com")},
		NextProtos: []string{"h2", "http/1.1"}}
	up.StartTLS()
	t.Cleanup(up.Close)
	plain := httptest.NewServer(handler)
	t.Cleanup(plain.Close)
	_, port, _ := net.SplitHostPort(up.Listener.Addr().String())
	h := newHarness(t, func(o *Options) { o.UpstreamRoots = pki.Pool() })

	proxyURL, _ := url.Parse("http://" + h.addr)
	for _, tc := range []struct {
		name, url string
		h2        bool
	}{
		{"https over HTTP/1.1", "https://example.com:" + port + "/", false},
		{"https over HTTP/2", "https://example.com:" + port + "/", true},
		{"plain http", plain.URL + "/", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, acceptGzip := range []bool{false, true} {
				tr := &http.Transport{Proxy: http.ProxyURL(proxyURL), TLSClientConfig: &tls.Config{RootCAs: h.roots()},
					ForceAttemptHTTP2: tc.h2, DisableCompression: true, DisableKeepAlives: true}
				if !tc.h2 {
					tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{} // HTTP/1.1 only
				}
				req, _ := http.NewRequest("GET", tc.url, nil)
				req.Header["User-Agent"] = []string{""} // send none
				if acceptGzip {
					req.Header.Set("Accept-Encoding", "gzip")
				}
				resp, err := (&http.Client{Transport: tr, Timeout: 15 * time.Second}).Do(req)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				tr.CloseIdleConnections()
				if tc.h2 && resp.ProtoMajor != 2 {
					t.Errorf("client leg spoke %s, want HTTP/2", resp.Proto)
				}
				got := <-seen
				if ua, ok := got["User-Agent"]; ok {
					t.Errorf("server got User-Agent %q; the client sent none", ua)
				}
				if ae := got.Get("Accept-Encoding"); (ae == "gzip") != acceptGzip || (!acceptGzip && ae != "") {
					t.Errorf("server got Accept-Encoding %q; the client sent gzip: %v", ae, acceptGzip)
				}
				if acceptGzip && (resp.Header.Get("Content-Encoding") != "gzip" || !bytes.Equal(body, gz)) {
					t.Errorf("gzip answer reached the client as %q %q, want the server's compressed bytes", resp.Header.Get("Content-Encoding"), body)
				}
				if !acceptGzip && string(body) != "plain body" {
					t.Errorf("body %q", body)
				}
			}
		})
	}
}

func gzipped(t *testing.T, s string) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	io.WriteString(w, s)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
