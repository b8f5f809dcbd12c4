package proxy

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/tlslens/tlslens/inspect"
)

// Flows: every request that reaches goproxy on a recorded connection (an
// intercepted one, a plain http:// request, an https:// URL without
// CONNECT) becomes one inspect.Flow, written once its answer is done: its
// body written whole, the connection hijacked for a WebSocket, or the
// exchange failed. The request's ResponseWriter and body are wrapped to
// count bytes as they stream and, when bodies are kept in memory, to copy
// the first FlowBodyMax bytes of each (a tee that stops at the bound: it
// never holds the stream back). Flows never touch the record: a connection's
// record is written by the same calls, flows on or off.

// Defaults of the flow options.
const (
	defaultFlowBodyMax = 1 << 20  // bytes kept of each body
	defaultFlowMemory  = 64 << 20 // bytes of bodies kept across recent flows
	maxKeptFlows       = 10000    // flows kept in memory, bodies or not
)

// flowStore writes finished flows and keeps the recent ones in memory. Safe
// for concurrent use.
type flowStore struct {
	log     logrus.FieldLogger  // nil: not written
	file    *flowFile           // Options.FlowFile; nil: none
	on      func(*inspect.Flow) // Options.OnFlow
	secrets bool                // Options.FlowSecrets
	bodyMax int                 // bytes kept of each body
	memMax  int64               // bytes of bodies kept in all; < 0: no flows kept
	// direct: flows are kept in memory and/or written to the file,
	// nothing else (tlslens, its web view on or --flows or both), so a
	// flow needs no header lists: its headers are encoded from the maps
	// once, as each form has them (flowHeaders).
	direct bool

	// mem is the capacity of every body buffer allocated, for flows in
	// progress and kept: a capture that would take it over memMax stops.
	mem atomic.Int64

	mu    sync.Mutex
	kept  []keptFlow // a ring (flowkeep.go): n flows from head, oldest first
	head  int
	n     int
	chunk []byte // the chunk kept flows are appended to
}

// newFlowStore returns the flow store for opts, or nil when flows are off.
func newFlowStore(opts Options) *flowStore {
	if opts.Flows == nil && opts.FlowFile == nil && opts.OnFlow == nil && !opts.KeepFlows {
		return nil
	}
	st := &flowStore{log: opts.Flows, on: opts.OnFlow, secrets: opts.FlowSecrets,
		bodyMax: opts.FlowBodyMax, memMax: opts.FlowMemory}
	if opts.FlowFile != nil {
		st.file = &flowFile{w: opts.FlowFile, log: opts.Log}
		if st.file.log == nil {
			st.file.log = discardLogger()
		}
	}
	if st.bodyMax == 0 {
		st.bodyMax = defaultFlowBodyMax
	}
	if st.memMax == 0 {
		st.memMax = defaultFlowMemory
	}
	if st.bodyMax < 0 {
		st.bodyMax = 0
	}
	st.direct = st.log == nil && st.on == nil
	return st
}

// Flows returns the flows kept in memory of the connection whose record id
// is id, oldest first, with the bodies kept (Options.FlowBodyMax); nil when
// there are none or flows are off. Flows leave memory oldest first, beyond
// Options.FlowMemory or 10000 flows. The flows are shared: callers must not
// modify them. Safe for concurrent use.
func (p *Proxy) Flows(id string) []*inspect.Flow {
	st := p.flows
	if st == nil {
		return nil
	}
	var ks []keptFlow
	st.mu.Lock()
	for i := range st.n {
		if k := st.at(i); keptID(k.rec, id) {
			ks = append(ks, *k)
		}
	}
	st.mu.Unlock()
	if ks == nil {
		return nil
	}
	out := make([]*inspect.Flow, len(ks))
	for i := range ks {
		out[i] = ks[i].flow() // a kept record is never written again
	}
	return out
}

