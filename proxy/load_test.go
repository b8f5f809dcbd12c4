package proxy

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/tlslens/tlslens/ca/testpki"
	"github.com/tlslens/tlslens/inspect"
)

// TestMaxConnections: past max_connections a client gets a 503 naming the
// limit, no record, and one rate-limited warning; a slot freed is reusable.
func TestMaxConnections(t *testing.T) {
	pki := testpki.Root(t, "Upstream Test Root")
	up := startUpstream(t, &tls.Config{Certificates: []tls.Certificate{pki.Leaf(t, "example.com")}})
	h := newHarness(t, func(o *Options) { o.UpstreamRoots = pki.Pool(); o.MaxConnections = 2 })
	held := []net.Conn{dialProxy(t, h), dialProxy(t, h)}
	waitFor(t, "2 active connections", func() bool { return h.p.ActiveConnections() == 2 })

	for i := range 2 {
		c := dialProxy(t, h)
		fmt.Fprintf(c, "CONNECT example.com:%s HTTP/1.1\r\nHost: example.com\r\n\r\n", up.port())
		resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: http.MethodConnect})
		if err != nil {
			t.Fatalf("refused connection %d: %v", i, err)
		}
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "max_connections is 2") {
			t.Errorf("refused connection %d: %s %q, want 503 naming max_connections", i, resp.Status, body)
		}
	}
	if n := h.p.RefusedConnections(); n != 2 {
		t.Errorf("RefusedConnections() = %d, want 2", n)
	}
	warnings := 0
	for _, e := range h.logHook.AllEntries() {
		if e.Level == logrus.WarnLevel && strings.Contains(e.Message, "max_connections") {
			warnings++
			if e.Data["id"] == nil || e.Data["max_connections"] != int64(2) {
				t.Errorf("warning fields %v, want id and max_connections", e.Data)
			}
		}
	}
	if warnings != 1 {
		t.Errorf("%d max_connections warnings for 2 refusals, want 1 (rate-limited)", warnings)
	}

	held[0].Close()
	waitFor(t, "1 active connection", func() bool { return h.p.ActiveConnections() == 1 })
	c := h.connect("example.com:" + up.port())
	tc := tls.Client(c, &tls.Config{ServerName: "example.com", RootCAs: h.roots()})
	if resp := newReaderClient(t, tc).do("GET", "/after", "example.com"); resp.status != http.StatusOK {
		t.Fatalf("after a slot was freed: %d", resp.status)
	}
	h.record()
	tc.Close()
	held[1].Close()
	waitFor(t, "no active connection", func() bool { return h.p.ActiveConnections() == 0 })
	// The refused connections have none; the two held ones, closed
	// without a request, have a bad_request record each (badrequest.go).
	h.record() // the second held connection's; the first's came before or after /after's
	outcomes := map[any]int{}
	for _, e := range h.hook.AllEntries() {
		outcomes[e.Data["outcome"]]++
	}
	if outcomes[inspect.OutcomeBadRequest] != 2 || outcomes[inspect.OutcomeOK] != 1 {
		t.Errorf("record outcomes %v, want 2 bad_request (the held connections) and 1 ok", outcomes)
	}
	h.recordCount(3)
}

