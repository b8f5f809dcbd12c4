package main

import (
	"bufio"
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// memSample is the live heap plus goroutine stacks after a full GC: what the
// process needs, without garbage not yet collected.
type memSample struct {
	heap, stacks uint64
	goroutines   int
	rss          uint64
}

func sampleMem() memSample {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return memSample{heap: m.HeapAlloc, stacks: m.StackInuse, goroutines: runtime.NumGoroutine(), rss: rss()}
}

func (m memSample) total() uint64 { return m.heap + m.stacks }

// rss is the resident set size from /proc/self/statm (0 elsewhere).
func rss() uint64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseUint(f[1], 10, 64)
	return pages * uint64(os.Getpagesize())
}

// openIdle opens n connections, each having completed one request, and
// leaves them open. 16 workers open them.
func openIdle(e *env, proxied bool, n int) ([]*httpConn, error) {
	cl := &client{e: e, proxied: proxied}
	conns := make([]*httpConn, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				c, err := cl.dial(ctx, benchDomain)
				if err == nil {
					h := newHTTPConn(c, benchDomain, "/")
					dl, _ := ctx.Deadline()
					if _, err = h.do(dl); err == nil {
						h.c.SetDeadline(time.Time{})
						conns[i] = h
					} else {
						c.Close()
					}
				}
				cancel()
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		closeAll(conns)
		return nil, firstErr
	}
	return conns, nil
}

func closeAll(conns []*httpConn) {
	for _, h := range conns {
		if h != nil {
			h.c.Close()
		}
	}
}

// waitGoroutines waits until the goroutine count is at most n (connections
// closing asynchronously) or d has passed.
func waitGoroutines(n int, d time.Duration) int {
	end := time.Now().Add(d)
	for {
		g := runtime.NumGoroutine()
		if g <= n || time.Now().After(end) {
			return g
		}
		time.Sleep(20 * time.Millisecond) // polling a count, not waiting for an event
	}
}

// idleMemory measures memory per idle connection, direct and through tlslens,
// in one process: the difference is what tlslens holds per connection (its
// client leg, its upstream leg, the session and the goroutines serving it).
func idleMemory(c config, w io.Writer) error {
	e, err := newEnv(envOptions{bulkSize: 1, maxConns: c.idle + 100, upstreamIdle: time.Hour})
	if err != nil {
		return err
	}
	defer e.stop()
	// Warm up both paths so one-time allocations are not counted.
	for _, proxied := range []bool{false, true} {
		conns, err := openIdle(e, proxied, 16)
		if err != nil {
			return err
		}
		closeAll(conns)
	}
	fmt.Fprintf(w, "\nmemory per idle connection (%d connections, one request each, then idle)\n", c.idle)
	per := map[bool]float64{}
	for _, proxied := range []bool{false, true} {
		base := sampleMem()
		conns, err := openIdle(e, proxied, c.idle)
		if err != nil {
			return fmt.Errorf("proxied=%v: %w", proxied, err)
		}
		time.Sleep(200 * time.Millisecond) // let handshake garbage become unreachable
		held := sampleMem()
		if proxied && c.memProfile != "" {
			if err := writeHeapProfile(c.memProfile); err != nil {
				return err
			}
		}
		closeAll(conns)
		waitGoroutines(base.goroutines+8, 30*time.Second)
		per[proxied] = float64(int64(held.total())-int64(base.total())) / float64(c.idle)
		fmt.Fprintf(w, "  %-8s heap+stacks %.1f KiB/conn (heap %.1f, stacks %.1f), goroutines %.2f/conn, RSS %+.1f KiB/conn\n",
			map[bool]string{false: "direct", true: "tlslens"}[proxied], per[proxied]/1024,
			float64(int64(held.heap)-int64(base.heap))/float64(c.idle)/1024,
			float64(int64(held.stacks)-int64(base.stacks))/float64(c.idle)/1024,
			float64(held.goroutines-base.goroutines)/float64(c.idle),
			float64(int64(held.rss)-int64(base.rss))/float64(c.idle)/1024)
	}
	fmt.Fprintf(w, "  RESULT tlslens holds %.1f KiB per idle intercepted connection (tlslens minus direct; target <= 64 KiB)\n",
		(per[true]-per[false])/1024)
	return nil
}

func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return pprof.WriteHeapProfile(f)
}