// done writes a finished flow, with its header lists, and keeps it. A
// flow line has two keys of its own: the record id, as records have it,
// and the flow (inspect.Flow's JSON); nested, a line costs a logrus entry
// of two fields, not sixteen. When OnFlow is set f is kept as it is
// (OnFlow's callers share it), else encoded (flowkeep.go) with f's bodies:
// f itself can then be reused.
func (st *flowStore) done(f *inspect.Flow) {
	if st.log != nil || st.file != nil {
		req, resp := f.Request, f.Response // the file's: credentials redacted
		if !st.secrets {
			req, resp = inspect.Redact(req), inspect.Redact(resp)
		}
		if st.log != nil {
			line := *f
			line.Request, line.Response = req, resp
			st.log.WithFields(logrus.Fields{"id": f.ID, "flow": &line}).Info("flow")
		}
		if st.file != nil {
			bp := keptScratch.Get().(*[]byte)
			b := appendHeaders((*bp)[:0], req)
			at := len(b)
			b = appendHeaders(b, resp)
			st.file.add(f, b[:at], b[at:], time.Now())
			*bp = b
			putScratch(bp)
		}
	}
	if st.on != nil {
		st.on(f)
	}
	if st.memMax < 0 {
		return
	}
	st.keepFlow(f, nil, st.on != nil)
}

// keep appends b to buf, a body kept in memory, as far as the bounds allow:
// bodyMax for the body, memMax for all. The first allocation is hint bytes
// (the body's Content-Length) when known. It reports false once the body
// is cut.
func (st *flowStore) keep(buf, b []byte, hint int64) ([]byte, bool) {
	if st.memMax < 0 {
		return buf, true // sizes only: nothing is kept, nothing is cut
	}
	k := min(len(b), st.bodyMax-len(buf))
	if k <= 0 {
		return buf, len(b) == 0
	}
	if need := len(buf) + k; need > cap(buf) {
		size := max(need, 2*cap(buf), 512)
		if cap(buf) == 0 && hint >= int64(need) {
			size = int(min(hint, int64(st.bodyMax))) // the whole body, at once
		}
		size = min(size, st.bodyMax)
		grow := int64(size - cap(buf))
		if st.mem.Add(grow) > st.memMax {
			st.mem.Add(-grow)
			return buf, false
		}
		nb := make([]byte, len(buf), size)
		copy(nb, buf)
		buf = nb
	}
	return append(buf, b[:k]...), k == len(b)
}

// flowRun is one flow in progress.
type flowRun struct {
	st    *flowStore
	f     inspect.Flow
	ended bool // the flow was handed to the store (the handler's goroutine only)
	body  bool // r.Body is wrapped: the transport may read it after the handler

	// The request body is read by the transport, perhaps in a goroutine of
	// its own and past the answer's end: what it learns is under reqMu.
	reqMu     sync.Mutex
	reqN      int64
	reqBody   []byte
	reqCut    bool
	reqSent   time.Time // the body's end was read
	reqClosed bool      // the flow is done: stop copying
	reqHint   int64
	reqErr    error

	respHint int64

	// hdr is, when the store is direct, the flow's headers in place of
	// f.Request and f.Response, encoded as they are written: pooled
	// buffers, where the lists were four allocations and each form
	// encoded them again.
	hdr *flowHeaders

	// The wrappers of the request's ResponseWriter, allocated with it, and
	// the context carrying the flow (withFlow), an allocation of its own:
	// it may outlive the handler (a transport's goroutine holds it), fl not.
	w   flowWriter
	hj  flowHijacker
	tee flowTee
	ctx *flowCtx
}

// flowRuns holds the flows of requests without a body once their handlers
// have returned (flowRun.release): a flow in progress is larger than all
// its kept bytes, and the collector swept one per request.
var flowRuns = sync.Pool{New: func() any { return new(flowRun) }}

type flowKey struct{}

