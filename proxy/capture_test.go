package proxy

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tlslens/tlslens/ca/testpki"
	"github.com/tlslens/tlslens/inspect"
)

// tsharkFields runs tshark on the pcapng b, with no -o option: what it
// decrypts it does from the file alone. It returns one line per packet
// matching filter, with the TCP ports first, then fields, tab-separated.
func tsharkFields(t *testing.T, b []byte, filter string, fields ...string) []string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "conn.pcapng")
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"-r", file, "-Y", filter, "-T", "fields", "-e", "tcp.srcport", "-e", "tcp.dstport"}
	for _, f := range fields {
		args = append(args, "-e", f)
	}
	var stderr bytes.Buffer
	cmd := exec.Command(lookPath(t, "tshark", "tshark"), args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark %v: %v\n%s", args, err, stderr.Bytes())
	}
	return strings.Split(strings.TrimSpace(string(out)), "\n")
}

// onLeg reports whether a line of tsharkFields with the request's path and
// one with the response's status are both on the TCP port of one leg.
func onLeg(lines []string, port, path, status string) (req, resp bool) {
	for _, l := range lines {
		f := strings.Split(l, "\t")
		if len(f) < 4 || (f[0] != port && f[1] != port) {
			continue
		}
		req = req || strings.Contains(f[2], path)
		resp = resp || strings.Contains(f[3], status)
	}
	return req, resp
}

// TestCaptureDecrypts: the pcapng of an intercepted connection, fetched
// with Proxy.Capture, shows tshark the HTTP request and response on both
// legs, decrypted with the secrets in the file: TLS 1.2 and 1.3, HTTP/1.1
// and HTTP/2.
func TestCaptureDecrypts(t *testing.T) {
	t.Parallel()
	lookPath(t, "tshark", "tshark")
	pki := testpki.Root(t, "Upstream Test Root")
	leaf := pki.Leaf(t, "example.com")
	for _, tc := range []struct {
		name    string
		version uint16
		h2      bool
	}{
		{"TLS1.3/http1.1", tls.VersionTLS13, false},
		{"TLS1.2/http1.1", tls.VersionTLS12, false},
		{"TLS1.3/h2", tls.VersionTLS13, true},
		{"TLS1.2/h2", tls.VersionTLS12, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var up *upstream
			if tc.h2 {
				up = startH2Upstream(t, &tls.Config{Certificates: []tls.Certificate{leaf}}, new(atomic.Int64))
			} else {
				up = startUpstream(t, &tls.Config{Certificates: []tls.Certificate{leaf}})
			}
			h := newHarness(t, func(o *Options) { o.UpstreamRoots = pki.Pool(); o.Capture = &Capture{} })
			proxyURL, _ := url.Parse("http://" + h.addr)
			tr := &http.Transport{Proxy: http.ProxyURL(proxyURL), ForceAttemptHTTP2: tc.h2,
				TLSClientConfig: &tls.Config{RootCAs: h.roots(), MinVersion: tc.version, MaxVersion: tc.version}}
			client := &http.Client{Transport: tr, Timeout: 15 * time.Second}
			resp, _ := get(t, client, "https://example.com:"+up.port()+"/captured")
			tr.CloseIdleConnections()
			r := h.record()
			if r.Outcome != inspect.OutcomeOK || resp.ProtoMajor != map[bool]int{true: 2, false: 1}[tc.h2] {
				t.Fatalf("outcome %s over %s", r.Outcome, resp.Proto)
			}
			if got := r.Upstream.Negotiated.Version; got != inspect.VersionName(tc.version) {
				t.Fatalf("upstream leg ran %s, want %s", got, inspect.VersionName(tc.version))
			}
			b, ok := h.p.Capture(r.ID)
			if !ok {
				t.Fatalf("Capture(%s): not kept", r.ID)
			}
			keys, ok := h.p.KeyLogLines(r.ID)
			if !ok || len(keyLogRandoms(string(keys))) != 2 {
				t.Errorf("KeyLogLines(%s) = %q, want the lines of two handshakes", r.ID, keys)
			}
			_, proxyPort, _ := net.SplitHostPort(h.addr)
			var lines []string
			if tc.h2 {
				lines = tsharkFields(t, b, "http2.headers.path || http2.headers.status", "http2.headers.path", "http2.headers.status")
			} else {
				lines = tsharkFields(t, b, "http", "http.request.uri", "http.response.code")
			}
			for leg, port := range map[string]string{"client": proxyPort, "upstream": up.port()} {
				if req, resp := onLeg(lines, port, "/captured", "200"); !req || !resp {
					t.Errorf("%s leg (port %s): request shown %v, response shown %v; tshark:\n%s", leg, port, req, resp, strings.Join(lines, "\n"))
				}
			}
		})
	}
}

