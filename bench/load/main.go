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
// hold (many concurrent intercepted connections held by child processes)
// and wireguard (new connections, one host, through tlslens's WireGuard
// server from a WireGuard peer in this process, as a ratio to the same
// through its CONNECT proxy). probe compares tlslens with the default
// probe: first against tlslens with the probe off (proxy.Options' default),
// both on one upstream: new connections over 1000 hosts that each side of
// each round has not seen before (so each host's first connection is
// probed), then new connections to one host (repeat connections: only the
// first is probed). web compares tlslens with the web view's page open
// (records into its ring, one client streaming /events, capture on with
// its defaults) against tlslens with default options, on new connections
// to one host, then prints the ring's and the captures' size and the heap
// against their documented bounds. flows compares tlslens writing a flow
// file (as --flows FILE: one line per request, bodies kept in memory within
// their default bounds) against tlslens without, on keep-alive requests,
// then prints the flow file's lines and the bodies' memory against its bound.
//
// Everything stays on loopback: the proxy's resolver refuses any name
// outside bench.test, and its dialer sends those, and the WireGuard peer's
// one destination, to the in-process upstream.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"hash/fnv"
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

	"github.com/tlslens/tlslens/proxy/web"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
}

type config struct {
	duration    time.Duration
	slice       time.Duration
	baseline    string
	concurrency int
	rounds      int
	scenarios   string
	bulkSize    int
	idle        int
	flat        int
	hold        int
	cpuProfile  string
	memProfile  string
	// -external
	external, peer, pprofDir   string
	externalArgs, externalYAML string // -external-args, -external-config
	swap                       int    // -swap: runs each way
	against, againstEnv        string
	againstArgs, againstYAML   string // -against-args, -against-config
	events                     bool
	json                       bool
	// child process roles (hold)
	role, proxyAddr, port, caFile, dir string
	n                                  int
}