// flowFrom returns the flow in progress of a request's context, or nil.
func flowFrom(ctx context.Context) *flowRun {
	fl, _ := ctx.Value(flowKey{}).(*flowRun)
	return fl
}

// flowOf returns the flow in progress of a request: its ResponseWriter's
// (once start has wrapped it), else its context's; nil when there is none.
func flowOf(w http.ResponseWriter, r *http.Request) *flowRun {
	switch fw := w.(type) {
	case *flowWriter:
		return fw.fl
	case *flowHijacker:
		return fw.fl
	}
	return flowFrom(r.Context())
}

// withFlow returns ctx carrying fl, for flowFrom; ctx itself when fl is nil.
// Once per flow: release lets the context go of fl.
func withFlow(ctx context.Context, fl *flowRun) context.Context {
	if fl == nil {
		return ctx
	}
	fl.ctx = &flowCtx{Context: ctx, fl: fl}
	return fl.ctx
}

// flowCtx is a context carrying a flow under flowKey, as
// context.WithValue(ctx, flowKey{}, fl) would: everything else is its
// parent's, cancellation included. Its flow is nil once released.
type flowCtx struct {
	context.Context
	fl *flowRun
}

func (c *flowCtx) Value(key any) any {
	if key == (flowKey{}) {
		return c.fl
	}
	return c.Context.Value(key)
}

// start begins the flow of r, on the connection recorded as id, and
// returns the ResponseWriter to serve it with; r's body is wrapped in
// place (as http.MaxBytesReader's is). The caller gives the request it
// hands on a context withFlow, once: copying a request costs an allocation
// on the hot path. The flow is written by end, or at a hijack.
func (st *flowStore) start(w http.ResponseWriter, r *http.Request, id, url string) (*flowRun, http.ResponseWriter) {
	fl := flowRuns.Get().(*flowRun) // zero: release clears it
	fl.st, fl.reqHint = st, r.ContentLength
	fl.f = inspect.Flow{ID: id, Method: wellKnown(r.Method), URL: url, Proto: wellKnown(r.Proto), Start: time.Now(),
		SentMS: 0, FirstByteMS: -1}
	if st.direct {
		fl.hdr = flowHeadersPool.Get().(*flowHeaders)
		fl.hdr.request(st, r.Host, r.Header)
	} else {
		fl.f.Request = headerList(r.Host, r.Header)
	}
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = &flowBody{ReadCloser: r.Body, fl: fl}
		fl.f.SentMS = -1
		fl.body = true
	}
	fl.w = flowWriter{ResponseWriter: w, fl: fl}
	if hj, ok := w.(http.Hijacker); ok {
		fl.hj = flowHijacker{flowWriter: &fl.w, hj: hj}
		return fl, &fl.hj
	}
	return fl, &fl.w
}

// headerField is one name of an http.Header and its values.
type headerField struct {
	name   string
	values []string
}

// headerFields returns h's names with values, sorted, in fields (most
// requests have fewer than its 24 names: no allocation), with the count of
// values and their bytes and the names' (host's included).
func headerFields(host string, h http.Header, short *[24]headerField) (fields []headerField, n, size int) {
	fields = short[:0]
	size = len(host)
	for k, vs := range h {
		if len(vs) > 0 {
			fields = append(fields, headerField{k, vs})
			n += len(vs)
			size += len(k)
			for _, v := range vs {
				size += len(v)
			}
		}
	}
	slices.SortFunc(fields, func(a, b headerField) int { return strings.Compare(a.name, b.name) })
	return fields, n, size
}

