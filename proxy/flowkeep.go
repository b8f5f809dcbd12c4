package proxy

import (
	"encoding/binary"
	"math"
	"net/http"
	"sync"
	"time"

	"github.com/tlslens/tlslens/inspect"
)

// Flows kept in memory (Proxy.Flows) are kept encoded: a finished flow is
// appended once, as bytes, to a large chunk shared with the flows before
// it, and decoded only when a page asks for its connection's flows. The
// collector marks a chunk as one object without looking inside it, where
// thousands of kept inspect.Flow values, each with its header lists and
// strings, cost it six objects and their pointers in every cycle: on a
// keep-alive request that marking was most of what keeping flows cost.

const (
	keptChunkSize = 32 << 10 // bytes of one chunk of encoded flows
	// keptBodyInline is the most bytes of bodies a kept flow copies into
	// its chunk; larger bodies stay in the buffers they were read into,
	// one object each, where copying them would cost more than marking.
	keptBodyInline = 2 << 10
	// keptChunkFree is the least free space a chunk must have for a
	// record to be encoded in it: most records fit, and less is left
	// unused.
	keptChunkFree = 2 << 10
	// keptDropBatch is how many of the oldest flows go at once when
	// maxKeptFlows are kept: one pass over neighbouring entries, where one
	// per flow read an entry long out of the cache every time.
	keptDropBatch = 64
)

// keptFlow is one flow kept in memory.
type keptFlow struct {
	rec []byte   // the flow (appendKept), in a chunk; small bodies at its end
	ext *keptExt // nil unless a body is kept apart or the flow is shared
	mem int64    // bytes of st.mem the flow's bodies hold
}

// keptExt is what a kept flow holds beyond its record.
type keptExt struct {
	reqBody, respBody []byte        // too large to copy: the buffers they were read into
	shared            *inspect.Flow // with Options.OnFlow: the flow handed to it, returned as is
}

// keptScratch holds the buffers a flow's header lists are encoded in for
// the flow file (flowStore.done).
var keptScratch = sync.Pool{New: func() any { return new([]byte) }}

// putScratch returns b to keptScratch, unless a huge flow (many or long
// headers) grew it.
func putScratch(b *[]byte) {
	if cap(*b) <= keptChunkSize {
		keptScratch.Put(b)
	}
}

