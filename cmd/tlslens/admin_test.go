package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// startRun runs run() in process with args added to the env's, and returns
// its logs; the run is cancelled and awaited at cleanup.
func (e *env) startRun(args ...string) *logLines {
	e.t.Helper()
	logs, _ := e.launch(args...)
	return logs
}

// launch runs run() in process with args added to the env's, and returns its
// logs and stop, which cancels the run and waits for it to return (failing
// the test if it returns an error or not within 30s), as cleanup does if
// the test has not.
func (e *env) launch(args ...string) (logs *logLines, stop func()) {
	e.t.Helper()
	logs = newLogLines()
	ctx, cancel := context.WithCancel(context.Background())
	runErr := make(chan error, 1)
	go func() {
		runErr <- run(ctx, append(append([]string{}, e.args...), args...), strings.NewReader(""), io.Discard, logs)
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-runErr:
				if err != nil {
					e.t.Errorf("run = %v", err)
				}
			case <-time.After(30 * time.Second):
				e.t.Error("run did not return within 30s")
			}
		})
	}
	e.t.Cleanup(stop)
	return logs, stop
}

// scrape fetches the admin listener's /metrics with a real HTTP GET.
func scrape(t *testing.T, admin string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get("http://" + admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics = %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	return mfs
}

// value is a counter's or gauge's value, or a histogram's sample count, for
// the series with exactly these label pairs; -1 if absent.
func value(mfs map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	mf, ok := mfs[name]
	if !ok {
		return -1
	}
series:
	for _, m := range mf.GetMetric() {
		if len(m.GetLabel())*2 != len(labels) {
			continue
		}
		for i, lp := range m.GetLabel() {
			if lp.GetName() != labels[2*i] || lp.GetValue() != labels[2*i+1] {
				continue series
			}
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue()
		case m.Gauge != nil:
			return m.GetGauge().GetValue()
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount())
		}
	}
	return -1
}