// headerList is h as a list, sorted by name, Host first when not empty.
// Its names and values are copies in one string (a single value is kept as
// it is): a flow holds two objects for its headers, not one per value (and
// per unusual name) of the maps Go's HTTP stack parsed.
func headerList(host string, h http.Header) []inspect.Header {
	var short [24]headerField
	fields, n, size := headerFields(host, h, &short)
	switch {
	case n == 0 && host == "":
		return []inspect.Header{}
	case n == 0: // one value: as is, one object either way
		return []inspect.Header{{Name: "Host", Value: host}}
	case n == 1 && host == "":
		return []inspect.Header{{Name: fields[0].name, Value: fields[0].values[0]}}
	}
	var b strings.Builder
	b.Grow(size)
	b.WriteString(host)
	for _, f := range fields {
		b.WriteString(f.name)
		for _, v := range f.values {
			b.WriteString(v)
		}
	}
	all := b.String()
	next := func(l int) string {
		s := all[:l]
		all = all[l:]
		return s
	}
	out := make([]inspect.Header, 0, n+1)
	if host != "" {
		out = append(out, inspect.Header{Name: "Host", Value: next(len(host))})
	}
	for _, f := range fields {
		name := next(len(f.name))
		for _, v := range f.values {
			out = append(out, inspect.Header{Name: name, Value: next(len(v))})
		}
	}
	return out
}

// flowHeaders is a flow's headers in the forms a direct store
// (flowStore.direct) writes them, encoded straight from the header maps:
// kept, as appendKeptHeaders writes the lists (for keepFlow), and json, as
// appendHeaders writes them redacted (the file line's), each the request's
// then the answer's. A map's names are sorted once for both.
type flowHeaders struct {
	kept, json         []byte
	keptResp, jsonResp int  // where the answer's headers start
	answered           bool // the answer's headers are in
}

// flowHeadersPool holds flowHeaders for flows in progress.
var flowHeadersPool = sync.Pool{New: func() any { return new(flowHeaders) }}

// put returns hb to flowHeadersPool, unless a huge flow (many or long
// headers) grew it.
func (hb *flowHeaders) put() {
	if cap(hb.kept) <= keptChunkSize && cap(hb.json) <= keptChunkSize {
		flowHeadersPool.Put(hb)
	}
}

// request starts hb with a request's headers, h and its Host.
func (hb *flowHeaders) request(st *flowStore, host string, h http.Header) {
	hb.kept, hb.json, hb.answered = hb.kept[:0], hb.json[:0], false
	hb.kept, hb.json = hb.append(st, hb.kept, hb.json, host, h)
	hb.keptResp, hb.jsonResp = len(hb.kept), len(hb.json)
}

// answer sets the answer's headers, h, in place of an interim answer's;
// nil h means no answer at all (a null list, not an empty one).
func (hb *flowHeaders) answer(st *flowStore, h http.Header) {
	hb.kept, hb.json, hb.answered = hb.kept[:hb.keptResp], hb.json[:hb.jsonResp], true
	if h == nil {
		hb.kept, hb.json = append(hb.kept, 0), append(hb.json, "null"...)
		return
	}
	hb.kept, hb.json = hb.append(st, hb.kept, hb.json, "", h)
}

// append appends headerList(host, h) to kept (when st keeps flows) and,
// redacted unless st.secrets, to json (when st writes a file).
func (hb *flowHeaders) append(st *flowStore, kept, json []byte, host string, h http.Header) ([]byte, []byte) {
	var short [24]headerField
	fields, n, _ := headerFields(host, h, &short)
	if st.memMax >= 0 {
		kept = appendKeptFields(kept, host, fields, n)
	}
	if st.file != nil {
		json = appendJSONFields(json, host, fields, !st.secrets)
	}
	return kept, json
}

// wellKnown returns s, a request's method or protocol, as a constant when
// it is a common one: a kept flow then holds no part of the request line.
func wellKnown(s string) string {
	for _, k := range [...]string{"GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "PATCH", "CONNECT", "HTTP/1.1", "HTTP/2.0", "HTTP/1.0"} {
		if s == k {
			return k
		}
	}
	return s
}

// fail notes why the exchange failed; the first reason stays.
func (fl *flowRun) fail(why string) {
	if fl != nil && fl.f.Error == "" {
		fl.f.Error = why
	}
}

