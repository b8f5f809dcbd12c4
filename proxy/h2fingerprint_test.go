//go:build unix

package proxy

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tlslens/tlslens/inspect"
)

// checkHTTP2Fingerprint checks the client leg's HTTP/2 fingerprint as
// recorded against tshark's dissection of the same frames, from the
// connection's capture: the client's first SETTINGS, its first
// connection-level WINDOW_UPDATE, its PRIORITY frames and the pseudo-header
// order of its first HEADERS. Over HTTP/1.1 the record has none. With
// -update it writes the client's decrypted first bytes, up to the end of
// that HEADERS frame, to ../inspect/testdata/h2/CLIENT.bin, for inspect's
// table tests.
func (e *clientsEnv) checkHTTP2Fingerprint(t *testing.T, r *inspect.Record, client string) {
	t.Helper()
	fp := r.Client.HTTP2Fingerprint
	if r.Client.Negotiated.ALPN != "h2" {
		if fp != "" {
			t.Errorf("client leg over %q has http2_fingerprint %q, want none", r.Client.Negotiated.ALPN, fp)
		}
		return
	}
	b, ok := e.h.p.Capture(r.ID)
	if !ok {
		t.Fatalf("Capture(%s): not kept", r.ID)
	}
	_, proxyPort, _ := net.SplitHostPort(e.h.addr)
	want, stream := tsharkHTTP2Fingerprint(t, b, proxyPort)
	if fp != want {
		t.Errorf("client leg http2_fingerprint %q, tshark's dissection of the same frames gives %q", fp, want)
	}
	if *update {
		preface := firstHeaderBlock(t, tsharkClientBytes(t, b, stream))
		if got, err := inspect.HTTP2Fingerprint(preface); err != nil || got != fp {
			t.Fatalf("HTTP2Fingerprint(the bytes tshark decrypted) = %q, %v; want %q", got, err, fp)
		}
		if err := os.WriteFile(filepath.Join("..", "inspect", "testdata", "h2", client+".bin"), preface, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// tsharkHTTP2Fingerprint dissects the pcapng b with tshark and builds the
// fingerprint of the HTTP/2 frames sent to port (the client leg's, sent to
// the proxy) up to the first HEADERS, from tshark's fields alone. It also
// returns the leg's tcp.stream index.
func tsharkHTTP2Fingerprint(t *testing.T, b []byte, port string) (fp, stream string) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "conn.pcapng")
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
	out := runTshark(t, "-r", file, "-Y", "http2 && tcp.dstport == "+port, "-T", "json", "--no-duplicate-keys")
	var packets []struct {
		Source struct {
			Layers map[string]any `json:"layers"`
		} `json:"_source"`
	}
	if err := json.Unmarshal(out, &packets); err != nil {
		t.Fatalf("tshark's JSON: %v", err)
	}
	var settings, prio, pseudo []string
	window := "00"
	seenSettings := false
	for _, p := range packets {
		if tcp, ok := p.Source.Layers["tcp"].(map[string]any); ok && stream == "" {
			stream, _ = tcp["tcp.stream"].(string)
		}
		for _, el := range jsonList(p.Source.Layers["http2"]) {
			f, _ := el.(map[string]any)["http2.stream"].(map[string]any)
			str := func(k string) string { s, _ := f[k].(string); return s }
			switch str("http2.type") {
			case "4": // SETTINGS
				if seenSettings || str("http2.flags") == "0x01" {
					continue
				}
				seenSettings = true
				for _, s := range jsonList(f["http2.settings"]) {
					var id, val string
					for k, v := range s.(map[string]any) {
						if k == "http2.settings.id" {
							id = v.(string)
						} else {
							val = v.(string)
						}
					}
					settings = append(settings, id+":"+val)
				}
			case "8": // WINDOW_UPDATE
				if str("http2.streamid") == "0" && window == "00" {
					window = str("http2.window_update.window_size_increment")
				}
			case "2": // PRIORITY
				prio = append(prio, str("http2.streamid")+":"+str("http2.exclusive")+":"+
					str("http2.stream_dependency")+":"+str("http2.headers.weight_real"))
			case "1": // HEADERS
				for _, h := range jsonList(f["http2.header"]) {
					name, _ := h.(map[string]any)["http2.header.name"].(string)
					if l, ok := map[string]string{":method": "m", ":authority": "a", ":scheme": "s", ":path": "p"}[name]; ok {
						pseudo = append(pseudo, l)
					}
				}
				p := "0"
				if len(prio) > 0 {
					p = strings.Join(prio, ",")
				}
				return strings.Join(settings, ";") + "|" + window + "|" + p + "|" + strings.Join(pseudo, ","), stream
			}
		}
	}
	t.Fatalf("tshark shows no HEADERS frame sent to port %s:\n%s", port, out)
	return "", ""
}

// jsonList is v as a list: tshark's JSON (with --no-duplicate-keys) gives a
// field that occurs once as its value and one that repeats as a list.
func jsonList(v any) []any {
	switch v := v.(type) {
	case nil:
		return nil
	case []any:
		return v
	}
	return []any{v}
}

// runTshark runs tshark with args and returns its standard output.
func runTshark(t *testing.T, args ...string) []byte {
	t.Helper()
	var stderr bytes.Buffer
	cmd := exec.Command(lookPath(t, "tshark", "tshark"), args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark %v: %v\n%s", args, err, stderr.Bytes())
	}
	return out
}

// tsharkClientBytes returns the decrypted bytes the client sent on TCP
// stream in the pcapng b, as tshark's "follow,tls,raw" prints them: one
// node's lines unindented, the other's behind a tab. Which node comes first
// varies; the client's bytes are those that open with the HTTP/2 preface.
func tsharkClientBytes(t *testing.T, b []byte, stream string) []byte {
	t.Helper()
	file := filepath.Join(t.TempDir(), "follow.pcapng")
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
	out := runTshark(t, "-r", file, "-q", "-z", "follow,tls,raw,"+stream)
	var nodes [2][]byte
	for _, line := range strings.Split(string(out), "\n") {
		node := 0
		if strings.HasPrefix(line, "\t") {
			node = 1
		}
		if d, err := hex.DecodeString(strings.TrimSpace(line)); err == nil {
			nodes[node] = append(nodes[node], d...)
		}
	}
	for _, got := range nodes {
		if bytes.HasPrefix(got, []byte(clientPreface)) {
			return got
		}
	}
	t.Fatalf("tshark's decrypted bytes of stream %s: neither side's open with the HTTP/2 preface:\n%s", stream, out)
	return nil
}

// firstHeaderBlock returns b, a client's HTTP/2 bytes, up to the end of the
// first frame that ends a header block (HEADERS or CONTINUATION with
// END_HEADERS).
func firstHeaderBlock(t *testing.T, b []byte) []byte {
	t.Helper()
	for i := len(clientPreface); i+9 <= len(b); {
		n := int(b[i])<<16 | int(b[i+1])<<8 | int(b[i+2])
		typ, flags := b[i+3], b[i+4]
		i += 9 + n
		if (typ == frameHeaders || typ == frameContinuation) && flags&flagEndHeaders != 0 && i <= len(b) {
			return b[:i]
		}
	}
	t.Fatalf("no complete header block in the client's %d bytes", len(b))
	return nil
}
