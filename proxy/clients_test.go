//go:build unix

package proxy

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tlslens/tlslens/ca/testpki"
	"github.com/tlslens/tlslens/inspect"
)

// The real clients of issue 8, driven through tlslens to a local upstream:
// curl, openssl s_client, gnutls-cli and headless Chromium, each from its
// Debian package (.ci/run installs them). Each subtest skips, naming the
// package, when its program is missing.

// clientTimeout bounds each client process and each wait for a record. It is
// generous: CI runs this under -race on two shared cores, and Chromium's
// start-up alone takes seconds there.
const clientTimeout = 2 * time.Minute

// clientsEnv is one proxy and one upstream shared by the client subtests.
type clientsEnv struct {
	h      *harness
	port   string // the upstream's port on 127.0.0.1
	target string // "localhost:PORT", what every client asks the proxy for
	marker string // random, written into every response by the upstream
	dir    string
	caFile string // the tlslens CA, PEM: what a client must trust
	upCA   string // the upstream's own root, PEM: trusted by the proxy, not by clients
}

func TestClients(t *testing.T) {
	pki := testpki.Root(t, "Clients Upstream Root")
	leaf := pki.Leaf(t, "localhost", "127.0.0.1")
	e := &clientsEnv{dir: t.TempDir(), marker: "tlslens-marker-" + randomHex(t, 8)}

	// The upstream speaks h2 and HTTP/1.1 (httptest offers only "h2" when
	// NextProtos is unset) and writes the protocol it saw into every body,
	// so a body also proves which protocol the upstream leg spoke.
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/page" {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprintf(w, "<!DOCTYPE html><html><head><title>tlslens client test</title></head>"+
				"<body><p id=\"marker\">%s over %s</p></body></html>\n", e.marker, r.Proto)
			return
		}
		fmt.Fprintf(w, "%s %s over %s\n", e.marker, r.URL.Path, r.Proto)
	}))
	srv.EnableHTTP2 = true
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{leaf}, NextProtos: []string{"h2", "http/1.1"}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	_, e.port, _ = net.SplitHostPort(srv.Listener.Addr().String())
	e.target = net.JoinHostPort("localhost", e.port)

	// Only loopback is intercepted: Chromium sends background CONNECTs to
	// Google hosts through any proxy it is given, and those must go nowhere.
	policy, err := Rules([]Rule{
		{Match: "127.0.0.0/8", Action: ActionMITM},
		{Match: "::1/128", Action: ActionMITM},
		{Match: "localhost", Action: ActionMITM},
		{Match: "*", Action: ActionDeny},
	})
	if err != nil {
		t.Fatal(err)
	}
	e.h = newHarness(t, func(o *Options) {
		o.UpstreamRoots = pki.Pool()
		o.UpstreamRootsName = "clients-root.pem"
		o.Policy = policy
		o.Dial = clientsDial
		o.HandshakeTimeout = 30 * time.Second
		o.Capture = &Capture{} // the client leg's frames, for tshark (checkHTTP2Fingerprint)
	})
	e.caFile = writeFile(t, e.dir, "tlslens-ca.pem", e.h.auth.PEM())
	e.upCA = writeFile(t, e.dir, "upstream-root.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: pki.Cert.Raw}))

	t.Run("curl", e.testCurl)
	t.Run("openssl", e.testOpenSSL)
	t.Run("gnutls", e.testGnuTLS)
	t.Run("chromium", e.testChromium)
	t.Run("identity", e.testIdentity)

	// Every record so far, the ones no subtest waited for included: nothing
	// but loopback got through.
	for _, en := range e.h.hook.AllEntries() {
		if en.Message != "handshake" {
			continue
		}
		target, _ := en.Data["target"].(string)
		host, _, _ := net.SplitHostPort(target)
		if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) && en.Data["outcome"] != inspect.OutcomeDenied {
			t.Errorf("record for %s has outcome %v, want denied", target, en.Data["outcome"])
		}
	}
}

// clientsDial reaches only loopback: "localhost" is 127.0.0.1, where the
// upstream listens, whatever the resolver would say about ::1.
func clientsDial(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	if host == "localhost" {
		host = "127.0.0.1"
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("clients test dialer: %s is not loopback", host)
	}
	var d net.Dialer
	return d.DialContext(ctx, network, net.JoinHostPort(host, port))
}

