package proxy

import (
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/tlslens/tlslens/inspect"
)

// keptSamples are flows unlike each other in every field a record holds.
func keptSamples() []*inspect.Flow {
	start := time.Unix(1764750000, 123456789) // as decoded: local, no monotonic reading
	return []*inspect.Flow{
		{ID: "c1", Method: "GET", URL: "https://example.com/", Proto: "HTTP/1.1", Status: 200,
			Request:  []inspect.Header{{Name: "Host", Value: "example.com"}, {Name: "Authorization", Value: "Bearer top-secret"}},
			Response: []inspect.Header{{Name: "Content-Type", Value: "text/plain"}}, ResponseSize: 2, ContentType: "text/plain",
			Start: start, SentMS: 0, FirstByteMS: 1.5, DoneMS: 2.25, ResponseBody: []byte("ok")},
		{ID: "c1", Method: "PROPFIND", URL: "https://example.com/dav/é", Proto: "HTTP/2.0", Status: 207,
			Request: []inspect.Header{}, RequestSize: 5, ResponseSize: 100000, Start: start.Add(time.Second),
			SentMS: 0.5, FirstByteMS: 3, DoneMS: 9, RequestBody: []byte{}, ResponseBody: []byte(strings.Repeat("b", 4096)),
			ResponseTruncated: true, RequestTruncated: true},
		{ID: "c2", Method: "POST", URL: "http://plain.test/x", Proto: "HTTP/1.0", Request: []inspect.Header{{Name: "Host", Value: "plain.test"}},
			RequestSize: -1, Start: start, SentMS: -1, FirstByteMS: -1, DoneMS: 0.001, Error: "reading the client's request body: EOF",
			Time: start.Add(time.Hour), RequestBody: []byte("part")},
		{}, // every field zero
	}
}

// TestKeptFlowRoundTrip: a flow kept encoded reads back as it was handed
// to the store, field for field, nil and empty lists and bodies apart.
func TestKeptFlowRoundTrip(t *testing.T) {
	st := newFlowStore(Options{KeepFlows: true})
	want := keptSamples()
	for _, f := range want {
		c := *f // the store keeps none of f
		st.keepFlow(&c, nil, false)
	}
	if st.n != len(want) {
		t.Fatalf("%d flows kept, want %d", st.n, len(want))
	}
	for i, f := range want {
		if got := st.at(i).flow(); !reflect.DeepEqual(got, f) {
			t.Errorf("flow %d kept as\n%+v\nwant\n%+v", i, got, f)
		}
	}
	for _, id := range []string{"c1", "c2", "", "c3"} {
		var n int
		for _, f := range want {
			if f.ID == id {
				n++
			}
		}
		var m int
		for i := range st.n {
			if keptID(st.at(i).rec, id) {
				m++
			}
		}
		if m != n {
			t.Errorf("keptID matched %d flows of %q, want %d", m, id, n)
		}
	}
}

// TestKeptFlowChunks: records are encoded in place in shared chunks; one
// that outgrows a chunk's free space moves to a new chunk, and one larger
// than a quarter of a chunk has its own bytes; every one reads back as it
// was, and none overlaps another.
func TestKeptFlowChunks(t *testing.T) {
	st := newFlowStore(Options{KeepFlows: true})
	var want []*inspect.Flow
	for i, size := range []int{10, 3000, 10, 5000, 7000, 20000, 10, 9000, 10} {
		for j := range 4 {
			f := &inspect.Flow{ID: fmt.Sprint("c", i, j), Method: "GET", URL: "https://example.com/" + strings.Repeat("p", size),
				Proto: "HTTP/1.1", Status: 200, Request: []inspect.Header{{Name: "Host", Value: "example.com"}},
				Start: time.Unix(1764750000, 0), ResponseBody: []byte("ok")}
			want = append(want, f)
			c := *f
			st.keepFlow(&c, nil, false)
		}
	}
	type span struct{ lo, hi uintptr }
	var spans []span
	shared := 0
	for i, f := range want {
		k := st.at(i)
		if got := k.flow(); !reflect.DeepEqual(got, f) {
			t.Fatalf("flow %d (URL of %d bytes) kept as %+v", i, len(f.URL), got)
		}
		if len(k.rec) <= keptChunkSize/4 && cap(k.rec) != len(k.rec) { // in a chunk: its end is the next one's start
			t.Errorf("flow %d: record of %d bytes can grow to %d", i, len(k.rec), cap(k.rec))
		}
		lo := uintptr(unsafe.Pointer(unsafe.SliceData(k.rec)))
		for _, s := range spans {
			if lo < s.hi && s.lo < lo+uintptr(len(k.rec)) {
				t.Fatalf("flow %d's record overlaps another", i)
			}
		}
		spans = append(spans, span{lo, lo + uintptr(len(k.rec))})
		if len(k.rec) <= keptChunkSize/4 && i > 0 && lo == spans[i-1].hi {
			shared++ // right after the record before it, in its chunk
		}
	}
	if shared < len(want)/2 {
		t.Errorf("%d of %d records follow the one before in its chunk", shared, len(want))
	}
}

