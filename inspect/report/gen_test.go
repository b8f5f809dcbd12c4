package report

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/tlslens/tlslens/inspect"
)

// The generated records: three client profiles crossed with five servers,
// and every 17th connection not TLS at all. Tests compute what they expect
// from these, never from the report code.

// base is the time of the first generated record.
var base = time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)

type clientProfile struct {
	name  string
	hello inspect.Hello
	addrs []string // source IPs, used in turn
	weak  []string // the weak versions and suites it offers, wire order
}

type serverProfile struct {
	target   string
	outcome  inspect.Outcome
	upstream *inspect.Side // nil: never dialled
	findings []inspect.Finding
}

var clientProfiles = []clientProfile{
	{
		name: "browser",
		hello: inspect.Hello{
			Version:           "TLS 1.2",
			SupportedVersions: []string{"GREASE", "TLS 1.3", "TLS 1.2"},
			CipherSuites: []string{"GREASE", "TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
				"TLS_CHACHA20_POLY1305_SHA256", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
				"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"},
			Groups:              []string{"GREASE", "X25519MLKEM768", "x25519", "secp256r1", "secp384r1"},
			SignatureAlgorithms: []string{"ecdsa_secp256r1_sha256", "rsa_pss_rsae_sha256", "rsa_pkcs1_sha256"},
			ALPN:                []string{"h2", "http/1.1"},
			Grease:              true,
			JA3:                 "cd08e31494f9531f560d64c695473da9",
			JA3N:                "8e19337e7524d2573be54efb2b0784c9",
			JA4:                 "t13d1516h2_8daaf6152771_d8a2da3f94cd",
			JA4R:                "t13d1516h2_002f,0035,009c,009d,1301,1302,1303_0005,000a,000b,000d_0403,0804,0401",
			Size:                512,
		},
		addrs: []string{"10.0.0.1", "10.0.0.2"},
	},
	{
		name: "legacy",
		hello: inspect.Hello{
			Version: "TLS 1.0",
			CipherSuites: []string{"TLS_RSA_WITH_AES_128_CBC_SHA", "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
				"TLS_RSA_WITH_RC4_128_SHA", "TLS_RSA_EXPORT_WITH_DES40_CBC_SHA", "TLS_DH_anon_WITH_AES_128_CBC_SHA"},
			Groups: []string{"secp256r1"},
			JA3:    "a0e9f5d64349fb13191bc781f81f42e1",
			JA3N:   "a0e9f5d64349fb13191bc781f81f42e1",
			JA4:    "t10d050500_2b7a2bd1d3d2_000000000000",
			JA4R:   "t10d050500_000a,0011,0034,002f,0005_000a,000b",
			Size:   120,
		},
		addrs: []string{"192.168.7.9"},
		weak: []string{"TLS 1.0", "TLS_RSA_WITH_3DES_EDE_CBC_SHA", "TLS_RSA_WITH_RC4_128_SHA",
			"TLS_RSA_EXPORT_WITH_DES40_CBC_SHA", "TLS_DH_anon_WITH_AES_128_CBC_SHA"},
	},
	{
		name: "script",
		hello: inspect.Hello{
			Version:             "TLS 1.2",
			SupportedVersions:   []string{"TLS 1.3", "TLS 1.2", "TLS 1.1"},
			CipherSuites:        []string{"TLS_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_RSA_WITH_NULL_SHA256"},
			Groups:              []string{"x25519", "secp256r1"},
			SignatureAlgorithms: []string{"ed25519", "ecdsa_secp256r1_sha256"},
			JA3:                 "771,4865-49199-59,0-10-11-13-43-51,29-23,0",
			JA3N:                "473cd7cb9faa642487833865d516e578",
			JA4:                 "t13d0306ht_1f4ffb4a2d64_8e9b7b1e8d38",
			Size:                200,
		},
		addrs: []string{"127.0.0.1"},
		weak:  []string{"TLS 1.1", "TLS_RSA_WITH_NULL_SHA256"},
	},
}

var (
	okTrue = true
	two    = 2
)