// TestAdminMetrics scrapes the admin listener before and after handshakes
// and checks that the metrics moved by what happened.
func TestAdminMetrics(t *testing.T) {
	e := newEnv(t)
	logs := e.startRun("--admin-listen", "127.0.0.1:0", "--records", filepath.Join(e.dir, "r.jsonl"))
	addr := logs.wait(t, "tlslens listening")["addr"].(string)
	admin := logs.wait(t, "admin listening")["addr"].(string)

	resp, err := http.Get("http://" + admin + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "ok\n" {
		t.Errorf("GET /healthz = %s %q, want 200 ok", resp.Status, body)
	}

	before := scrape(t, admin)
	for _, name := range []string{"go_goroutines", "process_cpu_seconds_total", "tlslens_connections_active"} {
		if _, ok := before[name]; !ok {
			t.Errorf("/metrics lacks %s", name)
		}
	}
	c := e.client(addr)
	const n = 3
	for range n {
		e.get(c, "/m", "hello /m")
	}
	after := scrape(t, admin)

	moves := []struct {
		name   string
		labels []string
		by     float64
	}{
		{"tlslens_connections_total", nil, n},
		{"tlslens_records_written_total", nil, n},
		{"tlslens_handshakes_total", []string{"leg", "client", "outcome", "ok"}, n},
		{"tlslens_handshakes_total", []string{"leg", "upstream", "outcome", "ok"}, n},
		{"tlslens_handshakes_total", []string{"leg", "client", "outcome", "rejected_certificate"}, 0},
		{"tlslens_handshakes_total", []string{"leg", "upstream", "outcome", "unreachable"}, 0},
		{"tlslens_handshake_duration_seconds", []string{"leg", "client"}, n},
		{"tlslens_handshake_duration_seconds", []string{"leg", "upstream"}, n},
		{"tlslens_leaf_cache_misses_total", nil, 1}, // one name: 127.0.0.1
		{"tlslens_leaf_cache_hits_total", nil, n - 1},
	}
	for _, m := range moves {
		b, a := value(before, m.name, m.labels...), value(after, m.name, m.labels...)
		if b < 0 || a < 0 {
			t.Errorf("%s%v missing from /metrics", m.name, m.labels)
			continue
		}
		if a-b != m.by {
			t.Errorf("%s%v went from %v to %v, want a rise of %v", m.name, m.labels, b, a, m.by)
		}
	}
}

// TestAdminPprof checks that /debug/pprof/ is served on the admin listener
// with --admin-pprof (a CPU profile included) and not without it.
func TestAdminPprof(t *testing.T) {
	for _, on := range []bool{false, true} {
		e := newEnv(t)
		args := []string{"--admin-listen", "127.0.0.1:0", "--records", filepath.Join(e.dir, "r.jsonl")}
		if on {
			args = append(args, "--admin-pprof")
		}
		logs := e.startRun(args...)
		admin := logs.wait(t, "admin listening")["addr"].(string)
		for _, path := range []string{"/debug/pprof/", "/debug/pprof/heap", "/debug/pprof/profile?seconds=1"} {
			resp, err := http.Get("http://" + admin + path)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if on && (resp.StatusCode != http.StatusOK || len(body) == 0) {
				t.Errorf("--admin-pprof: GET %s = %s, %d bytes", path, resp.Status, len(body))
			}
			if !on && resp.StatusCode != http.StatusNotFound {
				t.Errorf("default: GET %s = %s, want 404", path, resp.Status)
			}
		}
	}
}

// TestAdminPortBusy checks that a busy admin address costs the metrics, not
// the proxy.
func TestAdminPortBusy(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	e := newEnv(t)
	logs := e.startRun("--admin-listen", busy.Addr().String(), "--records", filepath.Join(e.dir, "r.jsonl"))
	warn := logs.wait(t, "admin listener disabled")
	if warn["level"] != "warning" || warn["addr"] != busy.Addr().String() {
		t.Errorf("warning = %v", warn)
	}
	addr := logs.wait(t, "tlslens listening")["addr"].(string)
	e.get(e.client(addr), "/still-works", "hello /still-works")
}

func TestCheckExposure(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Config)
		ok   bool
	}{
		{"default loopback", func(*Config) {}, true},
		{"IPv6 loopback", func(c *Config) { c.Listen = "[::1]:8080" }, true},
		{"localhost", func(c *Config) { c.Listen = "localhost:8080" }, true},
		{"127.0.0.2", func(c *Config) { c.Listen = "127.0.0.2:8080" }, true},
		{"all interfaces", func(c *Config) { c.Listen = "0.0.0.0:8080" }, false},
		{"empty host", func(c *Config) { c.Listen = ":8080" }, false},
		{"IPv6 any", func(c *Config) { c.Listen = "[::]:8080" }, false},
		{"LAN address", func(c *Config) { c.Listen = "192.168.1.5:8080" }, false},
		{"host name", func(c *Config) { c.Listen = "proxy.example:8080" }, false},
		{"with proxy_auth", func(c *Config) {
			c.Listen, c.ProxyAuth = "0.0.0.0:8080", []ProxyUser{{"u", "p"}}
		}, true},
		{"with allow_cidrs", func(c *Config) { c.Listen, c.AllowCIDRs = "0.0.0.0:8080", []string{"192.168.1.0/24"} }, true},
		{"with allow_open", func(c *Config) { c.Listen, c.AllowOpen = "0.0.0.0:8080", true }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := defaults()
			tt.edit(&c)
			err := checkExposure(c)
			if (err == nil) != tt.ok {
				t.Fatalf("checkExposure(listen %s) = %v, want ok %v", c.Listen, err, tt.ok)
			}
		})
	}
}

// TestRunRefusesOpenProxy checks that run() will not bind a non-loopback
// address without access control, and says how to fix it.
func TestRunRefusesOpenProxy(t *testing.T) {
	e := newEnv(t)
	err := run(context.Background(), append(e.args, "--listen", "0.0.0.0:0", "--admin-listen="),
		strings.NewReader(""), io.Discard, io.Discard)
	if err == nil {
		t.Fatal("run with listen 0.0.0.0:0 and no access control succeeded")
	}
	for _, s := range []string{"0.0.0.0:0", "open MITM proxy", "127.0.0.1", "proxy_auth", "allow_cidrs", "allow_open"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not mention %q", err, s)
		}
	}
}

