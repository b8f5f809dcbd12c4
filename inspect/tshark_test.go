package inspect

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// tsharkPort is the server port of the synthetic TCP connection written to
// the pcap; tshark is told it carries TLS (-d), so no heuristic is involved.
const tsharkPort = 4433

// TestTshark compares ParseClientHello with Wireshark's dissector, field by
// field, for every ClientHello captured from a real client in testdata/.
// The two parsers were written independently, so agreement on every list,
// in wire order, is evidence that both read the bytes right.
func TestTshark(t *testing.T) {
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		t.Skip("tshark not installed: apt-get install tshark")
	}
	known := tsharkFieldNames(t, tshark)
	for _, f := range []string{"tls.handshake.ja3", "tls.handshake.ja3_full"} {
		if !known[f] {
			t.Fatalf("tshark has no field %s: too old to compare JA3", f)
		}
	}
	hasJA4 := known["tls.handshake.ja4"] && known["tls.handshake.ja4_r"] // Wireshark 4.2 and later

	seen := map[string]int{} // values compared per field, over all clients
	for _, file := range helloFiles(t) {
		name := strings.TrimSuffix(filepath.Base(file), ".bin")
		t.Run(name, func(t *testing.T) {
			records, h := readHelloFile(t, file)
			hello := h.Hello()
			d := dissect(t, tshark, records)

			// Every client capture.sh runs is a TLS 1.3 client sending SNI:
			// these lists must be there, so equality is not two empty lists.
			for _, f := range []string{
				"tls.handshake.ciphersuite",
				"tls.handshake.extension.type",
				"tls.handshake.extensions_supported_group",
				"tls.handshake.sig_hash_alg",
				"tls.handshake.extensions.supported_version",
				"tls.handshake.extensions_key_share_group",
				"tls.handshake.extensions_server_name",
				"tls.handshake.ja3_full",
			} {
				if len(d.values(f, -1)) == 0 {
					t.Errorf("tshark shows no %s: the dissection did not happen", f)
				}
			}

			check := func(field string, got, want any, n int) {
				t.Helper()
				seen[field] += n
				if !equalJSON(got, want) {
					t.Errorf("%s: ParseClientHello = %s, tshark = %s", field, show(got), show(want))
				}
			}
			check("tls.handshake.version", h.LegacyVersion, d.one(t, "tls.handshake.version"), 1)
			check("tls.handshake.length", len(h.Raw), 4+int(d.one(t, "tls.handshake.length")), 1)
			check("tls.handshake.session_id_length", hello.SessionIDLength, int(d.one(t, "tls.handshake.session_id_length")), 1)
			check("tls.handshake.ciphersuite", h.CipherSuites, d.nums(t, "tls.handshake.ciphersuite", -1), len(h.CipherSuites))

			var types []uint16
			var lens []uint64
			for _, e := range h.Extensions {
				types = append(types, e.Type)
				lens = append(lens, uint64(len(e.Data)))
			}
			check("tls.handshake.extension.type", types, d.nums(t, "tls.handshake.extension.type", -1), len(types))
			check("tls.handshake.extension.len", lens, d.uints(t, "tls.handshake.extension.len", -1), len(lens))

			sni := []string{}
			if h.SNI != "" {
				sni = append(sni, h.SNI)
			}
			check("tls.handshake.extensions_server_name", sni, d.values("tls.handshake.extensions_server_name", tsharkExtSNI), len(sni))
			check("tls.handshake.extensions_alpn_str", orEmpty(h.ALPN), d.values("tls.handshake.extensions_alpn_str", tsharkExtALPN), len(h.ALPN))
			check("tls.handshake.extensions_supported_group", h.Groups, d.nums(t, "tls.handshake.extensions_supported_group", tsharkExtGroups), len(h.Groups))
			check("tls.handshake.extensions_ec_point_format", orEmpty(h.PointFormats), d.bytes(t, "tls.handshake.extensions_ec_point_format", tsharkExtPointFormats), len(h.PointFormats))
			check("tls.handshake.sig_hash_alg", h.SignatureAlgorithms, d.nums(t, "tls.handshake.sig_hash_alg", tsharkExtSigAlgs), len(h.SignatureAlgorithms))
			check("tls.handshake.extensions.supported_version", h.SupportedVersions, d.nums(t, "tls.handshake.extensions.supported_version", tsharkExtVersions), len(h.SupportedVersions))

			var shareGroups []uint16
			var shareLens []uint64
			for _, ks := range h.KeyShares {
				shareGroups = append(shareGroups, ks.Group)
				shareLens = append(shareLens, uint64(ks.Length))
			}
			check("tls.handshake.extensions_key_share_group", shareGroups, d.nums(t, "tls.handshake.extensions_key_share_group", tsharkExtKeyShare), len(shareGroups))
			check("tls.handshake.extensions_key_share_key_exchange_length", orEmpty(shareLens), d.uints(t, "tls.handshake.extensions_key_share_key_exchange_length", tsharkExtKeyShare), len(shareLens))
			check("tls.record.version", h.RecordVersion, d.first(t, "tls.record.version"), 1)
			check("tls.handshake.comp_method", h.CompressionMethods, d.bytes(t, "tls.handshake.comp_method", -1), len(h.CompressionMethods))
			check("tls.handshake.sig_hash_alg (signature_algorithms_cert)", h.SignatureAlgorithmsCert, d.nums(t, "tls.handshake.sig_hash_alg", tsharkExtSigAlgsCert), len(h.SignatureAlgorithmsCert))
			check("tls.extension.psk_ke_mode", orEmpty(h.PSKModes), d.bytes(t, "tls.extension.psk_ke_mode", tsharkExtPSKModes), len(h.PSKModes))
			check("tls.compress_certificate.algorithm", h.CompressCertificate, d.nums(t, "tls.compress_certificate.algorithm", tsharkExtCompressCert), len(h.CompressCertificate))
			if limit := d.uints(t, "tls.record_size_limit", tsharkExtRecordSizeLimit); h.RecordSizeLimit != 0 || len(limit) > 0 {
				check("tls.record_size_limit", []uint64{uint64(h.RecordSizeLimit)}, limit, 1)
			}
			if pad := d.uints(t, "tls.handshake.extension.len", tsharkExtPadding); h.Padding != 0 || len(pad) > 0 {
				check("padding (tls.handshake.extension.len)", []uint64{uint64(h.Padding)}, pad, 1)
			}
			if ticket := d.uints(t, "tls.handshake.extension.len", tsharkExtSessionTicket); h.SessionTicket != nil || len(ticket) > 0 {
				check("session_ticket (tls.handshake.extension.len)", []uint64{uint64(len(h.SessionTicket))}, ticket, 1)
			}

			hash, raw := JA3(h)
			check("tls.handshake.ja3_full", raw, d.one1(t, "tls.handshake.ja3_full"), 1)
			check("tls.handshake.ja3", hash, d.one1(t, "tls.handshake.ja3"), 1)
			check("hello.ja3", hello.JA3, hash, 1)
			check("hello.ja3_raw", hello.JA3Raw, raw, 1)
			if hasJA4 {
				check("tls.handshake.ja4", hello.JA4, d.one1(t, "tls.handshake.ja4"), 1)
				check("tls.handshake.ja4_r", hello.JA4R, d.one1(t, "tls.handshake.ja4_r"), 1)
			}
		})
	}
	// The captures between them exercise every compared field.
	for _, f := range []string{
		"tls.handshake.ciphersuite", "tls.handshake.extension.type",
		"tls.handshake.extensions_server_name", "tls.handshake.extensions_alpn_str",
		"tls.handshake.extensions_supported_group", "tls.handshake.extensions_ec_point_format",
		"tls.handshake.sig_hash_alg", "tls.handshake.extensions.supported_version",
		"tls.handshake.extensions_key_share_group", "tls.handshake.ja3_full",
		"tls.handshake.comp_method", "tls.extension.psk_ke_mode", "tls.compress_certificate.algorithm",
		"tls.record_size_limit", "padding (tls.handshake.extension.len)",
		"tls.handshake.sig_hash_alg (signature_algorithms_cert)",
	} {
		if seen[f] == 0 && !t.Failed() {
			t.Errorf("no capture had a value for %s: nothing was compared", f)
		}
	}
}

