package inspect

import (
	"crypto/md5"
	"encoding/hex"
	"slices"
	"strconv"
	"strings"
)

// JA3 returns the JA3 fingerprint of a ClientHello (salesforce/ja3, BSD-3):
// raw is "SSLVersion,Cipher,SSLExtension,EllipticCurve,EllipticCurvePointFormat"
// with legacy_version (not the record version, not supported_versions), the
// cipher suites, the extension types in wire order, the supported_groups and
// the ec_point_formats, in decimal, values joined by "-", GREASE values
// dropped; hash is the lowercase hex MD5 of raw. A hello without extensions
// leaves the last three fields empty: "769,4-5-10,,,".
//
// Chromium permutes its extension order per connection, so its JA3 changes
// from one connection to the next; JA3N is stable.
func JA3(h *ClientHello) (hash, raw string) {
	raw = ja3String(h, false)
	return ja3Hash(raw), raw
}

// JA3N returns JA3 computed with the extension types sorted in ascending
// numeric order, which makes it stable for clients that randomise their
// extension order.
func JA3N(h *ClientHello) (hash, raw string) {
	raw = ja3String(h, true)
	return ja3Hash(raw), raw
}

// ja3Hash is the JA3 hash of a raw JA3 string: lowercase hex MD5.
func ja3Hash(raw string) string {
	sum := md5.Sum([]byte(raw))
	return hex.EncodeToString(sum[:])
}

func ja3String(h *ClientHello, sortExtensions bool) string {
	var b strings.Builder
	b.Grow(256)
	b.WriteString(strconv.Itoa(int(h.LegacyVersion)))
	b.WriteByte(',')
	writeJA3List(&b, h.CipherSuites)
	b.WriteByte(',')
	exts := make([]uint16, 0, len(h.Extensions))
	for _, e := range h.Extensions {
		exts = append(exts, e.Type)
	}
	if sortExtensions {
		slices.Sort(exts)
	}
	writeJA3List(&b, exts)
	b.WriteByte(',')
	writeJA3List(&b, h.Groups)
	b.WriteByte(',')
	for i, p := range h.PointFormats {
		if i > 0 {
			b.WriteByte('-')
		}
		b.WriteString(strconv.Itoa(int(p)))
	}
	return b.String()
}

// writeJA3List writes vs in decimal joined by "-", GREASE values dropped.
func writeJA3List(b *strings.Builder, vs []uint16) {
	first := true
	for _, v := range vs {
		if IsGREASE(v) {
			continue
		}
		if !first {
			b.WriteByte('-')
		}
		first = false
		b.WriteString(strconv.Itoa(int(v)))
	}
}
