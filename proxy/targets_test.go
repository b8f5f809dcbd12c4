package proxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tlslens/tlslens/ca/testpki"
	"github.com/tlslens/tlslens/inspect"
)

// mapResolver answers from a table, and counts lookups: answers[name] are
// its successive answers, the last repeated (a name that rebinds).
type mapResolver struct {
	mu      sync.Mutex
	answers map[string][][]netip.Addr
	lookups map[string]int
}

func newMapResolver(answers map[string][]string) *mapResolver {
	r := &mapResolver{answers: map[string][][]netip.Addr{}, lookups: map[string]int{}}
	for name, addrs := range answers {
		var set []netip.Addr
		for _, a := range addrs {
			if a == "|" { // the next answer starts
				r.answers[name] = append(r.answers[name], set)
				set = nil
				continue
			}
			set = append(set, netip.MustParseAddr(a))
		}
		r.answers[name] = append(r.answers[name], set)
	}
	return r
}

func (r *mapResolver) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := r.lookups[host]
	r.lookups[host]++
	sets := r.answers[host]
	if len(sets) == 0 {
		return nil, &net.DNSError{Err: "no such host (test resolver)", Name: host, IsNotFound: true}
	}
	return sets[min(n, len(sets)-1)], nil
}

func (r *mapResolver) count(host string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lookups[host]
}

// startService starts a plain HTTP server on 127.0.0.1 that answers body:
// a service that listens on the host's loopback only.
func startService(t *testing.T, body string) (port string) {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	_, port, _ = net.SplitHostPort(srv.Listener.Addr().String())
	return port
}

// startAdminLike starts a server answering /metrics as tlslens's admin
// listener does, on listen, and returns its address.
func startAdminLike(t *testing.T, listen string) netip.AddrPort {
	t.Helper()
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "tlslens_connections_total 1\n")
	}))
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return netip.MustParseAddrPort(ln.Addr().String())
}

// lanListen is an address of this machine beyond loopback to listen on: an
// interface's address, else 0.0.0.0 (every address, loopback included, so
// beyond loopback too). The test is skipped when neither can be listened on.
func lanListen(t *testing.T) string {
	t.Helper()
	var candidates []string
	ifas, _ := net.InterfaceAddrs()
	for _, ifa := range ifas {
		n, ok := ifa.(*net.IPNet)
		if !ok {
			continue
		}
		a, ok := netip.AddrFromSlice(n.IP)
		if ok && a.Unmap().Is4() && !a.IsLoopback() && !a.IsLinkLocalUnicast() {
			candidates = append(candidates, netip.AddrPortFrom(a.Unmap(), 0).String())
		}
	}
	candidates = append(candidates, "0.0.0.0:0")
	for _, c := range candidates {
		if ln, err := net.Listen("tcp", c); err == nil {
			ln.Close()
			return c
		}
	}
	t.Skip("this machine has no address beyond loopback to listen on, and cannot listen on 0.0.0.0")
	return ""
}

// plainGet sends GET u through the proxy as a plain proxy request.
func (h *harness) plainGet(u string) (int, string) {
	h.tb.Helper()
	resp, err := h.proxyClient(nil).Get(u)
	if err != nil {
		h.tb.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		h.tb.Fatalf("GET %s: reading the body: %v", u, err)
	}
	return resp.StatusCode, html.UnescapeString(string(body))
}