// flatMemory makes c.flat intercepted connections (newconn workload) in ten
// slices and samples the heap after each: memory must not grow with the
// number of connections served, and every connection must have its record.
func flatMemory(c config, w io.Writer) error {
	e, err := newEnv(envOptions{bulkSize: 1})
	if err != nil {
		return err
	}
	defer e.stop()
	cl := &client{e: e, proxied: true}
	fmt.Fprintf(w, "\nheap across %d intercepted connections (%d workers)\n", c.flat, c.concurrency)
	slice := max(c.flat/10, 1)
	var done, failed int64
	var first, last memSample
	startRecs := e.records.n.Load()
	for s := 0; done+failed < int64(c.flat); s++ {
		var next atomic.Int64
		var wg sync.WaitGroup
		var errs atomic.Int64
		for range c.concurrency {
			wg.Add(1)
			go func() {
				defer wg.Done()
				do, _ := newConnOp(false)(e, cl, 0, nil)
				for next.Add(1) <= int64(slice) {
					ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
					if _, err := do(ctx); err != nil {
						errs.Add(1)
					}
					cancel()
				}
			}()
		}
		wg.Wait()
		done += int64(slice) - errs.Load()
		failed += errs.Load()
		m := sampleMem()
		if s == 0 {
			first = m
		}
		last = m
		fmt.Fprintf(w, "  after %6d: heap %.1f MiB, stacks %.1f MiB, goroutines %d, RSS %.1f MiB\n",
			done+failed, float64(m.heap)/(1<<20), float64(m.stacks)/(1<<20), m.goroutines, float64(m.rss)/(1<<20))
	}
	recs := e.records.n.Load() - startRecs
	fmt.Fprintf(w, "  RESULT connections %d (failed %d), records %d, heap+stacks first slice %.1f MiB, last %.1f MiB (x%.2f)\n",
		done+failed, failed, recs, float64(first.total())/(1<<20), float64(last.total())/(1<<20), float64(last.total())/float64(first.total()))
	if recs != done+failed {
		return fmt.Errorf("records %d != connections %d", recs, done+failed)
	}
	return nil
}

// holdMany holds c.hold concurrent intercepted connections. Child processes
// (this binary with -role hold) open them, so the descriptors are shared
// between processes: one per connection in tlslens's process, once the
// upstream server has closed its idle legs. While they are held it checks
// that a new connection is still served.
func holdMany(c config, w io.Writer) error {
	e, err := newEnv(envOptions{bulkSize: 1, maxConns: c.hold + 1000, upstreamIdle: time.Second})
	if err != nil {
		return err
	}
	defer e.stop()
	if err := raiseNoFile(uint64(c.hold) + 2000); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "tlslens-load")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	caFile := filepath.Join(dir, "ca.pem")
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: e.proxyRoot.Raw})
	if err := os.WriteFile(caFile, caPEM, 0o644); err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	const perChild = 4000
	fmt.Fprintf(w, "\nholding %d concurrent intercepted connections (children of %d each)\n", c.hold, perChild)
	base := sampleMem()
	type child struct {
		cmd   *exec.Cmd
		stdin io.WriteCloser
		out   *bufio.Reader
	}
	var children []child
	defer func() {
		for _, ch := range children {
			ch.stdin.Close()
			ch.cmd.Wait()
		}
	}()
	start := time.Now()
	for left := c.hold; left > 0; left -= perChild {
		n := min(left, perChild)
		cmd := exec.Command(exe, "-role", "hold", "-proxy", e.proxyAddr, "-port", e.upstreamPort, "-ca", caFile, "-n", strconv.Itoa(n))
		stdin, err := cmd.StdinPipe()
		if err != nil {
			return err
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			return err
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			return err
		}
		children = append(children, child{cmd, stdin, bufio.NewReader(stdout)})
	}
	held := 0
	for _, ch := range children {
		line, err := ch.out.ReadString('\n')
		if err != nil {
			return fmt.Errorf("child: %w", err)
		}
		var n int
		if _, err := fmt.Sscanf(line, "held %d", &n); err != nil {
			return fmt.Errorf("child said %q", line)
		}
		held += n
	}
	opened := time.Since(start)
	// Give the upstream's 1s idle timeout time to close the upstream legs.
	time.Sleep(2 * time.Second)
	m := sampleMem()
	// A new connection is still served while they are held.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t := time.Now()
	do, _ := newConnOp(false)(e, &client{e: e, proxied: true}, 0, nil)
	_, probeErr := do(ctx)
	cancel()
	probe := time.Since(t)
	fmt.Fprintf(w, "  RESULT held %d of %d (opened in %s); tlslens process: %.1f KiB heap+stacks per held connection, %d goroutines, %d descriptors; a new connection while held: %v in %s\n",
		held, c.hold, opened.Round(time.Millisecond), float64(int64(m.total())-int64(base.total()))/float64(max(held, 1))/1024,
		m.goroutines, countFDs(), errString(probeErr), probe.Round(time.Millisecond))
	if held != c.hold {
		return fmt.Errorf("held %d connections, want %d", held, c.hold)
	}
	return probeErr
}

func errString(err error) string {
	if err == nil {
		return "ok"
	}
	return err.Error()
}

func countFDs() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(ents)
}

// raiseNoFile raises the soft descriptor limit to at least n, up to the
// hard limit.
func raiseNoFile(n uint64) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return err
	}
	if lim.Cur >= n {
		return nil
	}
	if lim.Max < n {
		return fmt.Errorf("need %d file descriptors, the hard limit is %d", n, lim.Max)
	}
	lim.Cur = n
	return syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
}

// holdChild opens c.n intercepted connections, says "held N", and keeps
// them until stdin closes.
func holdChild(c config, stdout io.Writer) error {
	if err := raiseNoFile(uint64(c.n) + 200); err != nil {
		return err
	}
	b, err := os.ReadFile(c.caFile)
	if err != nil {
		return err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return fmt.Errorf("no certificate in %s", c.caFile)
	}
	e := &env{proxyAddr: c.proxyAddr, upstreamPort: c.port, proxyCA: pool}
	conns, err := openIdle(e, true, c.n)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "held %d\n", len(conns))
	io.Copy(io.Discard, os.Stdin)
	closeAll(conns)
	return nil
}