// answer notes the answer's status and headers, when they are written.
func (fl *flowRun) answer(status int, h http.Header) {
	if fl.f.Status != 0 && fl.f.Status != http.StatusContinue && fl.f.Status != http.StatusEarlyHints {
		return
	}
	fl.f.Status = status
	fl.f.FirstByteMS = ms(time.Since(fl.f.Start)) // one clock read: time.Now takes two
	if fl.hdr != nil {
		fl.hdr.answer(fl.st, h)
		if ct := h["Content-Type"]; len(ct) > 0 { // as HeaderValue finds it in the list
			fl.f.ContentType = ct[0]
		}
	} else {
		fl.f.Response = headerList("", h)
		fl.f.ContentType = inspect.HeaderValue(fl.f.Response, "Content-Type")
	}
	fl.respHint = -1
	if cl := h["Content-Length"]; len(cl) > 0 {
		if n, err := strconv.ParseInt(cl[0], 10, 64); err == nil {
			fl.respHint = n
		}
	}
}

// end finishes the flow and hands it to the store, once.
func (fl *flowRun) end() {
	if fl.ended {
		return
	}
	fl.ended = true
	f := &fl.f
	done := time.Since(f.Start)
	now := f.Start.Add(done) // the wall clock's now, from one clock read
	f.DoneMS = ms(done)
	if fl.body {
		fl.reqMu.Lock()
		fl.reqClosed = true
		f.RequestSize, f.RequestBody, f.RequestTruncated = fl.reqN, fl.reqBody, fl.reqCut
		if !fl.reqSent.IsZero() {
			f.SentMS = ms(fl.reqSent.Sub(f.Start))
		}
		if fl.reqErr != nil && f.Error == "" && f.Status == 0 {
			f.Error = "reading the client's request body: " + fl.reqErr.Error()
		}
		fl.reqMu.Unlock()
	}
	if hb := fl.hdr; hb != nil {
		fl.hdr = nil
		if !hb.answered {
			hb.answer(fl.st, nil) // no response headers (null)
		}
		if fl.st.file != nil {
			fl.st.file.add(f, hb.json[:hb.jsonResp], hb.json[hb.jsonResp:], now)
		}
		if fl.st.memMax >= 0 {
			fl.st.keepFlow(f, hb.kept, false)
		}
		hb.put()
		return
	}
	if fl.st.on != nil {
		// OnFlow's flow, kept as it is, leaves in an allocation of its
		// own: fl holds the request's ResponseWriter and the upstream's
		// body, and through them the whole exchange (header maps,
		// contexts, the parsed request), which it would keep alive.
		kept := new(inspect.Flow)
		*kept = *f
		f = kept
	}
	fl.st.done(f)
}