// TestKeptFlowBounds: flows kept encoded stay within 10000 flows (the
// oldest 64 going at once when there are as many) and the bytes of bodies
// allowed, oldest first out, and their bodies are counted in FlowBytes as
// they are held.
func TestKeptFlowBounds(t *testing.T) {
	st := newFlowStore(Options{KeepFlows: true})
	for i := range maxKeptFlows + keptDropBatch + 50 {
		st.mem.Add(8) // as keep counted the body when it was read
		st.keepFlow(&inspect.Flow{ID: fmt.Sprint(i), ResponseBody: make([]byte, 2, 8)}, nil, false)
		if st.n > maxKeptFlows {
			t.Fatalf("%d flows kept", st.n)
		}
	}
	// 10000 kept; the 10001st made them 9936 + 1, the 10065th 9936 + 1
	// again, and the 49 after it 9986.
	want := maxKeptFlows - keptDropBatch + 50
	if oldest := fmt.Sprint(2 * keptDropBatch); st.n != want || !keptID(st.at(0).rec, oldest) || st.mem.Load() != 2*int64(want) {
		t.Errorf("%d flows kept, the oldest %q, %d bytes of bodies; want %d, %q, %d",
			st.n, st.at(0).flow().ID, st.mem.Load(), want, oldest, 2*want)
	}

	st = newFlowStore(Options{KeepFlows: true, FlowMemory: 64 << 10})
	body := make([]byte, 1000, 1024) // inline: counted as its length
	big := make([]byte, 4096)        // its own buffer: counted as its capacity
	for i := range 200 {
		b := body
		if i%2 == 1 {
			b = big
		}
		st.mem.Add(int64(cap(b))) // as keep counted it when it was read
		st.keepFlow(&inspect.Flow{ID: fmt.Sprint(i), ResponseBody: b}, nil, false)
	}
	var held int64
	for i := range st.n {
		f := st.at(i).flow()
		if len(f.ResponseBody) == cap(f.ResponseBody) { // inline
			held += int64(len(f.ResponseBody))
		} else {
			held += int64(cap(f.ResponseBody))
		}
	}
	if m := st.mem.Load(); m > 48<<10 || m != held || st.n < 10 || !keptID(st.at(st.n-1).rec, "199") {
		t.Errorf("%d bytes counted, %d held by %d flows kept, want them equal and under 48 KiB", m, held, st.n)
	}
}

// TestKeptFlowConcurrent: flows are kept and read at once from many
// goroutines (run with -race); each reads back whole.
func TestKeptFlowConcurrent(t *testing.T) {
	st := newFlowStore(Options{KeepFlows: true, FlowMemory: 1 << 20})
	p := &Proxy{flows: st}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			id := fmt.Sprint("c", g)
			for i := range 2000 {
				body := fmt.Appendf(nil, "%s-%d", id, i)
				st.keepFlow(&inspect.Flow{ID: id, URL: "https://example.com/" + string(body), ResponseBody: body}, nil, false)
				if i%100 == 0 {
					for _, f := range p.Flows(id) {
						if f.ID != id || f.URL != "https://example.com/"+string(f.ResponseBody) {
							t.Errorf("flow %q %q, body %q", f.ID, f.URL, f.ResponseBody)
							return
						}
					}
				}
			}
		})
	}
	wg.Wait()
	if st.n != 8000 {
		t.Errorf("%d flows kept, want 8000", st.n)
	}
}

