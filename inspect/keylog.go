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
	keys := make(map[string][]byte)
	var errs []error
	for n, line := range bytes.Split(b, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		f := bytes.Fields(line)
		if len(f) != 3 {
			errs = append(errs, fmt.Errorf("inspect: key log line %d: %d fields, want 3", n+1, len(f)))
			continue
		}
		if _, err := hex.DecodeString(string(f[1])); err != nil || len(f[1]) != 64 {
			errs = append(errs, fmt.Errorf("inspect: key log line %d: client random is not 32 bytes of hex", n+1))
			continue
		}
		secret, err := hex.DecodeString(string(f[2]))
		if err != nil || len(secret) == 0 {
			errs = append(errs, fmt.Errorf("inspect: key log line %d: secret is not hex", n+1))
			continue
		}
		label := string(f[0])
		if _, ok := keys[label]; !ok {
			keys[label] = secret
		}
	}
	return keys, errors.Join(errs...)
}
