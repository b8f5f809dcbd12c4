package proxy

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// testClock is a clock the test moves by hand. Safe for concurrent use.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newTestClock() *testClock {
	return &testClock{t: time.Date(2026, 11, 22, 15, 0, 0, 0, time.UTC)}
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) set(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = time.Date(2026, 11, 22, 15, 0, 0, 0, time.UTC).Add(d)
}

// TestAutoPassthroughWindow feeds rejections for one host at the given
// offsets from 15:00:00 and checks which one engages passthrough, with
// threshold 3, window 5m and ttl 15m.
func TestAutoPassthroughWindow(t *testing.T) {
	m := time.Minute
	for _, tt := range []struct {
		name    string
		at      []time.Duration
		engaged []bool
	}{
		{"three within the window", []time.Duration{0, 1 * m, 2 * m}, []bool{false, false, true}},
		{"three at once", []time.Duration{0, 0, 0}, []bool{false, false, true}},
		{"window is inclusive", []time.Duration{0, 2 * m, 5 * m}, []bool{false, false, true}},
		{"spread beyond the window", []time.Duration{0, 3 * m, 5*m + time.Second}, []bool{false, false, false}},
		{"window slides", []time.Duration{0, 3 * m, 6 * m, 7 * m}, []bool{false, false, false, true}},
		{"far apart", []time.Duration{0, 10 * m, 20 * m, 30 * m}, []bool{false, false, false, false}},
		{"not extended while active", []time.Duration{0, 0, 0, 1 * m, 1 * m, 1 * m}, []bool{false, false, true, false, false, false}},
		{"counting restarts after expiry", []time.Duration{0, 0, 0, 15 * m, 15 * m, 16 * m}, []bool{false, false, true, false, false, true}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			clock := newTestClock()
			a := newAutoPassthrough(3, 5*m, 15*m, clock.now)
			for i, d := range tt.at {
				clock.set(d)
				if got := a.reject("pinned.test"); got != tt.engaged[i] {
					t.Errorf("reject #%d at +%s = %v, want %v", i+1, d, got, tt.engaged[i])
				}
			}
		})
	}
}

func TestAutoPassthroughActive(t *testing.T) {
	clock := newTestClock()
	a := newAutoPassthrough(3, 5*time.Minute, 15*time.Minute, clock.now)
	if ok, reason := a.active("pinned.test"); ok || reason != "" {
		t.Fatalf("active before any rejection = %v, %q", ok, reason)
	}
	for i := range 3 {
		clock.set(time.Duration(i) * time.Minute)
		a.reject("Pinned.Test")
	}
	// Engaged at 15:02:00 for 15 minutes.
	for _, tt := range []struct {
		name   string
		at     time.Duration
		host   string
		ok     bool
		reason string
	}{
		{"just engaged", 2 * time.Minute, "pinned.test", true, "auto_passthrough: 3 certificate rejections within 5m0s, until 15:17:00Z"},
		{"case-insensitive", 10 * time.Minute, "PINNED.test", true, "auto_passthrough: 3 certificate rejections within 5m0s, until 15:17:00Z"},
		{"other host", 10 * time.Minute, "other.test", false, ""},
		{"last second", 17*time.Minute - time.Second, "pinned.test", true, "auto_passthrough: 3 certificate rejections within 5m0s, until 15:17:00Z"},
		{"expired at ttl", 17 * time.Minute, "pinned.test", false, ""},
		{"stays expired", 30 * time.Minute, "pinned.test", false, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			clock.set(tt.at)
			ok, reason := a.active(tt.host)
			if ok != tt.ok || reason != tt.reason {
				t.Errorf("active(%q) at +%s = %v, %q, want %v, %q", tt.host, tt.at, ok, reason, tt.ok, tt.reason)
			}
		})
	}
	if got := a.sweep(); !slices.Equal(got, []string{"pinned.test"}) {
		t.Errorf("sweep after expiry = %q, want [pinned.test]", got)
	}
	if got := a.sweep(); len(got) != 0 {
		t.Errorf("second sweep = %q, want nothing", got)
	}
}

