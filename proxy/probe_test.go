package proxy

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tlslens/tlslens/ca/testpki"
	"github.com/tlslens/tlslens/inspect"
)

// sServer starts openssl s_server -www on 127.0.0.1 with a leaf for
// localhost and 127.0.0.1 issued by pki, plus args, and returns its address.
// It serves one connection at a time, as real single-threaded servers do.
func sServer(t *testing.T, pki *testpki.CA, args ...string) string {
	t.Helper()
	openssl := lookPath(t, "openssl", "openssl")
	leaf := pki.Leaf(t, "localhost", "127.0.0.1")
	dir := t.TempDir()
	var chain []byte
	for _, der := range leaf.Certificate {
		chain = append(chain, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	key, err := x509.MarshalPKCS8PrivateKey(leaf.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	certFile := writeFile(t, dir, "cert.pem", chain)
	keyFile := writeFile(t, dir, "key.pem", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: key}))

	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, openssl, append([]string{"s_server", "-accept", "127.0.0.1:0",
		"-cert", certFile, "-key", keyFile, "-www"}, args...)...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); cmd.Wait() })
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "ACCEPT "); ok {
				addr <- a
			}
		}
	}()
	select {
	case a := <-addr:
		return a
	case <-time.After(10 * time.Second):
		t.Fatalf("openssl s_server %q did not start: %s", args, stderr.String())
		return ""
	}
}

// sClient runs openssl s_client through the harness's proxy to target with
// args, trusting the proxy's CA, and sends one HTTP request.
func sClient(t *testing.T, h *harness, target string, args ...string) string {
	t.Helper()
	openssl := lookPath(t, "openssl", "openssl")
	caFile := writeFile(t, t.TempDir(), "ca.pem", h.auth.PEM())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, openssl, append([]string{"s_client", "-proxy", h.addr, "-connect", target,
		"-servername", "localhost", "-CAfile", caFile}, args...)...)
	cmd.Stdin = strings.NewReader("GET / HTTP/1.0\r\n\r\n")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Run() // the record says how it went
	return out.String()
}

// probeHarness is a proxy probing with mode, trusting pki for upstreams.
func probeHarness(t *testing.T, pki *testpki.CA, mode string) *harness {
	return newHarness(t, func(o *Options) {
		o.UpstreamRoots = pki.Pool()
		o.Probe = mode
	})
}

// findingCode returns r's finding with code, or nil.
func findingCode(r *inspect.Record, code string) *inspect.Finding {
	for i := range r.Findings {
		if r.Findings[i].Code == code {
			return &r.Findings[i]
		}
	}
	return nil
}

// TestProbeServerChoiceDiffers: an openssl client offering ffdhe2048 first
// (with its key share) to a server that supports it. For the client's own
// hello the server chooses ffdhe2048; tlslens's upstream hello (Go's, no
// finite-field groups) gets x25519. The probe side shows the first, the
// upstream leg the second, and the finding names both.
func TestProbeServerChoiceDiffers(t *testing.T) {
	t.Parallel()
	pki := testpki.Root(t, "Probe Test Root")
	addr := sServer(t, pki, "-tls1_3", "-groups", "ffdhe2048:x25519")
	h := probeHarness(t, pki, ProbeFirst)
	out := sClient(t, h, addr, "-tls1_3", "-groups", "ffdhe2048:x25519")
	r := h.record()
	if r.Outcome != inspect.OutcomeOK {
		t.Fatalf("outcome %s, want ok: %s\nopenssl: %s", r.Outcome, recordJSON(r), out)
	}
	pr := r.Probe
	if pr == nil || pr.Negotiated == nil || pr.ServerHello == nil {
		t.Fatalf("probe %s, want the server's answer", recordJSON(r))
	}
	if pr.Negotiated.Group != "ffdhe2048" || pr.Negotiated.Version != "TLS 1.3" || pr.Error != "" {
		t.Errorf("probe negotiated %+v error %q, want TLS 1.3 with ffdhe2048", *pr.Negotiated, pr.Error)
	}
	if pr.ServerHello.JA3S == "" || pr.Addr != addr || pr.Local == "" || pr.DurationMS <= 0 {
		t.Errorf("probe %s: want ja3s, addr %s, local and duration", recordJSON(r), addr)
	}
	if pr.Hello != nil || pr.Chain != nil {
		t.Errorf("probe has hello %v, chain %v: want neither (the hello is the client's; TLS 1.3's chain is encrypted)", pr.Hello, pr.Chain)
	}
	if g := r.Upstream.Negotiated.Group; g != "x25519" {
		t.Errorf("upstream group %s, want x25519", g)
	}
	f := findingCode(r, inspect.CodeServerChoiceDiffers)
	if f == nil {
		t.Fatalf("no %s finding: %v", inspect.CodeServerChoiceDiffers, r.Findings)
	}
	want := "for the client's own hello the server chooses ffdhe2048"
	if !strings.HasPrefix(f.Message, want) || !strings.Contains(f.Message, "through tlslens it chose x25519") || f.Side != "upstream" {
		t.Errorf("finding %+v, want side upstream and %q … x25519", *f, want)
	}
	if f.Severity != inspect.SeverityInfo {
		t.Errorf("severity %s, want info: the client's choice is not weaker", f.Severity)
	}
	if _, ok := h.recordJSON()["probe"]; !ok {
		t.Error("the written record has no probe key")
	}
}