// tunnelGet sends a plain HTTP request through a CONNECT tunnel to target:
// tlslens relays a client that speaks no TLS as it is, so the service's
// answer comes back when the target is reachable.
func (h *harness) tunnelGet(target string) string {
	h.tb.Helper()
	c := h.connect(target)
	c.SetDeadline(time.Now().Add(15 * time.Second))
	fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", target)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		h.tb.Fatalf("tunnel to %s: %v", target, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// wantDenied checks that the next record is target's, denied with a reason
// starting with reason and no upstream connection.
func (h *harness) wantDenied(target, reason string) {
	h.tb.Helper()
	h.wantRefused(target, inspect.OutcomeDenied, reason)
}

// wantRefused is wantDenied for another outcome.
func (h *harness) wantRefused(target string, outcome inspect.Outcome, reason string) {
	h.tb.Helper()
	r := h.record()
	if r.Outcome != outcome || r.Target != target || !strings.HasPrefix(r.Reason, reason) || r.Upstream != nil {
		h.tb.Errorf("record for %s: outcome %s target %s reason %q upstream %+v, want %s, reason %q…, never dialled",
			target, r.Outcome, r.Target, r.Reason, r.Upstream, outcome, reason)
	}
}

// wantHTTP checks that the next record is that of a plain http:// request
// to target that went through.
func (h *harness) wantHTTP(target string) {
	h.tb.Helper()
	if r := h.record(); r.Mode != inspect.ModeHTTP || r.Outcome != inspect.OutcomeOK || r.Target != target {
		h.tb.Errorf("record mode %s outcome %s target %s, want an http request to %s, ok", r.Mode, r.Outcome, r.Target, target)
	}
}

// TestLocalTargetsDeniedBeyondLoopback: a proxy listening beyond loopback
// keeps its clients from the host itself. The host's loopback-only service,
// its admin listener (/metrics), 0.0.0.0, names under localhost, the
// proxy's own address and link-local cloud metadata are each refused, by
// CONNECT (403) and by plain HTTP (a 403 page naming the rule), and
// recorded as denied with the rule; allow_local_targets opens the host
// again, but never the admin listener.
func TestLocalTargetsDeniedBeyondLoopback(t *testing.T) {
	svc := startService(t, "loopback-only service")
	admin := startAdminLike(t, "127.0.0.1:0")
	h := newHarnessOn(t, lanListen(t), func(o *Options) { o.Protected = []netip.AddrPort{admin} })
	proxyAddr := netip.MustParseAddrPort(h.addr)

	const local, adminRule = "local target: ", "admin listener: "
	for _, tc := range []struct{ target, reason string }{
		{"127.0.0.1:" + svc, "local target: 127.0.0.1 is this host's loopback (allow_local_targets is off)"},
		{"localhost:" + svc, local},
		{"sub.localhost:" + svc, local},
		{"0.0.0.0:" + svc, local},
		{"[::1]:" + svc, local},
		{h.addr, local}, // the proxy itself: a request looping back in
		{"169.254.169.254:80", local},
		{"[fe80::1]:80", local},
		{admin.String(), "admin listener: " + admin.String() + " is tlslens's admin listener"},
		{"localhost:" + fmt.Sprint(admin.Port()), adminRule},
	} {
		if tc.target == h.addr && proxyAddr.Addr().IsUnspecified() {
			continue // 0.0.0.0 is checked above
		}
		resp, body := connectRaw(t, h.addr, tc.target, "")
		body = html.UnescapeString(body)
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, tc.reason) {
			t.Errorf("CONNECT %s = %s %q, want 403 naming %q", tc.target, resp.Status, body, tc.reason)
		}
		h.wantDenied(tc.target, tc.reason)
	}

	for _, tc := range []struct{ url, target, reason string }{
		{"http://127.0.0.1:" + svc + "/", "127.0.0.1:" + svc, local},
		{"http://sub.localhost:" + svc + "/", "sub.localhost:" + svc, local},
		{"http://0.0.0.0:" + svc + "/", "0.0.0.0:" + svc, local},
		{"http://" + admin.String() + "/metrics", admin.String(), adminRule},
	} {
		status, body := h.plainGet(tc.url)
		if status != http.StatusForbidden || !strings.Contains(body, tc.reason) || strings.Contains(body, "tlslens_connections_total") {
			t.Errorf("GET %s = %d %q, want 403 naming %q", tc.url, status, body, tc.reason)
		}
		h.wantDenied(tc.target, tc.reason)
	}

	t.Run("allow_local_targets", func(t *testing.T) {
		h := newHarnessOn(t, lanListen(t), func(o *Options) {
			o.Protected, o.AllowLocalTargets = []netip.AddrPort{admin}, true
		})
		if status, body := h.plainGet("http://127.0.0.1:" + svc + "/"); status != http.StatusOK || body != "loopback-only service" {
			t.Errorf("GET the loopback service = %d %q, want it reached", status, body)
		}
		h.wantHTTP("127.0.0.1:" + svc)
		if status, body := h.plainGet("http://" + admin.String() + "/metrics"); status != http.StatusForbidden || !strings.Contains(body, adminRule) {
			t.Errorf("GET the admin /metrics = %d %q, want 403: never reachable", status, body)
		}
		h.wantDenied(admin.String(), adminRule)
	})
}