// release ends the flow, once its handler has returned, and lets fl be
// reused unless its request body can still be read: the caller must not
// use fl or the ResponseWriter start returned again.
func (fl *flowRun) release() {
	fl.end()
	if fl.body {
		return
	}
	if fl.ctx != nil {
		fl.ctx.fl = nil // a context that outlives the handler carries no flow
	}
	*fl = flowRun{}
	flowRuns.Put(fl)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// flowBody counts (and copies, within bounds) a request body as the
// transport reads it.
type flowBody struct {
	io.ReadCloser
	fl *flowRun
}

func (b *flowBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	fl := b.fl
	fl.reqMu.Lock()
	fl.reqN += int64(n)
	if !fl.reqClosed && !fl.reqCut && n > 0 {
		var whole bool
		fl.reqBody, whole = fl.st.keep(fl.reqBody, p[:n], fl.reqHint)
		fl.reqCut = !whole
	}
	if err == io.EOF && fl.reqSent.IsZero() {
		fl.reqSent = time.Now()
	} else if err != nil && err != io.EOF {
		fl.reqErr = err
	}
	fl.reqMu.Unlock()
	return n, err
}

// flowWriter counts (and copies, within bounds) the answer as it is
// written to the client.
type flowWriter struct {
	http.ResponseWriter
	fl *flowRun
}

func (w *flowWriter) WriteHeader(status int) {
	w.fl.answer(status, w.Header())
	w.ResponseWriter.WriteHeader(status)
}

func (w *flowWriter) Write(b []byte) (int, error) {
	if w.fl.f.Status == 0 {
		w.fl.answer(http.StatusOK, w.Header())
	}
	n, err := w.ResponseWriter.Write(b)
	w.written(b[:n])
	if err != nil {
		w.fl.fail("writing the answer to the client: " + err.Error())
	}
	return n, err
}

func (w *flowWriter) written(b []byte) {
	fl := w.fl
	fl.f.ResponseSize += int64(len(b))
	if !fl.f.ResponseTruncated && len(b) > 0 {
		var whole bool
		fl.f.ResponseBody, whole = fl.st.keep(fl.f.ResponseBody, b, fl.respHint)
		fl.f.ResponseTruncated = !whole
	}
}

// ReadFrom keeps the underlying writer's ReadFrom (net/http copies through
// a pooled buffer), reading through a tee.
func (w *flowWriter) ReadFrom(r io.Reader) (int64, error) {
	if w.fl.f.Status == 0 {
		w.fl.answer(http.StatusOK, w.Header())
	}
	t := &w.fl.tee
	*t = flowTee{r: r, w: w}
	var n int64
	var err error
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(t)
	} else {
		n, err = io.Copy(struct{ io.Writer }{w.ResponseWriter}, t)
	}
	switch {
	case t.err != nil && !errors.Is(t.err, io.EOF):
		w.fl.fail("reading the upstream's answer: " + t.err.Error())
	case err != nil:
		w.fl.fail("writing the answer to the client: " + err.Error())
	}
	return n, err
}

func (w *flowWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap gives http.ResponseController the underlying ResponseWriter.
func (w *flowWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// flowTee counts what a ReadFrom reads: bytes read are bytes written, or
// the copy fails.
type flowTee struct {
	r   io.Reader
	w   *flowWriter
	err error
}

func (t *flowTee) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	t.w.written(p[:n])
	t.err = err
	return n, err
}

// flowHijacker is a flowWriter over a ResponseWriter that can be hijacked:
// a WebSocket's flow is done once its 101 is sent and the connection taken.
type flowHijacker struct {
	*flowWriter
	hj http.Hijacker
}

func (w *flowHijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := w.hj.Hijack()
	if err != nil {
		w.fl.fail("taking over the client connection: " + err.Error())
	}
	w.fl.end()
	return c, rw, err
}

// connFlowID is the record id plain requests on connection c carry: c's
// own id, under which its first record is written (badrequest.go).
func connFlowID(r *http.Request) string {
	if ac, ok := r.Context().Value(plainConnKey{}).(*acceptedConn); ok {
		return ac.id
	}
	return ""
}

// plainFlowURL is the URL of a request to the proxy: its absolute URL, or
// the proxy's own address for one addressed to it (the onboarding page).
func plainFlowURL(r *http.Request) string {
	if r.URL.IsAbs() {
		return r.URL.String()
	}
	return "http://" + r.Host + r.URL.RequestURI()
}

// interceptedFlowURL is the URL of a request on a terminated connection:
// https, the host the client named (or the target), the request's path.
func interceptedFlowURL(r *http.Request, s *session) string {
	host := r.Host
	if host == "" {
		host = s.target
	}
	return "https://" + host + r.URL.RequestURI()
}

// FlowBytes returns the bytes of body buffers the flows hold in memory, in
// progress and kept: at most Options.FlowMemory. Safe for concurrent use.
func (p *Proxy) FlowBytes() int64 {
	if p.flows == nil {
		return 0
	}
	return p.flows.mem.Load()
}
