// Command load measures tlslens against a direct connection, in one run on
// one machine: it starts a TLS upstream and a tlslens proxy in this process,
// both on 127.0.0.1, drives the same workload through each, and prints
// tlslens's figures as ratios to direct.
//
// Usage:
//
//	go run ./bench/load [-duration 3s] [-concurrency 8] [-rounds 3] [-scenarios all]
//
// Scenarios: newconn (a new connection per request, one host), hosts (the
// same over 1000 distinct SNI names, so tlslens mints 1000 leaves), keepalive
// (requests over persistent connections), bulk (a large response body over
// persistent connections), idle (memory per idle intercepted connection),
// flat (heap sampled across many connections; records == connections) and
// hold (many concurrent intercepted connections held by child processes).
//
// Everything stays on loopback: the proxy's dialer refuses any name outside
// bench.test and sends those to the in-process upstream.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
}

type config struct {
	duration    time.Duration
	concurrency int
	rounds      int
	scenarios   string
	bulkSize    int
	idle        int
	flat        int
	hold        int
	cpuProfile  string
	memProfile  string
	// child process roles (hold)
	role, proxyAddr, port, caFile string
	n                             int
}

func run(args []string, stdout, stderr io.Writer) error {
	var c config
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.DurationVar(&c.duration, "duration", 3*time.Second, "how long each side of each scenario runs per round")
	fs.IntVar(&c.concurrency, "concurrency", 8, "concurrent workers per side")
	fs.IntVar(&c.rounds, "rounds", 3, "rounds per scenario; direct and tlslens alternate which goes first")
	fs.StringVar(&c.scenarios, "scenarios", "newconn,hosts,keepalive,bulk,idle,flat", "comma-separated: newconn, hosts, keepalive, bulk, idle, flat, hold, or all")
	fs.IntVar(&c.bulkSize, "bulk-size", 8<<20, "bytes per /bulk response")
	fs.IntVar(&c.idle, "idle", 2000, "idle connections opened to measure memory per connection (4 descriptors each)")
	fs.IntVar(&c.flat, "flat", 20000, "connections made while sampling the heap (flat)")
	fs.IntVar(&c.hold, "hold", 10000, "concurrent intercepted connections held by child processes (hold)")
	fs.StringVar(&c.cpuProfile, "cpuprofile", "", "write a CPU profile of the whole run to this file")
	fs.StringVar(&c.memProfile, "memprofile", "", "write a heap profile at the end of the idle scenario to this file")
	fs.StringVar(&c.role, "role", "", "internal: run as a child process (hold)")
	fs.StringVar(&c.proxyAddr, "proxy", "", "internal: tlslens address for a child")
	fs.StringVar(&c.port, "port", "", "internal: upstream port for a child")
	fs.StringVar(&c.caFile, "ca", "", "internal: tlslens CA certificate (PEM) for a child")
	fs.IntVar(&c.n, "n", 0, "internal: connections a child holds")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if c.role == "hold" {
		return holdChild(c, stdout)
	}
	if c.duration <= 0 || c.duration > time.Hour || c.concurrency < 1 || c.concurrency > 4096 || c.rounds < 1 || c.rounds > 100 {
		return errors.New("want 0 < duration <= 1h, 1 <= concurrency <= 4096, 1 <= rounds <= 100")
	}
	if c.scenarios == "all" {
		c.scenarios = "newconn,hosts,keepalive,bulk,idle,flat,hold"
	}
	if c.cpuProfile != "" {
		f, err := os.Create(c.cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	fmt.Fprintf(stdout, "tlslens load: %s/%s, GOMAXPROCS %d, %d CPUs, %s, %d workers, %s per side, %d rounds\n",
		runtime.GOOS, runtime.GOARCH, runtime.GOMAXPROCS(0), runtime.NumCPU(), runtime.Version(), c.concurrency, c.duration, c.rounds)
	for _, name := range strings.Split(c.scenarios, ",") {
		var err error
		switch strings.TrimSpace(name) {
		case "newconn":
			err = compare(c, stdout, "new connections/s, one host", newConnOp(false))
		case "hosts":
			err = compare(c, stdout, "new connections/s, 1000 hosts", newConnOp(true))
		case "keepalive":
			err = compare(c, stdout, "keep-alive requests/s", keepAliveOp("/"))
		case "bulk":
			err = compare(c, stdout, "bulk MB/s", keepAliveOp("/bulk"))
		case "idle":
			err = idleMemory(c, stdout)
		case "flat":
			err = flatMemory(c, stdout)
		case "hold":
			err = holdMany(c, stdout)
		default:
			err = fmt.Errorf("unknown scenario %q", name)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return nil
}

// An op is one unit of work by one worker; it returns the payload bytes read.
type op func(ctx context.Context) (int64, error)

// A workload makes the op for worker w on a side; the cleanup ends it.
type workload func(e *env, cl *client, w int, names *atomic.Int64) (op, func())

// result is what one side did in one round.
type result struct {
	ops, bytes, errs int64
	firstErr         error
	elapsed          time.Duration
	cpu              time.Duration // process CPU time (user+system) spent
	lat              []time.Duration
}

func (r result) rate() float64 { return float64(r.ops) / r.elapsed.Seconds() }
func (r result) mbps() float64 { return float64(r.bytes) / 1e6 / r.elapsed.Seconds() }

// perCPU is work per CPU-second: the throughput the process would have with
// the whole CPU to itself, which other processes on a shared machine do not
// disturb the way they disturb wall-clock rates.
func (r result) perCPU(bulk bool) float64 {
	if bulk {
		return float64(r.bytes) / 1e6 / r.cpu.Seconds()
	}
	return float64(r.ops) / r.cpu.Seconds()
}

// cpuTime is the process's user+system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// maxSamples bounds the latencies kept per worker.
const maxSamples = 1 << 18

// drive runs conc workers for d and collects their results.
func drive(e *env, cl *client, conc int, d time.Duration, wl workload) result {
	var (
		mu    sync.Mutex
		total result
		wg    sync.WaitGroup
		names atomic.Int64
	)
	start, cpu0 := time.Now(), cpuTime()
	end := start.Add(d)
	for w := range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			do, cleanup := wl(e, cl, w, &names)
			defer cleanup()
			var r result
			for time.Now().Before(end) {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				t := time.Now()
				n, err := do(ctx)
				cancel()
				if err != nil {
					r.errs++
					if r.firstErr == nil {
						r.firstErr = err
					}
					continue
				}
				r.ops++
				r.bytes += n
				if len(r.lat) < maxSamples {
					r.lat = append(r.lat, time.Since(t))
				}
			}
			mu.Lock()
			total.ops += r.ops
			total.bytes += r.bytes
			total.errs += r.errs
			if total.firstErr == nil {
				total.firstErr = r.firstErr
			}
			total.lat = append(total.lat, r.lat...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	total.elapsed, total.cpu = time.Since(start), cpuTime()-cpu0
	return total
}

// newConnOp makes a new connection for each request: TCP, (CONNECT,) TLS,
// one GET, close. With manyHosts the SNI cycles through 1000 names.
func newConnOp(manyHosts bool) workload {
	return func(e *env, cl *client, w int, names *atomic.Int64) (op, func()) {
		return func(ctx context.Context) (int64, error) {
			name := benchDomain
			if manyHosts {
				name = fmt.Sprintf("h%03d.%s", names.Add(1)%1000, benchDomain)
			}
			c, err := cl.dial(ctx, name)
			if err != nil {
				return 0, err
			}
			defer c.Close()
			dl, _ := ctx.Deadline()
			return newHTTPConn(c, name, "/").do(dl)
		}, func() {}
	}
}

// keepAliveOp sends requests for path over one persistent connection per
// worker, reconnecting if it breaks.
func keepAliveOp(path string) workload {
	return func(e *env, cl *client, w int, _ *atomic.Int64) (op, func()) {
		var h *httpConn
		return func(ctx context.Context) (int64, error) {
				if h == nil {
					c, err := cl.dial(ctx, benchDomain)
					if err != nil {
						return 0, err
					}
					h = newHTTPConn(c, benchDomain, path)
				}
				dl, _ := ctx.Deadline()
				n, err := h.do(dl)
				if err != nil {
					h.c.Close()
					h = nil
				}
				return n, err
			}, func() {
				if h != nil {
					h.c.Close()
				}
			}
	}
}

// compare runs a workload directly and through tlslens, alternating which
// goes first, and prints each round's ratio and the range.
func compare(c config, w io.Writer, title string, wl workload) error {
	e, err := newEnv(envOptions{bulkSize: c.bulkSize})
	if err != nil {
		return err
	}
	defer e.stop()
	bulk := strings.HasPrefix(title, "bulk")
	var ratios, cpuRatios, p50s, p99s []float64
	fmt.Fprintf(w, "\n%s\n", title)
	for round := range c.rounds {
		var direct, mitm result
		sides := []bool{false, true}
		if round%2 == 1 {
			sides = []bool{true, false}
		}
		for _, proxied := range sides {
			runtime.GC()
			r := drive(e, &client{e: e, proxied: proxied}, c.concurrency, c.duration, wl)
			if r.ops == 0 {
				return fmt.Errorf("proxied=%v: no successful operation (%d errors, first: %v)", proxied, r.errs, r.firstErr)
			}
			if proxied {
				mitm = r
			} else {
				direct = r
			}
		}
		dv, mv, unit := direct.rate(), mitm.rate(), "ops/s"
		if bulk {
			dv, mv, unit = direct.mbps(), mitm.mbps(), "MB/s"
		}
		ratio := mv / dv
		cpuRatio := mitm.perCPU(bulk) / direct.perCPU(bulk)
		cpuRatios = append(cpuRatios, cpuRatio)
		d50, d99 := percentiles(direct.lat)
		m50, m99 := percentiles(mitm.lat)
		ratios = append(ratios, ratio)
		p50s = append(p50s, float64(m50)/float64(d50))
		p99s = append(p99s, float64(m99)/float64(d99))
		fmt.Fprintf(w, "  round %d: direct %.0f %s, tlslens %.0f %s, ratio %.2f; per CPU-second %.0f vs %.0f, ratio %.2f; latency p50 %v vs %v (x%.2f), p99 %v vs %v (x%.2f); errors %d/%d\n",
			round+1, dv, unit, mv, unit, ratio, direct.perCPU(bulk), mitm.perCPU(bulk), cpuRatio,
			d50.Round(time.Microsecond), m50.Round(time.Microsecond), p50s[round], d99.Round(time.Microsecond), m99.Round(time.Microsecond), p99s[round], direct.errs, mitm.errs)
		if mitm.errs > 0 {
			fmt.Fprintf(w, "    first tlslens error: %v\n", mitm.firstErr)
		}
	}
	fmt.Fprintf(w, "  RATIO %s: wall-clock median %.2f (range %.2f-%.2f); per CPU-second median %.2f (range %.2f-%.2f); latency p50 x%.2f, p99 x%.2f (medians)\n",
		title, median(ratios), slices.Min(ratios), slices.Max(ratios), median(cpuRatios), slices.Min(cpuRatios), slices.Max(cpuRatios), median(p50s), median(p99s))
	return nil
}

func percentiles(lat []time.Duration) (p50, p99 time.Duration) {
	if len(lat) == 0 {
		return 0, 0
	}
	slices.Sort(lat)
	return lat[len(lat)/2], lat[min(len(lat)-1, len(lat)*99/100)]
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
