package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tlslens/tlslens/ca"
	"github.com/tlslens/tlslens/cmd/tlslens/tlslenstest"
)

// logLines collects JSON log lines written to it, so a test can wait for a
// message without sleeping. Safe for concurrent use.
type logLines struct {
	mu      sync.Mutex
	partial []byte
	lines   []map[string]any
	raw     []string
	changed chan struct{} // closed and replaced on each new line
}

func newLogLines() *logLines { return &logLines{changed: make(chan struct{})} }

func (l *logLines) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial = append(l.partial, b...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		line := string(l.partial[:i])
		l.partial = l.partial[i+1:]
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) != nil {
			m = map[string]any{"msg": line} // not JSON: keep it readable in failures
		}
		l.lines = append(l.lines, m)
		l.raw = append(l.raw, line)
	}
	close(l.changed)
	l.changed = make(chan struct{})
	return len(b), nil
}

// wait returns the first line whose msg starts with prefix, waiting up to 30s.
func (l *logLines) wait(t *testing.T, prefix string) map[string]any {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		l.mu.Lock()
		for _, m := range l.lines {
			if msg, _ := m["msg"].(string); strings.HasPrefix(msg, prefix) {
				l.mu.Unlock()
				return m
			}
		}
		changed := l.changed
		l.mu.Unlock()
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("no log line %q within 30s; log:\n%s", prefix, l.String())
			return nil
		}
	}
}

func (l *logLines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.raw, "\n")
}

// env is what a tlslens run under test needs: a CA, a TLS upstream on
// 127.0.0.1 trusted through --upstream-ca, an empty config file, and a
// client trusting only the CA.
type env struct {
	t        *testing.T
	dir      string
	auth     *ca.Authority
	upstream *httptest.Server
	started  chan string   // the path of each slow request as it reaches the upstream
	release  chan struct{} // closed to let slow requests finish
	args     []string      // flags every run gets
}

