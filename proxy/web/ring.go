package web

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/tlslens/tlslens/inspect"
)

// DefaultKeep is how many records a Ring keeps when not told (web_keep).
const DefaultKeep = 10000

// subscriberBuffer is how many events a subscriber may fall behind before
// it is dropped: its stream ends and the browser reconnects with
// Last-Event-ID, replaying what it missed from the ring.
const subscriberBuffer = 1024

// A Ring keeps the most recent records, each once as the record's JSON and
// once as its list row, and fans every new one out to the event streams
// open on it. Adding a record costs O(1) whatever the ring holds and the
// streams open: it never waits for a browser. Safe for concurrent use.
type Ring struct {
	now func() time.Time

	mu      sync.Mutex
	entries []entry // entries[seq%len] holds seq, for the last len seqs
	last    uint64  // the seq of the newest record; 0 before the first
	byID    map[string]uint64
	subs    map[*subscriber]struct{}
}

// An entry is one record as the web view serves it.
type entry struct {
	seq   uint64
	row   Row
	rec   []byte // the record, JSON, time set
	data  []byte // row, JSON: inside frame
	frame []byte // the Server-Sent Event carrying data
}

// A subscriber is one open event stream. frames is closed when it is
// dropped for falling behind.
type subscriber struct {
	frames chan []byte
}

// NewRing returns a ring keeping the keep most recent records; keep <= 0
// means DefaultKeep. now stamps records that have no time (the proxy
// leaves Record.Time to the logger); nil means time.Now.
func NewRing(keep int, now func() time.Time) *Ring {
	if keep <= 0 {
		keep = DefaultKeep
	}
	if now == nil {
		now = time.Now
	}
	return &Ring{now: now, entries: make([]entry, keep), byID: make(map[string]uint64, keep), subs: map[*subscriber]struct{}{}}
}

// Add keeps a copy of r and sends its row to every open stream; a stream
// whose buffer is full is dropped instead of waited for. It is the
// proxy's Options.OnRecord: it neither keeps nor modifies r.
func (g *Ring) Add(r *inspect.Record) {
	c := *r
	if c.Time.IsZero() {
		c.Time = g.now().UTC()
	}
	rec, err := json.Marshal(&c)
	if err != nil {
		return // a Record always marshals: its fields are plain data
	}
	g.AddJSON(&c, rec)
}

// AddJSON is Add for a record already encoded: rec is r's JSON as
// json.Marshal writes it, time included, and the ring keeps it as it is.
// It is the proxy's Options.OnRecordJSON: it keeps rec, not r.
func (g *Ring) AddJSON(r *inspect.Record, rec []byte) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.last++
	row := newRow(g.last, r)
	data, _ := json.Marshal(row)
	frame := fmt.Appendf(nil, "id: %d\ndata: ", g.last)
	at := len(frame)
	frame = append(append(frame, data...), "\n\n"...)
	e := entry{seq: g.last, row: row, rec: rec, data: frame[at : at+len(data)], frame: frame} // data shares frame's bytes
	slot := &g.entries[g.last%uint64(len(g.entries))]
	if slot.seq != 0 && g.byID[slot.row.ID] == slot.seq {
		delete(g.byID, slot.row.ID)
	}
	*slot = e
	g.byID[row.ID] = e.seq
	for s := range g.subs {
		select {
		case s.frames <- e.frame:
		default: // a slow browser is dropped, never waited for
			close(s.frames)
			delete(g.subs, s)
		}
	}
}

// Len is how many records the ring holds.
func (g *Ring) Len() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return int(min(g.last, uint64(len(g.entries))))
}

// first is the oldest seq held; g.mu is held.
func (g *Ring) first() uint64 {
	if g.last < uint64(len(g.entries)) {
		return 1
	}
	return g.last - uint64(len(g.entries)) + 1
}

// subscribe opens a stream: the frames after seq after that the ring
// holds, and a subscriber receiving every later one.
func (g *Ring) subscribe(after uint64) ([][]byte, *subscriber) {
	g.mu.Lock()
	defer g.mu.Unlock()
	var backlog [][]byte
	for seq := max(after+1, g.first()); seq <= g.last; seq++ {
		backlog = append(backlog, g.entries[seq%uint64(len(g.entries))].frame)
	}
	s := &subscriber{frames: make(chan []byte, subscriberBuffer)}
	g.subs[s] = struct{}{}
	return backlog, s
}