// keepFlow keeps f in memory, encoded, and drops the oldest flows beyond
// the bounds. hdr is f's headers as appendKeptFields encoded them
// (flowHeaders.kept), or nil for f.Request and f.Response. With shared, f
// itself is kept too (OnFlow holds it): then its bodies stay where they
// are. f is not modified.
func (st *flowStore) keepFlow(f *inspect.Flow, hdr []byte, shared bool) {
	inline := !shared && len(f.RequestBody)+len(f.ResponseBody) <= keptBodyInline
	k := keptFlow{mem: int64(cap(f.RequestBody) + cap(f.ResponseBody))}
	switch {
	case shared:
		k.ext = &keptExt{reqBody: f.RequestBody, respBody: f.ResponseBody, shared: f}
	case inline:
		held := int64(len(f.RequestBody) + len(f.ResponseBody))
		st.mem.Add(held - k.mem) // the buffers read into are garbage now
		k.mem = held
	case f.RequestBody != nil || f.ResponseBody != nil:
		k.ext = &keptExt{reqBody: f.RequestBody, respBody: f.ResponseBody}
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	// The record is encoded in place, in the chunk's free space (a new
	// chunk's when little is left). One that outgrows it (long headers)
	// moves to a new chunk, or to an allocation of its own when it would
	// leave much of a chunk unused.
	if cap(st.chunk)-len(st.chunk) < keptChunkFree {
		st.chunk = make([]byte, 0, keptChunkSize)
	}
	at := len(st.chunk)
	c := appendKept(st.chunk, f, hdr, inline)
	rec := c[at:len(c):len(c)]
	switch {
	case cap(c) == cap(st.chunk): // in place
		st.chunk = c
	case len(rec) > keptChunkSize/4:
		rec = append([]byte(nil), rec...)
	default:
		st.chunk = append(make([]byte, 0, keptChunkSize), rec...)
		rec = st.chunk[:len(rec):len(rec)]
	}
	k.rec = rec
	if st.n == maxKeptFlows {
		st.dropOldest(keptDropBatch)
	}
	st.push(k)
	// Keep a quarter of the bound free for the bodies of flows in progress.
	for st.n > 1 && st.mem.Load() > st.memMax-st.memMax/4 {
		st.dropOldest(1)
	}
}

// at returns the i-th flow kept, oldest first. st.mu must be held.
func (st *flowStore) at(i int) *keptFlow { return &st.kept[(st.head+i)%len(st.kept)] }

// push keeps k as the newest flow, growing the ring up to maxKeptFlows.
// st.mu must be held.
func (st *flowStore) push(k keptFlow) {
	if st.n == len(st.kept) {
		ring := make([]keptFlow, min(max(2*st.n, 64), maxKeptFlows))
		for i := range st.n {
			ring[i] = *st.at(i)
		}
		st.kept, st.head = ring, 0
	}
	*st.at(st.n) = k
	st.n++
}

// dropOldest lets the n oldest flows kept go (at most all but one). st.mu
// must be held.
func (st *flowStore) dropOldest(n int) {
	var mem int64
	for range min(n, st.n-1) {
		k := st.at(0)
		mem += k.mem
		*k = keptFlow{}
		st.head = (st.head + 1) % len(st.kept)
		st.n--
	}
	st.mem.Add(-mem)
}

// Flags of a kept flow.
const (
	keptReqTruncated = 1 << iota
	keptRespTruncated
	keptReqBody  // the request body follows the record, after the lengths
	keptRespBody // the response body, after the request's
)

// appendKept appends f in the form keptID and keptFlow.flow read: its ID
// first, and its bodies last when inline (else they are kept apart). Its
// headers are hdr when not nil (flowHeaders.kept).
func appendKept(b []byte, f *inspect.Flow, hdr []byte, inline bool) []byte {
	b = appendKeptString(b, f.ID)
	b = appendKeptString(b, f.Method)
	b = appendKeptString(b, f.URL)
	b = appendKeptString(b, f.Proto)
	b = binary.AppendVarint(b, int64(f.Status))
	if hdr != nil {
		b = append(b, hdr...)
	} else {
		b = appendKeptHeaders(appendKeptHeaders(b, f.Request), f.Response)
	}
	b = binary.AppendVarint(b, f.RequestSize)
	b = binary.AppendVarint(b, f.ResponseSize)
	b = appendKeptString(b, f.ContentType)
	b = appendKeptTime(b, f.Time)
	b = appendKeptTime(b, f.Start)
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(f.SentMS))
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(f.FirstByteMS))
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(f.DoneMS))
	b = appendKeptString(b, f.Error)
	var flags byte
	if f.RequestTruncated {
		flags |= keptReqTruncated
	}
	if f.ResponseTruncated {
		flags |= keptRespTruncated
	}
	if !inline {
		return append(b, flags)
	}
	if f.RequestBody != nil {
		flags |= keptReqBody
	}
	if f.ResponseBody != nil {
		flags |= keptRespBody
	}
	b = binary.AppendUvarint(binary.AppendUvarint(append(b, flags), uint64(len(f.RequestBody))), uint64(len(f.ResponseBody)))
	return append(append(b, f.RequestBody...), f.ResponseBody...)
}

func appendKeptString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// appendKeptHeaders appends the count of hs plus one (0: nil), then each
// name and value.
func appendKeptHeaders(b []byte, hs []inspect.Header) []byte {
	if hs == nil {
		return append(b, 0)
	}
	b = binary.AppendUvarint(b, uint64(len(hs))+1)
	for _, h := range hs {
		b = appendKeptString(appendKeptString(b, h.Name), h.Value)
	}
	return b
}

// appendKeptHeaderMap appends what appendKeptHeaders would of
// headerList(host, h), without the list.
func appendKeptHeaderMap(b []byte, host string, h http.Header) []byte {
	var short [24]headerField
	fields, n, _ := headerFields(host, h, &short)
	return appendKeptFields(b, host, fields, n)
}

// appendKeptFields is appendKeptHeaderMap of h's fields and count of
// values (headerFields).
func appendKeptFields(b []byte, host string, fields []headerField, n int) []byte {
	if host != "" {
		n++
	}
	b = binary.AppendUvarint(b, uint64(n)+1)
	if host != "" {
		b = appendKeptString(appendKeptString(b, "Host"), host)
	}
	for _, f := range fields {
		for _, v := range f.values {
			b = appendKeptString(appendKeptString(b, f.name), v)
		}
	}
	return b
}