func TestAutoPassthroughSweep(t *testing.T) {
	clock := newTestClock()
	a := newAutoPassthrough(2, time.Minute, 10*time.Minute, clock.now)
	a.reject("a.test")
	a.reject("a.test") // engaged until 15:10
	clock.set(time.Minute)
	a.reject("b.test")
	a.reject("b.test") // engaged until 15:11
	a.reject("c.test")
	a.reject("c.test") // engaged until 15:11
	a.reject("d.test") // one rejection, out of the window after 15:02

	for _, tt := range []struct {
		name    string
		at      time.Duration
		ended   []string
		tracked int
	}{
		{"nothing ended", 5 * time.Minute, nil, 3}, // d.test's lone rejection is forgotten
		{"a expired", 10 * time.Minute, []string{"a.test"}, 2},
		{"b and c expired", 11 * time.Minute, []string{"b.test", "c.test"}, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			clock.set(tt.at)
			if got := a.sweep(); !slices.Equal(got, tt.ended) {
				t.Errorf("sweep at +%s = %q, want %q", tt.at, got, tt.ended)
			}
			a.mu.Lock()
			n, l := len(a.hosts), a.lru.Len()
			a.mu.Unlock()
			if n != tt.tracked || l != tt.tracked {
				t.Errorf("after sweep at +%s: %d hosts, %d in LRU, want %d", tt.at, n, l, tt.tracked)
			}
		})
	}
}

func TestAutoPassthroughBound(t *testing.T) {
	clock := newTestClock()
	t.Run("evicts the least recently used", func(t *testing.T) {
		a := newAutoPassthrough(2, time.Hour, time.Hour, clock.now)
		a.max = 3
		a.reject("engaged.test")
		a.reject("engaged.test")
		a.reject("counting.test")
		for i := range 10 {
			a.reject(fmt.Sprintf("noise%d.test", i))
		}
		a.mu.Lock()
		n, l := len(a.hosts), a.lru.Len()
		a.mu.Unlock()
		if n != 3 || l != 3 {
			t.Errorf("tracking %d hosts, %d in LRU, want the bound 3", n, l)
		}
		if ok, _ := a.active("engaged.test"); ok {
			t.Error("evicted host is still passed through")
		}
		if got := a.sweep(); !slices.Equal(got, []string{"engaged.test"}) {
			t.Errorf("sweep after eviction = %q, want [engaged.test]", got)
		}
		// counting.test's first rejection was forgotten: one more does not engage.
		if a.reject("counting.test") {
			t.Error("reject after eviction engaged on a forgotten count")
		}
	})
	t.Run("active keeps a host", func(t *testing.T) {
		a := newAutoPassthrough(1, time.Hour, time.Hour, clock.now)
		a.max = 2
		a.reject("kept.test")
		a.reject("x.test")
		a.active("kept.test")
		a.reject("y.test") // evicts x.test, the least recently used
		if ok, _ := a.active("kept.test"); !ok {
			t.Error("recently used host was evicted")
		}
		if got := a.sweep(); !slices.Equal(got, []string{"x.test"}) {
			t.Errorf("sweep = %q, want [x.test]", got)
		}
	})
	t.Run("ended list bounded without sweeps", func(t *testing.T) {
		a := newAutoPassthrough(1, time.Hour, time.Minute, clock.now)
		a.max = 2
		for i := range 5 {
			a.reject(fmt.Sprintf("h%d.test", i))
		}
		if got := a.sweep(); !slices.Equal(got, []string{"h1.test", "h2.test"}) {
			t.Errorf("unswept ended list = %q, want the newest 2 [h1.test h2.test]", got)
		}
	})
}

func TestAutoPassthroughDisabled(t *testing.T) {
	for _, tt := range []struct {
		name string
		a    *autoPassthrough
	}{
		{"nil", nil},
		{"threshold 0", newAutoPassthrough(0, time.Minute, time.Minute, nil)},
		{"negative threshold", newAutoPassthrough(-1, time.Minute, time.Minute, nil)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for range 5 {
				if tt.a.reject("h.test") {
					t.Fatal("reject engaged")
				}
			}
			if ok, reason := tt.a.active("h.test"); ok || reason != "" {
				t.Errorf("active = %v, %q, want false", ok, reason)
			}
			if got := tt.a.sweep(); len(got) != 0 {
				t.Errorf("sweep = %q, want nothing", got)
			}
		})
	}
}

// TestAutoPassthroughConcurrent hammers one instance from many goroutines
// with a clock that does not move: each host must engage exactly once.
// Run with -race.
func TestAutoPassthroughConcurrent(t *testing.T) {
	clock := newTestClock()
	a := newAutoPassthrough(5, time.Minute, time.Hour, clock.now)
	hosts := []string{"a.test", "b.test", "c.test", "d.test"}
	var engaged atomic.Int64
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 100 {
				h := hosts[(g+i)%len(hosts)]
				if a.reject(h) {
					engaged.Add(1)
				}
				a.active(h)
				if i%10 == 0 {
					a.sweep()
				}
			}
		})
	}
	wg.Wait()
	if got := engaged.Load(); got != int64(len(hosts)) {
		t.Errorf("%d engagements, want one per host (%d)", got, len(hosts))
	}
	for _, h := range hosts {
		if ok, _ := a.active(h); !ok {
			t.Errorf("active(%q) = false after its engagement", h)
		}
	}
}