func (e *clientsEnv) testCurl(t *testing.T) {
	curl := lookPath(t, "curl", "curl")
	tests := []struct {
		name     string
		args     []string
		cacert   string // the CA file curl trusts
		wantExit int
		wantALPN []string // what curl offers
		wantJA4  string   // JA4's ALPN characters (FoxIO JA4 §a: first and last of the first ALPN)
		wantNeg  string   // ALPN negotiated on both legs
		wantBody string   // with the marker in front
	}{
		{name: "default", cacert: e.caFile, wantALPN: []string{"h2", "http/1.1"}, wantJA4: "h2", wantNeg: "h2", wantBody: "/default over HTTP/2.0"},
		{name: "http2", args: []string{"--http2"}, cacert: e.caFile, wantALPN: []string{"h2", "http/1.1"}, wantJA4: "h2", wantNeg: "h2", wantBody: "/http2 over HTTP/2.0"},
		{name: "http1.1", args: []string{"--http1.1"}, cacert: e.caFile, wantALPN: []string{"http/1.1"}, wantJA4: "h1", wantNeg: "http/1.1", wantBody: "/http1.1 over HTTP/1.1"},
		// curl trusting the upstream's real root but not tlslens's CA: the
		// minted leaf is rejected, exit 60 (CURLE_PEER_FAILED_VERIFICATION).
		{name: "without-ca", cacert: e.upCA, wantExit: 60, wantALPN: []string{"h2", "http/1.1"}, wantJA4: "h2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"--silent", "--show-error", "--max-time", "60",
				"--proxy", "http://" + e.h.addr, "--cacert", tc.cacert}, tc.args...)
			args = append(args, "https://"+e.target+"/"+tc.name)
			out, exit := e.run(t, curl, "", args...)
			if exit != tc.wantExit {
				t.Fatalf("curl %s: exit %d, want %d; output:\n%s", strings.Join(args, " "), exit, tc.wantExit, out)
			}
			r := e.waitRecord(t, func(r *inspect.Record) bool { return true })
			e.checkHello(t, r, tc.wantALPN, tc.wantJA4)
			if tc.wantExit != 0 {
				if r.Outcome != inspect.OutcomeClientRejectedCertificate || r.Client.Alert != "unknown_ca" {
					t.Errorf("outcome %q, client alert %q; want %q and unknown_ca\nrecord: %s",
						r.Outcome, r.Client.Alert, inspect.OutcomeClientRejectedCertificate, recordJSON(r))
				}
				return
			}
			if want := e.marker + " " + tc.wantBody + "\n"; out != want {
				t.Errorf("curl printed %q, want %q", out, want)
			}
			e.checkOK(t, r, "TLS 1.3", tc.wantNeg)
			if tc.name == "default" { // the hello capture.sh took: curl's own defaults
				checkIdentity(t, r, "curl ", "")
			}
			e.checkHTTP2Fingerprint(t, r, "curl")
		})
	}

	// curl sending its https:// URL to the proxy in plain HTTP, without
	// CONNECT (--request-target on an http:// URL): tlslens makes the TLS
	// connection upstream and records it.
	t.Run("https-without-connect", func(t *testing.T) {
		args := []string{"--silent", "--show-error", "--max-time", "60", "--proxy", "http://" + e.h.addr,
			"--request-target", "https://" + e.target + "/plain", "http://" + e.target + "/plain"}
		out, exit := e.run(t, curl, "", args...)
		if want := e.marker + " /plain over HTTP/1.1\n"; exit != 0 || out != want {
			t.Fatalf("curl %s: exit %d, printed %q; want 0 and %q", strings.Join(args, " "), exit, out, want)
		}
		r := e.waitRecord(t, func(r *inspect.Record) bool { return true })
		if r.Outcome != inspect.OutcomeOK || r.Reason != inspect.ReasonPlainHTTPS || r.Client.Hello != nil ||
			r.Upstream == nil || r.Upstream.Negotiated == nil || r.Upstream.Negotiated.ALPN != "http/1.1" ||
			len(findingsWith(r.Findings, inspect.CodePlaintextToProxy)) != 1 {
			t.Errorf("record: %s", recordJSON(r))
		}
	})
}

