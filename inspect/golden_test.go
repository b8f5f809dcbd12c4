package inspect

import (
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

// helloFiles returns testdata/<client>.bin for each client listed in
// testdata/clients.txt: the TLS records of the ClientHellos that
// testdata/capture.sh recorded from real clients.
func helloFiles(t *testing.T) []string {
	t.Helper()
	list, err := os.ReadFile(filepath.Join("testdata", "clients.txt"))
	if err != nil {
		t.Fatalf("%v: run inspect/testdata/capture.sh", err)
	}
	var files []string
	for line := range strings.Lines(string(list)) {
		name, _, _ := strings.Cut(line, "\t")
		if name = strings.TrimSpace(name); name == "" {
			continue
		}
		file := filepath.Join("testdata", name+".bin")
		if _, err := os.Stat(file); err != nil {
			t.Fatalf("clients.txt lists %s: %v", name, err)
		}
		files = append(files, file)
	}
	if len(files) == 0 {
		t.Fatal("testdata/clients.txt lists no clients: run inspect/testdata/capture.sh")
	}
	return files
}

// readHelloFile reads a captured hello's records and parses them.
func readHelloFile(t *testing.T, file string) ([]byte, *ClientHello) {
	t.Helper()
	records, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	h, err := ParseClientHello(records)
	if err != nil {
		t.Fatalf("ParseClientHello(%s) error: %v", file, err)
	}
	return records, h
}

// TestGolden parses each captured ClientHello and compares its record form
// with testdata/<client>.golden.json. Run with -update to rewrite the golden
// files after a deliberate change, and review the diff.
func TestGolden(t *testing.T) {
	for _, file := range helloFiles(t) {
		name := strings.TrimSuffix(filepath.Base(file), ".bin")
		t.Run(name, func(t *testing.T) {
			_, h := readHelloFile(t, file)
			got, err := json.MarshalIndent(h.Hello(), "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			golden := filepath.Join("testdata", name+".golden.json")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./inspect/ -run Golden -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("Hello() for %s differs from %s:\n%s", file, golden, lineDiff(got, want))
			}
		})
	}
}

// lineDiff lists the lines of got and want that differ, by line number.
func lineDiff(got, want []byte) string {
	g := strings.Split(string(got), "\n")
	w := strings.Split(string(want), "\n")
	var b strings.Builder
	for i := range max(len(g), len(w)) {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			fmt.Fprintf(&b, "line %d:\n  got:  %s\n  want: %s\n", i+1, gl, wl)
		}
	}
	return b.String()
}

// clientFacts are what is known about a client's ClientHello from its own
// documentation and source, independently of tlslens's parser, so that the
// golden files are not trusted blindly.
type clientFacts struct {
	grease     bool     // RFC 8701 values in suites, extensions, groups
	ech        bool     // encrypted_client_hello present (GREASE ECH without a config)
	alpn       []string // exactly, in order
	versions   []string // supported_versions, exactly
	keyShares  []string // key_share groups, in order
	suites     []string // the first cipher suites, in order
	has, hasNo []string // extension names present / absent
	ja4Suites  string   // JA4's suite hash where a published value exists

	compressCert    []string // compress_certificate algorithms, exactly
	alps            []string // application_settings protocols, exactly
	recordSizeLimit int      // record_size_limit; 0 when not sent
	size            int      // the handshake message's size where it is fixed; 0 otherwise
}

