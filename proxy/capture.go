package proxy

import (
	"bytes"
	"io"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/tlslens/tlslens/inspect/pcap"
)

// This file keeps, when Options.Capture is set, the bytes of both legs of
// every intercepted connection as they went over TCP (TLS records,
// encrypted), with their NSS key log lines, so that Proxy.Capture can hand
// any of them to Wireshark as a pcapng that decrypts itself. A session
// starts its capture once it knows it will intercept (its hello read, the
// policy MITM); captureConn wraps each leg's net.Conn below TLS; the capture
// is complete when all its legs are closed, and is then written to
// Capture.File.

// Capture configures Options.Capture: what is kept of each intercepted
// connection's bytes, and for how many connections.
type Capture struct {
	// MaxBytesPerLeg bounds the bytes kept of each TCP connection (both
	// directions together); past it, bytes are counted but not kept, and
	// the capture ends there. 0 means 1 MiB.
	MaxBytesPerLeg int
	// Keep is how many connections' captures are kept, the most recent
	// (as Proxy.Capture finds them); 0 means 10 000, the web view's ring.
	Keep int
	// MaxBytes bounds the bytes kept by all captures together; the oldest
	// are dropped first. 0 means 256 MiB. It binds long before Keep does
	// with busy connections (10 000 × 2 legs × 1 MiB would be 20 GiB). A
	// connection still open holds at most MaxBytesPerLeg per leg more.
	MaxBytes int64
	// File, if set, receives every connection's capture as it completes
	// (all its legs closed), appended to one pcapng stream: the section
	// header first, then per connection its secrets and its packets.
	// Writes are serialised.
	File io.Writer
}

const (
	defaultCaptureLeg   = 1 << 20
	defaultCaptureKeep  = 10_000
	defaultCaptureBytes = 256 << 20
)

// captures is the ring of recent captures by record id.
type captures struct {
	maxLeg   int
	keep     int
	maxBytes int64
	file     io.Writer
	onErr    func(id string, err error) // a write to File failed

	mu    sync.Mutex
	byID  map[string]*capture
	order []string // the ids in byID, oldest first
	bytes int64    // kept bytes of the legs closed, over byID

	fileMu sync.Mutex
	fileW  *pcap.Writer // nil until the first write
}

func newCaptures(c *Capture, onErr func(string, error)) *captures {
	if c == nil {
		return nil
	}
	cs := &captures{maxLeg: c.MaxBytesPerLeg, keep: c.Keep, maxBytes: c.MaxBytes, file: c.File, onErr: onErr,
		byID: map[string]*capture{}}
	if cs.maxLeg <= 0 {
		cs.maxLeg = defaultCaptureLeg
	}
	if cs.keep <= 0 {
		cs.keep = defaultCaptureKeep
	}
	if cs.maxBytes <= 0 {
		cs.maxBytes = defaultCaptureBytes
	}
	return cs
}

// start begins the capture of connection id, whose client leg is c, with
// hello already read from it; nil when captures are off.
func (cs *captures) start(id string, c net.Conn, hello []byte) *capture {
	if cs == nil {
		return nil
	}
	cp := &capture{store: cs, id: id}
	cp.client = cp.leg(addrPortOf(c.RemoteAddr()), addrPortOf(c.LocalAddr()))
	cp.client.add(true, hello)
	cs.mu.Lock()
	if old, dup := cs.byID[id]; dup {
		cs.bytes -= old.counted // a second session under one id replaces the first
	} else {
		cs.order = append(cs.order, id)
	}
	cs.byID[id] = cp
	cs.evict()
	cs.mu.Unlock()
	return cp
}

// evict drops the oldest captures while there are more than keep or they
// hold more than maxBytes. cs.mu is held.
func (cs *captures) evict() {
	for len(cs.order) > 0 && (len(cs.byID) > cs.keep || cs.bytes > cs.maxBytes) {
		id := cs.order[0]
		cs.order = cs.order[1:]
		if cp, ok := cs.byID[id]; ok {
			delete(cs.byID, id)
			cs.bytes -= cp.counted
		}
	}
}

// count adds n kept bytes of cp's, a leg of which has closed.
func (cs *captures) count(cp *capture, n int64) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.byID[cp.id] != cp {
		return // already dropped
	}
	cp.counted += n
	cs.bytes += n
	cs.evict()
}

func (cs *captures) get(id string) *capture {
	if cs == nil {
		return nil
	}
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return cs.byID[id]
}

// write appends a completed capture to the file.
func (cs *captures) write(cp *capture) {
	if cs.file == nil {
		return
	}
	conn := cp.conn()
	cs.fileMu.Lock()
	defer cs.fileMu.Unlock()
	var err error
	if cs.fileW == nil {
		cs.fileW, err = pcap.NewWriter(cs.file)
	}
	if err == nil {
		err = cs.fileW.WriteConn(conn)
	}
	if err != nil {
		cs.fileW = nil // a new section header on the next write
		cs.onErr(cp.id, err)
	}
}