// rows appends the JSON array of the rows after seq after to b, and
// returns it with the newest seq.
func (g *Ring) rows(b []byte, after uint64) ([]byte, uint64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	b = append(b, '[')
	for seq := max(after+1, g.first()); seq <= g.last; seq++ {
		if b[len(b)-1] != '[' {
			b = append(b, ',')
		}
		b = append(b, g.entries[seq%uint64(len(g.entries))].data...)
	}
	return append(b, ']'), g.last
}

// unsubscribe closes a stream, unless Add dropped it already.
func (g *Ring) unsubscribe(s *subscriber) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, ok := g.subs[s]; ok {
		delete(g.subs, s)
		close(s.frames)
	}
}

// record returns the JSON of the record with this id, if the ring still
// holds it.
func (g *Ring) record(id string) ([]byte, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	seq, ok := g.byID[id]
	if !ok {
		return nil, false
	}
	return g.entries[seq%uint64(len(g.entries))].rec, true
}

// matching returns the JSON of every record held whose row q matches,
// oldest first.
func (g *Ring) matching(q Query) [][]byte {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out [][]byte
	for seq := g.first(); seq <= g.last; seq++ {
		e := &g.entries[seq%uint64(len(g.entries))]
		if q.Match(&e.row) {
			out = append(out, e.rec)
		}
	}
	return out
}

// A Row is a record as the live list shows it: one line, and what the
// filter looks at.
type Row struct {
	Seq      uint64     `json:"seq"`
	ID       string     `json:"id"`
	Time     time.Time  `json:"time"`
	Mode     string     `json:"mode"`
	Outcome  string     `json:"outcome"`
	Target   string     `json:"target"`
	SNI      string     `json:"sni,omitempty"`
	Client   *Leg       `json:"client,omitempty"`
	Upstream *Leg       `json:"upstream,omitempty"`
	JA4      string     `json:"ja4,omitempty"`
	Identity string     `json:"identity,omitempty"` // the known client the hello came from
	Findings Severities `json:"findings"`
	Codes    []string   `json:"codes,omitempty"` // finding codes, most severe first
	Error    string     `json:"error,omitempty"`
}

// A Leg is what one leg agreed, for the list.
type Leg struct {
	Version string `json:"version,omitempty"`
	Suite   string `json:"suite,omitempty"`
	Group   string `json:"group,omitempty"`
	ALPN    string `json:"alpn,omitempty"`
}

// Severities counts a record's findings by severity.
type Severities struct {
	Critical int `json:"critical"`
	Warn     int `json:"warn"`
	Info     int `json:"info"`
}

func newRow(seq uint64, r *inspect.Record) Row {
	row := Row{Seq: seq, ID: r.ID, Time: r.Time, Mode: string(r.Mode), Outcome: string(r.Outcome), Target: r.Target}
	leg := func(s *inspect.Side) *Leg {
		a, ok := s.Agreed()
		if !ok {
			return nil
		}
		return &Leg{Version: a.Version, Suite: a.CipherSuite, Group: a.Group, ALPN: a.ALPN}
	}
	row.Client, row.Upstream = leg(r.Client), leg(r.Upstream)
	if r.Client != nil {
		if h := r.Client.Hello; h != nil {
			row.SNI, row.JA4 = h.SNI, h.JA4
		}
		if id := r.Client.Identity; id != nil {
			row.Identity = id.Name
		}
		row.Error = r.Client.Error
	}
	if r.Upstream != nil && r.Upstream.Error != "" {
		row.Error = strings.TrimPrefix(row.Error+"; ", "; ") + r.Upstream.Error
	}
	for _, sev := range []inspect.Severity{inspect.SeverityCritical, inspect.SeverityWarn, inspect.SeverityInfo} {
		for _, f := range r.Findings {
			if f.Severity != sev {
				continue
			}
			switch sev {
			case inspect.SeverityCritical:
				row.Findings.Critical++
			case inspect.SeverityWarn:
				row.Findings.Warn++
			default:
				row.Findings.Info++
			}
			row.Codes = append(row.Codes, f.Code)
		}
	}
	return row
}