// TestProbeHelloRetry: a server that supports only secp384r1 answers the
// client's hello, whose one key share is x25519, with a HelloRetryRequest.
// The probe records it (the probe sends no second hello) as an answer, not
// an error.
func TestProbeHelloRetry(t *testing.T) {
	t.Parallel()
	pki := testpki.Root(t, "Probe Test Root")
	addr := sServer(t, pki, "-tls1_3", "-groups", "secp384r1")
	h := probeHarness(t, pki, ProbeFirst)
	client := &tls.Config{CurvePreferences: []tls.CurveID{tls.X25519, tls.CurveP384}}
	resp, body := get(t, h.httpClient(client), "https://"+addr+"/")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("got %s %q", resp.Status, body)
	}
	r := h.record()
	pr := r.Probe
	if pr == nil || pr.ServerHello == nil || pr.Negotiated == nil {
		t.Fatalf("probe %s, want the server's answer", recordJSON(r))
	}
	if !pr.ServerHello.HelloRetry || !pr.Negotiated.HelloRetry || pr.Negotiated.Group != "secp384r1" {
		t.Errorf("probe server_hello %+v negotiated %+v, want a HelloRetryRequest for secp384r1", *pr.ServerHello, *pr.Negotiated)
	}
	if pr.Error != "" || pr.Alert != "" {
		t.Errorf("probe error %q alert %q, want none", pr.Error, pr.Alert)
	}
	if r.Outcome != inspect.OutcomeOK {
		t.Errorf("outcome %s, want ok", r.Outcome)
	}
}

// TestProbeTLS12ChainAndKeyExchange: a TLS 1.2 server's clear flight gives
// the probe its chain and its ServerKeyExchange.
func TestProbeTLS12ChainAndKeyExchange(t *testing.T) {
	t.Parallel()
	pki := testpki.Root(t, "Probe Test Root")
	addr := sServer(t, pki, "-tls1_2", "-cipher", "ECDHE-ECDSA-AES256-GCM-SHA384", "-groups", "secp384r1:x25519")
	h := probeHarness(t, pki, ProbeFirst)
	resp, body := get(t, h.httpClient(nil), "https://"+addr+"/")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("got %s %q", resp.Status, body)
	}
	r := h.record()
	pr := r.Probe
	if pr == nil || pr.Negotiated == nil || pr.KeyExchange == nil {
		t.Fatalf("probe %s, want a TLS 1.2 answer with its key exchange", recordJSON(r))
	}
	n := pr.Negotiated
	if n.Version != "TLS 1.2" || n.CipherSuite != "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384" || n.Group != pr.KeyExchange.Group || n.Group == "" {
		t.Errorf("probe negotiated %+v, key exchange %+v", *n, *pr.KeyExchange)
	}
	if kx := pr.KeyExchange; kx.Kind != "ECDHE" || kx.SignatureAlgorithm == "" {
		t.Errorf("probe key exchange %+v, want ECDHE and its signature", *kx)
	}
	if len(pr.Chain) != len(r.Upstream.Chain) || len(pr.Chain) == 0 || pr.Chain[0].SHA256 != r.Upstream.Chain[0].SHA256 {
		t.Errorf("probe chain %v, want the server's, as on the upstream leg %v", pr.Chain, r.Upstream.Chain)
	}
	if pr.OCSPStapled == nil || pr.SCTs == nil || pr.ServerHello.JA3S == "" {
		t.Errorf("probe %s: want ocsp_stapled, scts and ja3s", recordJSON(r))
	}
}

