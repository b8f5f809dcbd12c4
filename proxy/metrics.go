package proxy

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tlslens/tlslens/inspect"
)

// Handshake outcomes in tlslens_handshakes_total, per leg. They are coarser
// than a record's outcome, which names one cause for the whole connection;
// here each leg says how its own handshake ended.
var legOutcomes = map[string][]string{
	"client":   {"ok", "rejected_certificate", "failed"},
	"upstream": {"ok", "verify_failed", "handshake_failed", "unreachable"},
}

// handshakeBuckets spans a loopback handshake (about a millisecond) to the
// default handshake timeout (10s).
var handshakeBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// metrics are the proxy's Prometheus collectors. A nil *metrics records
// nothing. Safe for concurrent use.
type metrics struct {
	handshakes  *prometheus.CounterVec   // leg, outcome
	duration    *prometheus.HistogramVec // leg
	records     prometheus.Counter
	ignores     prometheus.Counter
	rapidResets prometheus.Counter
}

// newMetrics registers the proxy's collectors with reg; a nil reg gives a
// nil *metrics. Connection counts come from p's listener and the leaf cache
// counts from its Authority, read at each scrape.
func newMetrics(reg prometheus.Registerer, p *Proxy) (*metrics, error) {
	if reg == nil {
		return nil, nil
	}
	m := &metrics{
		handshakes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tlslens_handshakes_total",
			Help: "TLS handshakes of intercepted connections by leg (client: client to tlslens; upstream: tlslens to server) and how each ended.",
		}, []string{"leg", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "tlslens_handshake_duration_seconds",
			Help:    "Time each leg's TLS handshake took, whatever its outcome; upstream includes the TCP dial and any legacy-compatible retry.",
			Buckets: handshakeBuckets,
		}, []string{"leg"}),
		records: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tlslens_records_written_total",
			Help: "Records written, one per connection accepted by the proxy listener (bad requests included).",
		}),
		ignores: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tlslens_connections_ignored_total",
			Help: "Connections to ignore_hosts relayed without a record (record_ignored off): records written plus these equal connections accepted.",
		}),
		rapidResets: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tlslens_h2_rapid_reset_total",
			Help: "Intercepted HTTP/2 connections closed with GOAWAY ENHANCE_YOUR_CALM for resetting streams faster than the bound (rapid reset, CVE-2023-44487).",
		}),
	}
	for leg, outcomes := range legOutcomes {
		m.duration.WithLabelValues(leg)
		for _, o := range outcomes {
			m.handshakes.WithLabelValues(leg, o) // a zero series from the start, so rates work at once
		}
	}
	auth := p.opts.Authority
	collectors := []prometheus.Collector{
		m.handshakes, m.duration, m.records, m.ignores, m.rapidResets,
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "tlslens_connections_total",
			Help: "Client connections accepted by the proxy listener.",
		}, func() float64 { return float64(p.live.accepted.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "tlslens_connections_active",
			Help: "Client connections to the proxy listener open now, tunnels and intercepted connections included.",
		}, func() float64 { return float64(p.live.count()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "tlslens_connections_refused_total",
			Help: "Client connections refused because max_connections were open.",
		}, func() float64 { return float64(p.RefusedConnections()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "tlslens_leaf_cache_hits_total",
			Help: "Leaf certificates served from the cache.",
		}, func() float64 { hits, _ := auth.CacheStats(); return float64(hits) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "tlslens_leaf_cache_misses_total",
			Help: "Leaf certificates minted because none was cached.",
		}, func() float64 { _, misses := auth.CacheStats(); return float64(misses) }),
	}
	for _, c := range collectors {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("proxy: registering metrics: %w", err)
		}
	}
	return m, nil
}

// ignored counts a connection relayed without a record (ignore_hosts).
func (m *metrics) ignored() {
	if m != nil {
		m.ignores.Inc()
	}
}

// observe counts a record as it is written.
func (m *metrics) observe(r *inspect.Record) {
	if m == nil {
		return
	}
	m.records.Inc()
	if r.Mode != inspect.ModeMITM {
		return // passthrough and tunnels: tlslens made no handshake of its own
	}
	if o := clientLegOutcome(r); o != "" {
		m.handshakes.WithLabelValues("client", o).Inc()
		if r.Client.DurationMS > 0 {
			m.duration.WithLabelValues("client").Observe(r.Client.DurationMS / 1000)
		}
	}
	if o := upstreamLegOutcome(r.Upstream); o != "" {
		m.handshakes.WithLabelValues("upstream", o).Inc()
		m.duration.WithLabelValues("upstream").Observe(r.Upstream.DurationMS / 1000)
	}
}

// rapidReset counts a connection closed for resetting HTTP/2 streams too
// fast.
func (m *metrics) rapidReset() {
	if m != nil {
		m.rapidResets.Inc()
	}
}

// clientLegOutcome is how the client's handshake with tlslens ended, or ""
// if there was none (a denied CONNECT).
func clientLegOutcome(r *inspect.Record) string {
	switch {
	case r.Client == nil || r.Outcome == inspect.OutcomeDenied || r.Outcome == inspect.OutcomeNotTLS ||
		r.Reason == inspect.ReasonPlainHTTPS: // an https:// URL without CONNECT: the client spoke no TLS
		return ""
	case r.Client.Negotiated != nil:
		return "ok"
	case r.Outcome == inspect.OutcomeClientRejectedCertificate:
		return "rejected_certificate"
	}
	return "failed"
}

// upstreamLegOutcome is how tlslens's handshake with the server ended, or ""
// if it never dialled. A chain that failed verification counts as
// verify_failed even when the "log" policy used the connection.
func upstreamLegOutcome(u *inspect.Side) string {
	switch {
	case u == nil:
		return ""
	case u.Negotiated != nil && u.Verify != nil && !u.Verify.OK:
		return "verify_failed"
	case u.Negotiated != nil:
		return "ok"
	case u.Addr == "":
		return "unreachable"
	}
	return "handshake_failed"
}
