package proxy

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus/hooks/test"

	"github.com/tlslens/tlslens/ca/testpki"
	"github.com/tlslens/tlslens/inspect"
)

// netnsChild is set in the environment of the test binary re-run inside the
// network namespace TestTransparentNetns makes.
const netnsChild = "TLSLENS_TEST_NETNS_CHILD"

// A case of the namespace test: tlslens's transparent listener, the
// address clients are redirected from (an upstream listens there too), and
// the client's source address, which the REDIRECT rule matches so that
// tlslens's own dial to the original destination is not redirected back to
// it (the README's rules exempt tlslens by its user instead; in one test
// process client and proxy share a user). IPv6 uses addresses the test adds
// to the namespace's loopback interface.
type netnsCase struct {
	name, listen, origin, client string
}

var netnsCases = []netnsCase{
	{name: "IPv4", listen: "127.0.0.1:18443", origin: "127.0.0.2:443", client: "127.0.0.3"},
	{name: "IPv6", listen: "[::1]:18444", origin: "[fd7e:7115::2]:443", client: "fd7e:7115::3"},
}

// TestTransparentNetns runs transparent mode in a network namespace of its
// own, with nftables redirecting a client's connection to 127.0.0.2:443 (and
// to [fd7e:7115::2]:443, on the namespace's lo) to tlslens: the client gets
// the page of the upstream listening at that address, and the record says
// via transparent with it as target. A
// connection made to the listener itself is refused and recorded. It needs
// root, ip and nft; the test binary re-runs itself inside the namespace.
func TestTransparentNetns(t *testing.T) {
	if os.Getenv(netnsChild) != "" {
		transparentInNetns(t)
		return
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to make a network namespace and its nftables rules")
	}
	for _, tool := range []string{"ip", "nft"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s (apt-get install iproute2 nftables): %v", tool, err)
		}
	}
	ns := fmt.Sprintf("tlslens-test-%d", os.Getpid())
	run := func(stdin string, args ...string) {
		t.Helper()
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Stdin = strings.NewReader(stdin)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	run("", "ip", "netns", "add", ns)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	run("", "ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")
	run("", "ip", "netns", "exec", ns, "ip", "addr", "add", "fd7e:7115::2/128", "dev", "lo", "nodad")
	run("", "ip", "netns", "exec", ns, "ip", "addr", "add", "fd7e:7115::3/128", "dev", "lo", "nodad")
	var rules strings.Builder
	for _, c := range netnsCases {
		origin, port, _ := net.SplitHostPort(c.origin)
		_, listenPort, _ := net.SplitHostPort(c.listen)
		family := "ip"
		if strings.Contains(origin, ":") {
			family = "ip6"
		}
		fmt.Fprintf(&rules, "table %[1]s tlslens_test {\n\tchain output {\n\t\ttype nat hook output priority -100;\n"+
			"\t\t%[1]s saddr %[2]s %[1]s daddr %[3]s tcp dport %[4]s redirect to :%[5]s\n\t}\n}\n",
			family, c.client, origin, port, listenPort)
	}
	run(rules.String(), "ip", "netns", "exec", ns, "nft", "-f", "-")

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", ns, os.Args[0], "-test.run", "^TestTransparentNetns$", "-test.v", "-test.count", "1")
	cmd.Env = append(os.Environ(), netnsChild+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestTransparentNetns") {
		t.Fatalf("inside the namespace: %v\n%s", err, out)
	}
	t.Logf("inside the namespace:\n%s", out)
}

// transparentInNetns is TestTransparentNetns inside its namespace.
func transparentInNetns(t *testing.T) {
	for _, c := range netnsCases {
		t.Run(c.name, func(t *testing.T) { transparentCase(t, c) })
	}
}

// nsDial dials the namespace's own addresses only: loopback and the test's
// addresses on lo.
func nsDial(ctx context.Context, network, addr string) (net.Conn, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() && !strings.HasPrefix(host, "fd7e:7115::") {
		return nil, fmt.Errorf("test dialer: %s is not in the namespace", host)
	}
	var d net.Dialer
	return d.DialContext(ctx, network, addr)
}

func transparentCase(t *testing.T, tc netnsCase) {
	pki := testpki.Root(t, "Upstream Test Root")
	upLn, err := net.Listen("tcp", tc.origin)
	if err != nil {
		t.Fatal(err)
	}
	up := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "hello from "+tc.origin+" "+r.URL.Path)
		}),
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{pki.Leaf(t, "example.com")}},
	}
	go up.ServeTLS(upLn, "", "")
	t.Cleanup(func() { up.Close() })

	records := make(chan *inspect.Record, 10)
	recs, _ := test.NewNullLogger()
	auth := testpki.Authority(t)
	p, err := New(Options{Authority: auth, Records: recs, OnRecord: func(r *inspect.Record) { records <- r },
		UpstreamRoots: pki.Pool(), HandshakeTimeout: 5 * time.Second, Dial: nsDial})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", tc.listen)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- p.ServeTransparent(ctx, ln) }()
	t.Cleanup(func() { cancel(); p.Close(); <-served })
	record := func() *inspect.Record {
		t.Helper()
		select {
		case r := <-records:
			return r
		case <-time.After(15 * time.Second):
			t.Fatal("no record written within 15s")
			return nil
		}
	}

	roots := x509.NewCertPool()
	roots.AddCert(auth.Certificate())
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(tc.client)}} // matched by the REDIRECT rule
	tr := &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: "example.com"},
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return dialer.DialContext(ctx, "tcp", tc.origin) // example.com is the origin here
		},
		DisableKeepAlives: true,
	}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 15 * time.Second}).Get("https://example.com/page")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if want := "hello from " + tc.origin + " /page"; string(body) != want {
		t.Errorf("body = %q, want %q", body, want)
	}
	r := record()
	if r.Outcome != inspect.OutcomeOK || r.Mode != inspect.ModeMITM || r.Via != inspect.ViaTransparent || r.Target != tc.origin {
		t.Errorf("record = %s %s via %q target %s, want ok mitm via transparent target %s", r.Outcome, r.Mode, r.Via, r.Target, tc.origin)
	}
	if r.Client.Hello == nil || r.Client.Hello.SNI != "example.com" || r.Client.Negotiated == nil ||
		r.Upstream == nil || r.Upstream.Negotiated == nil || r.Upstream.Addr != tc.origin {
		t.Errorf("legs = client %+v upstream %+v, want both handshakes, upstream at %s", r.Client, r.Upstream, tc.origin)
	}

	// Straight to the listener, not redirected: refused, and recorded.
	c, err := net.Dial("tcp", tc.listen)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := c.Read(make([]byte, 1)); err == nil {
		t.Errorf("read %d bytes from a connection that was not redirected, want it closed", n)
	}
	r = record()
	if r.Outcome != inspect.OutcomeDenied || r.Reason != ReasonNotRedirected || r.Via != inspect.ViaTransparent ||
		r.Target != tc.listen || !strings.Contains(r.Client.Error, "not redirected") {
		t.Errorf("record = %s reason %q via %q target %s error %q, want denied, not redirected, target %s",
			r.Outcome, r.Reason, r.Via, r.Target, r.Client.Error, tc.listen)
	}
}
