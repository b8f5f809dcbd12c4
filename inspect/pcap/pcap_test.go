package pcap_test

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tlslens/tlslens/ca/testpki"
	"github.com/tlslens/tlslens/inspect/pcap"
)

// tshark is the path of tshark; without it the test is skipped, or fails
// in CI, where .ci/run installs it.
func tshark(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("tshark")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("tshark is not installed in CI (.ci/run installs it)")
		}
		t.Skip("tshark is not installed (apt-get install tshark)")
	}
	return path
}

// run runs tshark on the pcapng b with args, and returns its output.
func run(t *testing.T, b []byte, args ...string) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "c.pcapng")
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd := exec.Command(tshark(t), append([]string{"-r", file}, args...)...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark %v: %v\n%s", args, err, stderr.Bytes())
	}
	return string(out)
}

// leg records what a client wrote and read on a pipe, as a Leg.
type leg struct {
	net.Conn
	mu  sync.Mutex
	leg pcap.Leg
}

func (l *leg) note(fromClient bool, b []byte) {
	l.mu.Lock()
	l.leg.Chunks = append(l.leg.Chunks, pcap.Chunk{Time: time.Now(), FromClient: fromClient, Data: bytes.Clone(b)})
	l.mu.Unlock()
}

func (l *leg) Read(b []byte) (int, error) {
	n, err := l.Conn.Read(b)
	l.note(false, b[:n])
	return n, err
}

func (l *leg) Write(b []byte) (int, error) {
	l.note(true, b)
	return l.Conn.Write(b)
}

// exchange makes one HTTP/1.1 request over real TLS at version, and
// returns the client's leg (from 127.0.0.1:50123 to 127.0.0.1:port) and
// its key log lines.
func exchange(t *testing.T, version uint16, port uint16) (pcap.Leg, []byte) {
	t.Helper()
	pki := testpki.Root(t, "pcap test root")
	c, s := net.Pipe()
	defer c.Close()
	go func() {
		defer s.Close()
		srv := tls.Server(s, &tls.Config{Certificates: []tls.Certificate{pki.Leaf(t, "example.com")}, NextProtos: []string{"http/1.1"}})
		req, err := http.ReadRequest(bufio.NewReader(srv))
		if err != nil {
			return
		}
		io.WriteString(srv, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello")
		req.Body.Close()
	}()
	var keys bytes.Buffer
	l := &leg{Conn: c, leg: pcap.Leg{
		Client: netip.MustParseAddrPort("127.0.0.1:50123"),
		Server: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port),
		Start:  time.Now(),
	}}
	cl := tls.Client(l, &tls.Config{ServerName: "example.com", RootCAs: pki.Pool(), KeyLogWriter: &keys,
		MinVersion: version, MaxVersion: version, NextProtos: []string{"http/1.1"}})
	io.WriteString(cl, "GET /hello HTTP/1.1\r\nHost: example.com\r\n\r\n")
	if _, err := io.ReadAll(cl); err != nil {
		t.Fatal(err)
	}
	cl.Close()
	l.leg.End = time.Now()
	return l.leg, keys.Bytes()
}

// TestWriteDecrypts: tshark, given no option, decrypts the request and the
// response of a TLS 1.2 and a TLS 1.3 connection on a port that is not
// TLS's, from the secrets in the file.
func TestWriteDecrypts(t *testing.T) {
	for _, v := range []struct {
		name    string
		version uint16
	}{{"TLS1.2", tls.VersionTLS12}, {"TLS1.3", tls.VersionTLS13}} {
		t.Run(v.name, func(t *testing.T) {
			l, keys := exchange(t, v.version, 38443)
			var b bytes.Buffer
			if err := pcap.Write(&b, pcap.Conn{Legs: []pcap.Leg{l}, KeyLog: keys}); err != nil {
				t.Fatal(err)
			}
			out := run(t, b.Bytes(), "-Y", "http", "-T", "fields", "-e", "http.request.uri", "-e", "http.response.code")
			if !strings.Contains(out, "/hello") || !strings.Contains(out, "200") {
				t.Errorf("tshark -Y http shows %q, want the request for /hello and its 200", out)
			}
		})
	}
}