// capture is one connection's legs and key log lines.
type capture struct {
	store   *captures
	id      string
	client  *captureLeg // the client's connection to the proxy
	counted int64       // bytes counted in store.bytes; store.mu

	mu   sync.Mutex
	legs []*captureLeg
	keys []byte
	open int  // legs not closed yet
	done bool // every leg closed: nothing is added any more
}

// leg adds a TCP connection from client to server.
func (cp *capture) leg(client, server netip.AddrPort) *captureLeg {
	l := &captureLeg{cp: cp, client: client, server: server, start: time.Now(), limit: cp.store.maxLeg}
	cp.mu.Lock()
	cp.legs = append(cp.legs, l)
	cp.open++
	cp.mu.Unlock()
	return l
}

// clientConn wraps the client leg's connection (c, the connection the
// hello was read from) so that what is read and written is kept.
func (cp *capture) clientConn(c net.Conn) net.Conn {
	if cp == nil {
		return c
	}
	return &captureConn{Conn: c, leg: cp.client, writesFromClient: false}
}

// upstreamConn wraps an upstream TCP connection tlslens dialled; c itself
// when the capture is off or complete.
func (cp *capture) upstreamConn(c net.Conn) net.Conn {
	if cp == nil {
		return c
	}
	cp.mu.Lock()
	done := cp.done
	cp.mu.Unlock()
	if done {
		return c
	}
	l := cp.leg(addrPortOf(c.LocalAddr()), addrPortOf(c.RemoteAddr()))
	return &captureConn{Conn: c, leg: l, writesFromClient: true}
}

// keyLog keeps a leg's NSS key log lines.
func (cp *capture) keyLog(b []byte) {
	if cp == nil || len(b) == 0 {
		return
	}
	cp.mu.Lock()
	cp.keys = append(cp.keys, b...)
	cp.mu.Unlock()
}

// clientClosed ends the client leg of a session closed without its
// wrapped connection (one that failed before serving).
func (cp *capture) clientClosed() {
	if cp != nil {
		cp.client.close()
	}
}

// closed notes that one of cp's legs closed with n bytes kept; the last
// one completes the capture.
func (cp *capture) closed(n int64) {
	cp.store.count(cp, n)
	cp.mu.Lock()
	cp.open--
	last := cp.open == 0 && !cp.done
	if last {
		cp.done = true
	}
	cp.mu.Unlock()
	if last {
		cp.store.write(cp)
	}
}

// conn is the capture as it stands, for pcap.
func (cp *capture) conn() pcap.Conn {
	cp.mu.Lock()
	legs := cp.legs[:len(cp.legs):len(cp.legs)]
	c := pcap.Conn{KeyLog: bytes.Clone(cp.keys)}
	cp.mu.Unlock()
	for _, l := range legs {
		c.Legs = append(c.Legs, l.snapshot())
	}
	return c
}

// captureLeg is the bytes of one TCP connection, kept up to limit.
type captureLeg struct {
	cp             *capture
	client, server netip.AddrPort
	start          time.Time
	limit          int

	mu     sync.Mutex
	blocks [][]byte   // the bytes kept, both directions in order: each block full but the last
	kept   int        // bytes kept, over blocks
	chunks []legChunk // what each read or write added to blocks
	seen   int64      // bytes read and written, kept or not
	end    time.Time  // when closed; zero while open
}

// Capture blocks start small, for the handshake of a short connection,
// and double up to captureBlockMax: the bytes kept are never copied to grow
// (a leg of keep-alive requests adds a few hundred bytes per request, and
// growing one buffer by doubling copied, and touched fresh pages, all the
// way to 1 MiB).
const (
	captureBlockMin = 4 << 10
	captureBlockMax = 64 << 10
)

// legChunk is one read or write: n bytes from offset off of the bytes kept
// (over the blocks), at start+at.
type legChunk struct {
	at         time.Duration
	off, n     int32
	fromClient bool
}

// add keeps b, sent by the leg's client or its server, as far as the
// limit allows.
func (l *captureLeg) add(fromClient bool, b []byte) {
	if len(b) == 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seen += int64(len(b))
	room := l.limit - l.kept
	if room <= 0 || !l.end.IsZero() {
		return
	}
	b = b[:min(len(b), room)]
	l.chunks = append(l.chunks, legChunk{at: time.Since(l.start), off: int32(l.kept), n: int32(len(b)), fromClient: fromClient})
	l.kept += len(b)
	for len(b) > 0 {
		last := len(l.blocks) - 1
		if last < 0 || len(l.blocks[last]) == cap(l.blocks[last]) {
			size := captureBlockMin
			if last >= 0 {
				size = min(2*cap(l.blocks[last]), captureBlockMax)
			}
			l.blocks = append(l.blocks, make([]byte, 0, min(size, l.limit-l.kept+len(b))))
			last++
		}
		blk := l.blocks[last]
		n := min(len(b), cap(blk)-len(blk))
		l.blocks[last] = append(blk, b[:n]...)
		b = b[n:]
	}
}

