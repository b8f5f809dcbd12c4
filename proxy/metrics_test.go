package proxy

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/tlslens/tlslens/ca/testpki"
	"github.com/tlslens/tlslens/inspect"
)

// metricValue is the value of the series name{labels} in reg: a counter's
// or gauge's value, a histogram's sample count. A missing series is -1.
func metricValue(t *testing.T, reg prometheus.Gatherer, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for i := 0; i+1 < len(labels); i += 2 {
		want[labels[i]] = labels[i+1]
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			got := map[string]string{}
			for _, lp := range m.GetLabel() {
				got[lp.GetName()] = lp.GetValue()
			}
			if len(got) != len(want) {
				continue
			}
			for k, v := range want {
				if got[k] != v {
					continue series
				}
			}
			switch mf.GetType() {
			case dto.MetricType_COUNTER:
				return m.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				return m.GetGauge().GetValue()
			case dto.MetricType_HISTOGRAM:
				return float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return -1
}

// TestMetrics drives connections with different outcomes through the proxy
// and checks each metric against what happened.
func TestMetrics(t *testing.T) {
	pki := testpki.Root(t, "Upstream Test Root")
	up := startUpstream(t, &tls.Config{Certificates: []tls.Certificate{pki.Leaf(t, "example.com")}})
	reg := prometheus.NewRegistry()
	h := newHarness(t, func(o *Options) { o.UpstreamRoots = pki.Pool(); o.Metrics = reg })

	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := portOfAddr(closed.Addr())
	closed.Close()

	type want struct{ name, leg, outcome string }
	counts := map[want]float64{}
	check := func(t *testing.T) {
		t.Helper()
		for _, leg := range []string{"client", "upstream"} {
			total := 0.0
			for _, o := range legOutcomes[leg] {
				w := want{"tlslens_handshakes_total", leg, o}
				got := metricValue(t, reg, w.name, "leg", leg, "outcome", o)
				if got != counts[w] {
					t.Errorf("%s{leg=%s,outcome=%s} = %v, want %v", w.name, leg, o, got, counts[w])
				}
				total += counts[w]
			}
			if got := metricValue(t, reg, "tlslens_handshake_duration_seconds", "leg", leg); got != total {
				t.Errorf("tlslens_handshake_duration_seconds{leg=%s} count = %v, want %v", leg, got, total)
			}
		}
		records := 0.0
		for _, e := range h.hook.AllEntries() {
			if e.Message == "handshake" {
				records++
			}
		}
		if got := metricValue(t, reg, "tlslens_records_written_total"); got != records {
			t.Errorf("tlslens_records_written_total = %v, want %v", got, records)
		}
		if got := metricValue(t, reg, "tlslens_connections_total"); got != records {
			t.Errorf("tlslens_connections_total = %v, want %v (one CONNECT per connection)", got, records)
		}
		if got := metricValue(t, reg, "tlslens_connections_refused_total"); got != 0 {
			t.Errorf("tlslens_connections_refused_total = %v, want 0 (far below max_connections)", got)
		}
		hits, misses := h.auth.CacheStats()
		if got := metricValue(t, reg, "tlslens_leaf_cache_hits_total"); got != float64(hits) {
			t.Errorf("tlslens_leaf_cache_hits_total = %v, want %v", got, hits)
		}
		if got := metricValue(t, reg, "tlslens_leaf_cache_misses_total"); got != float64(misses) {
			t.Errorf("tlslens_leaf_cache_misses_total = %v, want %v", got, misses)
		}
	}
	check(t) // every series present and zero before any connection

	steps := []struct {
		name    string
		url     string
		client  *tls.Config
		outcome inspect.Outcome
		moves   []want
	}{
		{"ok", "https://example.com:" + up.port() + "/", nil, inspect.OutcomeOK,
			[]want{{"tlslens_handshakes_total", "client", "ok"}, {"tlslens_handshakes_total", "upstream", "ok"}}},
		{"ok again (leaf from the cache)", "https://example.com:" + up.port() + "/", nil, inspect.OutcomeOK,
			[]want{{"tlslens_handshakes_total", "client", "ok"}, {"tlslens_handshakes_total", "upstream", "ok"}}},
		{"client rejects the certificate", "https://example.com:" + up.port() + "/", &tls.Config{RootCAs: x509.NewCertPool()},
			inspect.OutcomeClientRejectedCertificate,
			[]want{{"tlslens_handshakes_total", "client", "rejected_certificate"}, {"tlslens_handshakes_total", "upstream", "ok"}}},
		{"upstream unreachable", "https://example.com:" + closedPort + "/", nil, inspect.OutcomeUpstreamUnreachable,
			[]want{{"tlslens_handshakes_total", "client", "ok"}, {"tlslens_handshakes_total", "upstream", "unreachable"}}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			resp, err := h.httpClient(st.client).Get(st.url)
			if err == nil {
				resp.Body.Close()
			}
			if r := h.record(); r.Outcome != st.outcome {
				t.Fatalf("record outcome %s, want %s", r.Outcome, st.outcome)
			}
			for _, w := range st.moves {
				counts[w]++
			}
			check(t)
		})
	}
	if hits, misses := h.auth.CacheStats(); misses != 1 || hits != 3 {
		t.Errorf("leaf cache hits, misses = %d, %d; want 3, 1 (one name)", hits, misses)
	}

	t.Run("active connections", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := h.p.live.wait(ctx); err != nil {
			t.Fatal(err)
		}
		if got := metricValue(t, reg, "tlslens_connections_active"); got != 0 {
			t.Errorf("tlslens_connections_active = %v with no connection open", got)
		}
		c := h.connect("example.com:" + up.port())
		if got := metricValue(t, reg, "tlslens_connections_active"); got != 1 {
			t.Errorf("tlslens_connections_active = %v with one tunnel open, want 1", got)
		}
		c.Close()
		h.record()
		if err := h.p.live.wait(ctx); err != nil {
			t.Fatal(err)
		}
		if got := metricValue(t, reg, "tlslens_connections_active"); got != 0 {
			t.Errorf("tlslens_connections_active = %v after the tunnel closed", got)
		}
	})

	t.Run("second proxy on the same registry", func(t *testing.T) {
		if _, err := New(Options{Authority: h.auth, Metrics: reg}); err == nil {
			t.Error("New registered the same metrics twice without an error")
		}
	})
}
