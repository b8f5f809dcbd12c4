package inspect

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
)

// Key log labels (NSS key log format, as written by crypto/tls's
// Config.KeyLogWriter) that the flight parsers use.
const (
	keyLogClientHandshake = "CLIENT_HANDSHAKE_TRAFFIC_SECRET"
	keyLogServerHandshake = "SERVER_HANDSHAKE_TRAFFIC_SECRET"
	keyLogClientTraffic   = "CLIENT_TRAFFIC_SECRET_0"
	keyLogServerTraffic   = "SERVER_TRAFFIC_SECRET_0"
)

// ParseKeyLog parses a key log in the NSS format (SSLKEYLOGFILE): one
// "LABEL <client_random hex> <secret hex>" line per secret, blank lines and
// lines starting with '#' ignored. It maps each label to its secret, keeping
// the first occurrence: the key log is expected to hold one connection.
//
// A malformed line does not stop the parse: the map holds every well-formed
// line and the error names each bad one. An empty or nil log gives an empty
// map and no error.
func ParseKeyLog(b []byte) (map[string][]byte, error) {
	keys := make(map[string][]byte, 5)
	var errs []error
	// The secrets share one buffer: half the log's size holds them all.
	secrets := make([]byte, 0, len(b)/2)
	for n := 1; len(b) > 0; n++ {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		label, random, secret, ok := splitKeyLogLine(line)
		if !ok {
			line = bytes.TrimSpace(line)
			if len(line) == 0 || line[0] == '#' {
				continue
			}
			f := bytes.Fields(line)
			if len(f) != 3 {
				errs = append(errs, fmt.Errorf("inspect: key log line %d: %d fields, want 3", n, len(f)))
				continue
			}
			label, random, secret = f[0], f[1], f[2]
		}
		if len(random) != 64 || !isHex(random) {
			errs = append(errs, fmt.Errorf("inspect: key log line %d: client random is not 32 bytes of hex", n))
			continue
		}
		if len(secret) == 0 || len(secret)%2 != 0 || !isHex(secret) {
			errs = append(errs, fmt.Errorf("inspect: key log line %d: secret is not hex", n))
			continue
		}
		name := keyLogLabel(label)
		if _, ok := keys[name]; ok {
			continue
		}
		at := len(secrets)
		secrets = secrets[:at+len(secret)/2]
		hex.Decode(secrets[at:], secret) // cannot fail: checked by isHex
		keys[name] = secrets[at:len(secrets):len(secrets)]
	}
	return keys, errors.Join(errs...)
}

// splitKeyLogLine splits a line in the form crypto/tls writes, "LABEL
// random secret" with single spaces and nothing else (a trailing "\r"
// aside); ok is false for any other line, which ParseKeyLog then reads
// field by field.
func splitKeyLogLine(line []byte) (label, random, secret []byte, ok bool) {
	line = bytes.TrimSuffix(line, []byte("\r"))
	i := bytes.IndexByte(line, ' ')
	if i <= 0 || line[0] == '#' {
		return nil, nil, nil, false
	}
	j := bytes.IndexByte(line[i+1:], ' ')
	if j <= 0 {
		return nil, nil, nil, false
	}
	label, random, secret = line[:i], line[i+1:i+1+j], line[i+2+j:]
	if len(secret) == 0 || bytes.IndexByte(secret, ' ') >= 0 {
		return nil, nil, nil, false
	}
	for _, part := range [][]byte{label, random, secret} {
		for _, c := range part {
			if c <= ' ' || c >= 0x7f { // other whitespace or non-ASCII: the general path
				return nil, nil, nil, false
			}
		}
	}
	return label, random, secret, true
}

// keyLogLabel returns label as a string, without allocating for the labels
// crypto/tls writes.
func keyLogLabel(label []byte) string {
	switch string(label) {
	case keyLogClientHandshake:
		return keyLogClientHandshake
	case keyLogServerHandshake:
		return keyLogServerHandshake
	case keyLogClientTraffic:
		return keyLogClientTraffic
	case keyLogServerTraffic:
		return keyLogServerTraffic
	case "CLIENT_RANDOM":
		return "CLIENT_RANDOM"
	}
	return string(label)
}

func isHex(b []byte) bool {
	for _, c := range b {
		if !hexDigit[c] {
			return false
		}
	}
	return true
}

var hexDigit = func() (t [256]bool) {
	for _, c := range "0123456789abcdefABCDEF" {
		t[c] = true
	}
	return t
}()
