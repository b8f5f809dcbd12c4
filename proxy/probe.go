package proxy

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"

	"github.com/tlslens/tlslens/inspect"
)

// The probe (docs/record.md, "probe"). tlslens's upstream hello is Go's
// offer, so the server answers tlslens, not the client. The probe measures
// what the server would have said to the client: on a second connection to
// the same server, dialled like every other (dial, so policies apply), it
// sends the client's ClientHello unchanged, reads the server's clear answer
// (readClearAnswer, as passthrough does) and closes the connection without
// completing the handshake. It runs while the upstream handshake does, so it
// adds no round trip to the connection; the record waits for it
// (emitProbed), and it changes no outcome.

// Probe settings, for Options.Probe.
const (
	ProbeOff    = "off"    // no probe
	ProbeFirst  = "first"  // once per server and distinct client hello within ProbeTTL
	ProbeAlways = "always" // every intercepted connection
)

// Probe defaults: how long a server and hello stay probed, and how many such
// pairs are remembered (the oldest is forgotten first).
const (
	defaultProbeTTL = 10 * time.Minute
	probeCacheKeys  = 8192
)

// prober decides which intercepted connections are probed: at most one
// probe in flight per server, and with ProbeFirst once per server and
// distinct hello within the TTL. Safe for concurrent use.
type prober struct {
	first bool                             // ProbeFirst: seen decides
	seen  *expirable.LRU[string, struct{}] // server and hello keys probed within the TTL
	mu    sync.Mutex                       // guards busy
	busy  map[string]bool                  // servers (targets) with a probe in flight

	pending sync.WaitGroup // records waiting for their probe (emitProbed)
}

// newProber returns the prober for mode (ProbeOff, ProbeFirst,
// ProbeAlways), nil when it is off.
func newProber(mode string, ttl time.Duration) *prober {
	if mode != ProbeFirst && mode != ProbeAlways {
		return nil
	}
	if ttl <= 0 {
		ttl = defaultProbeTTL
	}
	return &prober{
		first: mode == ProbeFirst,
		seen:  expirable.NewLRU[string, struct{}](probeCacheKeys, nil, ttl),
		busy:  make(map[string]bool),
	}
}

// A probe is one probe in flight; side is its record side once done is
// closed.
type probe struct {
	side *inspect.Side
	done chan struct{}
}

// startProbe starts the probe of an intercepted session whose ClientHello
// (raw, the client's first bytes) is read, when the prober says so, and
// returns it; nil when the session is not probed.
func (p *Proxy) startProbe(ctx context.Context, s *session, raw []byte) *probe {
	pb := p.prober
	if pb == nil || s.hello == nil || s.dest == nil {
		// A session's destination is judged before its handshakes
		// (admitDestination); without one, dial would judge it, writing
		// s.dest while the upstream's dial reads it.
		return nil
	}
	hello, ok := inspect.HelloRecords(raw)
	if !ok {
		return nil
	}
	key := s.target + " " + s.rec.Client.Hello.JA4R + " " + inspect.HelloKey(s.hello)
	pb.mu.Lock()
	if pb.busy[s.target] || pb.first && pb.seen.Contains(key) {
		pb.mu.Unlock()
		return nil
	}
	pb.busy[s.target] = true
	pb.seen.Add(key, struct{}{})
	pb.mu.Unlock()

	pr := &probe{side: &inspect.Side{}, done: make(chan struct{})}
	hello = bytes.Clone(hello) // the session's buffer is replayed to the client leg meanwhile
	go func() {
		defer close(pr.done)
		p.runProbe(ctx, s, pr.side, hello)
		pb.mu.Lock()
		delete(pb.busy, s.target)
		if pr.side.ServerHello == nil && pr.side.Alert == "" {
			pb.seen.Remove(key) // no answer (unreachable, closed, timed out): try again next time
		}
		pb.mu.Unlock()
	}()
	return pr
}

// runProbe sends hello, the client's ClientHello records, to the session's
// target on a connection of its own and fills side from the server's clear
// answer: the ServerHello (or HelloRetryRequest) and what it chose, in
// TLS 1.2 the chain and key exchange, or an alert, or why there was none.
// The connection is closed without completing the handshake.
func (p *Proxy) runProbe(ctx context.Context, s *session, side *inspect.Side, hello []byte) {
	start := time.Now()
	var flight []byte
	up, err := p.dial(ctx, s)
	if err != nil {
		err = &passError{dial: true, err: err}
	} else {
		defer up.Close()
		side.Addr, side.Local = up.RemoteAddr().String(), up.LocalAddr().String()
		up.SetWriteDeadline(time.Now().Add(p.opts.HandshakeTimeout))
		if _, werr := up.Write(hello); werr != nil {
			err = &passError{err: werr}
		} else {
			flight, err = p.readClearAnswer(up, nil, probeAnswered)
		}
	}
	side.DurationMS = msSince(start)
	p.clearAnswer(side, s.target, flight, err, true)
	if sh := side.ServerHello; sh != nil {
		n := &inspect.Negotiated{Version: sh.Version, CipherSuite: sh.CipherSuite,
			Group: sh.Group, ALPN: sh.ALPN, HelloRetry: sh.HelloRetry}
		if n.Group == "" && side.KeyExchange != nil {
			n.Group = side.KeyExchange.Group // TLS 1.2: the ServerKeyExchange's curve
		}
		side.Negotiated = n
	}
}

// probeAnswered reports whether a server's answer to the probe is complete:
// its clear flight (inspect.ServerFlightDone), or a HelloRetryRequest, which
// waits for a second ClientHello the probe does not send.
func probeAnswered(b []byte) bool {
	if inspect.ServerFlightDone(b) {
		return true
	}
	f, _ := inspect.ParseServerFlight(b, nil)
	return f.HelloRetry != nil
}

// emitProbed writes a session's record (emit) with its probe, if it has
// one, on it. The probe ends at the server's first flight, so it is usually
// done before both handshakes are, and the record is written at once. When
// it is not, the record is written as soon as it is, or after
// HandshakeTimeout more, from a goroutine: serving the connection never
// waits for the probe (a server that serves one connection at a time, as
// openssl s_server does, answers the probe only once the upstream
// connection's request is served). Shutdown waits for such records.
func (p *Proxy) emitProbed(r *inspect.Record, pr *probe) {
	if pr == nil {
		p.emit(r)
		return
	}
	select {
	case <-pr.done:
		r.Probe = pr.side
		p.emit(r)
		return
	default:
	}
	p.prober.pending.Add(1)
	go func() {
		defer p.prober.pending.Done()
		t := time.NewTimer(p.opts.HandshakeTimeout)
		defer t.Stop()
		select {
		case <-pr.done:
			r.Probe = pr.side
		case <-t.C:
			r.Probe = &inspect.Side{Error: fmt.Sprintf("the probe had no answer from the server within %s of the handshakes", p.opts.HandshakeTimeout)}
		}
		p.emit(r)
	}()
}

// wait returns when every record waiting for its probe is written, or with
// ctx's error. A nil prober has none.
func (pb *prober) wait(ctx context.Context) error {
	if pb == nil {
		return nil
	}
	done := make(chan struct{})
	go func() { pb.pending.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