var goldenClients = map[string]clientFacts{
	// Chromium (BoringSSL): GREASE began there; ECH GREASE since Chrome 117;
	// X25519MLKEM768 shared by default since Chrome 131; ALPS (17613) for h2;
	// BoringSSL's TLS 1.3 order is AES-128, AES-256, ChaCha20.
	"chromium": {
		grease:    true,
		ech:       true,
		alpn:      []string{"h2", "http/1.1"},
		versions:  []string{"GREASE", "TLS 1.3", "TLS 1.2"},
		keyShares: []string{"GREASE", "X25519MLKEM768", "x25519"},
		suites:    []string{"GREASE", "TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"},
		has:       []string{"application_settings", "compress_certificate", "encrypted_client_hello", "signed_certificate_timestamp"},
		hasNo:     []string{"record_size_limit", "padding"},
		// BoringSSL compresses certificates with brotli; ALPS only for h2.
		compressCert: []string{"brotli"},
		alps:         []string{"h2"},
		// FoxIO's JA4 README gives Chrome's JA4 as t13d1516h2_8daaf6152771_….
		ja4Suites: "8daaf6152771",
	},
	// Firefox (NSS): no GREASE values; ECH GREASE; record_size_limit
	// (RFC 8449) and delegated credentials are NSS's; NSS orders ChaCha20
	// second; key shares for the hybrid, x25519 and P-256.
	"firefox": {
		grease:    false,
		ech:       true,
		alpn:      []string{"h2", "http/1.1"},
		versions:  []string{"TLS 1.3", "TLS 1.2"},
		keyShares: []string{"X25519MLKEM768", "x25519", "secp256r1"},
		suites:    []string{"TLS_AES_128_GCM_SHA256", "TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_256_GCM_SHA384"},
		has:       []string{"record_size_limit", "delegated_credential", "compress_certificate"},
		hasNo:     []string{"application_settings", "padding"},
		// NSS: a 2^14 plaintext plus the TLS 1.3 content type byte
		// (RFC 8449 §4); zlib, brotli and zstd certificate compression.
		recordSizeLimit: 16385,
		compressCert:    []string{"zlib", "brotli", "zstd"},
	},
	// curl with OpenSSL 3.0: OpenSSL's default TLS 1.3 suites (AES-256
	// first), one x25519 share, TLS 1.0–1.3 at the default security level,
	// no GREASE or ECH; curl sets SSL_OP_ALL, which includes
	// SSL_OP_TLSEXT_PADDING, so the hello carries padding.
	"curl": {
		alpn:      []string{"h2", "http/1.1"},
		versions:  []string{"TLS 1.3", "TLS 1.2", "TLS 1.1", "TLS 1.0"},
		keyShares: []string{"x25519"},
		suites:    []string{"TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_128_GCM_SHA256"},
		has:       []string{"padding", "post_handshake_auth", "encrypt_then_mac"},
		hasNo:     []string{"encrypted_client_hello"},
		// SSL_OP_TLSEXT_PADDING pads a hello of 256 to 511 bytes to 512
		// (the F5 workaround in OpenSSL's ssl/statem/extensions_clnt.c).
		size: 512,
	},
	// openssl s_client: the same library as curl without SSL_OP_ALL, so no
	// padding; ALPN as given with -alpn.
	"openssl": {
		alpn:      []string{"h2", "http/1.1"},
		versions:  []string{"TLS 1.3", "TLS 1.2", "TLS 1.1", "TLS 1.0"},
		keyShares: []string{"x25519"},
		suites:    []string{"TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_128_GCM_SHA256"},
		has:       []string{"session_ticket", "encrypt_then_mac"},
		hasNo:     []string{"padding", "encrypted_client_hello"},
	},
	// gnutls-cli with the NORMAL priority: no ALPN unless asked; one share
	// for the first NIST curve and one for x25519; AES-256 first and
	// AES-128-CCM among the TLS 1.3 suites.
	"gnutls": {
		versions:  []string{"TLS 1.3", "TLS 1.2", "TLS 1.1", "TLS 1.0"},
		keyShares: []string{"secp256r1", "x25519"},
		suites:    []string{"TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_128_GCM_SHA256", "TLS_AES_128_CCM_SHA256"},
		has:       []string{"status_request", "record_size_limit", "renegotiation_info"},
		hasNo:     []string{"application_layer_protocol_negotiation", "encrypted_client_hello"},
		// GnuTLS's default maximum record size, 2^14, plus the content
		// type byte of TLS 1.3 (RFC 8449 §4).
		recordSizeLimit: 16385,
	},
	// crypto/tls (Go 1.24+): hybrid and x25519 shares, TLS 1.2 minimum,
	// the TLS 1.2 ECDHE suites listed before the TLS 1.3 ones, and
	// signature_algorithms_cert sent alongside signature_algorithms.
	"go": {
		alpn:      []string{"h2", "http/1.1"},
		versions:  []string{"TLS 1.3", "TLS 1.2"},
		keyShares: []string{"X25519MLKEM768", "x25519"},
		suites:    []string{"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"},
		has:       []string{"signature_algorithms_cert", "renegotiation_info"},
		hasNo:     []string{"padding", "encrypted_client_hello", "compress_certificate"},
	},
}

