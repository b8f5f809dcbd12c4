package proxy

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tlslens/tlslens/ca/testpki"
)

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// keyLogRandoms maps each client random in an NSS key log to its labels.
func keyLogRandoms(log string) map[string][]string {
	m := map[string][]string{}
	for line := range strings.Lines(log) {
		f := strings.Fields(line)
		if len(f) == 3 {
			m[f[1]] = append(m[f[1]], f[0])
		}
	}
	return m
}

// TestKeyLogBothLegs: the key log gets the secrets of both legs, in NSS
// format: the client leg's under the client's random, the upstream leg's
// under the random tlslens sent, which the server logs too.
func TestKeyLogBothLegs(t *testing.T) {
	t.Parallel()
	pki := testpki.Root(t, "Upstream Test Root")
	for _, version := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(tls.VersionName(version), func(t *testing.T) {
			t.Parallel()
			var proxyLog, clientLog, serverLog syncBuffer
			up := startUpstream(t, &tls.Config{KeyLogWriter: &serverLog, Certificates: []tls.Certificate{pki.Leaf(t, "example.com")}})
			h := newHarness(t, func(o *Options) { o.UpstreamRoots = pki.Pool(); o.KeyLog = &proxyLog })
			resp, _ := get(t, h.httpClient(&tls.Config{KeyLogWriter: &clientLog, MaxVersion: version}), "https://example.com:"+up.port()+"/k")
			if resp.StatusCode != http.StatusOK {
				t.Fatal(resp.Status)
			}
			h.record()
			got := keyLogRandoms(proxyLog.String())
			if len(got) != 2 {
				t.Fatalf("key log holds %d connections, want 2 (both legs):\n%s", len(got), proxyLog.String())
			}
			want := []string{"CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_HANDSHAKE_TRAFFIC_SECRET", "CLIENT_TRAFFIC_SECRET_0", "SERVER_TRAFFIC_SECRET_0"}
			if version == tls.VersionTLS12 {
				want = []string{"CLIENT_RANDOM"}
			}
			for leg, other := range map[string]string{"client": clientLog.String(), "upstream": serverLog.String()} {
				theirs := keyLogRandoms(other)
				if len(theirs) != 1 {
					t.Fatalf("%s leg: the peer logged %d connections", leg, len(theirs))
				}
				for random, labels := range theirs {
					if strings.Join(got[random], " ") != strings.Join(want, " ") || strings.Join(labels, " ") != strings.Join(want, " ") {
						t.Errorf("%s leg: tlslens logged %v, the peer %v, want %v", leg, got[random], labels, want)
					}
				}
			}
			// The secrets are the ones the peers use, not just the labels.
			for line := range strings.Lines(clientLog.String() + serverLog.String()) {
				if !strings.Contains(proxyLog.String(), line) {
					t.Errorf("a peer's key log line is missing from tlslens's: %s", line)
				}
			}
		})
	}
}

// TestKeyLogWireshark captures both legs of an intercepted request on the
// loopback interface with tshark and decrypts them with tlslens's key log:
// the request and the response must be readable on each leg.
func TestKeyLogWireshark(t *testing.T) {
	t.Parallel()
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		t.Skip("tshark is not installed (apt-get install tshark)")
	}
	dir := t.TempDir()
	keyLogPath, capture := filepath.Join(dir, "keys.log"), filepath.Join(dir, "legs.pcapng")
	keyLog, err := os.OpenFile(keyLogPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer keyLog.Close()

	pki := testpki.Root(t, "Upstream Test Root")
	up := startUpstream(t, &tls.Config{Certificates: []tls.Certificate{pki.Leaf(t, "example.com")}})
	h := newHarness(t, func(o *Options) { o.UpstreamRoots = pki.Pool(); o.KeyLog = keyLog })
	_, proxyPort, _ := net.SplitHostPort(h.addr)
	upPort := up.port()

	// -P -l: print each packet as it is written, so the test can tell
	// when the last packet of interest is in the file.
	cmd := exec.Command(tshark, "-i", "lo", "-f", "tcp port "+proxyPort+" or tcp port "+upPort, "-w", capture, "-P", "-l")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	started := make(chan bool, 1)
	var errText strings.Builder
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			errText.WriteString(sc.Text() + "\n")
			// dumpcap reports "Capture started." once the file is open
			// and packets are being written ("Capturing on" comes before).
			if strings.Contains(sc.Text(), "Capture started") {
				started <- true
			}
		}
		close(started)
	}()
	packets := make(chan string, 1000)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			packets <- sc.Text()
		}
		close(packets)
	}()
	select {
	case _, ok := <-started:
		if !ok {
			cmd.Wait()
			t.Skipf("tshark cannot capture on lo here (needs root or CAP_NET_RAW): %s", errText.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("tshark did not start capturing within 30s")
	}

	resp, body := get(t, h.httpClient(nil), "https://example.com:"+upPort+"/tshark")
	if resp.StatusCode != http.StatusOK {
		t.Fatal(resp.Status)
	}
	h.record()
	// A last connection marks the end: once tshark shows it, every packet
	// before it is in the file.
	marker, err := net.Dial("tcp", h.addr)
	if err != nil {
		t.Fatal(err)
	}
	markerPort := portOfAddr(marker.LocalAddr())
	marker.Close()
	timeout := time.After(30 * time.Second)
	for seen := false; !seen; {
		select {
		case line, ok := <-packets:
			if !ok {
				t.Fatalf("tshark stopped: %s", errText.String())
			}
			seen = strings.Contains(line, " "+markerPort+" ")
		case <-timeout:
			t.Fatal("tshark did not show the marker connection within 30s")
		}
	}
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()

	out, err := exec.Command(tshark, "-r", capture, "-o", "tls.keylog_file:"+keyLogPath,
		"-d", "tcp.port=="+upPort+",tls", "-d", "tls.port=="+upPort+",http",
		"-d", "tcp.port=="+proxyPort+",http", "-d", "tls.port=="+proxyPort+",http",
		"-Y", "http", "-T", "fields", "-E", "separator=|",
		"-e", "tcp.srcport", "-e", "tcp.dstport", "-e", "http.request.method", "-e", "http.request.uri",
		"-e", "http.response.code", "-e", "http.file_data").CombinedOutput()
	if err != nil {
		t.Fatalf("tshark -r: %v\n%s", err, out)
	}
	// One line per HTTP message: on each leg the decrypted GET and the 200
	// carrying the upstream's body.
	type leg struct{ request, response bool }
	legs := map[string]*leg{proxyPort: {}, upPort: {}}
	for line := range strings.Lines(string(out)) {
		f := strings.Split(strings.TrimSpace(line), "|")
		if len(f) != 6 {
			continue
		}
		for port, l := range legs {
			if f[0] != port && f[1] != port {
				continue
			}
			l.request = l.request || (f[2] == "GET" && f[3] == "/tshark")
			l.response = l.response || (f[4] == "200" && strings.Contains(f[5], body))
		}
	}
	for port, l := range legs {
		name := "client leg"
		if port == upPort {
			name = "upstream leg"
		}
		if !l.request || !l.response {
			t.Errorf("%s (port %s): decrypted request %v, response %v; tshark printed:\n%s", name, port, l.request, l.response, out)
		}
	}
}
