package inspect

import (
	"bytes"
	"crypto/tls"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestHelloKey: two hellos of one client configuration have the same key
// though their randoms, session ids and key shares differ; a hello that
// offers something else has another. Hellos made by hand check what else
// is left out: GREASE values, extension order, tickets, PSK identities and
// binders, ECH payloads and padding.
func TestHelloKey(t *testing.T) {
	parse := func(records []byte) *ClientHello {
		t.Helper()
		h, err := ParseClientHello(records)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	cfg := &tls.Config{ServerName: "example.test", NextProtos: []string{"h2", "http/1.1"}}
	a, b := parse(capturedHello(t, cfg)), parse(capturedHello(t, cfg))
	if bytes.Equal(a.Random, b.Random) || bytes.Equal(a.SessionID, b.SessionID) {
		t.Fatal("two crypto/tls hellos with the same random or session id")
	}
	if HelloKey(a) != HelloKey(b) || HelloKey(a) == "" {
		t.Errorf("HelloKey differs for two hellos of one configuration: %s, %s", HelloKey(a), HelloKey(b))
	}
	for name, other := range map[string]*tls.Config{
		"another ALPN":    {ServerName: "example.test", NextProtos: []string{"http/1.1"}},
		"another group":   {ServerName: "example.test", NextProtos: []string{"h2", "http/1.1"}, CurvePreferences: []tls.CurveID{tls.CurveP256}},
		"TLS 1.2 at most": {ServerName: "example.test", NextProtos: []string{"h2", "http/1.1"}, MaxVersion: tls.VersionTLS12},
		"another name":    {ServerName: "other.test", NextProtos: []string{"h2", "http/1.1"}},
	} {
		if HelloKey(parse(capturedHello(t, other))) == HelloKey(a) {
			t.Errorf("%s: same key as the first configuration", name)
		}
	}

	base := specHello(u16List(0x0403, 0x0804))
	key := func(s helloSpec) string {
		t.Helper()
		h, err := ParseClientHelloMessage(s.message())
		if err != nil {
			t.Fatal(err)
		}
		return HelloKey(h)
	}
	want := key(base)
	changed := func(change func(exts []Extension) []Extension) helloSpec {
		s := base
		s.exts = change(slices.Clone(base.exts))
		return s
	}
	set := func(typ uint16, data []byte) func([]Extension) []Extension {
		return func(exts []Extension) []Extension {
			for i := range exts {
				if exts[i].Type == typ {
					exts[i].Data = data
				}
			}
			return exts
		}
	}
	same := map[string]helloSpec{
		"other session id": {version: base.version, sessionID: bytes.Repeat([]byte{7}, 32), suites: base.suites, exts: base.exts},
		"other GREASE values": {suites: append([]uint16{0xfafa}, base.suites[1:]...), exts: changed(func(exts []Extension) []Extension {
			exts[0].Type = 0x6a6a
			exts = set(extSupportedGroups, u16List(0xdada, 29, 23, 24))(exts)
			return set(extKeyShare, keyShares(KeyShareEntry{0xdada, 1}, KeyShareEntry{29, 32}))(exts)
		}).exts},
		"extensions permuted": changed(func(exts []Extension) []Extension { slices.Reverse(exts); return exts }),
		"other padding":       changed(set(extPadding, make([]byte, 37))),
	}
	for name, s := range same {
		if got := key(s); got != want {
			t.Errorf("%s: key %s, want the base hello's %s", name, got, want)
		}
	}
	withPSK := func(identity, binder byte) helloSpec {
		s := base
		psk := []byte{0, 7, 0, 1, identity, 0, 0, 0, 0, 0, 33, 32}
		psk = append(psk, bytes.Repeat([]byte{binder}, 32)...)
		s.exts = append(slices.Clone(base.exts), Extension{Type: extPreSharedKey, Data: psk})
		return s
	}
	if key(withPSK(1, 1)) != key(withPSK(2, 2)) {
		t.Error("PSK identities and binders change the key")
	}
	if key(changed(set(extSessionTicket, []byte{1, 2, 3}))) != key(changed(set(extSessionTicket, []byte{4, 5, 6, 7}))) {
		t.Error("the session ticket's bytes change the key")
	}
	differ := map[string]helloSpec{
		"another suite order": {suites: append([]uint16{0x0a0a, 0x1302, 0x1301}, base.suites[3:]...), exts: base.exts},
		"another key share":   changed(set(extKeyShare, keyShares(KeyShareEntry{23, 65}))),
		"a PSK offered":       withPSK(1, 1),
		"a ticket offered":    changed(set(extSessionTicket, []byte{1, 2, 3})),
		"no ALPN": changed(func(exts []Extension) []Extension {
			return slices.DeleteFunc(exts, func(e Extension) bool { return e.Type == extApplicationLayerProtocolNegotiation })
		}),
	}
	for name, s := range differ {
		if key(s) == want {
			t.Errorf("%s: the base hello's key", name)
		}
	}
	if HelloKey(nil) != "" {
		t.Error("HelloKey(nil) is not empty")
	}
}

// TestHelloRecords: the records of the first ClientHello, without what
// follows; nothing for bytes without a whole ClientHello.
func TestHelloRecords(t *testing.T) {
	msg := specHello(u16List(0x0403)).message()
	one := frameRecords(msg, 0x0301)
	two := frameRecords(msg, 0x0301, 40)
	ccs := []byte{RecordTypeChangeCipherSpec, 3, 3, 0, 1, 1}
	for name, tc := range map[string]struct {
		in   []byte
		want []byte
	}{
		"one record":         {one, one},
		"two records":        {two, two},
		"with what follows":  {append(slices.Clone(two), ccs...), two},
		"truncated":          {two[:len(two)-1], nil},
		"not a handshake":    {ccs, nil},
		"another message":    {frameRecords([]byte{2, 0, 0, 0}, 0x0303), nil},
		"nothing":            {nil, nil},
		"a header, no bytes": {one[:RecordHeaderLen], nil},
	} {
		got, ok := HelloRecords(tc.in)
		if !bytes.Equal(got, tc.want) || ok != (tc.want != nil) {
			t.Errorf("%s: HelloRecords = %d bytes, %v; want %d bytes", name, len(got), ok, len(tc.want))
		}
	}
}

// TestServerChoiceDiffers: the finding compares the probe's choices with
// the upstream leg's, names what differs on both sides, and is a warning
// when the client's own hello fares worse.
func TestServerChoiceDiffers(t *testing.T) {
	probe := func(version, suite, group, alpn string) *Side {
		return &Side{
			ServerHello: &ServerHello{Version: version, CipherSuite: suite, Group: group},
			Negotiated:  &Negotiated{Version: version, CipherSuite: suite, Group: group, ALPN: alpn},
		}
	}
	tests := []struct {
		name  string
		probe *Side
		sev   Severity // "" when no finding
		words []string
	}{
		{"same choices", probe("TLS 1.3", "TLS_AES_128_GCM_SHA256", "X25519MLKEM768", ""), "", nil},
		{"group and suite", probe("TLS 1.3", "TLS_AES_256_GCM_SHA384", "ffdhe2048", ""), SeverityInfo,
			[]string{"for the client's own hello the server chooses ffdhe2048 and TLS_AES_256_GCM_SHA384; through tlslens it chose X25519MLKEM768 and TLS_AES_128_GCM_SHA256"}},
		{"TLS 1.2 ALPN compared", probe("TLS 1.2", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "x25519", "http/1.1"), SeverityWarn,
			[]string{"chooses TLS 1.2, x25519, TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 and http/1.1", "it chose TLS 1.3, X25519MLKEM768, TLS_AES_128_GCM_SHA256 and h2"}},
		{"alert", &Side{Alert: "handshake_failure", Error: "refused"}, SeverityWarn,
			[]string{"answers with alert handshake_failure; through tlslens it chose TLS 1.3, X25519MLKEM768, TLS_AES_128_GCM_SHA256 and h2"}},
		{"error without an answer", &Side{Error: "the server did not answer"}, "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := cleanRecord()
			r.Probe = tc.probe
			var got []Finding
			for _, f := range Findings(r, time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)) {
				if f.Code == CodeServerChoiceDiffers {
					got = append(got, f)
				}
			}
			if tc.sev == "" {
				if len(got) != 0 {
					t.Fatalf("findings %+v, want none", got)
				}
				return
			}
			if len(got) != 1 || got[0].Severity != tc.sev || got[0].Side != "upstream" {
				t.Fatalf("findings %+v, want one %s on the upstream side", got, tc.sev)
			}
			for _, w := range tc.words {
				if !strings.Contains(got[0].Message, w) {
					t.Errorf("message %q does not say %q", got[0].Message, w)
				}
			}
		})
	}
	r := cleanRecord()
	r.Upstream.Negotiated.Version, r.Upstream.Negotiated.CipherSuite, r.Upstream.Negotiated.Group = "TLS 1.2", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "x25519"
	r.Probe = probe("TLS 1.2", "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", "x25519", "h2")
	var got []Finding
	for _, f := range Findings(r, time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)) {
		if f.Code == CodeServerChoiceDiffers {
			got = append(got, f)
		}
	}
	if len(got) != 1 || got[0].Severity != SeverityWarn || !strings.Contains(got[0].Message, "chooses TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA;") {
		t.Errorf("a CBC suite for the client's own hello: %+v, want one warning naming it", got)
	}
}

// BenchmarkHelloKey is what probe: first adds to a repeat connection
// besides a cache lookup: the key of a Go client's hello.
func BenchmarkHelloKey(b *testing.B) {
	h, err := ParseClientHello(capturedHello(b, &tls.Config{ServerName: "example.com"}))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if HelloKey(h) == "" {
			b.Fatal("no key")
		}
	}
}
