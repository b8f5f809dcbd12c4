package inspect

import (
	"crypto/md5"
	"encoding/hex"
	"strconv"
	"strings"
)

// JA3S returns the JA3S fingerprint of a ServerHello (salesforce/ja3,
// ja3s.py): raw is "SSLVersion,Cipher,SSLExtension" with legacy_version, the
// chosen cipher suite and the extension types in wire order, in decimal,
// extensions joined by "-" (GREASE is not removed: servers do not send it);
// hash is the lowercase hex MD5 of raw.
func JA3S(s *ServerHelloMsg) (hash, raw string) {
	var b strings.Builder
	b.WriteString(strconv.Itoa(int(s.LegacyVersion)))
	b.WriteByte(',')
	b.WriteString(strconv.Itoa(int(s.CipherSuite)))
	b.WriteByte(',')
	for i, e := range s.Extensions {
		if i > 0 {
			b.WriteByte('-')
		}
		b.WriteString(strconv.Itoa(int(e.Type)))
	}
	raw = b.String()
	sum := md5.Sum([]byte(raw))
	return hex.EncodeToString(sum[:]), raw
}
