package proxy

import (
	"container/list"
	"fmt"
	"strings"
	"sync"
	"time"
)

// maxAutoPassthroughHosts bounds the hosts an autoPassthrough tracks: a
// client that rejects certificates for endless random names must not grow
// memory without limit. Each entry is a few hundred bytes.
const maxAutoPassthroughHosts = 10000

// An autoPassthrough switches a host to passthrough after its clients reject
// the proxy's certificate threshold times within window, for ttl: an app
// that pins its certificates keeps working, and its hellos are still
// recorded. It is safe for concurrent use. A nil *autoPassthrough, or one
// with threshold <= 0, never engages.
//
// Hosts are keyed case-insensitively on what the caller passes (the CONNECT
// host without its port). At most maxAutoPassthroughHosts are tracked; past
// that the least recently used host is forgotten, ending its passthrough
// early if it had one.
type autoPassthrough struct {
	threshold int
	window    time.Duration // rejections count when at most window apart, inclusive
	ttl       time.Duration
	now       func() time.Time
	max       int

	mu    sync.Mutex
	hosts map[string]*list.Element // values are *autoPassHost
	lru   *list.List               // front: most recently used
	ended []string                 // passthroughs ended since the last sweep, oldest first
}

type autoPassHost struct {
	name       string
	rejections []time.Time // within the window, oldest first; fewer than threshold
	until      time.Time   // end of the passthrough; zero when not engaged
	count      int         // rejections that engaged it
}

// newAutoPassthrough returns an autoPassthrough that engages after threshold
// rejections within window and lasts ttl. now is the clock; nil means
// time.Now.
func newAutoPassthrough(threshold int, window, ttl time.Duration, now func() time.Time) *autoPassthrough {
	if now == nil {
		now = time.Now
	}
	return &autoPassthrough{
		threshold: threshold,
		window:    window,
		ttl:       ttl,
		now:       now,
		max:       maxAutoPassthroughHosts,
		hosts:     make(map[string]*list.Element),
		lru:       list.New(),
	}
}

// reject notes that a client rejected the proxy's certificate for host. It
// reports whether this rejection engaged passthrough for host; a rejection
// while passthrough is already on (a connection that started before) does
// not count and does not extend it.
func (a *autoPassthrough) reject(host string) (engaged bool) {
	if a == nil || a.threshold <= 0 {
		return false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	h := a.touch(strings.ToLower(host))
	if !h.until.IsZero() {
		if now.Before(h.until) {
			return false
		}
		a.end(h)
	}
	// Keep the rejections at most window old (inclusive), then add this one.
	keep := h.rejections[:0]
	for _, t := range h.rejections {
		if now.Sub(t) <= a.window {
			keep = append(keep, t)
		}
	}
	h.rejections = append(keep, now)
	if len(h.rejections) < a.threshold {
		return false
	}
	h.count, h.rejections, h.until = len(h.rejections), nil, now.Add(a.ttl)
	return true
}

// active reports whether host is passed through now and, if so, the reason
// for the record, e.g. "auto_passthrough: 3 certificate rejections within
// 5m0s, until 15:04:05Z" (UTC). A passthrough found ended is forgotten and
// reported by the next sweep.
func (a *autoPassthrough) active(host string) (bool, string) {
	if a == nil || a.threshold <= 0 {
		return false, ""
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	e, ok := a.hosts[strings.ToLower(host)]
	if !ok {
		return false, ""
	}
	h := e.Value.(*autoPassHost)
	if h.until.IsZero() {
		return false, ""
	}
	if !a.now().Before(h.until) {
		a.end(h)
		a.remove(e)
		return false, ""
	}
	a.lru.MoveToFront(e)
	return true, fmt.Sprintf("auto_passthrough: %d certificate rejections within %s, until %s",
		h.count, a.window, h.until.UTC().Format("15:04:05Z07:00"))
}

// sweep forgets the hosts whose passthrough has expired and those whose
// rejections have all left the window, and returns the hosts whose
// passthrough ended since the last sweep (expired, or forgotten to stay
// within the bound), oldest first, so that the caller can log
// "auto passthrough expired" for each.
func (a *autoPassthrough) sweep() []string {
	if a == nil {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	for e := a.lru.Back(); e != nil; {
		prev := e.Prev()
		h := e.Value.(*autoPassHost)
		switch {
		case !h.until.IsZero() && !now.Before(h.until):
			a.end(h)
			a.remove(e)
		case h.until.IsZero() && (len(h.rejections) == 0 || now.Sub(h.rejections[len(h.rejections)-1]) > a.window):
			a.remove(e)
		}
		e = prev
	}
	ended := a.ended
	a.ended = nil
	return ended
}

// touch returns host's entry, creating it, and marks it most recently used.
// Creating one past the bound evicts the least recently used.
func (a *autoPassthrough) touch(host string) *autoPassHost {
	if e, ok := a.hosts[host]; ok {
		a.lru.MoveToFront(e)
		return e.Value.(*autoPassHost)
	}
	h := &autoPassHost{name: host}
	a.hosts[host] = a.lru.PushFront(h)
	for len(a.hosts) > a.max {
		old := a.lru.Back()
		if oh := old.Value.(*autoPassHost); !oh.until.IsZero() {
			a.end(oh)
		}
		a.remove(old)
	}
	return h
}

// end records that h's passthrough ended and clears it. The list of ended
// hosts is bounded like the hosts: without sweeps, the oldest are dropped.
func (a *autoPassthrough) end(h *autoPassHost) {
	a.ended = append(a.ended, h.name)
	if over := len(a.ended) - a.max; over > 0 {
		a.ended = append(a.ended[:0], a.ended[over:]...)
	}
	h.until, h.count = time.Time{}, 0
}

func (a *autoPassthrough) remove(e *list.Element) {
	delete(a.hosts, e.Value.(*autoPassHost).name)
	a.lru.Remove(e)
}