// Extension code points (IANA TLS ExtensionType Values) that scope the
// tshark fields used in more than one extension.
const (
	tsharkExtSNI             = 0
	tsharkExtGroups          = 10
	tsharkExtPointFormats    = 11
	tsharkExtSigAlgs         = 13 // not 50 (signature_algorithms_cert) or 34 (delegated_credentials)
	tsharkExtPadding         = 21
	tsharkExtCompressCert    = 27
	tsharkExtRecordSizeLimit = 28
	tsharkExtSessionTicket   = 35
	tsharkExtPSKModes        = 45
	tsharkExtSigAlgsCert     = 50
	tsharkExtALPN            = 16
	tsharkExtVersions        = 43
	tsharkExtKeyShare        = 51
)

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// equalJSON compares values of possibly different Go types (uint16 slices
// from the parser, ints from tshark's text) by their JSON form.
func equalJSON(a, b any) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(ja, jb)
}

// show formats code points in hex, as tshark and the RFCs write them.
func show(v any) string {
	switch v := v.(type) {
	case uint16:
		return fmt.Sprintf("%#04x", v)
	case []uint16:
		s := make([]string, len(v))
		for i, x := range v {
			s[i] = fmt.Sprintf("%#04x", x)
		}
		return "[" + strings.Join(s, " ") + "]"
	case string, []string:
		return fmt.Sprintf("%q", v)
	}
	return fmt.Sprintf("%v", v)
}