// TestSecretsBlock: a file with a Decryption Secrets Block and a single
// packet, the ClientHello, reads; tshark finds the block's secrets and
// decodes the hello.
func TestSecretsBlock(t *testing.T) {
	l, keys := exchange(t, tls.VersionTLS13, 443)
	l.Chunks, l.End = l.Chunks[:1], time.Time{} // the client's hello
	var b bytes.Buffer
	w, err := pcap.NewWriter(&b)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WriteConn(pcap.Conn{Legs: []pcap.Leg{l}, KeyLog: keys}); err != nil {
		t.Fatal(err)
	}
	// The block itself (pcapng §4.7): type 10, its length, "TLSK", the
	// lines' length, the lines padded to 32 bits, the length again.
	i := bytes.Index(b.Bytes(), []byte{0x0a, 0, 0, 0})
	if i < 0 {
		t.Fatal("no Decryption Secrets Block")
	}
	dsb := b.Bytes()[i:]
	size := binary.LittleEndian.Uint32(dsb[4:])
	if typ := binary.LittleEndian.Uint32(dsb[8:]); typ != 0x544c534b {
		t.Errorf("secrets type %#x, want 0x544c534b (TLSK)", typ)
	}
	if n := binary.LittleEndian.Uint32(dsb[12:]); int(n) != len(keys) || !bytes.Equal(dsb[16:16+n], keys) {
		t.Errorf("secrets %d bytes, want the %d bytes of the key log", n, len(keys))
	}
	if size%4 != 0 || binary.LittleEndian.Uint32(dsb[size-4:]) != size {
		t.Errorf("block length %d: not padded, or not repeated at its end", size)
	}
	out := run(t, b.Bytes(), "-Y", "tls.handshake", "-T", "fields", "-e", "tls.handshake.type", "-e", "tls.handshake.extensions_server_name")
	if strings.TrimSpace(out) != "1\texample.com" {
		t.Errorf("tshark -Y tls.handshake shows %q, want one ClientHello (type 1) for example.com", out)
	}
	// tshark reports the block's secrets among the file's (-z).
	if out := run(t, b.Bytes(), "-q", "-z", "expert"); strings.Contains(out, "rror") {
		t.Errorf("tshark -z expert shows errors: %s", out)
	}
}

// TestSegments: a chunk larger than a segment is split, and sequence
// numbers follow the bytes: tshark reassembles 100 000 bytes.
func TestSegments(t *testing.T) {
	start := time.Now()
	data := bytes.Repeat([]byte("0123456789"), 10_000)
	l := pcap.Leg{
		Client: netip.MustParseAddrPort("[::1]:50000"), Server: netip.MustParseAddrPort("[::1]:9"),
		Start:  start,
		Chunks: []pcap.Chunk{{Time: start.Add(time.Millisecond), FromClient: true, Data: data}},
		End:    start.Add(2 * time.Millisecond),
	}
	var b bytes.Buffer
	if err := pcap.Write(&b, pcap.Conn{Legs: []pcap.Leg{l}}); err != nil {
		t.Fatal(err)
	}
	out := run(t, b.Bytes(), "-q", "-z", "conv,tcp")
	if !strings.Contains(out, "::1:50000") || !strings.Contains(out, "100 kB") {
		t.Errorf("tshark conv,tcp:\n%s", out)
	}
	out = run(t, b.Bytes(), "-Y", "tcp.analysis.flags", "-T", "fields", "-e", "frame.number")
	if strings.TrimSpace(out) != "" {
		t.Errorf("tshark flags TCP problems in frames %q: sequence numbers do not follow the bytes", out)
	}
}