// TestCaptureBounded: of a 5 MiB response, each leg keeps MaxBytesPerLeg
// (1 MiB by default) and counts the rest; the pcapng is about 2 MiB.
func TestCaptureBounded(t *testing.T) {
	t.Parallel()
	pki := testpki.Root(t, "Upstream Test Root")
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(bytes.Repeat([]byte("x"), 5<<20))
	}))
	up.TLS = &tls.Config{Certificates: []tls.Certificate{pki.Leaf(t, "example.com")}}
	up.StartTLS()
	t.Cleanup(up.Close)
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(up.URL, "https://"))
	h := newHarness(t, func(o *Options) { o.UpstreamRoots = pki.Pool(); o.Capture = &Capture{} })
	_, body := get(t, h.httpClient(nil), "https://example.com:"+port+"/big")
	if len(body) != 5<<20 {
		t.Fatalf("body %d bytes, want 5 MiB", len(body))
	}
	r := h.record()
	cp := h.p.captures.get(r.ID)
	if cp == nil {
		t.Fatal("no capture kept")
	}
	cp.mu.Lock()
	legs := cp.legs
	cp.mu.Unlock()
	if len(legs) != 2 {
		t.Fatalf("%d legs captured, want 2", len(legs))
	}
	for i, l := range legs {
		l.mu.Lock()
		kept, seen := l.kept, l.seen
		l.mu.Unlock()
		if kept != defaultCaptureLeg || seen < 5<<20 {
			t.Errorf("leg %d kept %d bytes of %d seen, want %d of more than 5 MiB", i, kept, seen, defaultCaptureLeg)
		}
	}
	b, _ := h.p.Capture(r.ID)
	if len(b) < 2<<20 || len(b) > 2<<20+256<<10 {
		t.Errorf("pcapng %d bytes, want about 2 MiB (two legs of 1 MiB and headers)", len(b))
	}
}

// TestCaptureFileAndRing: every completed connection is appended to the
// capture file, which tshark reads whole and decrypts; the ring keeps only
// the Keep most recent.
func TestCaptureFileAndRing(t *testing.T) {
	t.Parallel()
	lookPath(t, "tshark", "tshark")
	pki := testpki.Root(t, "Upstream Test Root")
	up := startUpstream(t, &tls.Config{Certificates: []tls.Certificate{pki.Leaf(t, "example.com")}})
	file := &syncBuffer{}
	h := newHarness(t, func(o *Options) {
		o.UpstreamRoots = pki.Pool()
		o.Capture = &Capture{Keep: 2, File: file}
	})
	var ids []string
	for i := range 3 {
		get(t, h.httpClient(nil), fmt.Sprintf("https://example.com:%s/file%d", up.port(), i))
		ids = append(ids, h.record().ID)
	}
	if _, ok := h.p.Capture(ids[0]); ok {
		t.Errorf("Capture(first of 3) kept with Keep 2")
	}
	if _, ok := h.p.Capture(ids[2]); !ok {
		t.Errorf("Capture(last) not kept")
	}
	deadline := time.Now().Add(10 * time.Second)
	for strings.Count(file.String(), "CLIENT_RANDOM")+strings.Count(file.String(), "CLIENT_TRAFFIC_SECRET_0") < 6 {
		if time.Now().After(deadline) {
			t.Fatal("the capture file did not get 3 connections within 10s")
		}
		time.Sleep(10 * time.Millisecond) // the connections close after their response
	}
	lines := tsharkFields(t, []byte(file.String()), "http.request", "http.request.uri")
	got := strings.Join(lines, "\n")
	for i := range 3 {
		if strings.Count(got, fmt.Sprintf("/file%d", i)) != 2 {
			t.Errorf("capture file: request /file%d not on both legs; tshark:\n%s", i, got)
		}
	}
}

// TestCaptureLegChunks: a leg's chunks are the bytes each read and write
// added, in order, whatever blocks hold them (a chunk may span two), and
// the bytes past the limit are counted but not kept.
func TestCaptureLegChunks(t *testing.T) {
	t.Parallel()
	const limit = 300 << 10
	cs := newCaptures(&Capture{MaxBytesPerLeg: limit}, nil)
	cp := &capture{store: cs, id: "leg"}
	l := cp.leg(netip.AddrPort{}, netip.AddrPort{})
	var want [][]byte
	kept, seen := 0, 0
	for i := 0; seen < limit+50<<10; i++ {
		b := bytes.Repeat([]byte{byte(i)}, []int{1, 141, 84, 5000, 16413, 70 << 10}[i%6])
		l.add(i%2 == 0, b)
		seen += len(b)
		if n := min(len(b), limit-kept); n > 0 {
			want = append(want, b[:n])
			kept += n
		}
	}
	got := l.snapshot()
	if l.kept != limit || l.seen != int64(seen) {
		t.Errorf("kept %d of %d bytes seen, want %d of %d", l.kept, l.seen, limit, seen)
	}
	if len(got.Chunks) != len(want) {
		t.Fatalf("%d chunks, want %d", len(got.Chunks), len(want))
	}
	for i, c := range got.Chunks {
		if !bytes.Equal(c.Data, want[i]) || c.FromClient != (i%2 == 0) {
			t.Errorf("chunk %d: %d bytes (from client %v), want %d (%v)", i, len(c.Data), c.FromClient, len(want[i]), i%2 == 0)
		}
	}
	capacity := 0
	for _, b := range l.blocks {
		capacity += cap(b)
	}
	if capacity != limit {
		t.Errorf("blocks hold %d bytes, want the limit, %d", capacity, limit)
	}
}

// BenchmarkCaptureLegAdd: a keep-alive request's reads and writes (141 and
// 84 bytes, as bench/load's) added to a leg, a new leg once one is full.
func BenchmarkCaptureLegAdd(b *testing.B) {
	cs := newCaptures(&Capture{}, nil)
	cp := &capture{store: cs, id: "leg"}
	req, resp := make([]byte, 141), make([]byte, 84)
	l := cp.leg(netip.AddrPort{}, netip.AddrPort{})
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if l.seen >= int64(cs.maxLeg) {
			cp.legs = nil // dropped, as the ring drops old captures
			l = cp.leg(netip.AddrPort{}, netip.AddrPort{})
		}
		l.add(true, req)
		l.add(false, resp)
	}
}
