package report

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/tlslens/tlslens/inspect"
)

// want is what a report should say about some records, computed from the
// records themselves.
type want struct {
	outcomes map[string]int
	findings map[string]int
	clients  map[string]*wantClient
	servers  map[string]*wantServer
	noHello  int
}

type wantClient struct {
	count       int
	snis, addrs []string // distinct, first-seen order
	first, last time.Time
	profile     clientProfile
}

type wantServer struct {
	count, verifyOK, verifyFailed int
	versions                      map[string]int
	problems                      map[string]int
}

func addUnique(s []string, v string) []string {
	if v == "" || slices.Contains(s, v) {
		return s
	}
	return append(s, v)
}

func expect(records []*inspect.Record) want {
	w := want{outcomes: map[string]int{}, findings: map[string]int{},
		clients: map[string]*wantClient{}, servers: map[string]*wantServer{}}
	for _, r := range records {
		w.outcomes[string(r.Outcome)]++
		for _, f := range r.Findings {
			w.findings[f.Code]++
		}
		s := w.servers[r.Target]
		if s == nil {
			s = &wantServer{versions: map[string]int{}, problems: map[string]int{}}
			w.servers[r.Target] = s
		}
		s.count++
		for _, f := range r.Findings {
			if f.Side == "upstream" {
				s.problems[f.Code]++
			}
		}
		if u := r.Upstream; u != nil {
			if u.Negotiated != nil {
				s.versions[u.Negotiated.Version]++
			} else if u.ServerHello != nil {
				s.versions[u.ServerHello.Version]++
			}
			if u.Verify != nil && u.Verify.OK {
				s.verifyOK++
			} else if u.Verify != nil {
				s.verifyFailed++
			}
		}
		if r.Client.Hello == nil {
			w.noHello++
			continue
		}
		h := r.Client.Hello
		c := w.clients[h.JA4]
		if c == nil {
			c = &wantClient{first: r.Time}
			for _, p := range clientProfiles {
				if p.hello.JA4 == h.JA4 {
					c.profile = p
				}
			}
			w.clients[h.JA4] = c
		}
		c.count++
		c.snis = addUnique(c.snis, h.SNI)
		c.addrs = addUnique(c.addrs, host(r.Client.Addr))
		if r.Time.Before(c.first) {
			c.first = r.Time
		}
		if r.Time.After(c.last) {
			c.last = r.Time
		}
	}
	return w
}

func countsOf(cs []Count) map[string]int {
	m := map[string]int{}
	for _, c := range cs {
		m[c.Name] = c.Count
	}
	return m
}

func withoutGREASE(s []string) []string {
	return slices.DeleteFunc(slices.Clone(s), func(v string) bool { return v == "GREASE" })
}