// tsharkFieldNames returns the names of every field this tshark knows.
func tsharkFieldNames(t *testing.T, tshark string) map[string]bool {
	t.Helper()
	out, err := exec.Command(tshark, "-G", "fields").Output()
	if err != nil {
		t.Fatalf("tshark -G fields: %v", err)
	}
	names := map[string]bool{}
	for line := range strings.Lines(string(out)) {
		if f := strings.Split(line, "\t"); len(f) > 2 && f[0] == "F" {
			names[f[2]] = true
		}
	}
	return names
}

// A dissection is tshark's view of one ClientHello: its leaf fields in the
// order tshark shows them, each tagged with the extension it appears in.
type dissection struct {
	leaves  []tsharkLeaf
	extType map[int]uint16 // extension index → its type
}

type tsharkLeaf struct {
	ext   int // index of the enclosing "Extension: …" subtree, -1 outside any
	field string
	value string
}

// dissect writes records into a pcap, runs tshark on it and returns the
// dissection of the one ClientHello tshark finds.
func dissect(t *testing.T, tshark string, records []byte) *dissection {
	t.Helper()
	pcap := filepath.Join(t.TempDir(), "hello.pcap")
	if err := os.WriteFile(pcap, pcapOf(records), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(tshark, "-n", "-r", pcap,
		"-o", "tcp.desegment_tcp_streams:TRUE", "-o", "tls.desegment_ssl_records:TRUE",
		"-d", fmt.Sprintf("tcp.port==%d,tls", tsharkPort),
		"-Y", "tls.handshake.type == 1", "-T", "json", "-J", "tls")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark: %v\n%s", err, stderr.Bytes())
	}
	packets, err := flattenTshark(out)
	if err != nil {
		t.Fatalf("reading tshark's JSON: %v", err)
	}
	if len(packets) != 1 {
		t.Fatalf("tshark found %d packets with a ClientHello, want 1\n%s", len(packets), stderr.Bytes())
	}
	d := &dissection{leaves: packets[0], extType: map[int]uint16{}}
	for _, l := range d.leaves {
		if l.field == "tls.handshake.extension.type" {
			v, err := strconv.ParseUint(l.value, 0, 16)
			if err != nil {
				t.Fatalf("tshark extension type %q: %v", l.value, err)
			}
			d.extType[l.ext] = uint16(v)
		}
	}
	return d
}

// values returns the field's values in order, only from inside extensions of
// type ext, or from anywhere when ext is -1.
func (d *dissection) values(field string, ext int) []string {
	vs := []string{}
	for _, l := range d.leaves {
		if l.field != field {
			continue
		}
		if typ, ok := d.extType[l.ext]; ext >= 0 && (l.ext < 0 || !ok || int(typ) != ext) {
			continue
		}
		vs = append(vs, l.value)
	}
	return vs
}