// appendKeptTime appends t's Unix time in nanoseconds, after a byte that
// is 0 for the zero time (and nothing follows).
func appendKeptTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(b, 0)
	}
	return binary.LittleEndian.AppendUint64(append(b, 1), uint64(t.UnixNano()))
}

// keptID reports whether the record rec is of a flow whose ID is id.
func keptID(rec []byte, id string) bool {
	n, w := binary.Uvarint(rec)
	return w > 0 && uint64(len(rec)-w) >= n && string(rec[w:w+int(n)]) == id
}

// flow returns the kept flow, a new one decoded from its record unless it
// is shared. Its strings share one allocation; its bodies are k's own
// bytes (a kept record is never written again).
func (k *keptFlow) flow() *inspect.Flow {
	if k.ext != nil && k.ext.shared != nil {
		return k.ext.shared
	}
	d := keptDecoder{s: string(k.rec)}
	f := &inspect.Flow{ID: d.string(), Method: wellKnown(d.string()), URL: d.string(), Proto: wellKnown(d.string()),
		Status: int(d.varint())}
	f.Request = d.headers()
	f.Response = d.headers()
	f.RequestSize, f.ResponseSize = d.varint(), d.varint()
	f.ContentType = d.string()
	f.Time, f.Start = d.time(), d.time()
	f.SentMS, f.FirstByteMS, f.DoneMS = d.float(), d.float(), d.float()
	f.Error = d.string()
	flags := d.byte()
	f.RequestTruncated, f.ResponseTruncated = flags&keptReqTruncated != 0, flags&keptRespTruncated != 0
	if k.ext != nil {
		f.RequestBody, f.ResponseBody = k.ext.reqBody, k.ext.respBody
		return f
	}
	if flags&(keptReqBody|keptRespBody) == 0 {
		return f
	}
	nreq, nresp := int(d.uvarint()), int(d.uvarint())
	at := len(k.rec) - len(d.s) // the bodies, in k's bytes
	if flags&keptReqBody != 0 {
		f.RequestBody = k.rec[at : at+nreq : at+nreq]
	}
	if flags&keptRespBody != 0 {
		f.ResponseBody = k.rec[at+nreq : at+nreq+nresp : at+nreq+nresp]
	}
	return f
}

// keptDecoder reads a record appendKept wrote, from a string copy of it:
// the strings it returns are parts of that one copy. Records are the
// store's own, so a malformed one is a programmer error and panics.
type keptDecoder struct{ s string }

func (d *keptDecoder) uvarint() uint64 {
	var v uint64
	for shift := 0; ; shift += 7 {
		c := d.s[0]
		d.s = d.s[1:]
		v |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return v
		}
	}
}

func (d *keptDecoder) varint() int64 {
	u := d.uvarint()
	return int64(u>>1) ^ -int64(u&1) // zig-zag, as binary.AppendVarint
}

func (d *keptDecoder) string() string {
	n := d.uvarint()
	s := d.s[:n]
	d.s = d.s[n:]
	return s
}

func (d *keptDecoder) byte() byte {
	c := d.s[0]
	d.s = d.s[1:]
	return c
}

func (d *keptDecoder) uint64() uint64 {
	v := uint64(d.s[0]) | uint64(d.s[1])<<8 | uint64(d.s[2])<<16 | uint64(d.s[3])<<24 |
		uint64(d.s[4])<<32 | uint64(d.s[5])<<40 | uint64(d.s[6])<<48 | uint64(d.s[7])<<56
	d.s = d.s[8:]
	return v
}

func (d *keptDecoder) float() float64 { return math.Float64frombits(d.uint64()) }

func (d *keptDecoder) time() time.Time {
	if d.byte() == 0 {
		return time.Time{}
	}
	return time.Unix(0, int64(d.uint64()))
}

func (d *keptDecoder) headers() []inspect.Header {
	n := d.uvarint()
	if n == 0 {
		return nil
	}
	hs := make([]inspect.Header, n-1)
	for i := range hs {
		hs[i] = inspect.Header{Name: d.string(), Value: d.string()}
	}
	return hs
}