func (e *clientsEnv) testOpenSSL(t *testing.T) {
	openssl := lookPath(t, "openssl", "openssl")
	req := "GET /openssl HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
	out, exit := e.run(t, openssl, req, "s_client",
		"-proxy", e.h.addr, "-connect", e.target, "-servername", "localhost",
		"-CAfile", e.caFile, "-verify_return_error", "-verify_hostname", "localhost")
	if exit != 0 {
		t.Fatalf("openssl s_client: exit %d; output:\n%s", exit, out)
	}
	for _, want := range []string{e.marker + " /openssl over HTTP/1.1", "Verify return code: 0 (ok)"} {
		if !strings.Contains(out, want) {
			t.Errorf("openssl s_client output lacks %q:\n%s", want, out)
		}
	}
	r := e.waitRecord(t, func(r *inspect.Record) bool { return true })
	e.checkHello(t, r, nil, "00") // s_client offers no ALPN unless asked
	e.checkOK(t, r, "TLS 1.3", "")
}

// testGnuTLS drives gnutls-cli, which has no proxy support, through a local
// forwarder that opens a CONNECT tunnel for each connection it accepts.
func (e *clientsEnv) testGnuTLS(t *testing.T) {
	gnutls := lookPath(t, "gnutls-cli", "gnutls-bin")
	fwd := e.connectForwarder(t)
	_, port, _ := net.SplitHostPort(fwd)
	req := "GET /gnutls HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
	out, exit := e.run(t, gnutls, req, "--x509cafile", e.caFile,
		"--sni-hostname", "localhost", "--verify-hostname", "localhost", "--alpn", "http/1.1",
		"--port", port, "127.0.0.1")
	if exit != 0 {
		t.Fatalf("gnutls-cli: exit %d; output:\n%s", exit, out)
	}
	if want := e.marker + " /gnutls over HTTP/1.1"; !strings.Contains(out, want) {
		t.Errorf("gnutls-cli output lacks %q:\n%s", want, out)
	}
	r := e.waitRecord(t, func(r *inspect.Record) bool { return true })
	e.checkHello(t, r, []string{"http/1.1"}, "h1")
	e.checkOK(t, r, "TLS 1.3", "http/1.1")
}

func (e *clientsEnv) testChromium(t *testing.T) {
	chromium := lookPath(t, "chromium", "chromium")
	certutil := lookPath(t, "certutil", "libnss3-tools")
	home := e.chromiumHome(t, certutil)
	url := "https://" + e.target + "/page"
	out, exit := e.runHome(t, home, chromium, "",
		"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-quic", "--disable-dev-shm-usage",
		"--user-data-dir="+filepath.Join(e.dir, "chromium-profile"),
		"--proxy-server=http://"+e.h.addr,
		// Without this Chromium sends localhost straight to the server.
		"--proxy-bypass-list=<-loopback>",
		"--dump-dom", url)
	if exit != 0 {
		t.Fatalf("chromium: exit %d; output:\n%s", exit, out)
	}
	if want := `<p id="marker">` + e.marker + " over HTTP/2.0</p>"; !strings.Contains(out, want) {
		t.Fatalf("chromium's DOM of %s lacks %q:\n%s", url, want, out)
	}
	// Chromium may open more than one connection to the page's host (a
	// preconnect it then drops): the page load is the one that succeeded.
	r := e.waitRecord(t, func(r *inspect.Record) bool { return r.Outcome == inspect.OutcomeOK })
	h := e.checkHello(t, r, []string{"h2", "http/1.1"}, "h2")
	if !h.Grease {
		t.Errorf("chromium's hello has no GREASE: %s", recordJSON(r))
	}
	if !h.ECH {
		t.Errorf("chromium's hello has no encrypted_client_hello (Chromium sends GREASE ECH): %s", recordJSON(r))
	}
	e.checkOK(t, r, "TLS 1.3", "h2")
	// Chromium's User-Agent ("HeadlessChrome/…") says Chrome: no mismatch.
	checkIdentity(t, r, "Chromium ", "")
	if g := r.Client.Negotiated.Group; !slices.Contains(h.Groups, g) {
		t.Errorf("client leg negotiated group %q, not among chromium's offer %v", g, h.Groups)
	}
	e.checkHTTP2Fingerprint(t, r, "chromium")
}

