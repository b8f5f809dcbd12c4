package inspect

import (
	"bytes"
	"crypto/tls"
	"strings"
	"testing"
)

func TestParseKeyLog(t *testing.T) {
	p := testFlightPKI(t)
	cc, sc := flightConfigs(t, p.ecdsaLeaf)
	first := captureHandshake(t, cc, sc)
	second := captureHandshake(t, cc, sc)
	cc.MaxVersion = tls.VersionTLS12
	tls12 := captureHandshake(t, cc, sc)
	for _, c := range []*flightCapture{first, second, tls12} {
		if c.clientErr != nil {
			t.Fatal(c.clientErr)
		}
	}

	keys, err := ParseKeyLog(first.keyLog)
	if err != nil {
		t.Fatal(err)
	}
	// crypto/tls logs four TLS 1.3 secrets, each as long as the suite's hash.
	for _, label := range []string{keyLogClientHandshake, keyLogServerHandshake, keyLogClientTraffic, keyLogServerTraffic} {
		if len(keys[label]) != 32 {
			t.Errorf("%s: %d bytes, want 32", label, len(keys[label]))
		}
	}
	if len(keys) != 4 {
		t.Errorf("%d labels, want 4", len(keys))
	}

	// Two connections in one log: the first one's secrets win.
	both, err := ParseKeyLog(append(bytes.Clone(first.keyLog), second.keyLog...))
	if err != nil || !bytes.Equal(both[keyLogServerHandshake], keys[keyLogServerHandshake]) {
		t.Errorf("first occurrence not kept: %v", err)
	}

	keys12, err := ParseKeyLog(tls12.keyLog)
	if err != nil || len(keys12["CLIENT_RANDOM"]) != 48 {
		t.Errorf("TLS 1.2 key log: %d-byte master secret, %v; want 48 bytes", len(keys12["CLIENT_RANDOM"]), err)
	}

	// Comments and blank lines are skipped; bad lines are reported and the
	// good ones kept.
	messy := "# a comment\n\n" + strings.TrimSpace(string(first.keyLog)) + "\r\n" +
		"CLIENT_RANDOM nothex 00\n" +
		"ONLY_TWO fields\n" +
		"SERVER_TRAFFIC_SECRET_0 " + strings.Repeat("ab", 32) + " zz\n"
	keys, err = ParseKeyLog([]byte(messy))
	if err == nil || !strings.Contains(err.Error(), "line 7") || !strings.Contains(err.Error(), "line 8") || !strings.Contains(err.Error(), "line 9") {
		t.Errorf("error = %v, want lines 7, 8 and 9 named", err)
	}
	if len(keys) != 4 {
		t.Errorf("%d labels from the good lines, want 4", len(keys))
	}
	if keys, err := ParseKeyLog(nil); len(keys) != 0 || err != nil {
		t.Errorf("ParseKeyLog(nil) = %v, %v", keys, err)
	}
}