// TestConfigAccessKeys checks the validation of the access control keys.
func TestConfigAccessKeys(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Config)
		key  string // named in the error; "" means valid
	}{
		{"valid", func(c *Config) {
			c.ProxyAuth = []ProxyUser{{"u", "p"}}
			c.AllowCIDRs = []string{"10.0.0.0/8", "192.168.1.7", "fd00::/8"}
		}, ""},
		{"empty password", func(c *Config) { c.ProxyAuth = []ProxyUser{{"u", "p"}, {"v", ""}} }, "proxy_auth[1]"},
		{"colon in username", func(c *Config) { c.ProxyAuth = []ProxyUser{{"a:b", "p"}} }, "proxy_auth[0]"},
		{"bad range", func(c *Config) { c.AllowCIDRs = []string{"10.0.0.0/8", "10.0.0.0/33"} }, "allow_cidrs[1]"},
		{"not an address", func(c *Config) { c.AllowCIDRs = []string{"lan"} }, "allow_cidrs[0]"},
		{"zero shutdown_timeout", func(c *Config) { c.ShutdownTimeout = 0 }, "shutdown_timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := defaults()
			tt.edit(&c)
			err := c.validate()
			if tt.key == "" {
				if err != nil {
					t.Fatalf("validate() = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.key) {
				t.Fatalf("validate() = %v, want an error naming %s", err, tt.key)
			}
		})
	}
	if p, err := parseCIDR("192.168.1.7"); err != nil || p.String() != "192.168.1.7/32" {
		t.Errorf("parseCIDR(192.168.1.7) = %v, %v; want 192.168.1.7/32", p, err)
	}
}

// TestLocalTargetsThroughRun: the admin listener is never reachable through
// the proxy, and a proxy listening beyond loopback denies the host's own
// services unless allow_local_targets.
func TestLocalTargetsThroughRun(t *testing.T) {
	svc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "loopback-only service")
	}))
	defer svc.Close()
	plainGet := func(proxyAddr, u string) (int, string) {
		t.Helper()
		c := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(&url.URL{Scheme: "http", Host: proxyAddr}),
			DisableKeepAlives: true}, Timeout: 30 * time.Second}
		resp, err := c.Get(u)
		if err != nil {
			t.Fatalf("GET %s: %v", u, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	e := newEnv(t)
	logs := e.startRun("--admin-listen", "127.0.0.1:0", "--records", filepath.Join(e.dir, "r.jsonl"))
	addr := logs.wait(t, "tlslens listening")["addr"].(string)
	admin := logs.wait(t, "admin listening")["addr"].(string)
	if status, body := plainGet(addr, "http://"+admin+"/metrics"); status != http.StatusForbidden || !strings.Contains(body, "admin listener") {
		t.Errorf("GET the admin /metrics through the proxy = %d %q, want 403", status, body)
	}
	if status, body := plainGet(addr, svc.URL); status != http.StatusOK || body != "loopback-only service" {
		t.Errorf("GET a loopback service through a loopback proxy = %d %q, want it reached", status, body)
	}

	lan := ""
	ifas, _ := net.InterfaceAddrs()
	for _, ifa := range ifas {
		if n, ok := ifa.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() && !n.IP.IsLinkLocalUnicast() {
			lan = net.JoinHostPort(n.IP.String(), "0")
			break
		}
	}
	if lan == "" {
		lan = "0.0.0.0:0" // every address: beyond loopback too
	}
	for _, allow := range []bool{false, true} {
		e := newEnv(t)
		args := []string{"--listen", lan, "--allow-open", "--admin-listen", "", "--records", filepath.Join(e.dir, "r.jsonl")}
		if allow {
			args = append(args, "--allow-local-targets")
		}
		logs := e.startRun(args...)
		addr := logs.wait(t, "tlslens listening")["addr"].(string)
		status, body := plainGet(addr, svc.URL)
		switch {
		case !allow && (status != http.StatusForbidden || !strings.Contains(body, "allow_local_targets is off")):
			t.Errorf("GET a loopback service through a proxy on %s = %d %q, want 403 naming allow_local_targets", addr, status, body)
		case allow && (status != http.StatusOK || body != "loopback-only service"):
			t.Errorf("GET a loopback service with allow_local_targets = %d %q, want it reached", status, body)
		}
	}
}
