package proxy

import (
	"time"

	"github.com/sirupsen/logrus"

	"github.com/tlslens/tlslens/inspect"
)

// emit writes a connection's record: the only place records are written, once
// per accepted connection, as soon as both handshakes are done or one failed.
func (p *Proxy) emit(r *inspect.Record) {
	if c := r.Client; c != nil && c.Hello != nil {
		c.Identity = p.opts.Clients.Identify(c.Hello)
	}
	r.Findings = inspect.Findings(r, time.Now())
	if r.Findings == nil {
		r.Findings = []inspect.Finding{} // "findings": [] rather than null
	}
	f := logrus.Fields{"schema": r.Schema, "id": r.ID, "mode": r.Mode,
		"target": r.Target, "outcome": r.Outcome, "client": r.Client, "findings": r.Findings}
	if r.Upstream != nil { // absent when never dialled
		f["upstream"] = r.Upstream
	}
	if !r.Via.IsZero() { // absent for the proxy port
		f["via"] = r.Via
	}
	if r.Probe != nil { // absent when not probed
		f["probe"] = r.Probe
	}
	if r.Readiness != nil { // absent without a ClientHello
		f["readiness"] = r.Readiness
	}
	if r.Reason != "" {
		f["reason"] = r.Reason
	}
	if r.Ignored {
		f["ignored"] = true
	}
	p.recs.WithFields(f).Info("handshake")
	p.metrics.observe(r)
	if p.opts.OnRecord != nil {
		p.opts.OnRecord(r)
	}
}
