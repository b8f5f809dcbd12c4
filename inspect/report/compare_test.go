package report

import (
	"strings"
	"testing"

	"github.com/tlslens/tlslens/inspect"
)

// TestCompare: each dimension's row marks what tlslens dropped and added,
// the values chosen, and says every difference in words, with the
// offer_delta reason when the record has one.
func TestCompare(t *testing.T) {
	r := downgraded()
	rows := map[string]CompareRow{}
	for _, row := range Compare(r).Rows {
		rows[row.Dimension] = row
	}
	for _, tt := range []struct {
		dim     string
		differs bool
		note    string
	}{
		{"versions", true, "TLS 1.3 to the client, TLS 1.2 upstream"},
		{"cipher suites", true, "tlslens dropped GREASE: GREASE values are the client's own"},
		{"groups", true, "the client offered X25519MLKEM768 and the upstream leg ran x25519"},
		{"key shares", true, "X25519MLKEM768 to the client, x25519 upstream"},
		{"ALPN", true, "h2 became http/1.1"},
		{"GREASE", true, "the client: yes; tlslens upstream: no"},
		{"ECH", true, "the client: yes (outer); tlslens upstream: no"},
		{"signature schemes", false, ""},
	} {
		row := rows[tt.dim]
		notes := strings.Join(row.Notes, "\n")
		if row.Differs != tt.differs || !strings.Contains(notes, tt.note) {
			t.Errorf("%s: differs %v, notes %q; want differs %v with %q", tt.dim, row.Differs, notes, tt.differs, tt.note)
		}
	}
	cs := rows["cipher suites"]
	if cs.Client[0] != (Offered{Value: "GREASE", Mark: "dropped"}) || !cs.Client[1].Chosen || cs.Upstream[0].Chosen {
		t.Errorf("cipher suites: client %+v, upstream %+v; want GREASE dropped, TLS_AES_128_GCM_SHA256 chosen by the client leg only", cs.Client, cs.Upstream)
	}
	if ks := rows["key shares"]; !ks.Client[0].Chosen || !ks.Upstream[0].Chosen || ks.Client[0].Mark != "dropped" {
		t.Errorf("key shares: client %+v, upstream %+v; want each leg's group chosen, X25519MLKEM768's share dropped", ks.Client, ks.Upstream)
	}

	// Passthrough: no upstream hello, nothing to compare it with.
	r.Upstream = nil
	for _, row := range Compare(r).Rows {
		if row.Upstream != nil || row.Differs {
			t.Errorf("%s without an upstream hello: upstream %v, differs %v", row.Dimension, row.Upstream, row.Differs)
		}
	}
}

// downgraded is a record whose upstream leg ran less than the client offered:
// TLS 1.2 for TLS 1.3, x25519 for X25519MLKEM768, http/1.1 for h2.
func downgraded() *inspect.Record {
	return &inspect.Record{
		Client: &inspect.Side{
			Hello: &inspect.Hello{Version: "TLS 1.2", SupportedVersions: []string{"GREASE", "TLS 1.3", "TLS 1.2"},
				CipherSuites: []string{"GREASE", "TLS_AES_128_GCM_SHA256"}, Groups: []string{"X25519MLKEM768", "x25519"},
				KeyShares: []inspect.KeyShare{{Group: "X25519MLKEM768", Length: 1216}, {Group: "x25519", Length: 32}},
				ALPN:      []string{"h2", "http/1.1"}, Grease: true, ECH: true, ECHType: "outer"},
			Negotiated: &inspect.Negotiated{Version: "TLS 1.3", CipherSuite: "TLS_AES_128_GCM_SHA256", Group: "X25519MLKEM768", ALPN: "http/1.1"},
		},
		Upstream: &inspect.Side{
			Hello: &inspect.Hello{Version: "TLS 1.2", SupportedVersions: []string{"TLS 1.3", "TLS 1.2"},
				CipherSuites: []string{"TLS_AES_128_GCM_SHA256"}, Groups: []string{"X25519MLKEM768", "x25519"},
				KeyShares: []inspect.KeyShare{{Group: "x25519", Length: 32}}, ALPN: []string{"h2", "http/1.1"}},
			OfferDelta: []inspect.OfferChange{{Field: "cipher_suites", Change: inspect.ChangeDropped, Values: []string{"GREASE"}, Reason: inspect.DeltaGREASE}},
			Negotiated: &inspect.Negotiated{Version: "TLS 1.2", CipherSuite: "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", Group: "x25519", ALPN: "http/1.1"},
		},
	}
}

// TestHTMLCompare: the HTML report shows, for a client fingerprint, its first
// intercepted connection as the web view's three-column comparison, from the
// same template and styles.
func TestHTMLCompare(t *testing.T) {
	b, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := downgraded()
	r.Target, r.Outcome = "shop.example.test:443", "ok"
	r.Client.Hello.JA4 = "t13d0102h2_aaaaaaaaaaaa_bbbbbbbbbbbb"
	b.Add(r)
	second := downgraded()
	second.Target = "second.example.test:443"
	second.Client.Hello.JA4 = r.Client.Hello.JA4
	b.Add(second)
	passthrough := downgraded()
	passthrough.Upstream = nil
	passthrough.Client.Hello.JA4 = "t13d0102h2_cccccccccccc_dddddddddddd"
	b.Add(passthrough)

	var out strings.Builder
	if err := b.Report().WriteHTML(&out); err != nil {
		t.Fatal(err)
	}
	html := out.String()
	if n := strings.Count(html, `<table class="cmp">`); n != 1 {
		t.Fatalf("%d comparison tables, want 1: the intercepted fingerprint's, none for the passthrough one", n)
	}
	for _, want := range []string{
		"first intercepted connection, to <code>shop.example.test:443</code>",
		`<tr class="differs" data-dimension="groups">`,
		"the client offered X25519MLKEM768 and the upstream leg ran x25519",
		"TLS 1.3 to the client, TLS 1.2 upstream",
		"h2 became http/1.1",
		`<span class="tag dropped">GREASE</span>`,
		".cmp tr.differs td", // the styles come with the page
	} {
		if !strings.Contains(html, want) {
			t.Errorf("the HTML report lacks %q", want)
		}
	}
	if strings.Contains(html, "connection, to <code>second.example.test") {
		t.Error("the comparison is not the group's first connection")
	}
}