// TestLocalTargetsAllowedOnLoopback: on a loopback listener the host's
// services stay reachable (local debugging), by CONNECT and plain HTTP,
// and names under localhost reach them without DNS; the admin listener is
// not, also when it listens on every address (0.0.0.0).
func TestLocalTargetsAllowedOnLoopback(t *testing.T) {
	svc := startService(t, "loopback-only service")
	admin := startAdminLike(t, "127.0.0.1:0")
	adminAll := startAdminLike(t, "0.0.0.0:0")
	res := newMapResolver(nil) // any name asked of it is a failure
	h := newHarness(t, func(o *Options) {
		o.Protected = []netip.AddrPort{admin, adminAll}
		o.Resolver = res
	})

	if body := h.tunnelGet("127.0.0.1:" + svc); body != "loopback-only service" {
		t.Errorf("through a tunnel to the loopback service: %q", body)
	}
	if r := h.record(); r.Outcome != inspect.OutcomeNotTLS || r.Upstream == nil || r.Upstream.Addr != "127.0.0.1:"+svc {
		t.Errorf("record outcome %s upstream %+v, want not_tls to 127.0.0.1:%s", r.Outcome, r.Upstream, svc)
	}
	for _, target := range []string{"127.0.0.1:" + svc, "sub.localhost:" + svc} {
		if status, body := h.plainGet("http://" + target + "/"); status != http.StatusOK || body != "loopback-only service" {
			t.Errorf("GET http://%s/ = %d %q, want the service", target, status, body)
		}
		h.wantHTTP(target)
	}
	if body := h.tunnelGet("sub.localhost:" + svc); body != "loopback-only service" {
		t.Errorf("through a tunnel to sub.localhost: %q", body)
	}
	if r := h.record(); r.Upstream == nil || !slices.Equal(r.Upstream.Resolved, []string{"127.0.0.1", "::1"}) {
		t.Errorf("record upstream %+v, want resolved [127.0.0.1 ::1] (RFC 6761 §6.3)", r.Upstream)
	}
	if n := len(res.lookups); n != 0 {
		t.Errorf("the resolver was asked %v: names under localhost must not reach DNS", res.lookups)
	}

	for _, target := range []string{admin.String(), "127.0.0.1:" + fmt.Sprint(adminAll.Port()), "localhost:" + fmt.Sprint(adminAll.Port())} {
		resp, body := connectRaw(t, h.addr, target, "")
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "admin listener") {
			t.Errorf("CONNECT %s = %s %q, want 403: the admin listener", target, resp.Status, body)
		}
		h.wantDenied(target, "admin listener: ")
	}
	if status, body := h.plainGet("http://" + admin.String() + "/metrics"); status != http.StatusForbidden || strings.Contains(body, "tlslens_connections_total") {
		t.Errorf("GET the admin /metrics = %d %q, want 403", status, body)
	}
	h.wantDenied(admin.String(), "admin listener: ")
}

// TestPolicyJudgesResolvedAddresses: IP-range rules judge where tlslens
// connects. 0.0.0.0, ::, and names under localhost are the loopback they
// mean; a name is denied when any address it resolves to is; and the
// record names the rule and the address.
func TestPolicyJudgesResolvedAddresses(t *testing.T) {
	svc := startService(t, "loopback-only service")
	policy, err := Rules([]Rule{
		{Match: "127.0.0.0/8", Action: ActionDeny},
		{Match: "::1/128", Action: ActionDeny},
		{Match: "10.0.0.0/8", Action: ActionDeny},
		{Match: "blocked.test", Action: ActionDeny},
	})
	if err != nil {
		t.Fatal(err)
	}
	res := newMapResolver(map[string][]string{
		"intranet.test": {"10.1.2.3"},
		"mixed.test":    {"198.51.100.7", "10.9.9.9"}, // one address denied: the name is
	})
	h := newHarness(t, func(o *Options) { o.Policy, o.Resolver = policy, res })

	for _, tc := range []struct{ target, reason string }{
		{"0.0.0.0:" + svc, "policy: deny 127.0.0.0/8 (resolved 127.0.0.1)"},
		{"[::]:" + svc, "policy: deny ::1/128 (resolved ::1)"},
		{"sub.localhost:" + svc, "policy: deny 127.0.0.0/8 (resolved 127.0.0.1)"},
		{"localhost:" + svc, "policy: deny 127.0.0.0/8 (resolved 127.0.0.1)"},
		{"intranet.test:443", "policy: deny 10.0.0.0/8 (resolved 10.1.2.3)"},
		{"mixed.test:443", "policy: deny 10.0.0.0/8 (resolved 10.9.9.9)"},
	} {
		t.Run(tc.target, func(t *testing.T) {
			resp, body := connectRaw(t, h.addr, tc.target, "")
			if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, tc.reason) {
				t.Errorf("CONNECT %s = %s %q, want 403 naming %q", tc.target, resp.Status, body, tc.reason)
			}
			h.wantDenied(tc.target, tc.reason)

			u := "http://" + tc.target + "/"
			if status, body := h.plainGet(u); status != http.StatusForbidden || !strings.Contains(body, tc.reason) {
				t.Errorf("GET %s = %d %q, want 403 naming %q", u, status, body, tc.reason)
			}
			h.wantDenied(tc.target, tc.reason)

			// https:// without CONNECT (RFC 9112 §3.2.2).
			c, err := net.Dial("tcp", h.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if got := newReaderClient(t, c).do("GET", "https://"+tc.target+"/", tc.target); got.status != http.StatusForbidden || !strings.Contains(got.body, tc.reason) {
				t.Errorf("GET https://%s/ without CONNECT = %d %q, want 403 naming %q", tc.target, got.status, got.body, tc.reason)
			}
			h.wantDenied(tc.target, tc.reason)
		})
	}

	// A name rule still matches the name, and a plain request it denies is
	// recorded too.
	if status, _ := h.plainGet("http://blocked.test/"); status != http.StatusForbidden {
		t.Errorf("GET http://blocked.test/ = %d, want 403", status)
	}
	h.wantDenied("blocked.test:80", "policy: deny")
	if n := res.count("blocked.test"); n != 0 {
		t.Errorf("blocked.test looked up %d times: a name denied by name needs no lookup", n)
	}
}