// checkReport compares r with what records say it should hold.
func checkReport(t *testing.T, r *Report, records []*inspect.Record) {
	t.Helper()
	w := expect(records)
	if r.Totals.Matched != len(records) {
		t.Errorf("Totals.Matched = %d, want %d", r.Totals.Matched, len(records))
	}
	if r.Totals.NoHello != w.noHello {
		t.Errorf("Totals.NoHello = %d, want %d", r.Totals.NoHello, w.noHello)
	}
	if got := countsOf(r.Outcomes); !mapsEqual(got, w.outcomes) {
		t.Errorf("Outcomes = %v, want %v", got, w.outcomes)
	}
	gotFindings := map[string]int{}
	for _, f := range r.Findings {
		gotFindings[f.Code] = f.Count
	}
	if !mapsEqual(gotFindings, w.findings) {
		t.Errorf("Findings = %v, want %v", gotFindings, w.findings)
	}
	if r.Totals.ClientGroups != len(w.clients) || len(r.Clients) != len(w.clients) {
		t.Errorf("ClientGroups = %d, %d listed; want %d", r.Totals.ClientGroups, len(r.Clients), len(w.clients))
	}
	for _, c := range r.Clients {
		wc := w.clients[c.JA4]
		if wc == nil {
			t.Errorf("client %s: not in the records", c.JA4)
			continue
		}
		h := wc.profile.hello
		if c.Count != wc.count {
			t.Errorf("client %s: Count = %d, want %d", c.JA4, c.Count, wc.count)
		}
		if !slices.Equal(c.SNIs, wc.snis) || !slices.Equal(c.Addresses, wc.addrs) {
			t.Errorf("client %s: SNIs %v, addresses %v; want %v, %v", c.JA4, c.SNIs, c.Addresses, wc.snis, wc.addrs)
		}
		if !c.FirstSeen.Equal(wc.first) || !c.LastSeen.Equal(wc.last) {
			t.Errorf("client %s: seen %v to %v, want %v to %v", c.JA4, c.FirstSeen, c.LastSeen, wc.first, wc.last)
		}
		versions := withoutGREASE(h.SupportedVersions)
		if len(versions) == 0 {
			versions = []string{h.Version}
		}
		for _, check := range []struct {
			what      string
			got       []Count
			wantNames []string
		}{
			{"versions", c.Versions, versions},
			{"cipher suites", c.CipherSuites, withoutGREASE(h.CipherSuites)},
			{"groups", c.Groups, withoutGREASE(h.Groups)},
			{"signature schemes", c.SignatureAlgorithms, h.SignatureAlgorithms},
			{"weak offers", c.WeakOffers, wc.profile.weak},
		} {
			if !slices.Equal(names(check.got), check.wantNames) {
				t.Errorf("client %s: %s = %v, want %v", c.JA4, check.what, names(check.got), check.wantNames)
			}
			for _, n := range check.got {
				if n.Count != wc.count {
					t.Errorf("client %s: %s %s counted %d times, want %d", c.JA4, check.what, n.Name, n.Count, wc.count)
				}
			}
		}
		if !slices.Equal(c.JA3N, []string{h.JA3N}) {
			t.Errorf("client %s: JA3N = %v, want [%s]", c.JA4, c.JA3N, h.JA3N)
		}
	}
	weak := 0
	for _, p := range clientProfiles {
		if len(p.weak) > 0 && w.clients[p.hello.JA4] != nil {
			weak++
		}
	}
	if len(r.WeakOffers) != weak {
		t.Errorf("WeakOffers lists %d clients, want %d", len(r.WeakOffers), weak)
	}
	if len(r.Servers) != len(w.servers) {
		t.Errorf("%d servers, want %d", len(r.Servers), len(w.servers))
	}
	for _, s := range r.Servers {
		ws := w.servers[s.Target]
		if ws == nil {
			t.Errorf("server %s: not in the records", s.Target)
			continue
		}
		if s.Count != ws.count || s.VerifyOK != ws.verifyOK || s.VerifyFailed != ws.verifyFailed {
			t.Errorf("server %s: count %d, verify %d ok %d failed; want %d, %d, %d", s.Target,
				s.Count, s.VerifyOK, s.VerifyFailed, ws.count, ws.verifyOK, ws.verifyFailed)
		}
		if got := countsOf(s.Versions); !mapsEqual(got, ws.versions) {
			t.Errorf("server %s: Versions = %v, want %v", s.Target, got, ws.versions)
		}
		if got := countsOf(s.Problems); !mapsEqual(got, ws.problems) {
			t.Errorf("server %s: Problems = %v, want %v", s.Target, got, ws.problems)
		}
	}
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestReportGroups(t *testing.T) {
	g := genLines(t, 600)
	r := build(t, Options{}, "records.jsonl", g.data)
	checkReport(t, r, g.records)
	if r.Totals.Records != len(g.records) || r.Totals.LogLines != g.logLines || r.Totals.BadLines != len(g.bad) {
		t.Errorf("Totals = %+v, want %d records, %d log lines, %d bad lines", r.Totals, len(g.records), g.logLines, len(g.bad))
	}
	// The leaf, verification error and key exchange of the expired server.
	for _, s := range r.Servers {
		if s.Target != "expired.example.test:443" {
			continue
		}
		p := serverProfiles[2].upstream
		if s.Leaf == nil || s.Leaf.Subject != p.Chain[0].Subject || s.Leaf.Key != "RSA 1024" {
			t.Errorf("expired server leaf = %+v, want %s with RSA 1024", s.Leaf, p.Chain[0].Subject)
		}
		if len(s.VerifyErrors) != 1 || s.VerifyErrors[0].Name != p.Verify.Error || s.VerifyErrors[0].Count != s.VerifyFailed {
			t.Errorf("expired server VerifyErrors = %v, want [%s %d]", s.VerifyErrors, p.Verify.Error, s.VerifyFailed)
		}
		if names(s.KeyExchange)[0] != "ECDHE x25519 rsa_pss_rsae_sha256" {
			t.Errorf("expired server KeyExchange = %v", s.KeyExchange)
		}
	}
}

func TestReportBoundedExamples(t *testing.T) {
	// 30 distinct SNIs from one client: only MaxExamples kept, flagged as more.
	b, err := New(Options{MaxExamples: 3})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 30 {
		r := genRecord(1) // the browser
		h := *r.Client.Hello
		h.SNI = "host" + string(rune('a'+i%26)) + ".test"
		r.Client.Hello = &h
		b.Add(r)
	}
	r := b.Report()
	c := r.Clients[0]
	if len(c.SNIs) != 3 || !c.MoreSNIs || c.Count != 30 {
		t.Errorf("SNIs = %v (more %v), count %d; want 3 examples, more, 30", c.SNIs, c.MoreSNIs, c.Count)
	}
}

func TestReportTop(t *testing.T) {
	g := genLines(t, 300)
	r := build(t, Options{Top: 2}, "r", g.data)
	if len(r.Clients) != 2 || len(r.Servers) != 2 || r.Totals.ClientGroups != 3 || r.Totals.ServerGroups != 5 {
		t.Errorf("Top 2: %d clients, %d servers listed of %d, %d; want 2, 2 of 3, 5",
			len(r.Clients), len(r.Servers), r.Totals.ClientGroups, r.Totals.ServerGroups)
	}
	if r.Clients[0].Count < r.Clients[1].Count {
		t.Errorf("clients not largest first: %d then %d", r.Clients[0].Count, r.Clients[1].Count)
	}
}

func TestWeak(t *testing.T) {
	for _, tt := range []struct {
		name string
		weak bool
	}{
		{"TLS_AES_128_GCM_SHA256", false},
		{"TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", false},
		{"TLS_RSA_WITH_NULL_SHA256", true},
		{"TLS_NULL_WITH_NULL_NULL", true},
		{"TLS_RSA_EXPORT_WITH_RC4_40_MD5", true},
		{"TLS_RSA_EXPORT1024_WITH_DES_CBC_SHA", true},
		{"TLS_DH_anon_WITH_AES_256_CBC_SHA", true},
		{"TLS_ECDHE_RSA_WITH_RC4_128_SHA", true},
		{"TLS_RSA_WITH_3DES_EDE_CBC_SHA", true},
		{"TLS_RSA_WITH_DES_CBC_SHA", true},
		{"TLS_SHA256_SHA256", true},
		{"TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256", false},
		{"0x1a2b", false},
		{"TLS 1.0", true},
		{"TLS 1.1", true},
		{"SSL 3.0", true},
		{"TLS 1.2", false},
		{"TLS 1.3", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := weakSuite(tt.name) || weakVersion(tt.name); got != tt.weak {
				t.Errorf("weak(%q) = %v, want %v", tt.name, got, tt.weak)
			}
		})
	}
}

func TestCounter(t *testing.T) {
	// Past smallCounter names the counter switches to an index; counts and
	// order must not change, and names beyond max go to "(other)".
	c := newCounter(12)
	for round := range 3 {
		for i := range 15 {
			c.add(fmt.Sprintf("n%02d", i), round+1)
		}
	}
	got := c.list()
	if len(got) != 13 || got[12] != (Count{other, 3 * 6}) {
		t.Fatalf("list() = %v, want 12 names and (other) with 18", got)
	}
	for i, g := range got[:12] {
		if want := (Count{fmt.Sprintf("n%02d", i), 6}); g != want {
			t.Errorf("list()[%d] = %v, want %v", i, g, want)
		}
	}
	if c.total() != 15*6 {
		t.Errorf("total() = %d, want %d", c.total(), 15*6)
	}
}
