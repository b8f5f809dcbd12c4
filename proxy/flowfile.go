package proxy

import (
	"io"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/tlslens/tlslens/inspect"
)

// A flow file (Options.FlowFile) gets a line for every HTTP request, the
// proxy's hot path: through logrus, each line cost an entry, two copies of
// its fields, a copy of the hooks and a write(2), about a tenth of a
// keep-alive request's CPU. The proxy encodes the line itself instead, into
// one buffer, from headers encoded as they were written (flowHeaders), and
// writes the buffer in batches, outside the lock flows are added under.

// FlowTimeFormat is the layout of a flow file's "time": milliseconds, as
// tlslens writes its records.
const FlowTimeFormat = "2006-01-02T15:04:05.000Z07:00"

const (
	flowFlushDelay = 100 * time.Millisecond // a flow reaches the file at most this long after it ends
	flowFlushSize  = 256 << 10              // or once this many bytes wait: a write(2) per few hundred lines
)

// flowFile buffers flow lines for a writer. Safe for concurrent use.
type flowFile struct {
	log logrus.FieldLogger // a write error, from a timed flush

	mu    sync.Mutex
	buf   []byte      // the lines waiting
	spare []byte      // the other buffer, empty; nil while it is being written
	timer *time.Timer // the pending flush; nil when buf is empty
	clock flowClock   // the second of the last time written

	wmu sync.Mutex // held while writing, taken under mu: lines reach w in order
	w   io.Writer
}

// add appends f's line, with the request and response headers req and
// resp (f's, redacted, as appendHeaders writes them), as FlowFormatter
// (and logrus's JSONFormatter) writes a logrus entry of the fields id and
// flow with message "flow" at info level logged at now, and writes the
// buffer once it is large. It keeps none of its arguments.
func (ff *flowFile) add(f *inspect.Flow, req, resp []byte, now time.Time) {
	ff.mu.Lock()
	b := append(ff.buf, `{"flow":`...)
	if f.Time.IsZero() { // as appendFlowHead writes it, with the clock's second
		b = append(b, '{')
	} else {
		b = ff.clock.append(append(b, `{"time":`...), f.Time, true)
		b = append(b, ',')
	}
	b = appendFlowID(b, f)
	b = append(append(b, `,"request_headers":`...), req...)
	b = append(append(b, `,"response_headers":`...), resp...)
	b = appendFlowSizes(b, f)
	b = ff.clock.append(append(b, `,"start":`...), f.Start, true)
	b = appendFlowTimings(b, f)
	b = appendJSONString(append(b, `,"id":`...), f.ID)
	b = append(b, `,"level":"info","msg":"flow","time":`...)
	b = ff.clock.append(b, now, false)
	ff.buf = append(b, '}', '\n')
	switch {
	case len(ff.buf) >= flowFlushSize:
		ff.logError(ff.writeUnlock())
		return
	case ff.timer == nil:
		ff.timer = time.AfterFunc(flowFlushDelay, func() { ff.logError(ff.flush()) })
	}
	ff.mu.Unlock()
}

// flush writes the lines buffered.
func (ff *flowFile) flush() error {
	ff.mu.Lock()
	return ff.writeUnlock()
}

// writeUnlock writes the lines buffered, with ff.mu held, which it
// releases once the lines are taken: flows are added meanwhile to the
// spare buffer.
func (ff *flowFile) writeUnlock() error {
	if ff.timer != nil {
		ff.timer.Stop()
		ff.timer = nil
	}
	b := ff.buf
	if len(b) == 0 {
		ff.mu.Unlock()
		return nil
	}
	ff.buf, ff.spare = ff.spare, nil
	ff.wmu.Lock()
	ff.mu.Unlock()
	_, err := ff.w.Write(b)
	ff.wmu.Unlock()
	if cap(b) <= 4*flowFlushSize { // one huge flow (a long URL, many headers) is not kept
		ff.mu.Lock()
		if ff.spare == nil && ff.buf != nil {
			ff.spare = b[:0]
		} else if ff.buf == nil {
			ff.buf = b[:0]
		}
		ff.mu.Unlock()
	}
	return err
}

// flowClock formats the times of flow lines, as appendJSONTime (RFC 3339
// with nanoseconds) and FlowTimeFormat do, from the date, time of day and
// zone of one second: the lines of a second share them.
type flowClock struct {
	sec  int64
	loc  *time.Location
	at   []byte // "2006-01-02T15:04:05", then the zone from zoneAt
	zone int
}

// append appends t, quoted: with nanoseconds trimmed of trailing zeros as
// time.RFC3339Nano has them when nano is set, else with milliseconds
// (FlowTimeFormat).
func (c *flowClock) append(b []byte, t time.Time, nano bool) []byte {
	if sec := t.Unix(); c.at == nil || sec != c.sec || t.Location() != c.loc {
		c.sec, c.loc = sec, t.Location()
		c.at = t.AppendFormat(c.at[:0], "2006-01-02T15:04:05")
		c.zone = len(c.at)
		c.at = t.AppendFormat(c.at, "Z07:00")
	}
	b = append(append(b, '"'), c.at[:c.zone]...)
	ns := t.Nanosecond()
	if nano {
		if ns != 0 {
			digits := 9
			for ns%10 == 0 {
				ns /= 10
				digits--
			}
			b = appendDigits(append(b, '.'), ns, digits)
		}
	} else {
		b = appendDigits(append(b, '.'), ns/1e6, 3)
	}
	return append(append(b, c.at[c.zone:]...), '"')
}

// appendDigits appends n, not negative, in width digits with leading
// zeros.
func appendDigits(b []byte, n, width int) []byte {
	var d [9]byte
	for i := width - 1; i >= 0; i-- {
		d[i] = byte('0' + n%10)
		n /= 10
	}
	return append(b, d[:width]...)
}

func (ff *flowFile) logError(err error) {
	if err != nil {
		ff.log.WithError(err).Error("writing the flow file")
	}
}

// FlushFlows writes the flow lines waiting for Options.FlowFile, and
// returns the writer's error; Shutdown does the same last. Safe for
// concurrent use.
func (p *Proxy) FlushFlows() error {
	if p.flows == nil || p.flows.file == nil {
		return nil
	}
	return p.flows.file.flush()
}

// flushFlows is FlushFlows with the error logged.
func (p *Proxy) flushFlows() {
	if p.flows != nil && p.flows.file != nil {
		p.flows.file.logError(p.flows.file.flush())
	}
}
