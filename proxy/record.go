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
	now := time.Now()
	r.Findings = inspect.Findings(r, now)
	if r.Findings == nil {
		r.Findings = []inspect.Finding{} // "findings": [] rather than null
	}
	if p.opts.Records != nil {
		p.logRecord(r)
	}
	var j *encodedRecord // once, for the record file and OnRecordJSON
	if p.opts.RecordFile != nil || p.opts.OnRecordJSON != nil {
		var err error
		if j, err = encodeRecord(r); err != nil { // never: a Record holds plain data
			p.log.WithField("id", r.ID).WithError(err).Error("encoding the record")
		} else {
			defer j.release()
		}
	}
	if j != nil && p.opts.RecordFile != nil {
		j.line = j.appendLine(j.line[:0], now)
		p.writeRecord(j.line)
	}
	p.metrics.observe(r)
	if p.opts.OnRecord != nil {
		p.opts.OnRecord(r)
	}
	if j != nil && p.opts.OnRecordJSON != nil {
		c := *r
		c.Time = now.UTC()
		p.opts.OnRecordJSON(&c, j.appendRecord(make([]byte, 0, j.buf.Len()+256), c.Time))
	}
}

// logRecord writes r to Options.Records as a "handshake" entry.
func (p *Proxy) logRecord(r *inspect.Record) {
	p.recs.WithFields(recordFields(r)).Info("handshake")
}

// recordFields are the fields of r's "handshake" entry: its top-level
// values, those it omits left out.
func recordFields(r *inspect.Record) logrus.Fields {
	f := logrus.Fields{}
	for k, v := range recordValues(r) {
		if v != nil {
			f[recordKeys[k]] = v
		}
	}
	return f
}

// writeRecord writes a record line to Options.RecordFile.
func (p *Proxy) writeRecord(line []byte) {
	p.recMu.Lock()
	_, err := p.opts.RecordFile.Write(line)
	p.recMu.Unlock()
	if err != nil {
		p.log.WithError(err).Error("writing the record file")
	}
}