// TestResolvedOnce: a target's name is looked up once and the address
// judged is the one dialled, so a name that rebinds to a denied address
// after the check is not followed there; the record lists what it resolved
// to and the address dialled.
func TestResolvedOnce(t *testing.T) {
	pki := testpki.Root(t, "Upstream Test Root")
	up := startUpstream(t, &tls.Config{Certificates: []tls.Certificate{
		pki.Leaf(t, "rebind.test")}})
	svc := startService(t, "loopback-only service")
	policy, err := Rules([]Rule{{Match: "10.0.0.0/8", Action: ActionDeny}})
	if err != nil {
		t.Fatal(err)
	}
	// The first answer is allowed, every later one denied.
	res := newMapResolver(map[string][]string{
		"rebind.test":  {"127.0.0.1", "|", "10.1.2.3"},
		"rebind2.test": {"127.0.0.1", "|", "10.1.2.3"},
	})
	h := newHarness(t, func(o *Options) { o.Policy, o.Resolver, o.UpstreamRoots = policy, res, pki.Pool() })

	resp, body := get(t, h.httpClient(nil), "https://rebind.test:"+up.port()+"/")
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(body, "hello from upstream") {
		t.Fatalf("GET https://rebind.test = %s %q, want the upstream's answer", resp.Status, body)
	}
	r := h.record()
	if r.Outcome != inspect.OutcomeOK || r.Upstream == nil || r.Upstream.Addr != "127.0.0.1:"+up.port() ||
		!slices.Equal(r.Upstream.Resolved, []string{"127.0.0.1"}) {
		t.Errorf("record outcome %s upstream %+v, want ok, dialled 127.0.0.1 as resolved", r.Outcome, r.Upstream)
	}
	if n := res.count("rebind.test"); n != 1 {
		t.Errorf("rebind.test looked up %d times for one CONNECT, want 1", n)
	}

	if status, body := h.plainGet("http://rebind2.test:" + svc + "/"); status != http.StatusOK || body != "loopback-only service" {
		t.Errorf("GET http://rebind2.test = %d %q, want the service at the address judged", status, body)
	}
	if n := res.count("rebind2.test"); n != 1 {
		t.Errorf("rebind2.test looked up %d times for one plain request, want 1", n)
	}
}