// TestSlowloris: a client dribbling its CONNECT or its ClientHello a byte at
// a time is cut off at the handshake timeout, and serves nobody's wait:
// other clients are intercepted meanwhile.
func TestSlowloris(t *testing.T) {
	pki := testpki.Root(t, "Upstream Test Root")
	up := startUpstream(t, &tls.Config{Certificates: []tls.Certificate{pki.Leaf(t, "example.com")}})
	hello := clientHelloRecords(t, &tls.Config{ServerName: "example.com"})
	target := "example.com:" + up.port()
	cases := []struct {
		name    string
		prefix  bool   // CONNECT first, then dribble
		dribble []byte // sent a byte every 20ms
		record  bool   // a record is due (the CONNECT was complete)
	}{
		{"request line", false, []byte("CONNECT " + target + " HTTP/1.1\r\nHost: " + target + "\r\nX-Slow: " + strings.Repeat("z", 400) + "\r\n\r\n"), false},
		{"client hello", true, hello, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, func(o *Options) { o.UpstreamRoots = pki.Pool(); o.HandshakeTimeout = time.Second })
			var c net.Conn
			if tc.prefix {
				c = h.connect(target)
			} else {
				c = dialProxy(t, h)
			}
			start := time.Now()
			cut := make(chan time.Duration, 1)
			go func() {
				tick := time.NewTicker(20 * time.Millisecond)
				defer tick.Stop()
				for _, b := range tc.dribble {
					<-tick.C
					if _, err := c.Write([]byte{b}); err != nil {
						break
					}
				}
				io.Copy(io.Discard, c) // until tlslens closes the connection
				cut <- time.Since(start)
			}()
			// Meanwhile, others are served.
			client := h.httpClient(nil)
			for i := range 3 {
				if resp, body := get(t, client, "https://"+target+"/other"); resp.StatusCode != http.StatusOK {
					t.Fatalf("request %d during the slowloris: %s %q", i, resp.Status, body)
				}
				if r := h.record(); r.Outcome != inspect.OutcomeOK {
					t.Fatalf("request %d during the slowloris: record outcome %s", i, r.Outcome)
				}
			}
			if served := time.Since(start); served >= time.Second {
				t.Logf("the other clients took %s (a loaded machine); the check below still holds", served)
			}
			select {
			case d := <-cut:
				if d < 900*time.Millisecond {
					t.Errorf("slow client cut after %s, before the 1s handshake timeout", d)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the slow client was not cut off within 10s (handshake timeout 1s)")
			}
			if tc.record {
				r := h.record()
				if r.Outcome != inspect.OutcomeClientHandshakeFailed || !strings.Contains(r.Client.Error, "within 1s") {
					t.Errorf("slow hello: outcome %s error %q", r.Outcome, r.Client.Error)
				}
				h.recordCount(4)
			} else {
				// The CONNECT never completed: a bad_request record at close.
				r := h.record()
				if r.Outcome != inspect.OutcomeBadRequest || !strings.Contains(r.Client.Error, "within handshake_timeout (1s)") {
					t.Errorf("slow request line: outcome %s error %q", r.Outcome, r.Client.Error)
				}
				h.recordCount(4)
			}
		})
	}
}

// TestHeaderLimits: a header over MaxHeaderBytes gets 431, on the proxy
// listener and on an intercepted connection; nothing reaches the upstream.
func TestHeaderLimits(t *testing.T) {
	pki := testpki.Root(t, "Upstream Test Root")
	up := startUpstream(t, &tls.Config{Certificates: []tls.Certificate{pki.Leaf(t, "example.com")}})
	h := newHarness(t, func(o *Options) { o.UpstreamRoots = pki.Pool(); o.MaxHeaderBytes = 4096 })
	target := "example.com:" + up.port()
	big := strings.Repeat("b", 16<<10) // net/http allows MaxHeaderBytes plus 4 KiB of slack

	t.Run("CONNECT", func(t *testing.T) {
		c := dialProxy(t, h)
		fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\nX-Big: %s\r\n\r\n", target, target, big)
		resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: http.MethodConnect})
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Errorf("CONNECT with a 16 KiB header: %s, want 431", resp.Status)
		}
	})
	t.Run("intercepted", func(t *testing.T) {
		c := h.connect(target)
		tc := tls.Client(c, &tls.Config{ServerName: "example.com", RootCAs: h.roots()})
		rc := newReaderClient(t, tc)
		if resp := rc.do("GET", "/small", "example.com\r\nX-Small: "+strings.Repeat("s", 2048)); resp.status != http.StatusOK {
			t.Errorf("a 2 KiB header: %d, want 200", resp.status)
		}
		if resp := rc.do("GET", "/big", "example.com\r\nX-Big: "+big); resp.status != http.StatusRequestHeaderFieldsTooLarge {
			t.Errorf("a 16 KiB header: %d, want 431", resp.status)
		}
		for len(up.requests) > 0 {
			if r := <-up.requests; r.URL.Path == "/big" {
				t.Error("the oversized request reached the upstream")
			}
		}
		h.record()
	})
}