// uints parses values as numbers: tshark writes decimal or 0x-hex by field.
func (d *dissection) uints(t *testing.T, field string, ext int) []uint64 {
	t.Helper()
	ns := []uint64{}
	for _, v := range d.values(field, ext) {
		n, err := strconv.ParseUint(v, 0, 32)
		if err != nil {
			t.Fatalf("tshark %s = %q: %v", field, v, err)
		}
		ns = append(ns, n)
	}
	return ns
}

func (d *dissection) nums(t *testing.T, field string, ext int) []uint16 {
	t.Helper()
	var ns []uint16
	for _, n := range d.uints(t, field, ext) {
		if n > 0xffff {
			t.Fatalf("tshark %s = %d: not 16 bits", field, n)
		}
		ns = append(ns, uint16(n))
	}
	return ns
}

func (d *dissection) bytes(t *testing.T, field string, ext int) []uint8 {
	t.Helper()
	bs := []uint8{}
	for _, n := range d.uints(t, field, ext) {
		if n > 0xff {
			t.Fatalf("tshark %s = %d: not 8 bits", field, n)
		}
		bs = append(bs, uint8(n))
	}
	return bs
}

// one returns the only value of a numeric field outside any extension.
func (d *dissection) one(t *testing.T, field string) uint16 {
	t.Helper()
	ns := d.nums(t, field, -1)
	if len(ns) != 1 {
		t.Fatalf("tshark shows %s %d times, want once", field, len(ns))
	}
	return ns[0]
}

// first returns the first value of a numeric field outside any extension.
func (d *dissection) first(t *testing.T, field string) uint16 {
	t.Helper()
	ns := d.nums(t, field, -1)
	if len(ns) == 0 {
		t.Fatalf("tshark shows no %s", field)
	}
	return ns[0]
}

// one1 returns the only value of a string field.
func (d *dissection) one1(t *testing.T, field string) string {
	t.Helper()
	vs := d.values(field, -1)
	if len(vs) != 1 {
		t.Fatalf("tshark shows %s %d times, want once", field, len(vs))
	}
	return vs[0]
}

// flattenTshark reads the output of tshark -T json, one tree per packet, into
// each packet's leaf fields in document order. Order matters and tshark
// repeats a key for each occurrence of a field, so a map won't do: this walks
// the tokens.
func flattenTshark(out []byte) ([][]tsharkLeaf, error) {
	dec := json.NewDecoder(bytes.NewReader(out))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('[') {
		return nil, fmt.Errorf("want a JSON array, got %v (%v)", tok, err)
	}
	var packets [][]tsharkLeaf
	for dec.More() {
		f := &flattener{dec: dec}
		if err := f.value("", -1); err != nil {
			return nil, err
		}
		packets = append(packets, f.leaves)
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("trailing data after the array: %v", err)
	}
	return packets, nil
}

type flattener struct {
	dec    *json.Decoder
	exts   int // extension subtrees seen so far
	leaves []tsharkLeaf
}

// value reads one JSON value found under key, inside extension ext.
func (f *flattener) value(key string, ext int) error {
	tok, err := f.dec.Token()
	if err != nil {
		return err
	}
	switch v := tok.(type) {
	case json.Delim:
		switch v {
		case '{':
			// tshark titles each extension's subtree "Extension: name (len=n)".
			if strings.HasPrefix(key, "Extension: ") {
				ext = f.exts
				f.exts++
			}
			for f.dec.More() {
				k, err := f.dec.Token()
				if err != nil {
					return err
				}
				if err := f.value(k.(string), ext); err != nil {
					return err
				}
			}
		case '[':
			for f.dec.More() {
				if err := f.value(key, ext); err != nil {
					return err
				}
			}
		}
		_, err := f.dec.Token() // the closing delimiter
		return err
	case string:
		f.leaves = append(f.leaves, tsharkLeaf{ext: ext, field: key, value: v})
	case json.Number:
		f.leaves = append(f.leaves, tsharkLeaf{ext: ext, field: key, value: v.String()})
	}
	return nil // null and booleans carry no field value
}