// TestProbeAlert: a server that refuses the client's own hello (here: any
// hello offering ffdhe2048) with an alert, and accepts tlslens's. The alert
// is on the probe, the interception is unaffected, and the finding says so.
func TestProbeAlert(t *testing.T) {
	t.Parallel()
	pki := testpki.Root(t, "Probe Test Root")
	leaf := pki.Leaf(t, "localhost", "127.0.0.1")
	up := startUpstream(t, &tls.Config{Certificates: []tls.Certificate{leaf},
		GetConfigForClient: func(hi *tls.ClientHelloInfo) (*tls.Config, error) {
			if slices.Contains(hi.SupportedCurves, tls.CurveID(0x0100)) { // ffdhe2048
				return nil, errors.New("finite-field groups refused")
			}
			return nil, nil
		}})
	h := probeHarness(t, pki, ProbeFirst)
	out := sClient(t, h, "127.0.0.1:"+up.port(), "-groups", "ffdhe2048:x25519")
	r := h.record()
	if r.Outcome != inspect.OutcomeOK || r.Upstream.Error != "" {
		t.Fatalf("outcome %s, want ok: %s\nopenssl: %s", r.Outcome, recordJSON(r), out)
	}
	pr := r.Probe
	if pr == nil || pr.Alert != "internal_error" || !strings.Contains(pr.Error, "alert internal_error") || pr.Negotiated != nil {
		t.Fatalf("probe %s, want alert internal_error and no negotiated", recordJSON(r))
	}
	f := findingCode(r, inspect.CodeServerChoiceDiffers)
	if f == nil || f.Severity != inspect.SeverityWarn || !strings.Contains(f.Message, "answers with alert internal_error") {
		t.Errorf("finding %+v, want a warning naming the alert", f)
	}
}

// TestProbeFirst: with probe: first, identical hellos to one server are
// probed once (their randoms, session ids and key shares differ), a
// different hello is probed again; with always, every connection is.
func TestProbeFirst(t *testing.T) {
	t.Parallel()
	pki := testpki.Root(t, "Probe Test Root")
	up := startUpstream(t, &tls.Config{Certificates: []tls.Certificate{pki.Leaf(t, "127.0.0.1")}})
	target := "https://127.0.0.1:" + up.port() + "/"
	probed := func(h *harness, cfg *tls.Config) bool {
		t.Helper()
		if resp, body := get(t, h.httpClient(cfg), target); resp.StatusCode != http.StatusOK {
			t.Fatalf("got %s %q", resp.Status, body)
		}
		r := h.record()
		if r.Probe != nil && (r.Probe.Negotiated == nil || r.Probe.Error != "") {
			t.Errorf("probe %s, want an answer", recordJSON(r))
		}
		return r.Probe != nil
	}
	h := probeHarness(t, pki, ProbeFirst)
	other := &tls.Config{NextProtos: []string{"http/1.1"}, CurvePreferences: []tls.CurveID{tls.CurveP256}}
	for i, tc := range []struct {
		cfg  *tls.Config
		want bool
	}{{nil, true}, {nil, false}, {nil, false}, {other, true}, {other, false}, {nil, false}} {
		if got := probed(h, tc.cfg); got != tc.want {
			t.Errorf("first: connection %d probed %v, want %v", i, got, tc.want)
		}
	}
	h = probeHarness(t, pki, ProbeAlways)
	for i := range 3 {
		if !probed(h, nil) {
			t.Errorf("always: connection %d not probed", i)
		}
	}
	h = probeHarness(t, pki, ProbeOff)
	if probed(h, nil) {
		t.Error("off: probed")
	}
}