var serverProfiles = []serverProfile{
	{
		target: "a.example.test:443", outcome: inspect.OutcomeOK,
		upstream: &inspect.Side{Addr: "203.0.113.10:443",
			Negotiated:  &inspect.Negotiated{Version: "TLS 1.3", CipherSuite: "TLS_AES_128_GCM_SHA256", Group: "X25519MLKEM768", ALPN: "h2"},
			KeyExchange: &inspect.KeyExchange{Kind: "ECDHE", Group: "X25519MLKEM768", SignatureAlgorithm: "ecdsa_secp256r1_sha256"},
			Chain: []inspect.Cert{{Subject: "CN=a.example.test", Issuer: "CN=Example CA", Key: "ECDSA P-256",
				Signature: "ECDSA-SHA256", NotAfter: "2027-06-01T00:00:00Z"}, {Subject: "CN=Example CA", Issuer: "CN=Example CA", IsCA: true}},
			Verify: &inspect.Verify{OK: true, Roots: "system"}, OCSPStapled: &okTrue, SCTs: &two},
	},
	{
		target: "b.example.test:8443", outcome: inspect.OutcomeOK,
		upstream: &inspect.Side{Addr: "203.0.113.11:8443",
			Negotiated:  &inspect.Negotiated{Version: "TLS 1.2", CipherSuite: "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", Group: "x25519", ALPN: "http/1.1"},
			KeyExchange: &inspect.KeyExchange{Kind: "ECDHE", Group: "x25519", SignatureAlgorithm: "rsa_pss_rsae_sha256"},
			Chain: []inspect.Cert{{Subject: "CN=b.example.test", Issuer: "CN=Example CA", Key: "RSA 2048",
				Signature: "SHA256-RSA", NotAfter: "2027-01-01T00:00:00Z"}},
			Verify: &inspect.Verify{OK: true, Roots: "system"}},
		findings: []inspect.Finding{{Side: "upstream", Severity: inspect.SeverityWarn, Code: "incomplete_chain",
			Message: "The server sent only its leaf certificate."}},
	},
	{
		target: "expired.example.test:443", outcome: inspect.OutcomeUpstreamVerifyFailed,
		upstream: &inspect.Side{Addr: "203.0.113.12:443",
			Negotiated:  &inspect.Negotiated{Version: "TLS 1.3", CipherSuite: "TLS_AES_256_GCM_SHA384", Group: "x25519"},
			KeyExchange: &inspect.KeyExchange{Kind: "ECDHE", Group: "x25519", SignatureAlgorithm: "rsa_pss_rsae_sha256"},
			Chain: []inspect.Cert{{Subject: "CN=expired.example.test", Issuer: "CN=Example CA", Key: "RSA 1024",
				Signature: "SHA1-RSA", NotAfter: "2020-01-01T00:00:00Z"}},
			Verify: &inspect.Verify{OK: false, Error: "x509: certificate has expired or is not yet valid", Roots: "system"}},
		findings: []inspect.Finding{
			{Side: "upstream", Severity: inspect.SeverityCritical, Code: "certificate_expired", Message: "The server's certificate expired on 2020-01-01."},
			{Side: "upstream", Severity: inspect.SeverityWarn, Code: "short_rsa_key", Message: "The server's RSA key has 1024 bits."},
		},
	},
	{
		target: "down.example.test:443", outcome: inspect.OutcomeUpstreamUnreachable,
		upstream: &inspect.Side{Error: "dial tcp 203.0.113.13:443: connect: connection refused"},
	},
	{
		target: "10.9.8.7:993", outcome: inspect.OutcomeOK,
		upstream: &inspect.Side{Addr: "10.9.8.7:993",
			ServerHello: &inspect.ServerHello{Version: "TLS 1.2", CipherSuite: "TLS_RSA_WITH_AES_128_CBC_SHA"},
			KeyExchange: &inspect.KeyExchange{Kind: "RSA"}},
		findings: []inspect.Finding{{Side: "upstream", Severity: inspect.SeverityWarn, Code: "no_forward_secrecy",
			Message: "The server chose RSA key exchange."}},
	},
}