// TestIdleTimeout: an intercepted HTTP connection and a relay idle for
// IdleTimeout are closed.
func TestIdleTimeout(t *testing.T) {
	pki := testpki.Root(t, "Upstream Test Root")
	up := startUpstream(t, &tls.Config{Certificates: []tls.Certificate{pki.Leaf(t, "example.com")}})
	h := newHarness(t, func(o *Options) { o.UpstreamRoots = pki.Pool(); o.IdleTimeout = time.Second })
	cases := []struct {
		name    string
		target  string
		open    func(c net.Conn) net.Conn // speaks, then goes idle
		outcome inspect.Outcome
	}{
		{"intercepted HTTP", "example.com:" + up.port(), func(c net.Conn) net.Conn {
			tc := tls.Client(c, &tls.Config{ServerName: "example.com", RootCAs: h.roots()})
			if resp := newReaderClient(t, tc).do("GET", "/", "example.com"); resp.status != http.StatusOK {
				t.Fatalf("GET: %d", resp.status)
			}
			return tc
		}, inspect.OutcomeOK},
		{"relay", "127.0.0.1:" + silentServer(t), func(c net.Conn) net.Conn {
			io.WriteString(c, "HELLO not tls\r\n")
			return c
		}, inspect.OutcomeNotTLS},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.open(h.connect(tc.target))
			idle := time.Now()
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			_, err := io.Copy(io.Discard, c)
			if d := time.Since(idle); err != nil || d < 900*time.Millisecond || d > 8*time.Second {
				t.Errorf("closed after %s idle (%v), want about the 1s idle timeout", d, err)
			}
			if r := h.record(); r.Outcome != tc.outcome {
				t.Errorf("outcome %s, want %s", r.Outcome, tc.outcome)
			}
		})
	}
}

func dialProxy(t *testing.T, h *harness) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", h.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// waitFor polls cond (a count that nothing signals) until true or 10s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for deadline := time.Now().Add(10 * time.Second); !cond(); <-tick.C {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within 10s", what)
		}
	}
}

// loadSizes are the load tests' sizes: moderate by default (CI runs them
// under -race on 2 cores), the figures with TLSLENS_LOAD=full.
func loadSizes() (concurrent, sequential int) {
	switch {
	case os.Getenv("TLSLENS_LOAD") == "full":
		return 10000, 100000
	case testing.Short():
		return 200, 500
	}
	return 1000, 2000
}

// loadHarness is a proxy and an upstream for the load tests and the
// benchmarks, as in production: records encoded as JSON (to io.Discard) and
// counted, operational logs discarded (a hook keeping each would grow the
// heap the tests measure).
type loadHarness struct {
	*harness
	target         string         // example.com:port, the upstream through tlslens
	upAddr         string         // 127.0.0.1:port, the upstream directly
	upRoots        *x509.CertPool // trusts the upstream's certificate
	records, notOK atomic.Int64
	last           chan *inspect.Record // the latest record, if nobody took the one before
}

// newLoadHarness: more, if given, changes the options last.
func newLoadHarness(tb testing.TB, maxConns int, more ...func(*Options)) *loadHarness {
	pki := testpki.Root(tb, "Upstream Test Root")
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	up.TLS = &tls.Config{Certificates: []tls.Certificate{pki.Leaf(tb, "example.com")}}
	up.StartTLS()
	tb.Cleanup(up.Close)
	lh := &loadHarness{target: "example.com:" + listenerPort(up.Listener), upAddr: up.Listener.Addr().String(),
		upRoots: pki.Pool(), last: make(chan *inspect.Record, 1)}
	lh.harness = newHarness(tb, func(o *Options) {
		o.UpstreamRoots = pki.Pool()
		o.MaxConnections = maxConns
		o.Log = nil
		o.Records, o.RecordFile = nil, io.Discard // as tlslens writes its record file
		o.OnRecord = func(r *inspect.Record) {
			lh.records.Add(1)
			if r.Outcome != inspect.OutcomeOK {
				lh.notOK.Add(1)
			}
			select {
			case lh.last <- r:
			default:
			}
		}
		for _, f := range more {
			f(o)
		}
	})
	return lh
}

// checkRecords waits for want records and checks that all are ok.
func (lh *loadHarness) checkRecords(t *testing.T, want int64) {
	t.Helper()
	waitFor(t, "every record", func() bool { return lh.records.Load() >= want })
	if n := lh.records.Load(); n != want || lh.notOK.Load() != 0 {
		t.Errorf("records %d (%d not ok), connections %d", n, lh.notOK.Load(), want)
	}
	waitFor(t, "connections closed", func() bool { return lh.p.ActiveConnections() == 0 })
}