// TestGoldenClients checks facts each client's ClientHello must show, and
// recomputes the fingerprints from the parsed values: the golden files
// record what the parser says, this says why it is right.
func TestGoldenClients(t *testing.T) {
	for _, file := range helloFiles(t) {
		name := strings.TrimSuffix(filepath.Base(file), ".bin")
		t.Run(name, func(t *testing.T) {
			want, ok := goldenClients[name]
			if !ok {
				t.Fatalf("no facts for %s: add it to goldenClients", name)
			}
			records, h := readHelloFile(t, file)
			got := h.Hello()

			// capture.sh connects every client to https://localhost/.
			if got.SNI != "localhost" {
				t.Errorf("sni = %q, want localhost", got.SNI)
			}
			if got.Version != "TLS 1.2" {
				t.Errorf("version = %q, want TLS 1.2 (RFC 8446 §4.1.2 legacy_version)", got.Version)
			}
			if got.Grease != want.grease {
				t.Errorf("grease = %v, want %v", got.Grease, want.grease)
			}
			greaseSeen := slices.Contains(got.CipherSuites, "GREASE") || slices.Contains(got.Extensions, "GREASE") ||
				slices.Contains(got.Groups, "GREASE") || slices.Contains(got.SupportedVersions, "GREASE")
			if greaseSeen != want.grease {
				t.Errorf("GREASE among suites/extensions/groups/versions = %v, want %v", greaseSeen, want.grease)
			}
			if got.ECH != want.ech {
				t.Errorf("ech = %v, want %v", got.ECH, want.ech)
			}
			if !slices.Equal(got.ALPN, want.alpn) {
				t.Errorf("alpn = %q, want %q", got.ALPN, want.alpn)
			}
			if !slices.Equal(got.SupportedVersions, want.versions) {
				t.Errorf("supported_versions = %q, want %q", got.SupportedVersions, want.versions)
			}
			var shares []string
			for _, ks := range got.KeyShares {
				shares = append(shares, ks.Group)
				if n, ok := keyShareLength[ks.Group]; ok && ks.Length != n {
					t.Errorf("key share %s is %d bytes, want %d", ks.Group, ks.Length, n)
				}
			}
			if !slices.Equal(shares, want.keyShares) {
				t.Errorf("key_shares = %q, want %q", shares, want.keyShares)
			}
			for _, g := range shares {
				if !slices.Contains(got.Groups, g) {
					t.Errorf("key share %s not in groups %q (RFC 8446 §4.2.8)", g, got.Groups)
				}
			}
			if len(got.CipherSuites) < len(want.suites) || !slices.Equal(got.CipherSuites[:len(want.suites)], want.suites) {
				t.Errorf("cipher_suites = %q, want them to begin %q", got.CipherSuites, want.suites)
			}
			for _, e := range want.has {
				if !slices.Contains(got.Extensions, e) {
					t.Errorf("extensions = %q, want %s among them", got.Extensions, e)
				}
			}
			for _, e := range want.hasNo {
				if slices.Contains(got.Extensions, e) {
					t.Errorf("extensions = %q, want no %s", got.Extensions, e)
				}
			}
			if !slices.Equal(got.CompressCertificate, want.compressCert) {
				t.Errorf("compress_certificate = %q, want %q", got.CompressCertificate, want.compressCert)
			}
			if !slices.Equal(got.ALPS, want.alps) {
				t.Errorf("alps = %q, want %q", got.ALPS, want.alps)
			}
			if got.RecordSizeLimit != want.recordSizeLimit {
				t.Errorf("record_size_limit = %d, want %d", got.RecordSizeLimit, want.recordSizeLimit)
			}
			if want.size != 0 && got.Size != want.size {
				t.Errorf("size = %d, want %d", got.Size, want.size)
			}
			if len(got.SignatureAlgorithms) == 0 || len(got.Groups) == 0 {
				t.Errorf("signature_algorithms = %q, groups = %q: a TLS 1.3 client sends both", got.SignatureAlgorithms, got.Groups)
			}
			if n := len(records) - 5*recordCount(t, records); got.Size != n {
				t.Errorf("size = %d, want %d (the records' payload)", got.Size, n)
			}
			checkFingerprints(t, h, got)
			if b := strings.Split(got.JA4, "_"); want.ja4Suites != "" && (len(b) != 3 || b[1] != want.ja4Suites) {
				t.Errorf("ja4 = %s, want the published suite hash %s", got.JA4, want.ja4Suites)
			}
		})
	}
}