// TestFlowsKeptOnly: flows kept as tlslens keeps them for its web view
// (KeepFlows, no OnFlow: encoded), over HTTP/1.1 and HTTP/2, read back by
// Proxy.Flows with their headers unredacted and their bodies.
func TestFlowsKeptOnly(t *testing.T) {
	t.Parallel()
	_, port, pki := flowUpstream(t, true)
	base := "https://example.com:" + port
	for _, proto := range []string{"http/1.1", "h2"} {
		h := newHarness(t, func(o *Options) { o.UpstreamRoots, o.KeepFlows = pki.Pool(), true })
		client := h.httpClient(&tls.Config{NextProtos: []string{proto}})
		client.Transport.(*http.Transport).ForceAttemptHTTP2 = proto == "h2"
		req, _ := http.NewRequest(http.MethodPost, base+"/post", strings.NewReader("hello body"))
		req.Header.Set("Authorization", "Bearer top-secret")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", proto, err)
		}
		resp.Body.Close()
		// The harness's client closes each connection: one flow per record.
		kept := func() (*inspect.Record, *inspect.Flow) {
			r := h.record()
			var flows []*inspect.Flow
			waitFor(t, "a flow kept", func() bool { flows = h.p.Flows(r.ID); return len(flows) > 0 })
			if len(flows) != 1 {
				t.Fatalf("%s: %d flows kept of %s, want 1", proto, len(flows), r.ID)
			}
			return r, flows[0]
		}
		r, post := kept()
		get(t, client, base+"/big")
		rBig, big := kept()
		wantProto := map[string]string{"http/1.1": "HTTP/1.1", "h2": "HTTP/2.0"}[proto]
		postBody := `{"method":"POST","path":"/post","got":10}`
		checkFlow(t, post, r.ID, "POST", base+"/post", wantProto, 200, 10, int64(len(postBody)))
		checkFlow(t, big, rBig.ID, "GET", base+"/big", wantProto, 200, 0, 100000)
		if string(post.RequestBody) != "hello body" || string(post.ResponseBody) != postBody || post.ContentType != "application/json" ||
			inspect.HeaderValue(post.Request, "Authorization") != "Bearer top-secret" ||
			!strings.HasPrefix(inspect.HeaderValue(post.Response, "Set-Cookie"), "sid=secret-session") {
			t.Errorf("%s: POST flow kept as %+v", proto, post)
		}
		if len(big.ResponseBody) != 100000 || big.ResponseTruncated || big.RequestBody != nil {
			t.Errorf("%s: /big kept %d bytes (truncated %v), request body %q", proto, len(big.ResponseBody), big.ResponseTruncated, big.RequestBody)
		}
	}
}

// TestKeptHeaderMap: headers encoded from the map, as a flow only kept
// encodes them, read back as the list a flow written holds.
func TestKeptHeaderMap(t *testing.T) {
	many := http.Header{}
	for i := range 40 {
		many.Add(fmt.Sprintf("X-Name-%02d", 39-i), fmt.Sprint("v", i))
	}
	many["X-Name-07"] = append(many["X-Name-07"], "second", "")
	for _, c := range []struct {
		host string
		h    http.Header
	}{
		{"", nil},
		{"", http.Header{"Empty": {}}},
		{"example.com", nil},
		{"", http.Header{"Content-Type": {"text/plain"}}},
		{"example.com:8443", http.Header{"User-Agent": {"curl/8"}, "Accept": {"*/*"}, "Cookie": {"a=1", "b=2"}}},
		{"example.com", many},
	} {
		d := keptDecoder{s: string(appendKeptHeaderMap(nil, c.host, c.h))}
		if got, want := d.headers(), headerList(c.host, c.h); !reflect.DeepEqual(got, want) || d.s != "" {
			t.Errorf("host %q %v: kept as %v (%d bytes left), want %v", c.host, c.h, got, len(d.s), want)
		}
	}
}

// TestFlowKeptOnlyAsWritten: a flow only kept (headers encoded from the
// maps) reads back as the same flow kept for OnFlow (header lists): with an
// interim 100 answer before the final one, and with no answer at all.
func TestFlowKeptOnlyAsWritten(t *testing.T) {
	run := func(st *flowStore, answers []int) *inspect.Flow {
		r := httptest.NewRequest(http.MethodPost, "https://example.com/up", strings.NewReader("body"))
		r.Header.Set("Expect", "100-continue")
		w := &discardWriter{h: http.Header{}}
		fl, fw := st.start(w, r, "id", "https://example.com/up")
		io.Copy(io.Discard, r.Body)
		for _, status := range answers {
			fw.Header().Set("Content-Type", fmt.Sprint("text/x-", status))
			fw.Header().Set("X-Status", fmt.Sprint(status))
			fw.WriteHeader(status)
		}
		if len(answers) > 0 {
			fw.Write([]byte("done"))
		}
		fl.end()
		p := &Proxy{flows: st}
		flows := p.Flows("id")
		if len(flows) != 1 {
			t.Fatalf("%d flows kept, want 1", len(flows))
		}
		f := *flows[0]
		f.Start, f.SentMS, f.FirstByteMS, f.DoneMS = time.Time{}, 0, 0, 0
		return &f
	}
	for _, answers := range [][]int{{http.StatusContinue, http.StatusCreated}, nil} {
		only := newFlowStore(Options{KeepFlows: true})
		if !only.direct {
			t.Fatal("KeepFlows alone: not direct")
		}
		got := run(only, answers)
		want := run(newFlowStore(Options{OnFlow: func(*inspect.Flow) {}}), answers)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("answers %v: kept only\n%+v\nkept for OnFlow\n%+v", answers, got, want)
		}
	}
}
