package proxy

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
)

// liveConns tracks the connections accepted on the proxy listener from
// accept to close, whatever became of them (plain requests, tunnels,
// intercepted connections), so Shutdown can wait for them and the metrics
// can count them. The zero value is ready. Safe for concurrent use.
type liveConns struct {
	accepted atomic.Uint64

	mu    sync.Mutex
	conns map[*liveConn]struct{}
	empty chan struct{} // closed when conns becomes empty; nil before the first
}

// listener wraps ln so that each accepted connection is tracked until closed.
func (l *liveConns) listener(ln net.Listener) net.Listener { return &liveListener{ln, l} }

func (l *liveConns) add(c net.Conn) net.Conn {
	lc := &liveConn{Conn: c, live: l}
	l.accepted.Add(1)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conns == nil {
		l.conns = make(map[*liveConn]struct{})
	}
	if len(l.conns) == 0 {
		l.empty = make(chan struct{})
	}
	l.conns[lc] = struct{}{}
	return lc
}

func (l *liveConns) remove(lc *liveConn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.conns[lc]; !ok {
		return
	}
	delete(l.conns, lc)
	if len(l.conns) == 0 {
		close(l.empty)
	}
}

func (l *liveConns) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.conns)
}

// wait returns when no tracked connection is open, or with ctx's error.
func (l *liveConns) wait(ctx context.Context) error {
	for {
		l.mu.Lock()
		if len(l.conns) == 0 {
			l.mu.Unlock()
			return nil
		}
		empty := l.empty
		l.mu.Unlock()
		select {
		case <-empty:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// closeAll closes every tracked connection now.
func (l *liveConns) closeAll() {
	l.mu.Lock()
	conns := make([]*liveConn, 0, len(l.conns))
	for c := range l.conns {
		conns = append(conns, c)
	}
	l.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
}

type liveListener struct {
	net.Listener
	live *liveConns
}

func (ln *liveListener) Accept() (net.Conn, error) {
	c, err := ln.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return ln.live.add(c), nil
}

// liveConn is a tracked connection; closing it ends the tracking.
type liveConn struct {
	net.Conn
	live   *liveConns
	closed sync.Once
}

func (c *liveConn) Close() error {
	err := c.Conn.Close()
	c.closed.Do(func() { c.live.remove(c) })
	return err
}
