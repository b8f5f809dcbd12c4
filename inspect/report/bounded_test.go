package report

import (
	"fmt"
	"testing"

	"github.com/tlslens/tlslens/inspect"
)

// stateSize counts what the builder holds: groups, and the names and
// examples inside each. Caps must keep it from growing with the input.
func (b *Builder) stateSize() int {
	n := len(b.findings) + b.outcomes.size()
	for _, d := range []dist{b.offered, b.negotiated} {
		n += d.versions.size() + d.suites.size() + d.groups.size() + d.sigs.size()
	}
	clients := make([]*clientState, 0, len(b.clients)+1)
	for _, c := range b.clients {
		clients = append(clients, c)
	}
	if b.otherClient != nil {
		clients = append(clients, b.otherClient)
	}
	for _, c := range clients {
		n += 1 + len(c.ja3n.vals) + len(c.snis.vals) + len(c.addrs.vals)
		for _, k := range []*counter{c.versions, c.suites, c.groups, c.sigs, c.alpn, c.weak, c.outcomes, c.alerts} {
			n += k.size()
		}
	}
	servers := make([]*serverState, 0, len(b.servers)+1)
	for _, s := range b.servers {
		servers = append(servers, s)
	}
	if b.otherServer != nil {
		servers = append(servers, b.otherServer)
	}
	for _, s := range servers {
		n += 1 + len(s.addrs.vals)
		for _, k := range []*counter{s.versions, s.suites, s.groups, s.alpn, s.kx, s.leafKeys, s.leafSigs,
			s.verifyErrors, s.errors, s.problems, s.outc} {
			n += k.size()
		}
	}
	return n
}

// distinctRecord is genRecord(i) with a JA4, JA3N, SNI, target, source
// address and error of its own: the worst case for group state.
func distinctRecord(i int) *inspect.Record {
	r := genRecord(i)
	r.Target = fmt.Sprintf("host%d.example.test:443", i)
	if r.Client.Hello != nil {
		h := *r.Client.Hello
		h.JA4 = fmt.Sprintf("t13d1516h2_%012x_d8a2da3f94cd", i)
		h.JA3N = fmt.Sprintf("%032x", i)
		h.SNI = fmt.Sprintf("host%d.example.test", i)
		r.Client = &inspect.Side{Addr: fmt.Sprintf("10.%d.%d.%d:443", i>>16&255, i>>8&255, i&255), Hello: &h}
	}
	if r.Upstream != nil {
		u := *r.Upstream
		u.Addr = fmt.Sprintf("198.51.%d.%d:443", i>>8&255, i&255)
		u.Error = fmt.Sprintf("connection %d reset", i)
		r.Upstream = &u
	}
	return r
}

func TestGroupStateBounded(t *testing.T) {
	const maxGroups = 1000
	sizes := map[int]int{}
	for _, n := range []int{20000, 200000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			b, err := New(Options{MaxGroups: maxGroups})
			if err != nil {
				t.Fatal(err)
			}
			hellos := 0
			for i := range n {
				r := distinctRecord(i)
				if r.Client.Hello != nil {
					hellos++
				}
				b.Add(r)
			}
			clients, servers := b.groups()
			if clients != maxGroups+1 || servers != maxGroups+1 {
				t.Errorf("%d client groups, %d server groups; want %d each (the cap and \"(other)\")",
					clients, servers, maxGroups+1)
			}
			r := b.Report()
			if r.Totals.OtherClients != hellos-maxGroups || r.Totals.OtherServers != n-maxGroups {
				t.Errorf("(other) holds %d clients, %d servers; want %d, %d",
					r.Totals.OtherClients, r.Totals.OtherServers, hellos-maxGroups, n-maxGroups)
			}
			sum := 0
			for _, c := range r.Clients {
				sum += c.Count
				if len(c.SNIs) > DefaultMaxExamples || len(c.Addresses) > DefaultMaxExamples {
					t.Fatalf("client %s keeps %d SNIs, %d addresses; the cap is %d", c.JA4,
						len(c.SNIs), len(c.Addresses), DefaultMaxExamples)
				}
			}
			if sum != hellos {
				t.Errorf("client groups count %d records, want %d", sum, hellos)
			}
			sizes[n] = b.stateSize()
		})
	}
	if sizes[20000] != sizes[200000] {
		t.Errorf("state holds %d entries after 20k records, %d after 200k: it grows with the input",
			sizes[20000], sizes[200000])
	}
}