// TestLoadConcurrent holds many intercepted connections at once (1000;
// 10000 with TLSLENS_LOAD=full): each is served, a new one still is while
// they are held, records == connections, and nothing is left open or running
// once they close. bench/load measures the same with figures.
func TestLoadConcurrent(t *testing.T) {
	concurrent, _ := loadSizes()
	if err := raiseNoFile(uint64(4*concurrent + 500)); err != nil {
		t.Skipf("%d concurrent connections need %d descriptors in this process (client, tlslens x2, upstream): %v",
			concurrent, 4*concurrent+500, err)
	}
	lh := newLoadHarness(t, concurrent+100)
	base := quietGoroutines(t)
	start := time.Now()
	conns := make([]*tls.Conn, concurrent)
	parallel(t, 32, concurrent, func(i int) error {
		c, err := loadRequest(lh.harness, lh.target, false)
		conns[i] = c
		return err
	})
	if n := lh.p.ActiveConnections(); n < concurrent {
		t.Errorf("ActiveConnections() = %d with %d held", n, concurrent)
	}
	if _, err := loadRequest(lh.harness, lh.target, true); err != nil {
		t.Errorf("a new connection while %d are held: %v", concurrent, err)
	}
	t.Logf("%d concurrent intercepted connections held in %s", concurrent, time.Since(start).Round(time.Millisecond))
	for _, c := range conns {
		c.Close()
	}
	lh.checkRecords(t, int64(concurrent+1))
	settled(t, base)
}

// TestLoadSequential makes many intercepted connections, 16 at a time (2000;
// 100000 with TLSLENS_LOAD=full): records == connections, all ok, and the
// live heap does not grow with the count.
func TestLoadSequential(t *testing.T) {
	_, sequential := loadSizes()
	lh := newLoadHarness(t, 0)
	base := quietGoroutines(t)
	start := time.Now()
	var first uint64
	tenth := max(sequential/10, 1)
	var done atomic.Int64
	parallel(t, 16, sequential, func(int) error {
		_, err := loadRequest(lh.harness, lh.target, true)
		if done.Add(1) == int64(tenth) {
			first = liveHeap()
		}
		return err
	})
	last := liveHeap()
	t.Logf("%d intercepted connections in %s; live heap %.1f MiB after %d, %.1f MiB after %d",
		sequential, time.Since(start).Round(time.Millisecond), float64(first)/(1<<20), tenth, float64(last)/(1<<20), sequential)
	if last > first*3/2+8<<20 {
		t.Errorf("live heap grew from %d to %d bytes over %d connections", first, last, sequential-tenth)
	}
	lh.checkRecords(t, int64(sequential))
	settled(t, base)
}

// loadRequest opens an intercepted connection, makes one request, and
// closes it if close is set.
func loadRequest(h *harness, target string, close bool) (*tls.Conn, error) {
	c, err := net.Dial("tcp", h.addr)
	if err != nil {
		return nil, err
	}
	c.SetDeadline(time.Now().Add(60 * time.Second))
	fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", target, target)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil || resp.StatusCode != http.StatusOK {
		c.Close()
		return nil, fmt.Errorf("CONNECT: %v %v", resp, err)
	}
	host, _, _ := net.SplitHostPort(target)
	tc := tls.Client(c, &tls.Config{ServerName: host, RootCAs: h.roots()})
	fmt.Fprintf(tc, "GET / HTTP/1.1\r\nHost: %s\r\n\r\n", host)
	resp, err = http.ReadResponse(bufio.NewReader(tc), nil)
	if err == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		if err == nil && resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("status %s", resp.Status)
		}
	}
	if err != nil || close {
		tc.Close()
		return nil, err
	}
	c.SetDeadline(time.Time{})
	return tc, nil
}

// parallel runs f(0..n-1) on workers goroutines and fails on the first error.
func parallel(t *testing.T, workers, n int, f func(i int) error) {
	t.Helper()
	var next atomic.Int64
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
				if err := f(i); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d of %d failed; first: %v", len(errs), n, errs[0])
	}
}

// liveHeap is the heap in use after a full collection.
func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// raiseNoFile raises the soft descriptor limit to n if the hard limit allows.
func raiseNoFile(n uint64) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return err
	}
	if lim.Cur >= n {
		return nil
	}
	if lim.Max < n {
		return fmt.Errorf("the hard limit is %d", lim.Max)
	}
	lim.Cur = n
	return syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
}
