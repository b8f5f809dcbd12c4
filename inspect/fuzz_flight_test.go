package inspect

import (
	"crypto/tls"
	"reflect"
	"testing"
)

// recordedFlights runs real handshakes (TLS 1.3 plain, with a
// HelloRetryRequest and with a client certificate; TLS 1.2 ECDHE and RSA key
// transport; a server refusing with an alert) and returns what each server
// sent with the client's key log.
func recordedFlights(t testing.TB) (records, keyLogs [][]byte) {
	p := testFlightPKI(t)
	setups := []func(cc, sc *tls.Config){
		func(cc, sc *tls.Config) {},
		func(cc, sc *tls.Config) {
			cc.CurvePreferences = []tls.CurveID{tls.X25519MLKEM768, tls.X25519, tls.CurveP256}
			sc.CurvePreferences = []tls.CurveID{tls.CurveP256}
		},
		func(cc, sc *tls.Config) {
			sc.ClientAuth, sc.ClientCAs = tls.RequestClientCert, p.clientCAs
			cc.Certificates = []tls.Certificate{p.clientLeaf}
			sc.Certificates[0].OCSPStaple = []byte("staple")
			sc.Certificates[0].SignedCertificateTimestamps = [][]byte{[]byte("sct")}
		},
		func(cc, sc *tls.Config) { cc.MaxVersion = tls.VersionTLS12 },
		func(cc, sc *tls.Config) {
			cc.MaxVersion = tls.VersionTLS12
			cc.CipherSuites = []uint16{tls.TLS_RSA_WITH_AES_128_GCM_SHA256}
			sc.CipherSuites = cc.CipherSuites
			sc.Certificates = []tls.Certificate{p.rsaLeaf}
		},
		func(cc, sc *tls.Config) {
			cc.MaxVersion = tls.VersionTLS12
			cc.CipherSuites = []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256}
		},
	}
	for _, setup := range setups {
		cc, sc := flightConfigs(t, p.ecdsaLeaf)
		setup(cc, sc)
		cap := captureHandshake(t, cc, sc)
		records = append(records, cap.fromServer)
		keyLogs = append(keyLogs, cap.keyLog)
	}
	return records, keyLogs
}

// handshakeBytes counts the bytes of the whole handshake and
// application_data records in b (decrypted content is never longer than its
// record): the most that could hold handshake messages.
func handshakeBytes(b []byte) int {
	n := 0
	for {
		typ, frag, rest, ok := SplitRecord(b)
		if !ok {
			return n
		}
		if typ == RecordTypeHandshake || typ == RecordTypeApplicationData {
			n += len(frag)
		}
		b = rest
	}
}

func FuzzParseServerFlight(f *testing.F) {
	records, keyLogs := recordedFlights(f)
	for i := range records {
		f.Add(records[i], keyLogs[i])
		f.Add(records[i], []byte(nil))
	}
	f.Fuzz(func(t *testing.T, records, keyLog []byte) {
		fl, err := ParseServerFlight(records, keyLog)
		if fl == nil {
			t.Fatalf("nil Flight (error %v)", err)
		}
		if max := handshakeBytes(records) / 4; len(fl.Messages) > max {
			t.Fatalf("%d messages from %d handshake bytes", len(fl.Messages), handshakeBytes(records))
		}
		cf, _ := ParseClientFlight(records, tls.TLS_AES_128_GCM_SHA256, keyLog)
		if cf == nil || len(cf.Messages) > handshakeBytes(records)/4 {
			t.Fatalf("ClientFlight %+v from %d handshake bytes", cf, handshakeBytes(records))
		}
	})
}

func FuzzParseServerHello(f *testing.F) {
	records, keyLogs := recordedFlights(f)
	for i := range records {
		fl, _ := ParseServerFlight(records[i], keyLogs[i])
		for _, m := range []*ServerHelloMsg{fl.HelloRetry, fl.ServerHello} {
			if m != nil {
				f.Add(m.Raw)
			}
		}
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		m, err := ParseServerHelloMessage(msg)
		if (m == nil) == (err == nil) {
			t.Fatalf("got %v, %v: want a message or an error", m, err)
		}
		if err != nil {
			return
		}
		if string(m.Raw) != string(msg) {
			t.Fatalf("Raw = %x, want the input %x", m.Raw, msg)
		}
		again, err := ParseServerHelloMessage(m.Raw)
		if err != nil || !reflect.DeepEqual(again, m) {
			t.Fatalf("re-parsing Raw: %+v, %v; want %+v", again, err, m)
		}
		m.ServerHello() // names every field without panicking
	})
}
