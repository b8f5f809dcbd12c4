package proxy

import (
	"bytes"
	"crypto/tls"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tlslens/tlslens/ca/testpki"
	"github.com/tlslens/tlslens/inspect"
)

// TestPrefaceTee: however the client's bytes are split into reads, the tee
// hands over exactly its first bytes up to the end of the first header
// block, once, and copies nothing after; a header block that ends past
// maxPreface is handed over cut at maxPreface.
func TestPrefaceTee(t *testing.T) {
	preface, err := os.ReadFile(filepath.Join("..", "inspect", "testdata", "h2", "chromium.bin"))
	if err != nil {
		t.Fatal(err)
	}
	// A DATA frame after the HEADERS: not the tee's.
	stream := append(bytes.Clone(preface), 0, 0, 3, frameData, 1, 0, 0, 0, 1, 'a', 'b', 'c')
	for size := 1; size <= len(stream); size++ {
		var got [][]byte
		tee := newPrefaceTee(func(b []byte) { got = append(got, bytes.Clone(b)) })
		fed := 0
		for p := stream; len(p) > 0; {
			n := min(size, len(p))
			fed += n
			if tee.add(p[:n]) {
				break
			}
			p = p[n:]
		}
		if len(got) != 1 || !bytes.Equal(got[0], preface) {
			t.Fatalf("reads of %d bytes: handed over %d times, first %d bytes; want once, the %d bytes of the preface", size, len(got), len(first(got)), len(preface))
		}
		if fed > len(preface)+size-1 {
			t.Fatalf("reads of %d bytes: the tee took %d bytes, past the preface's %d", size, fed, len(preface))
		}
	}

	// A HEADERS frame declaring more than maxPreface.
	big := []byte(clientPreface)
	big = append(big, 0x01, 0, 0, frameHeaders, flagEndHeaders, 0, 0, 0, 1)
	big = append(big, make([]byte, maxPreface)...)
	var got []byte
	tee := newPrefaceTee(func(b []byte) { got = b })
	if !tee.add(big) || len(got) != maxPreface {
		t.Fatalf("a header block past maxPreface: handed over %d bytes, want %d", len(got), maxPreface)
	}
}

func first(b [][]byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b[0]
}

// TestHTTP2FingerprintRecorded: through the proxy, Go's own HTTP/2 client
// has its fingerprint on the record written at its first request (its
// pseudo-header order is :authority, :method, :path, :scheme), over TLS 1.2
// and 1.3; Go's HTTP/1.1 client has none.
func TestHTTP2FingerprintRecorded(t *testing.T) {
	t.Parallel()
	pki := testpki.Root(t, "Upstream Test Root")
	leaf := pki.Leaf(t, "example.com")
	up := startH2Upstream(t, &tls.Config{Certificates: []tls.Certificate{leaf}}, new(atomic.Int64))
	h := newHarness(t, func(o *Options) { o.UpstreamRoots = pki.Pool() })
	proxyURL, _ := url.Parse("http://" + h.addr)
	for _, tc := range []struct {
		name    string
		h2      bool
		version uint16
	}{{"h2/TLS1.3", true, tls.VersionTLS13}, {"h2/TLS1.2", true, tls.VersionTLS12}, {"http1.1", false, tls.VersionTLS13}} {
		tr := &http.Transport{Proxy: http.ProxyURL(proxyURL), ForceAttemptHTTP2: tc.h2,
			TLSClientConfig: &tls.Config{RootCAs: h.roots(), MaxVersion: tc.version}}
		client := &http.Client{Transport: tr, Timeout: 15 * time.Second}
		resp, _ := get(t, client, "https://example.com:"+up.port()+"/fp")
		tr.CloseIdleConnections()
		r := h.record()
		fp := r.Client.HTTP2Fingerprint
		parts := strings.Split(fp, "|")
		switch {
		case r.Outcome != inspect.OutcomeOK || (resp.ProtoMajor == 2) != tc.h2:
			t.Errorf("%s: outcome %s over %s", tc.name, r.Outcome, resp.Proto)
		case tc.h2 && (len(parts) != 4 || parts[0] == "" || parts[3] != "a,m,p,s"):
			t.Errorf("%s: client.http2_fingerprint %q, want Go's SETTINGS|WINDOW_UPDATE|PRIORITY|a,m,p,s", tc.name, fp)
		case !tc.h2 && fp != "":
			t.Errorf("%s: client.http2_fingerprint %q over HTTP/1.1, want none", tc.name, fp)
		}
	}
}