// keyShareLength is the key_exchange size of each group (RFC 8446 §4.2.8.2,
// RFC 7748 §6.1, draft-ietf-tls-ecdhe-mlkem: ML-KEM-768 encapsulation key
// 1184 bytes + X25519 32 bytes).
var keyShareLength = map[string]int{
	"x25519":         32,
	"secp256r1":      65,
	"secp384r1":      97,
	"X25519MLKEM768": 1216,
}

// recordCount counts the TLS records in b.
func recordCount(t *testing.T, b []byte) int {
	t.Helper()
	n := 0
	for len(b) >= RecordHeaderLen {
		_, _, rest, ok := SplitRecord(b)
		if !ok {
			t.Fatalf("truncated record in testdata")
		}
		b = rest
		n++
	}
	return n
}

// checkFingerprints recomputes JA3, JA3N and JA4 from the parsed numbers as
// salesforce/ja3 and FoxIO's JA4.md define them, and compares with the record.
func checkFingerprints(t *testing.T, h *ClientHello, got *Hello) {
	t.Helper()
	dec := func(vs []uint16) string {
		var s []string
		for _, v := range vs {
			if !IsGREASE(v) {
				s = append(s, strconv.Itoa(int(v)))
			}
		}
		return strings.Join(s, "-")
	}
	var exts []uint16
	for _, e := range h.Extensions {
		exts = append(exts, e.Type)
	}
	var pf []string
	for _, p := range h.PointFormats {
		pf = append(pf, strconv.Itoa(int(p)))
	}
	ja3 := func(exts []uint16) string {
		return fmt.Sprintf("%d,%s,%s,%s,%s", h.LegacyVersion, dec(h.CipherSuites), dec(exts), dec(h.Groups), strings.Join(pf, "-"))
	}
	md5hex := func(s string) string { sum := md5.Sum([]byte(s)); return hex.EncodeToString(sum[:]) }
	if raw := ja3(exts); got.JA3Raw != raw || got.JA3 != md5hex(raw) {
		t.Errorf("ja3 = %s %q, want %s %q", got.JA3, got.JA3Raw, md5hex(raw), raw)
	}
	if sorted := ja3(slices.Sorted(slices.Values(exts))); got.JA3N != md5hex(sorted) {
		t.Errorf("ja3n = %s, want %s (md5 of %q)", got.JA3N, md5hex(sorted), sorted)
	}

	// JA4: t, version, d/i, counts, ALPN first+last; sorted suites; sorted
	// extensions less SNI and ALPN, then signature algorithms in wire order.
	hex4 := func(vs []uint16, drop ...uint16) []string {
		var s []string
		for _, v := range vs {
			if !IsGREASE(v) && !slices.Contains(drop, v) {
				s = append(s, fmt.Sprintf("%04x", v))
			}
		}
		return s
	}
	suites := hex4(h.CipherSuites)
	allExts := hex4(exts)
	hashExts := hex4(exts, tsharkExtSNI, tsharkExtALPN)
	slices.Sort(suites)
	slices.Sort(hashExts)
	top := uint16(0)
	for _, v := range h.SupportedVersions {
		if !IsGREASE(v) {
			top = max(top, v)
		}
	}
	sni := "i"
	if slices.Contains(exts, tsharkExtSNI) {
		sni = "d"
	}
	alpn := "00"
	if len(h.ALPN) > 0 && h.ALPN[0] != "" {
		alpn = h.ALPN[0][:1] + h.ALPN[0][len(h.ALPN[0])-1:]
	}
	if top != 0x0304 {
		t.Fatalf("highest supported version %#04x, want TLS 1.3 for every captured client", top)
	}
	a := fmt.Sprintf("t13%s%02d%02d%s", sni, min(len(suites), 99), min(len(allExts), 99), alpn)
	c := strings.Join(hashExts, ",")
	if sig := hex4(h.SignatureAlgorithms); len(sig) > 0 {
		c += "_" + strings.Join(sig, ",")
	}
	sha12 := func(s string) string { sum := sha256.Sum256([]byte(s)); return hex.EncodeToString(sum[:])[:12] }
	ja4 := a + "_" + sha12(strings.Join(suites, ",")) + "_" + sha12(c)
	ja4r := a + "_" + strings.Join(suites, ",") + "_" + c
	if got.JA4 != ja4 || got.JA4R != ja4r {
		t.Errorf("ja4 = %s %q, want %s %q", got.JA4, got.JA4R, ja4, ja4r)
	}
}