// pcapOf returns a classic pcap file (Ethernet link type) holding a TCP
// connection from 127.0.0.1:50000 to 127.0.0.1:tsharkPort: the three-way
// handshake, then payload in segments of at most one Ethernet MSS with
// consecutive sequence numbers, so tshark reassembles a hello that spans
// several segments as it would on the wire.
func pcapOf(payload []byte) []byte {
	const (
		mss       = 1460
		clientISN = 1000
		serverISN = 5000
		flagFIN   = 0x01
		flagSYN   = 0x02
		flagPSH   = 0x08
		flagACK   = 0x10
	)
	var w bytes.Buffer
	le := binary.LittleEndian
	hdr := make([]byte, 24) // pcap global header, microsecond timestamps
	le.PutUint32(hdr[0:], 0xa1b2c3d4)
	le.PutUint16(hdr[4:], 2)       // version 2.4
	le.PutUint16(hdr[6:], 4)       //
	le.PutUint32(hdr[16:], 262144) // snaplen
	le.PutUint32(hdr[20:], 1)      // LINKTYPE_ETHERNET
	w.Write(hdr)

	frames := 0
	frame := func(fromClient bool, seq, ack uint32, flags byte, data []byte) {
		src, dst := uint16(50000), uint16(tsharkPort)
		if !fromClient {
			src, dst = dst, src
		}
		tcp := make([]byte, 20, 20+len(data))
		binary.BigEndian.PutUint16(tcp[0:], src)
		binary.BigEndian.PutUint16(tcp[2:], dst)
		binary.BigEndian.PutUint32(tcp[4:], seq)
		binary.BigEndian.PutUint32(tcp[8:], ack)
		tcp[12] = 5 << 4 // data offset: 5 words, no options
		tcp[13] = flags
		binary.BigEndian.PutUint16(tcp[14:], 65535) // window
		tcp = append(tcp, data...)
		loopback := []byte{127, 0, 0, 1}
		pseudo := slices.Concat(loopback, loopback, []byte{0, 6, byte(len(tcp) >> 8), byte(len(tcp))})
		binary.BigEndian.PutUint16(tcp[16:], internetChecksum(slices.Concat(pseudo, tcp)))

		ip := make([]byte, 20)
		ip[0] = 0x45 // IPv4, 5-word header
		binary.BigEndian.PutUint16(ip[2:], uint16(len(ip)+len(tcp)))
		binary.BigEndian.PutUint16(ip[4:], uint16(frames))
		ip[6] = 0x40 // don't fragment
		ip[8] = 64   // TTL
		ip[9] = 6    // TCP
		copy(ip[12:], loopback)
		copy(ip[16:], loopback)
		binary.BigEndian.PutUint16(ip[10:], internetChecksum(ip))

		eth := make([]byte, 14) // zero MACs, EtherType IPv4
		eth[12] = 0x08
		pkt := slices.Concat(eth, ip, tcp)

		rec := make([]byte, 16)
		le.PutUint32(rec[0:], 1_700_000_000)
		le.PutUint32(rec[4:], uint32(frames))
		le.PutUint32(rec[8:], uint32(len(pkt)))
		le.PutUint32(rec[12:], uint32(len(pkt)))
		w.Write(rec)
		w.Write(pkt)
		frames++
	}
	frame(true, clientISN, 0, flagSYN, nil)
	frame(false, serverISN, clientISN+1, flagSYN|flagACK, nil)
	frame(true, clientISN+1, serverISN+1, flagACK, nil)
	seq := uint32(clientISN + 1)
	for len(payload) > 0 {
		n := min(len(payload), mss)
		flags := byte(flagACK)
		if n == len(payload) {
			flags |= flagPSH
		}
		frame(true, seq, serverISN+1, flags, payload[:n])
		seq += uint32(n)
		payload = payload[n:]
	}
	frame(false, serverISN+1, seq, flagACK|flagFIN, nil)
	return w.Bytes()
}

// internetChecksum is the RFC 1071 checksum of IPv4 and TCP headers.
func internetChecksum(b []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}