// checkHello checks the client's ClientHello as recorded: SNI, the ALPN list,
// a TLS 1.3 offer and the JA4 prefix it implies ("t13d": TCP, TLS 1.3, SNI
// present; then two-digit counts and the ALPN characters).
func (e *clientsEnv) checkHello(t *testing.T, r *inspect.Record, alpn []string, ja4ALPN string) *inspect.Hello {
	t.Helper()
	h := r.Client.Hello
	if h == nil {
		t.Fatalf("no client hello in the record: %s", recordJSON(r))
	}
	if h.SNI != "localhost" || !slices.Equal(h.ALPN, alpn) || !slices.Contains(h.SupportedVersions, "TLS 1.3") {
		t.Errorf("client hello sni %q alpn %q supported_versions %q; want localhost, %q, TLS 1.3 among them",
			h.SNI, h.ALPN, h.SupportedVersions, alpn)
	}
	if len(h.JA4) < 10 || !strings.HasPrefix(h.JA4, "t13d") || h.JA4[8:10] != ja4ALPN {
		t.Errorf("client hello ja4 %q, want t13d…%s…", h.JA4, ja4ALPN)
	}
	return h
}

// checkOK checks a successful interception: both legs negotiated version and
// alpn, the upstream chain verified against the test root.
func (e *clientsEnv) checkOK(t *testing.T, r *inspect.Record, version, alpn string) {
	t.Helper()
	if r.Outcome != inspect.OutcomeOK || r.Mode != inspect.ModeMITM {
		t.Fatalf("outcome %q mode %q, want ok mitm\nrecord: %s", r.Outcome, r.Mode, recordJSON(r))
	}
	for _, leg := range []struct {
		name string
		side *inspect.Side
	}{{"client", r.Client}, {"upstream", r.Upstream}} {
		if leg.side == nil || leg.side.Negotiated == nil {
			t.Errorf("%s leg: nothing negotiated\nrecord: %s", leg.name, recordJSON(r))
			continue
		}
		if n := leg.side.Negotiated; n.Version != version || n.ALPN != alpn || n.CipherSuite == "" {
			t.Errorf("%s leg negotiated %s %s alpn %q, want %s alpn %q", leg.name, n.Version, n.CipherSuite, n.ALPN, version, alpn)
		}
	}
	if v := r.Upstream.Verify; v == nil || !v.OK || v.Roots != "clients-root.pem" {
		t.Errorf("upstream verify %+v, want ok against clients-root.pem", v)
	}
	if len(r.Client.Chain) == 0 || !slices.Contains(r.Client.Chain[0].SANs, "localhost") {
		t.Errorf("client leg chain %+v, want a leaf for localhost", r.Client.Chain)
	}
}

// waitRecord returns the next record for the test's target that match
// accepts. Records for other targets (Chromium's denied background CONNECTs)
// and for the target that match refuses are logged and skipped.
func (e *clientsEnv) waitRecord(t *testing.T, match func(*inspect.Record) bool) *inspect.Record {
	t.Helper()
	deadline := time.After(clientTimeout)
	for {
		select {
		case r := <-e.h.records:
			if r.Target == e.target && match(r) {
				t.Logf("record: %s", recordJSON(r))
				return r
			}
			if r.Target != e.target && r.Outcome != inspect.OutcomeDenied {
				t.Errorf("record for %s was not denied: %s", r.Target, recordJSON(r))
			}
			t.Logf("skipping record %s %s", r.Target, r.Outcome)
		case <-deadline:
			t.Fatalf("no record for %s within %s", e.target, clientTimeout)
			return nil
		}
	}
}

// run runs a client in a fresh HOME under e.dir.
func (e *clientsEnv) run(t *testing.T, prog, stdin string, args ...string) (string, int) {
	t.Helper()
	home := filepath.Join(e.dir, "home-"+filepath.Base(prog))
	if err := os.MkdirAll(home, 0o700); err != nil {
		t.Fatal(err)
	}
	return e.runHome(t, home, prog, stdin, args...)
}