// TestConnectBadPort: a CONNECT to port 0 or beyond 65535 is a bad request:
// 400, recorded as bad_request, never a tunnel. A port that is not a number
// never reaches tlslens: net/http answers 400 itself, and the record is the
// bad_request record of a connection that never completed a proxy request.
func TestConnectBadPort(t *testing.T) {
	h := newHarness(t, nil)
	for _, target := range []string{"127.0.0.1:0", "example.com:65536", "example.com:99999"} {
		resp, body := connectRaw(t, h.addr, target, "")
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "1 to 65535") {
			t.Errorf("CONNECT %s = %s %q, want 400", target, resp.Status, body)
		}
		h.wantRefused(target, inspect.OutcomeBadRequest, "bad port")
	}
	if resp, _ := connectRaw(t, h.addr, "example.com:https", ""); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("CONNECT example.com:https = %s, want 400", resp.Status)
	}
	if r := h.record(); r.Outcome != inspect.OutcomeBadRequest || r.Client.Status != http.StatusBadRequest {
		t.Errorf("record outcome %s status %d, want bad_request 400", r.Outcome, r.Client.Status)
	}
	if status, body := h.plainGet("http://127.0.0.1:0/"); status != http.StatusBadRequest || !strings.Contains(body, "1 to 65535") {
		t.Errorf("GET http://127.0.0.1:0/ = %d %q, want 400", status, body)
	}
	if r := h.record(); r.Outcome != inspect.OutcomeBadRequest || r.Client.Status != http.StatusBadRequest || r.Reason != "bad port" {
		t.Errorf("record outcome %s status %d reason %q, want bad_request 400, bad port", r.Outcome, r.Client.Status, r.Reason)
	}
}

func TestSplitTarget(t *testing.T) {
	for _, tc := range []struct {
		target string
		host   string
		port   uint16
		ok     bool
	}{
		{"example.com:443", "example.com", 443, true},
		{"Example.COM.:1", "example.com", 1, true},
		{"[::1]:65535", "::1", 65535, true},
		{"example.com:0", "", 0, false},
		{"example.com:65536", "", 0, false},
		{"example.com:https", "", 0, false},
		{"example.com:-1", "", 0, false},
		{"example.com", "", 0, false},
	} {
		host, port, err := splitTarget(tc.target)
		if host != tc.host || port != tc.port || (err == nil) != tc.ok {
			t.Errorf("splitTarget(%q) = %q, %d, %v; want %q, %d, ok %v", tc.target, host, port, err, tc.host, tc.port, tc.ok)
		}
	}
}

// TestLocalAddrKinds: what counts as the host itself.
func TestLocalAddrKinds(t *testing.T) {
	var l localAddrs
	for _, tc := range []struct {
		addr  string
		local bool
	}{
		{"127.0.0.1", true}, {"127.9.9.9", true}, {"::1", true}, {"0.0.0.0", true}, {"::", true},
		{"169.254.169.254", true}, {"fe80::1", true},
		{"198.51.100.7", false}, {"2001:db8::1", false}, {"10.1.2.3", false},
	} {
		if got := l.kind(netip.MustParseAddr(tc.addr)) != ""; got != tc.local {
			t.Errorf("kind(%s) local = %v, want %v", tc.addr, got, tc.local)
		}
	}
	ifas, _ := net.InterfaceAddrs()
	for _, ifa := range ifas {
		if n, ok := ifa.(*net.IPNet); ok {
			a, _ := netip.AddrFromSlice(n.IP)
			if l.kind(a.Unmap()) == "" {
				t.Errorf("kind(%s) = \"\": an interface address of this host is local", a)
			}
		}
	}
}

// TestPassthroughByResolvedAddress: a passthrough IP-range rule applies to
// a name that resolves into it, and the record names rule and address.
func TestPassthroughByResolvedAddress(t *testing.T) {
	pki := testpki.Root(t, "Upstream Test Root")
	up := startUpstream(t, &tls.Config{Certificates: []tls.Certificate{
		pki.Leaf(t, "pt.test")}})
	policy, err := Rules([]Rule{{Match: "127.0.0.0/8", Action: ActionPassthrough}})
	if err != nil {
		t.Fatal(err)
	}
	res := newMapResolver(map[string][]string{"pt.test": {"127.0.0.1"}})
	h := newHarness(t, func(o *Options) { o.Policy, o.Resolver = policy, res })

	c := h.connect("pt.test:" + up.port())
	tc := tls.Client(c, &tls.Config{ServerName: "pt.test", RootCAs: pki.Pool()}) // the server's own certificate
	c.SetDeadline(time.Now().Add(15 * time.Second))
	if err := tc.Handshake(); err != nil {
		t.Fatalf("handshake through passthrough: %v", err)
	}
	tc.Close()
	r := h.record()
	if r.Mode != inspect.ModePassthrough || r.Reason != "policy: passthrough 127.0.0.0/8 (resolved 127.0.0.1)" ||
		r.Upstream == nil || r.Upstream.Addr != "127.0.0.1:"+up.port() || !slices.Equal(r.Upstream.Resolved, []string{"127.0.0.1"}) {
		t.Errorf("record mode %s reason %q upstream %+v, want passthrough by the range, dialled as resolved", r.Mode, r.Reason, r.Upstream)
	}
}