func run(args []string, stdout, stderr io.Writer) error {
	var c config
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.DurationVar(&c.duration, "duration", 3*time.Second, "how long each side of each scenario runs per round")
	fs.DurationVar(&c.slice, "slice", 250*time.Millisecond, "the sides alternate in slices this long within a round")
	fs.StringVar(&c.baseline, "baseline", "direct", "what tlslens is compared with: direct (client to upstream) or bare (a MITM that only relays)")
	fs.IntVar(&c.concurrency, "concurrency", 8, "concurrent workers per side")
	fs.IntVar(&c.rounds, "rounds", 3, "rounds per scenario; direct and tlslens alternate which goes first")
	fs.StringVar(&c.scenarios, "scenarios", "newconn,hosts,keepalive,bulk,idle,flat", "comma-separated: newconn, hosts, keepalive, bulk, idle, flat, hold, wireguard, probe, web, flows, or all")
	fs.IntVar(&c.bulkSize, "bulk-size", 8<<20, "bytes per /bulk response")
	fs.IntVar(&c.idle, "idle", 2000, "idle connections opened to measure memory per connection (4 descriptors each)")
	fs.IntVar(&c.flat, "flat", 20000, "connections made while sampling the heap (flat)")
	fs.IntVar(&c.hold, "hold", 10000, "concurrent intercepted connections held by child processes (hold)")
	fs.StringVar(&c.cpuProfile, "cpuprofile", "", "write a CPU profile of the whole run to this file")
	fs.StringVar(&c.memProfile, "memprofile", "", "write a heap profile at the end of the idle scenario to this file")
	fs.StringVar(&c.external, "external", "", "run tlslens as its own process from this binary (go build -o), beside direct (and -peer), scenarios newconn,hosts,keepalive,bulk; wall-clock ratios")
	fs.StringVar(&c.peer, "peer", "", "with -external: mitmdump (mitmproxy as its own process, a third column), bare (the bare MITM of bench/load/bare.go as its own process: the ceiling of any interception), or both, comma-separated")
	fs.StringVar(&c.pprofDir, "pprof", "", "with -external: write a CPU profile of the tlslens process per scenario to this directory (tlslens --admin-pprof)")
	fs.StringVar(&c.against, "against", "", "with -external: also run this tlslens binary (an earlier build) as a column \"base\", for tlslens ÷ base in the same run")
	fs.StringVar(&c.againstEnv, "against-env", "", "with -external: comma-separated KEY=VALUE added to base's environment (GOGC=100); base is the -external binary unless -against names another")
	fs.StringVar(&c.externalArgs, "external-args", "", "with -external: extra flags for the tlslens process, space-separated (--flows /tmp/flows.jsonl)")
	fs.StringVar(&c.externalYAML, "external-config", "", "with -external: YAML lines added to the tlslens process's config file (\"capture: {enabled: true}\")")
	fs.StringVar(&c.againstArgs, "against-args", "", "with -external: extra flags for base, space-separated (--probe off); base is the -external binary unless -against names another")
	fs.StringVar(&c.againstYAML, "against-config", "", "with -external: YAML lines added to base's config file")
	fs.BoolVar(&c.events, "events", false, "with -external: one client reads the tlslens process's web view /events stream all along, as a browser with the page open does")
	fs.IntVar(&c.swap, "swap", 0, "with -external and a base: run the comparison this many times as given and as many with tlslens and base in each other's places, alternately, and print tlslens ÷ base per run (the exchanged runs inverted) with its mean, standard deviation and standard error")
	fs.BoolVar(&c.json, "json", false, "with -external: print the table as JSON (the progress lines and the table go to stderr)")
	fs.StringVar(&c.role, "role", "", "internal: run as a child process (hold)")
	fs.StringVar(&c.proxyAddr, "proxy", "", "internal: tlslens address for a child")
	fs.StringVar(&c.port, "port", "", "internal: upstream port for a child")
	fs.StringVar(&c.caFile, "ca", "", "internal: tlslens CA certificate (PEM) for a child")
	fs.IntVar(&c.n, "n", 0, "internal: connections a child holds")
	fs.StringVar(&c.dir, "dir", "", "internal: a child's directory (bare: its CA)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch c.role {
	case "hold":
		return holdChild(c, stdout)
	case "bare":
		return bareChild(c, stdout)
	}
	if c.duration <= 0 || c.duration > time.Hour || c.slice <= 0 || c.concurrency < 1 || c.concurrency > 4096 || c.rounds < 1 || c.rounds > 100 || c.swap < 0 || c.swap > 100 {
		return errors.New("want 0 < duration <= 1h, slice > 0, 1 <= concurrency <= 4096, 1 <= rounds <= 100, 0 <= swap <= 100")
	}
	if c.baseline != "direct" && c.baseline != "bare" {
		return fmt.Errorf("-baseline %q: want direct or bare", c.baseline)
	}
	if c.external != "" {
		// As users run it: 4 client workers, one 300 MB response, the
		// four throughput scenarios, unless the flags say otherwise.
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		if !set["concurrency"] {
			c.concurrency = 4
		}
		if !set["bulk-size"] {
			c.bulkSize = 300e6
		}
		if !set["scenarios"] {
			c.scenarios = "newconn,hosts,keepalive,bulk"
		}
		if c.swap > 0 {
			return runSwap(c, stdout, stderr)
		}
		return runExternal(c, stdout, stderr)
	}
	if c.peer != "" || c.pprofDir != "" || c.json || c.swap != 0 || c.against != "" || c.againstEnv != "" || c.againstArgs != "" || c.againstYAML != "" ||
		c.externalArgs != "" || c.externalYAML != "" || c.events {
		return errors.New("-peer, -pprof, -against, -against-env, -against-args, -against-config, -external-args, -external-config, -events, -json and -swap go with -external")
	}
	if c.scenarios == "all" {
		c.scenarios = "newconn,hosts,keepalive,bulk,idle,flat,hold,wireguard,probe,web,flows"
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
		case "wireguard":
			err = compareWireGuard(c, stdout, "new connections/s, WireGuard", newConnOp(false))
		case "probe":
			err = compareProbe(c, stdout)
		case "web":
			err = compareWeb(c, stdout)
		case "flows":
			err = compareFlows(c, stdout)
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

// side is one way of reaching the upstream (direct or through tlslens) with
// its workers, which keep their state (a persistent connection) from one
// slice to the next.
type side struct {
	ops      []op
	cleanups []func()
}

func newSide(e *env, cl *client, conc int, wl workload) *side {
	s := &side{}
	var names atomic.Int64
	for w := range conc {
		do, cleanup := wl(e, cl, w, &names)
		s.ops, s.cleanups = append(s.ops, do), append(s.cleanups, cleanup)
	}
	return s
}

func (s *side) close() {
	for _, c := range s.cleanups {
		c()
	}
}

// slice runs the side's workers for d and adds what they did to total. The
// CPU time is read only once the process is quiet again (see settle), so
// work a slice leaves behind (tlslens closing the upstream leg and writing
// the record after the client has gone, the upstream closing its end, the
// garbage collector) is charged to it rather than to the next slice.
func (s *side) slice(d time.Duration, total *result) {
	var (
		mu sync.Mutex
		wg sync.WaitGroup
	)
	start, cpu0 := time.Now(), cpuTime()
	end := start.Add(d)
	for _, do := range s.ops {
		wg.Add(1)
		go func() {
			defer wg.Done()
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
	total.elapsed += time.Since(start)
	total.cpu += settle() - cpu0
}

// settle waits until the process has been idle for settleQuiet (it used
// under 5% of one CPU), at most settleMax, and returns the CPU time then.
func settle() time.Duration {
	const (
		settleQuiet = 20 * time.Millisecond
		settleMax   = 2 * time.Second
	)
	deadline := time.Now().Add(settleMax)
	last := cpuTime()
	for time.Now().Before(deadline) {
		time.Sleep(settleQuiet)
		now := cpuTime()
		if now-last < settleQuiet/20 {
			return now
		}
		last = now
	}
	return last
}

// newConnOp makes a new connection for each request: TCP, (CONNECT,) TLS,
// one GET, close. With manyHosts the SNI cycles through 1000 names.
func newConnOp(manyHosts bool) workload {
	return newConnNamed(func(names *atomic.Int64) string {
		if manyHosts {
			return fmt.Sprintf("h%03d.%s", names.Add(1)%1000, benchDomain)
		}
		return benchDomain
	}, nil, false)
}

// newHostsOp is newConnOp over 1000 hosts, with names no earlier side has
// used: tlslens meets each host afresh on each side of each round (mints
// its leaf and, probing, probes it), however many rounds ran before. With
// spread, each name's upstream is one of env.upstreamIPs (-external: a
// proxy process tells servers apart by their CONNECT target's address, so
// distinct hosts need distinct addresses).
func newHostsOp(spread bool) workload {
	var sides, side atomic.Int64
	return newConnNamed(func(names *atomic.Int64) string {
		return fmt.Sprintf("s%d-h%03d.%s", side.Load(), names.Add(1)%1000, benchDomain)
	}, func(w int) {
		if w == 0 { // newSide makes a side's workers in order
			side.Store(sides.Add(1))
		}
	}, spread)
}

// newConnNamed is newConnOp with the SNI name from name, given the side's
// counter; start, if not nil, is called as each worker is made. With
// spread, a name's upstream is env.upstreamIPs[hash of the name].
func newConnNamed(name func(names *atomic.Int64) string, start func(w int), spread bool) workload {
	return func(e *env, cl *client, w int, names *atomic.Int64) (op, func()) {
		if start != nil {
			start(w)
		}
		return func(ctx context.Context) (int64, error) {
			name := name(names)
			ip := ""
			if spread && len(e.upstreamIPs) > 0 {
				h := fnv.New32a()
				io.WriteString(h, name)
				ip = e.upstreamIPs[h.Sum32()%uint32(len(e.upstreamIPs))]
			}
			c, err := cl.dialAt(ctx, name, ip)
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

// compare runs a workload directly (or through the bare MITM) and through
// tlslens, and prints the ratios tlslens / baseline; see compareSides.
func compare(c config, w io.Writer, title string, wl workload) error {
	bare := c.baseline == "bare"
	e, err := newEnv(envOptions{bulkSize: c.bulkSize, bare: bare})
	if err != nil {
		return err
	}
	defer e.stop()
	base := "direct"
	if bare {
		base = "bare MITM"
	}
	return compareSides(c, w, title, wl, e, base, &client{e: e, bare: bare}, "tlslens", &client{e: e, proxied: true})
}

// compareWireGuard runs a workload through tlslens's CONNECT proxy and
// through its WireGuard server, from a WireGuard peer in this process, and
// prints the ratios wireguard / CONNECT; -baseline does not apply.
func compareWireGuard(c config, w io.Writer, title string, wl workload) error {
	e, err := newEnv(envOptions{bulkSize: c.bulkSize, wireGuard: true})
	if err != nil {
		return err
	}
	defer e.stop()
	return compareSides(c, w, title, wl, e, "CONNECT", &client{e: e, proxied: true}, "wireguard", &client{e: e, wireGuard: true})
}

// compareProbe runs new connections through tlslens probing with
// proxy.ProbeFirst and through tlslens not probing, and prints the ratios
// probe first / probe off and how many connections were probed: over 1000
// hosts new to each side of each round, then to one host (repeat).
func compareProbe(c config, w io.Writer) error {
	for _, s := range []struct {
		title string
		wl    workload
	}{
		{"probe, new connections/s, 1000 hosts", newHostsOp(false)},
		{"probe, new connections/s, one host (repeat)", newConnOp(false)},
	} {
		e, err := newEnv(envOptions{bulkSize: c.bulkSize, probe: true})
		if err != nil {
			return err
		}
		err = compareSides(c, w, s.title, s.wl, e, "probe off", &client{e: e, proxied: true}, "probe first", &client{e: e, probe: true})
		if err == nil {
			settle() // the last records are written
			fmt.Fprintf(w, "  probed connections: %d in all rounds\n", e.records.probes.Load())
		}
		e.stop()
		if err != nil {
			return err
		}
	}
	return nil
}

// compareWeb runs new connections to one host through tlslens with default
// options and through tlslens with the web view's page open: its records
// fed to a web.Ring (OnRecordJSON), one client reading /events all along, and
// capture on with its defaults. It prints the ratios page open / default,
// then what the ring and the captures hold and the heap, against their
// documented bounds: web_keep records (web.DefaultKeep), capture.max_bytes
// and 10 000 connections.
func compareWeb(c config, w io.Writer) error {
	e, err := newEnv(envOptions{bulkSize: c.bulkSize, web: true})
	if err != nil {
		return err
	}
	defer e.stop()
	if err := compareSides(c, w, "web, new connections/s, one host", newConnOp(false), e, "default", &client{e: e, proxied: true}, "page open", &client{e: e, web: true}); err != nil {
		return err
	}
	settle() // the last records are added and streamed
	runtime.GC()
	m := sampleMem()
	kept, conns := e.webProxy.CaptureBytes()
	status := func(ok bool) string {
		if ok {
			return "within"
		}
		return "OVER"
	}
	ringLen := e.ring.Len()
	fmt.Fprintf(w, "  MEMORY web: ring %d records (bound web_keep %d: %s); events streamed %d; captures %d connections, %.1f MiB kept (bounds %d connections, capture.max_bytes %d MiB: %s); heap %.1f MiB, stacks %.1f MiB\n",
		ringLen, web.DefaultKeep, status(ringLen <= web.DefaultKeep), e.sseFrames.Load(),
		conns, float64(kept)/(1<<20), captureKeep, captureMaxBytes>>20, status(conns <= captureKeep && kept <= captureMaxBytes),
		float64(m.heap)/(1<<20), float64(m.stacks)/(1<<20))
	return nil
}

// compareFlows runs keep-alive requests through tlslens writing a flow file
// and through tlslens without one, and prints the ratios flows on / flows
// off, then the lines in the flow file against the requests made and the
// bodies' memory against flow_memory.
func compareFlows(c config, w io.Writer) error {
	e, err := newEnv(envOptions{bulkSize: c.bulkSize, flows: true})
	if err != nil {
		return err
	}
	defer e.stop()
	var requests atomic.Int64 // answered through the tlslens writing flows
	counted := func(e *env, cl *client, w int, names *atomic.Int64) (op, func()) {
		do, cleanup := keepAliveOp("/")(e, cl, w, names)
		if !cl.flows {
			return do, cleanup
		}
		return func(ctx context.Context) (int64, error) {
			n, err := do(ctx)
			if err == nil {
				requests.Add(1)
			}
			return n, err
		}, cleanup
	}
	if err := compareSides(c, w, "flows, keep-alive requests/s", counted, e, "flows off", &client{e: e, proxied: true}, "flows on", &client{e: e, flows: true}); err != nil {
		return err
	}
	settle() // the last flows end
	if err := e.flowsProxy.FlushFlows(); err != nil {
		return err
	}
	lines, _, err := countRecords(e.flowFile.Name())
	if err != nil {
		return err
	}
	kept, status := e.flowsProxy.FlowBytes(), "within"
	if kept > defaultFlowMemory {
		status = "OVER"
	}
	fmt.Fprintf(w, "  FLOWS: flow file %d lines for %d requests; bodies kept %.3f MiB (bound flow_memory %d MiB: %s)\n",
		lines, requests.Load(), float64(kept)/(1<<20), defaultFlowMemory>>20, status)
	return flowBodies(c, w, e)
}

// flowBodySize is the size of /body's answer: larger than flow_body_max,
// so that every flow keeps 1 MiB of it, cut.
const flowBodySize = 3 << 19

// flowBodies fetches /body through the tlslens writing flows, with
// c.concurrency workers for c.duration, while its Proxy.FlowBytes is read
// every 2 ms, and prints the most the bodies held against flow_memory.
func flowBodies(c config, w io.Writer, e *env) error {
	if len(e.bulk) < flowBodySize {
		fmt.Fprintf(w, "  FLOW BODIES: skipped (-bulk-size %d is smaller than the %d bytes of /body)\n", len(e.bulk), flowBodySize)
		return nil
	}
	end := time.Now().Add(c.duration)
	ctx, cancel := context.WithDeadline(context.Background(), end)
	defer cancel()
	var answers, failed atomic.Int64
	var wg sync.WaitGroup
	for i := range c.concurrency {
		do, cleanup := keepAliveOp("/body")(e, &client{e: e, flows: true}, i, nil)
		wg.Go(func() {
			defer cleanup()
			for ctx.Err() == nil {
				if n, err := do(ctx); err == nil && n == flowBodySize {
					answers.Add(1)
				} else if time.Now().Before(end) { // not cut by the end
					failed.Add(1)
				}
			}
		})
	}
	var peak int64
	tick := time.NewTicker(2 * time.Millisecond)
	for ctx.Err() == nil {
		peak = max(peak, e.flowsProxy.FlowBytes())
		<-tick.C
	}
	tick.Stop()
	wg.Wait()
	settle()
	status := "within"
	if peak > defaultFlowMemory {
		status = "OVER"
	}
	fmt.Fprintf(w, "  FLOW BODIES: %d answers of %.1f MiB (%d failed) by %d workers in %v (over flow_body_max: 1 MiB of each kept); bodies held at most %.1f MiB (bound flow_memory %d MiB: %s), %.1f MiB at the end\n",
		answers.Load(), float64(flowBodySize)/(1<<20), failed.Load(), c.concurrency, c.duration,
		float64(peak)/(1<<20), defaultFlowMemory>>20, status, float64(e.flowsProxy.FlowBytes())/(1<<20))
	return nil
}

// defaultFlowMemory is flow_memory's default (config.yaml).
const defaultFlowMemory = 64 << 20

// The documented bounds of the captures with their defaults (README,
// "capture"): proxy.Capture's Keep and MaxBytes when 0.
const (
	captureKeep     = 10_000
	captureMaxBytes = 256 << 20
)

// compareSides runs a workload through two clients, the baseline (named
// base) and the one measured (named name), and prints each round's ratios
// name / base and their range. Within a round the two sides alternate in
// slices of c.slice until each has run for c.duration (which goes first
// alternates between rounds), so a machine whose speed drifts, as a shared
// one does, slows both sides alike instead of whichever ran second.
func compareSides(c config, w io.Writer, title string, wl workload, e *env, base string, baseClient *client, name string, nameClient *client) error {
	bulk := strings.HasPrefix(title, "bulk")
	slice := min(c.slice, c.duration)
	var ratios, cpuRatios, p50s, p99s []float64
	fmt.Fprintf(w, "\n%s (%s / %s)\n", title, name, base)
	for round := range c.rounds {
		var direct, mitm result
		d := newSide(e, baseClient, c.concurrency, wl)
		m := newSide(e, nameClient, c.concurrency, wl)
		first, second := d, m
		firstR, secondR := &direct, &mitm
		if round%2 == 1 {
			first, second, firstR, secondR = m, d, &mitm, &direct
		}
		runtime.GC()
		settle()
		for ran := time.Duration(0); ran < c.duration; ran += slice {
			first.slice(slice, firstR)
			second.slice(slice, secondR)
		}
		d.close()
		m.close()
		for _, r := range []struct {
			name string
			r    result
		}{{base, direct}, {name, mitm}} {
			if r.r.ops == 0 {
				return fmt.Errorf("%s: no successful operation (%d errors, first: %v)", r.name, r.r.errs, r.r.firstErr)
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
		fmt.Fprintf(w, "  round %d: %s %.0f %s, %s %.0f %s, ratio %.3f; per CPU-second %.0f vs %.0f, ratio %.3f; latency p50 %v vs %v (x%.2f), p99 %v vs %v (x%.2f); errors %d/%d\n",
			round+1, base, dv, unit, name, mv, unit, ratio, direct.perCPU(bulk), mitm.perCPU(bulk), cpuRatio,
			d50.Round(time.Microsecond), m50.Round(time.Microsecond), p50s[round], d99.Round(time.Microsecond), m99.Round(time.Microsecond), p99s[round], direct.errs, mitm.errs)
		if mitm.errs > 0 {
			fmt.Fprintf(w, "    first %s error: %v\n", name, mitm.firstErr)
		}
	}
	fmt.Fprintf(w, "  RATIO %s: wall-clock median %.3f (range %.3f-%.3f); per CPU-second median %.3f (range %.3f-%.3f); latency p50 x%.2f, p99 x%.2f (medians)\n",
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