func newEnv(t *testing.T) *env {
	t.Helper()
	dir := t.TempDir()
	auth, err := ca.Open(ca.Options{Dir: filepath.Join(dir, "ca")})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, dir: dir, auth: auth, started: make(chan string, 10), release: make(chan struct{})}
	e.upstream = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			io.WriteString(w, "first half, ")
			w.(http.Flusher).Flush()
			e.started <- r.URL.Path
			<-e.release
			io.WriteString(w, "second half")
			return
		}
		io.WriteString(w, "hello "+r.URL.Path)
	}))
	e.upstream.StartTLS()
	t.Cleanup(func() {
		select {
		case <-e.release:
		default:
			close(e.release)
		}
		e.upstream.Close()
	})
	upCA := filepath.Join(dir, "upstream.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: e.upstream.Certificate().Raw})
	if err := os.WriteFile(upCA, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	config := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(config, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	e.args = []string{"--config", config, "--ca-dir", filepath.Join(dir, "ca"), "--upstream-ca", upCA,
		"--listen", "127.0.0.1:0", "--web-listen=", "--log-format", "json", "--quiet"}
	return e
}

// client is an HTTP client through the proxy at addr, trusting only the CA,
// one connection (one record) per request.
func (e *env) client(addr string) *http.Client {
	pool := x509.NewCertPool()
	pool.AddCert(e.auth.Certificate())
	tr := &http.Transport{
		Proxy:             http.ProxyURL(&url.URL{Scheme: "http", Host: addr}),
		TLSClientConfig:   &tls.Config{RootCAs: pool},
		DisableKeepAlives: true,
	}
	e.t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 60 * time.Second}
}

// get fetches path from the upstream through the proxy and checks the body.
func (e *env) get(c *http.Client, path, want string) {
	e.t.Helper()
	resp, err := c.Get(e.upstream.URL + path)
	if err != nil {
		e.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK || string(b) != want {
		e.t.Fatalf("GET %s = %s %q, %v; want 200 %q", path, resp.Status, b, err, want)
	}
}

// slowGet starts GET /slow through the proxy and returns once the upstream
// has sent the first half; the channel gets the error of the whole fetch.
func (e *env) slowGet(c *http.Client) <-chan error {
	e.t.Helper()
	done := make(chan error, 1)
	go func() {
		resp, err := c.Get(e.upstream.URL + "/slow")
		if err != nil {
			done <- err
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err == nil && string(b) != "first half, second half" {
			err = fmt.Errorf("GET /slow body %q, want the whole response", b)
		}
		done <- err
	}()
	select {
	case <-e.started:
	case err := <-done:
		e.t.Fatalf("GET /slow ended before reaching the upstream: %v", err)
	case <-time.After(30 * time.Second):
		e.t.Fatal("GET /slow did not reach the upstream within 30s")
	}
	return done
}

// readRecords returns the handshake records in a JSON Lines file.
func readRecords(t *testing.T, path string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var recs []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("%s: a line is not JSON (%v): %q", path, err, sc.Text())
		}
		if m["msg"] != "handshake" {
			t.Fatalf("%s: a line is not a record: %q", path, sc.Text())
		}
		recs = append(recs, m)
	}
	return recs
}

// TestShutdownLetsLiveConnectionsFinish runs the real run() in process and
// cancels its context (what SIGTERM does through main's signal.NotifyContext)
// while a response is in flight: the proxy stops accepting, the response
// completes, records are flushed, and run returns.
func TestShutdownLetsLiveConnectionsFinish(t *testing.T) {
	e := newEnv(t)
	records := filepath.Join(e.dir, "records.jsonl")
	logs := newLogLines()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runErr := make(chan error, 1)
	go func() {
		runErr <- run(ctx, append(e.args, "--admin-listen=", "--records", records, "--shutdown-timeout", "30s"),
			strings.NewReader(""), io.Discard, logs)
	}()
	addr := logs.wait(t, "tlslens listening")["addr"].(string)
	c := e.client(addr)
	e.get(c, "/before", "hello /before")
	done := e.slowGet(c)

	cancel()
	logs.wait(t, "shutting down")
	if conn, err := net.DialTimeout("tcp", addr, 5*time.Second); err == nil {
		conn.Close()
		t.Error("the proxy still accepts connections after shutdown began")
	}
	select {
	case err := <-runErr:
		t.Fatalf("run returned (%v) while a response was in flight", err)
	default:
	}
	close(e.release)
	if err := <-done; err != nil {
		t.Fatalf("the in-flight response did not complete: %v", err)
	}
	select {
	case err := <-runErr:
		if err != nil {
			t.Fatalf("run = %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("run did not return within 30s of the last connection ending")
	}
	if got := len(readRecords(t, records)); got != 2 {
		t.Errorf("%d records written, want 2", got)
	}
	logs.wait(t, "tlslens stopped")
}

// TestShutdownTimeout checks that connections still open when
// shutdown_timeout ends are closed, and run returns.
func TestShutdownTimeout(t *testing.T) {
	e := newEnv(t)
	logs := newLogLines()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runErr := make(chan error, 1)
	go func() {
		runErr <- run(ctx, append(e.args, "--admin-listen=", "--records", filepath.Join(e.dir, "r.jsonl"), "--shutdown-timeout", "200ms"),
			strings.NewReader(""), io.Discard, logs)
	}()
	addr := logs.wait(t, "tlslens listening")["addr"].(string)
	done := e.slowGet(e.client(addr)) // the upstream holds it until the test ends
	cancel()
	select {
	case err := <-runErr:
		if err != nil {
			t.Fatalf("run = %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("run did not return after shutdown_timeout")
	}
	logs.wait(t, "shutdown_timeout reached")
	if err := <-done; err == nil {
		t.Error("the held response completed; want it cut off at shutdown_timeout")
	}
}

// tlslensBinary builds this command once per test run.
func tlslensBinary(t *testing.T) string {
	t.Helper()
	return tlslenstest.Binary(t, nil)
}

func TestMain(m *testing.M) { tlslenstest.Main(m) }

// TestSignals runs the built binary: N connections, the record file renamed
// (as logrotate does), SIGHUP, M more connections, then SIGTERM while a
// response is in flight. The old file holds exactly the first N records, the
// new one the other M, the in-flight response completes, and the process
// exits 0.
func TestSignals(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("SIGHUP and SIGTERM are Unix signals")
	}
	bin := tlslensBinary(t)
	e := newEnv(t)
	records := filepath.Join(e.dir, "records.jsonl")
	rotated := records + ".1"
	logs := newLogLines()
	cmd := exec.Command(bin, append(e.args, "--admin-listen=", "--records", records)...)
	cmd.Stderr = logs
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{}) // closed when the process has exited, then waitErr is set
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		select {
		case <-exited:
		default:
			cmd.Process.Kill()
			<-exited
		}
	})
	addr := logs.wait(t, "tlslens listening")["addr"].(string)
	c := e.client(addr)

	const n, m = 3, 4
	for i := range n {
		e.get(c, fmt.Sprintf("/old/%d", i), fmt.Sprintf("hello /old/%d", i))
	}
	if got := len(readRecords(t, records)); got != n {
		t.Fatalf("%d records before rotation, want %d (each is written before the response)", got, n)
	}
	if err := os.Rename(records, rotated); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	logs.wait(t, "SIGHUP: record file reopened")
	for i := range m - 1 {
		e.get(c, fmt.Sprintf("/new/%d", i), fmt.Sprintf("hello /new/%d", i))
	}
	done := e.slowGet(c) // the m-th connection, in flight at SIGTERM

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	logs.wait(t, "shutting down")
	close(e.release)
	if err := <-done; err != nil {
		t.Fatalf("the response in flight at SIGTERM did not complete: %v", err)
	}
	select {
	case <-exited:
		if waitErr != nil {
			t.Fatalf("tlslens exited with %v; log:\n%s", waitErr, logs)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("tlslens did not exit within 30s of SIGTERM; log:\n%s", logs)
	}

	old, cur := readRecords(t, rotated), readRecords(t, records)
	if len(old) != n || len(cur) != m {
		t.Fatalf("rotated file holds %d records and the new one %d, want %d and %d", len(old), len(cur), n, m)
	}
	ids := map[string]bool{}
	for _, r := range append(old, cur...) {
		id, _ := r["id"].(string)
		if id == "" || ids[id] {
			t.Errorf("record id %q missing or repeated", id)
		}
		ids[id] = true
		if r["outcome"] != "ok" {
			t.Errorf("record %s outcome %v, want ok", id, r["outcome"])
		}
	}
}