// close ends the leg, once.
func (l *captureLeg) close() {
	l.mu.Lock()
	if !l.end.IsZero() {
		l.mu.Unlock()
		return
	}
	l.end = time.Now()
	n := int64(l.kept)
	l.mu.Unlock()
	l.cp.closed(n)
}

// snapshot is the leg as it stands. The bytes are not copied, but for a
// chunk that spans two blocks: a block's bytes below its length never
// change.
func (l *captureLeg) snapshot() pcap.Leg {
	l.mu.Lock()
	defer l.mu.Unlock()
	pl := pcap.Leg{Client: l.client, Server: l.server, Start: l.start, End: l.end,
		Chunks: make([]pcap.Chunk, len(l.chunks))}
	bi, base := 0, 0 // the block holding the chunk's first byte, and its offset
	for i, c := range l.chunks {
		off, end := int(c.off), int(c.off)+int(c.n)
		for off >= base+len(l.blocks[bi]) {
			base += len(l.blocks[bi])
			bi++
		}
		var data []byte
		if blk := l.blocks[bi]; end <= base+len(blk) {
			data = blk[off-base : end-base : end-base]
		} else {
			data = make([]byte, 0, c.n)
			for j, jbase := bi, base; len(data) < int(c.n); j++ {
				blk := l.blocks[j]
				data = append(data, blk[max(off-jbase, 0):min(end-jbase, len(blk))]...)
				jbase += len(blk)
			}
		}
		pl.Chunks[i] = pcap.Chunk{Time: l.start.Add(c.at), FromClient: c.fromClient, Data: data}
	}
	return pl
}

// captureConn keeps what is read from and written to a leg's connection.
type captureConn struct {
	net.Conn
	leg *captureLeg
	// writesFromClient: tlslens opened this connection (upstream), so its
	// writes are the TCP client's.
	writesFromClient bool
}

func (c *captureConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.leg.add(!c.writesFromClient, b[:max(n, 0)])
	return n, err
}

// Write keeps b before writing it: once the peer has it, a capture taken
// then has it too.
func (c *captureConn) Write(b []byte) (int, error) {
	c.leg.add(c.writesFromClient, b)
	return c.Conn.Write(b)
}

func (c *captureConn) Close() error {
	err := c.Conn.Close()
	c.leg.close()
	return err
}

// CloseWrite half-closes the connection when it can (relay uses it).
func (c *captureConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return c.Close()
}

// addrPortOf is a connection address as an ip:port; invalid when it is not one.
func addrPortOf(a net.Addr) netip.AddrPort {
	if t, ok := a.(*net.TCPAddr); ok {
		return t.AddrPort()
	}
	if a == nil {
		return netip.AddrPort{}
	}
	ap, _ := netip.ParseAddrPort(a.String())
	return ap
}

// Capture returns a pcapng of intercepted connection id (its record's
// id): both legs' packets, synthesised from the bytes kept (Options.Capture
// bounds them), with both legs' key log lines in a Decryption Secrets
// Block, so that Wireshark decrypts them with no setting. A connection
// still open is returned as it stands. ok is false when captures are off
// or id's is not kept (never intercepted, or dropped from the ring). Safe
// for concurrent use.
func (p *Proxy) Capture(id string) (pcapng []byte, ok bool) {
	cp := p.captures.get(id)
	if cp == nil {
		return nil, false
	}
	var b bytes.Buffer
	if err := pcap.Write(&b, cp.conn()); err != nil {
		return nil, false
	}
	return b.Bytes(), true
}

// KeyLogLines returns the NSS key log lines (SSLKEYLOGFILE format) of both
// legs of connection id, as Capture finds it. Safe for concurrent use.
func (p *Proxy) KeyLogLines(id string) ([]byte, bool) {
	cp := p.captures.get(id)
	if cp == nil {
		return nil, false
	}
	cp.mu.Lock()
	defer cp.mu.Unlock()
	return bytes.Clone(cp.keys), true
}

// CaptureBytes reports what the captures kept hold: bytes, those of the
// legs closed (bounded by Capture.MaxBytes; each leg still open holds at
// most Capture.MaxBytesPerLeg more), and conns, the connections kept
// (bounded by Capture.Keep). Both are 0 when captures are off. Safe for
// concurrent use.
func (p *Proxy) CaptureBytes() (bytes int64, conns int) {
	cs := p.captures
	if cs == nil {
		return 0, 0
	}
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return cs.bytes, len(cs.byID)
}