// genRecord returns the i-th generated record.
func genRecord(i int) *inspect.Record {
	s := serverProfiles[i%len(serverProfiles)]
	r := &inspect.Record{
		Time:     base.Add(time.Duration(i) * time.Minute),
		Schema:   inspect.Schema,
		ID:       fmt.Sprintf("conn-%06d", i),
		Mode:     inspect.ModeMITM,
		Target:   s.target,
		Outcome:  s.outcome,
		Findings: append([]inspect.Finding{}, s.findings...),
	}
	if i%17 == 0 { // the client spoke no TLS
		r.Mode, r.Outcome, r.Findings = inspect.ModeTunnel, inspect.OutcomeNotTLS, []inspect.Finding{}
		r.Client = &inspect.Side{Addr: "10.0.0.50:" + strconv.Itoa(30000+i), Error: "client sent no TLS handshake"}
		return r
	}
	c := clientProfiles[i%len(clientProfiles)]
	h := c.hello
	h.SNI = host(s.target)
	if net.ParseIP(h.SNI) != nil {
		h.SNI = "" // no SNI for an IP, RFC 6066 §3
	}
	r.Client = &inspect.Side{
		Addr:       net.JoinHostPort(c.addrs[i%len(c.addrs)], strconv.Itoa(40000+i%20000)),
		Hello:      &h,
		Negotiated: &inspect.Negotiated{Version: "TLS 1.3", CipherSuite: "TLS_AES_128_GCM_SHA256", Group: "x25519"},
	}
	r.Upstream = s.upstream
	if len(c.weak) > 0 {
		r.Findings = append(r.Findings, inspect.Finding{Side: "client", Severity: inspect.SeverityWarn,
			Code: "weak_cipher_offered", Message: "The client offered weak cipher suites."})
	}
	return r
}

// record writes r the way the proxy does: logrus's JSON formatter, msg
// "handshake", top-level keys set in one place.
func logRecord(log *logrus.Logger, r *inspect.Record) {
	f := logrus.Fields{"schema": r.Schema, "id": r.ID, "mode": r.Mode,
		"target": r.Target, "outcome": r.Outcome, "client": r.Client, "findings": r.Findings}
	if r.Upstream != nil {
		f["upstream"] = r.Upstream
	}
	log.WithTime(r.Time).WithFields(f).Info("handshake")
}

// genFile is a generated record file.
type genFile struct {
	data     []byte
	records  []*inspect.Record
	logLines int
	bad      []int // line numbers of the malformed lines
}

// malformed are the bad lines genLines mixes in, in turn.
var malformed = []string{
	`{"time":"2026-11-22T00:00:00Z","msg":"handshake","schema":1,"target":`, // cut short
	`time="2026-11-22T00:00:00Z" level=info msg=handshake`,                  // logrus text format
	`[1,2,3]`,
	`{"msg":"handshake","schema":2,"target":"x.test:443"}`,
	`{"level":"info"}`,
}

// genLines writes n records as JSON Lines, with an operational log line
// after every 10th record and a malformed line after every 50th.
func genLines(t testing.TB, n int) genFile {
	t.Helper()
	var g genFile
	var buf bytes.Buffer
	log := logrus.New()
	log.SetOutput(&buf)
	log.SetFormatter(&logrus.JSONFormatter{})
	line := 0
	for i := range n {
		r := genRecord(i)
		logRecord(log, r)
		line++
		g.records = append(g.records, r)
		if i%10 == 9 {
			log.WithField("id", r.ID).WithError(errors.New("read tcp: connection reset by peer")).Warn("relay ended")
			line++
			g.logLines++
		}
		if i%50 == 49 {
			buf.WriteString(malformed[len(g.bad)%len(malformed)] + "\n")
			line++
			g.bad = append(g.bad, line)
		}
	}
	g.data = buf.Bytes()
	return g
}

// gz compresses b.
func gz(t testing.TB, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// build reads inputs (name, content pairs) into a report with opts.
func build(t testing.TB, opts Options, inputs ...any) *Report {
	t.Helper()
	b, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(inputs); i += 2 {
		if err := b.Read(t.Context(), inputs[i].(string), bytes.NewReader(inputs[i+1].([]byte))); err != nil {
			t.Fatal(err)
		}
	}
	return b.Report()
}
