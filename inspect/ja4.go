package inspect

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strconv"
	"strings"
)

// JA4 returns the JA4 fingerprint of a ClientHello received over TCP
// (FoxIO-LLC/ja4, technical_details/JA4.md, BSD-3) and its raw form ja4_r.
//
// JA4 is a_b_c:
//   - a: "t"; the version (the highest non-GREASE supported_versions value,
//     else legacy_version: "13", "12", "11", "10", "s3", "s2", "d1", "d2",
//     "d3", else "00"); "d" if server_name is present, else "i"; the number
//     of cipher suites and of extensions, GREASE excluded, two digits capped
//     at 99; the first and last characters of the first ALPN value, "00"
//     without one.
//   - b: the first 12 hex digits of SHA-256 over the cipher suites (4 hex
//     digits each, GREASE removed) sorted and joined by ",";
//     "000000000000" when there are none.
//   - c: the same over the extension types sorted, GREASE, server_name and
//     ALPN removed, then "_" and the signature algorithms in wire order
//     (no "_" without signature algorithms); "000000000000" when no
//     extension is left.
//
// ja4_r is a with the unhashed strings of b and c, e.g.
// "t13d1516h2_002f,0035,…_0005,000a,…_0403,0804,…".
func JA4(h *ClientHello) (ja4, ja4r string) {
	return ja4Fingerprint(h, true)
}

// JA4O returns JA4's original-order variants, JA4_o and JA4_ro: cipher
// suites and extensions in wire order, and server_name and ALPN kept in the
// extension list (and in its hash).
func JA4O(h *ClientHello) (ja4o, ja4ro string) {
	return ja4Fingerprint(h, false)
}

func ja4Fingerprint(h *ClientHello, sorted bool) (fp, raw string) {
	a := ja4A(h)

	ciphers := make([]uint16, 0, len(h.CipherSuites))
	for _, c := range h.CipherSuites {
		if !IsGREASE(c) {
			ciphers = append(ciphers, c)
		}
	}
	exts := make([]uint16, 0, len(h.Extensions))
	for _, e := range h.Extensions {
		if IsGREASE(e.Type) {
			continue
		}
		if sorted && (e.Type == extServerName || e.Type == extApplicationLayerProtocolNegotiation) {
			continue
		}
		exts = append(exts, e.Type)
	}
	if sorted {
		slices.Sort(ciphers)
		slices.Sort(exts)
	}
	sigs := make([]uint16, 0, len(h.SignatureAlgorithms))
	for _, s := range h.SignatureAlgorithms {
		if !IsGREASE(s) {
			sigs = append(sigs, s)
		}
	}

	bRaw := hexList(ciphers)
	cRaw := hexList(exts)
	if len(sigs) > 0 {
		cRaw += "_" + hexList(sigs)
	}
	b, c := ja4Hash12(bRaw), ja4Hash12(cRaw)
	if len(ciphers) == 0 {
		b = "000000000000"
	}
	if len(exts) == 0 {
		c = "000000000000"
	}
	return a + "_" + b + "_" + c, a + "_" + bRaw + "_" + cRaw
}

// ja4A is JA4's part a for TCP.
func ja4A(h *ClientHello) string {
	v := h.LegacyVersion
	var best uint16
	for _, sv := range h.SupportedVersions {
		if !IsGREASE(sv) && sv > best {
			best = sv
		}
	}
	if best != 0 {
		v = best
	}
	sni := "i"
	if h.hasExtension(extServerName) {
		sni = "d"
	}
	nc, ne := 0, 0
	for _, c := range h.CipherSuites {
		if !IsGREASE(c) {
			nc++
		}
	}
	for _, e := range h.Extensions {
		if !IsGREASE(e.Type) {
			ne++
		}
	}
	alpn := "00"
	if len(h.ALPN) > 0 {
		alpn = ja4ALPN(h.ALPN[0])
	}
	return "t" + ja4Version(v) + sni + twoDigits(nc) + twoDigits(ne) + alpn
}

func ja4Version(v uint16) string {
	switch v {
	case 0x0304:
		return "13"
	case 0x0303:
		return "12"
	case 0x0302:
		return "11"
	case 0x0301:
		return "10"
	case 0x0300:
		return "s3"
	case 0x0002:
		return "s2"
	case 0xfeff:
		return "d1"
	case 0xfefd:
		return "d2"
	case 0xfefc:
		return "d3"
	}
	return "00"
}

// ja4ALPN is the first and last character of an ALPN value, "00" when it is
// empty. A one-character value gives that character twice.
//
// When the first or last byte is not an ASCII letter or digit, this follows
// the JA4.md spec text: the first and last characters of the value's hex
// encoding ("\xab" → "ab", "0\xab" → "3b"). The FoxIO reference code
// instead writes "9" for such a byte (and "a0" for "a"), so its output
// differs for those hellos; we chose the specification.
func ja4ALPN(p string) string {
	if p == "" {
		return "00"
	}
	first, last := p[0], p[len(p)-1]
	if isAlnum(first) && isAlnum(last) {
		return string([]byte{first, last})
	}
	x := hex.EncodeToString([]byte(p))
	return string([]byte{x[0], x[len(x)-1]})
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

func twoDigits(n int) string {
	n = min(n, 99)
	if n < 10 {
		return "0" + strconv.Itoa(n)
	}
	return strconv.Itoa(n)
}

// hexList writes vs as 4-digit lowercase hex joined by ",".
func hexList(vs []uint16) string {
	const digits = "0123456789abcdef"
	var b strings.Builder
	b.Grow(5 * len(vs))
	for i, v := range vs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte(digits[v>>12])
		b.WriteByte(digits[v>>8&0xf])
		b.WriteByte(digits[v>>4&0xf])
		b.WriteByte(digits[v&0xf])
	}
	return b.String()
}

// ja4Hash12 is the first 12 hex digits of SHA-256(s).
func ja4Hash12(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:6])
}