// runHome runs prog with args in its own process group, with a minimal
// environment (no proxy variables, HOME set to home), and returns its
// combined output and exit code. stdin is written to the program's standard
// input, which then stays open until it exits, as on a terminal: a client
// that reads its input to the end half-closes the connection (gnutls-cli
// sends close_notify) before the response is in. The group is killed at the
// timeout and at cleanup, so a browser's helper processes cannot outlive the
// test.
func (e *clientsEnv) runHome(t *testing.T, home, prog, stdin string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), clientTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, prog, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "TMPDIR=" + e.dir, "LANG=C.UTF-8"}
	cmd.Dir = e.dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	in, err := cmd.StdinPipe() // closed by Wait once prog has exited
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", prog, err)
	}
	pgid := cmd.Process.Pid
	t.Cleanup(func() { syscall.Kill(-pgid, syscall.SIGKILL) }) // ESRCH when all are gone
	if _, err := io.WriteString(in, stdin); err != nil {
		t.Logf("writing %s's input: %v", prog, err) // it exited early; its output says why
	}
	err = cmd.Wait()
	if ctx.Err() != nil {
		t.Fatalf("%s %s: killed after %s; output:\n%s", prog, strings.Join(args, " "), clientTimeout, out.String())
	}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return out.String(), ee.ExitCode()
	case err != nil:
		t.Fatalf("%s: %v; output:\n%s", prog, err, out.String())
	}
	return out.String(), 0
}

// connectForwarder listens on 127.0.0.1 and, for each connection, opens a
// CONNECT tunnel to e.target through the proxy and relays both ways: a proxy
// for clients that have no proxy option.
func (e *clientsEnv) connectForwarder(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				up, err := e.tunnel()
				if err != nil {
					t.Errorf("forwarder: %v", err)
					return
				}
				defer up.Close()
				done := make(chan struct{})
				go func() {
					io.Copy(up, c)
					up.(*net.TCPConn).CloseWrite()
					close(done)
				}()
				io.Copy(c, up)
				c.(*net.TCPConn).CloseWrite()
				<-done
			}()
		}
	}()
	return ln.Addr().String()
}

// tunnel opens a CONNECT tunnel to e.target through the proxy.
func (e *clientsEnv) tunnel() (net.Conn, error) {
	c, err := net.DialTimeout("tcp", e.h.addr, clientTimeout)
	if err != nil {
		return nil, err
	}
	c.SetDeadline(time.Now().Add(clientTimeout))
	fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", e.target, e.target)
	// Read the response byte by byte up to its blank line, so no byte of
	// the tunnel is left in a buffer.
	var head []byte
	b := make([]byte, 1)
	for !bytes.HasSuffix(head, []byte("\r\n\r\n")) {
		if _, err := c.Read(b); err != nil {
			c.Close()
			return nil, fmt.Errorf("reading the CONNECT response: %w", err)
		}
		head = append(head, b[0])
	}
	if !bytes.HasPrefix(head, []byte("HTTP/1.1 200")) {
		c.Close()
		return nil, fmt.Errorf("CONNECT %s: %q", e.target, head)
	}
	c.SetDeadline(time.Time{})
	return c, nil
}

// lookPath is prog's path; without it the test is skipped, or fails in CI,
// where .ci/run installs pkg.
func lookPath(t *testing.T, prog, pkg string) string {
	t.Helper()
	path, err := exec.LookPath(prog)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s not found in CI: .ci/run installs Debian's %s", prog, pkg)
		}
		t.Skipf("%s not found (Debian package %s; .ci/run installs it): %v", prog, pkg, err)
	}
	return path
}

func writeFile(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// recordJSON is r as JSON, for failure messages.
func recordJSON(r *inspect.Record) string {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Sprintf("%+v (%v)", r, err)
	}
	return string(b)
}

// chromiumHome makes a HOME for Chromium whose NSS database (Chromium on
// Linux takes its roots from it) trusts e.caFile, the tlslens CA, as an
// issuer of server certificates ("C,,"), with certutil; it returns its path.
func (e *clientsEnv) chromiumHome(t *testing.T, certutil string) string {
	t.Helper()
	home := filepath.Join(e.dir, "chromium-home")
	nssdb := filepath.Join(home, ".pki", "nssdb")
	if err := os.MkdirAll(nssdb, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"-d", "sql:" + nssdb, "-N", "--empty-password"},
		{"-d", "sql:" + nssdb, "-A", "-t", "C,,", "-n", "tlslens", "-i", e.caFile},
	} {
		if out, exit := e.runHome(t, home, certutil, "", args...); exit != 0 {
			t.Fatalf("certutil %s: exit %d; output:\n%s", strings.Join(args, " "), exit, out)
		}
	}
	return home
}