// TestProbeNeverPassthrough: a passed-through connection is the client's
// own handshake: it is not probed.
func TestProbeNeverPassthrough(t *testing.T) {
	t.Parallel()
	pki := testpki.Root(t, "Probe Test Root")
	up := startUpstream(t, &tls.Config{Certificates: []tls.Certificate{pki.Leaf(t, "127.0.0.1")}})
	pass, err := Rules([]Rule{{Match: "*", Action: ActionPassthrough}})
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, func(o *Options) {
		o.Probe = ProbeAlways
		o.Policy = pass
	})
	cfg := &tls.Config{RootCAs: pki.Pool()}
	if resp, body := get(t, h.httpClient(cfg), "https://127.0.0.1:"+up.port()+"/"); resp.StatusCode != http.StatusOK {
		t.Fatalf("got %s %q", resp.Status, body)
	}
	if r := h.record(); r.Mode != inspect.ModePassthrough || r.Probe != nil {
		t.Errorf("mode %s probe %v, want passthrough without a probe", r.Mode, r.Probe)
	}
}

// TestProbeOption: an unknown setting is refused.
func TestProbeOption(t *testing.T) {
	_, err := New(Options{Authority: testpki.Authority(t), Probe: "sometimes"})
	if err == nil || !strings.Contains(err.Error(), `"sometimes"`) {
		t.Errorf("New(Probe: sometimes) = %v, want an error naming it", err)
	}
}

// BenchmarkInterceptNewConnProbeFirst is BenchmarkInterceptNewConn with
// probe: first, its one probe made before the timer starts: repeat
// connections of one client to one host, which probe: first does not probe
// again. Its ns/op should equal BenchmarkInterceptNewConn's.
func BenchmarkInterceptNewConnProbeFirst(b *testing.B) {
	lh := newLoadHarness(b, 0)
	lh.p.prober = newProber(ProbeFirst, 0)
	interceptOnce(b, lh)
	if r := <-lh.last; r.Probe == nil || r.Probe.Negotiated == nil {
		b.Fatalf("the first connection was not probed: %s", recordJSON(r))
	}
	benchNewConnOn(b, lh, true)
}

// TestProbeNeverDelaysTheConnection: a server slow to answer the probe (it
// holds the client's own hello, which offers ffdhe2048, until released)
// does not delay the connection: the client gets its response while the
// probe waits, and the record, which waits for the probe, is written once
// the server answers it.
func TestProbeNeverDelaysTheConnection(t *testing.T) {
	t.Parallel()
	openssl := lookPath(t, "openssl", "openssl")
	pki := testpki.Root(t, "Probe Test Root")
	release := make(chan struct{})
	var once sync.Once
	free := func() { once.Do(func() { close(release) }) }
	t.Cleanup(free)
	up := startUpstream(t, &tls.Config{Certificates: []tls.Certificate{pki.Leaf(t, "localhost", "127.0.0.1")},
		GetConfigForClient: func(hi *tls.ClientHelloInfo) (*tls.Config, error) {
			if slices.Contains(hi.SupportedCurves, tls.CurveID(0x0100)) { // ffdhe2048: the client's own hello
				<-release
			}
			return nil, nil
		}})
	h := probeHarness(t, pki, ProbeFirst)
	caFile := writeFile(t, t.TempDir(), "ca.pem", h.auth.PEM())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, openssl, "s_client", "-proxy", h.addr, "-connect", "127.0.0.1:"+up.port(),
		"-servername", "localhost", "-CAfile", caFile, "-groups", "ffdhe2048:x25519", "-ign_eof")
	cmd.Stdin = strings.NewReader("GET /slow-probe HTTP/1.0\r\n\r\n")
	out, _ := cmd.CombinedOutput()
	if !strings.Contains(string(out), "hello from upstream /slow-probe") {
		t.Fatalf("no response while the probe waits:\n%s", out)
	}
	select {
	case r := <-h.records:
		t.Fatalf("record written before its probe was answered: %s", recordJSON(r))
	default:
	}
	free()
	r := h.record()
	if r.Outcome != inspect.OutcomeOK || r.Probe == nil || r.Probe.Negotiated == nil || r.Probe.Error != "" {
		t.Fatalf("record %s, want ok with the probe's answer", recordJSON(r))
	}
}
