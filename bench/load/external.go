package main

// The external mode (-external BINARY): tlslens as users run it, as its own
// process beside the load process, with its default options plus a record
// file. The load process holds the HTTPS upstream and the client workers;
// direct, through tlslens and (with -peer mitmdump) through mitmproxy take
// turns in slices within each round, and the figures are wall-clock ratios
// to direct: the processes are separate, so the load process's CPU time says
// nothing about the proxy's.

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// externalScenarios are the scenarios -external runs, in order.
var externalScenarios = []externalScenario{
	{"newconn", "new connections/s, one host", false, true, func() workload { return newConnOp(false) }},
	{"hosts", "new connections/s, 1000 SNI names", false, true, func() workload { return newConnOp(true) }},
	// Names no side has met before, each at one of the upstream's
	// addresses: every connection's server and hello are new (with
	// probe: first, each is probed once), as for a user browsing new sites.
	{"newhosts", "new connections/s, names new to each side", false, true, func() workload { return newHostsOp(true) }},
	{"keepalive", "keep-alive requests/s", false, false, func() workload { return keepAliveOp("/") }},
	{"bulk", "bulk MB/s", true, false, func() workload { return keepAliveOp("/bulk") }},
}

// An externalScenario is a workload and the row it makes; a new-connection
// one also makes a row of its p99 latency.
type externalScenario struct {
	name, measure string
	bulk, newConn bool
	wl            func() workload
}

// process is a proxy running as its own process: tlslens or mitmdump.
type process struct {
	name    string // the column: "tlslens" or "mitmproxy"
	cmd     *exec.Cmd
	addr    string         // its proxy listener, 127.0.0.1:port
	roots   *x509.CertPool // trusts its CA
	admin   string         // tlslens: its admin listener (for /debug/pprof), or ""
	records string         // tlslens: its record file
	web     string         // tlslens: its web view's URL, or ""
	tunnels atomic.Int64   // CONNECT tunnels it opened: one connection, one record each
	log     *tail          // the end of its stderr, for errors
	exited  chan struct{}  // closed when it has exited
	exitErr error          // its exit status, once exited is closed
}

// tail keeps the last lines written to it.
type tail struct {
	mu    sync.Mutex
	lines []string
}

func (t *tail) add(line string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lines = append(t.lines, line)
	if len(t.lines) > 20 {
		t.lines = t.lines[len(t.lines)-20:]
	}
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.Join(t.lines, "\n")
}

// externalConfig is the config file the tool gives tlslens: the defaults,
// and a policy that keeps every connection on loopback (the tool's
// upstream), as the in-process tool's dialer does. Its names are the
// client's SNI under bench.test, its targets 127.0.0.1.
const externalConfig = `# written by bench/load -external: defaults, and nothing but loopback
policies:
  - {match: "127.0.0.0/8", action: mitm}
  - {match: "bench.test", action: mitm}
  - {match: "*.bench.test", action: mitm}
  - {match: "*", action: deny}
`

// startTLSLens starts the tlslens binary bin with its default options plus
// --records and --quiet, its CA, config and record file in dir, trusting
// the upstream's root, every listener on a free loopback port. yaml is
// added to its config file (-external-config), extra are further flags
// (-pprof's, -external-args).
func startTLSLens(bin, dir string, e *env, env []string, yaml string, extra ...string) (*process, error) {
	upstreamPEM := filepath.Join(dir, "upstream-root.pem")
	if err := os.WriteFile(upstreamPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: e.upstreamRoot.Raw}), 0o600); err != nil {
		return nil, err
	}
	config := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(config, []byte(externalConfig+yaml+"\n"), 0o600); err != nil {
		return nil, err
	}
	p := &process{name: "tlslens", records: filepath.Join(dir, "records.jsonl"), log: &tail{}, exited: make(chan struct{})}
	args := append([]string{"--config", config, "--records", p.records, "--quiet",
		"--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", "--web-listen", "127.0.0.1:0",
		"--ca-dir", filepath.Join(dir, "ca"), "--upstream-ca", upstreamPEM}, extra...)
	p.cmd = exec.Command(bin, args...)
	if len(env) > 0 {
		p.cmd.Env = append(os.Environ(), env...)
	}
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	// Its operational log is JSON (stderr is not a terminal): the lines
	// naming its listeners and CA say where it listens.
	listening := make(chan map[string]any, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.log.add(sc.Text())
			var line map[string]any
			if json.Unmarshal(sc.Bytes(), &line) != nil {
				continue
			}
			switch line["msg"] {
			case "admin listening":
				p.admin, _ = line["addr"].(string)
			case "tlslens listening":
				listening <- line
			}
		}
		p.exitErr = p.cmd.Wait()
		close(p.exited)
	}()
	select {
	case line := <-listening:
		p.addr, _ = line["addr"].(string)
		p.web, _ = line["web"].(string)
		caPath, _ := line["ca"].(string)
		if p.roots, err = poolFromFile(caPath); err != nil {
			p.stop()
			return nil, fmt.Errorf("tlslens's CA: %w", err)
		}
	case <-p.exited:
		return nil, fmt.Errorf("tlslens exited at start (%v):\n%s", p.exitErr, p.log)
	case <-time.After(30 * time.Second):
		p.stop()
		return nil, fmt.Errorf("tlslens did not say it was listening within 30s:\n%s", p.log)
	}
	if err := loopbackOnly(p.addr); err != nil {
		p.stop()
		return nil, err
	}
	return p, nil
}

// startMitmdump starts mitmdump (mitmproxy's command line) as the issue
// ran it: regular mode on a free loopback port, quiet, not verifying the
// upstream (it has no option for an extra root), streaming bodies over
// 1 MB; its CA is made in dir.
func startMitmdump(dir string) (*process, error) {
	bin, err := exec.LookPath("mitmdump")
	if err != nil {
		return nil, fmt.Errorf("-peer mitmdump: %w (apt-get install -y mitmproxy)", err)
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	confdir := filepath.Join(dir, "mitmproxy")
	p := &process{name: "mitmproxy", addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), log: &tail{}, exited: make(chan struct{})}
	p.cmd = exec.Command(bin, "--mode", "regular", "--listen-host", "127.0.0.1", "--listen-port", strconv.Itoa(port), "-q",
		"--set", "ssl_insecure=true", "--set", "stream_large_bodies=1m", "--set", "confdir="+confdir)
	p.cmd.Stdout = io.Discard
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.log.add(sc.Text())
		}
		p.exitErr = p.cmd.Wait()
		close(p.exited)
	}()
	deadline := time.Now().Add(60 * time.Second)
	for {
		if c, err := net.DialTimeout("tcp", p.addr, time.Second); err == nil {
			c.Close()
			if p.roots, err = poolFromFile(filepath.Join(confdir, "mitmproxy-ca-cert.pem")); err == nil {
				return p, nil
			}
		}
		select {
		case <-p.exited:
			return nil, fmt.Errorf("mitmdump exited at start (%v):\n%s", p.exitErr, p.log)
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.stop()
			return nil, fmt.Errorf("mitmdump did not listen on %s within 60s:\n%s", p.addr, p.log)
		}
	}
}

// peers is -peer's list: mitmdump, bare or both (comma-separated).
func peers(c config) []string {
	if c.peer == "" {
		return nil
	}
	return strings.Split(c.peer, ",")
}

// startBareProcess starts the bare MITM (bare.go) as its own process, this
// tool's binary with -role bare: the two handshakes and a byte copy, the
// ceiling of any interception as users run one, in its own column.
func startBareProcess(dir string, e *env) (*process, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	bdir := filepath.Join(dir, "bare")
	if err := os.Mkdir(bdir, 0o700); err != nil {
		return nil, err
	}
	upstreamPEM := filepath.Join(bdir, "upstream-root.pem")
	if err := os.WriteFile(upstreamPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: e.upstreamRoot.Raw}), 0o600); err != nil {
		return nil, err
	}
	p := &process{name: "bare", log: &tail{}, exited: make(chan struct{})}
	p.cmd = exec.Command(self, "-role", "bare", "-ca", upstreamPEM, "-dir", bdir)
	p.cmd.Stderr = io.Discard
	stdin, err := p.cmd.StdinPipe() // held open: the child serves until it closes
	if err != nil {
		return nil, err
	}
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	first := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			first <- sc.Text()
		}
		for sc.Scan() {
			p.log.add(sc.Text())
		}
		p.exitErr = p.cmd.Wait()
		stdin.Close()
		close(p.exited)
	}()
	select {
	case line := <-first:
		addr, rootPEM, _ := strings.Cut(line, " ")
		p.addr = addr
		if p.roots, err = poolFromFile(rootPEM); err != nil {
			p.stop()
			return nil, fmt.Errorf("the bare MITM's CA: %w", err)
		}
		if err := loopbackOnly(p.addr); err != nil {
			p.stop()
			return nil, err
		}
		return p, nil
	case <-p.exited:
		return nil, fmt.Errorf("the bare MITM exited at start: %v", p.exitErr)
	case <-time.After(30 * time.Second):
		p.stop()
		return nil, errors.New("the bare MITM did not say where it listens within 30s")
	}
}

// stop ends the process as a service manager does (SIGTERM, then SIGKILL
// after 30s) and waits for it.
func (p *process) stop() {
	if p == nil || p.cmd.Process == nil {
		return
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		p.cmd.Process.Kill()
		<-p.exited
	}
}

// cpu is the process's user+system CPU time so far (/proc/PID/stat, in
// clock ticks of 10ms), or 0 once it has exited.
func (p *process) cpu() time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	// The fields after the command name (which may hold spaces), from
	// state (field 3): utime and stime are fields 14 and 15.
	_, rest, _ := strings.Cut(string(b), ") ")
	f := strings.Fields(rest)
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+s) * 10 * time.Millisecond
}

// settle waits until the process has used under one clock tick of CPU in
// 50ms (the work a slice left behind, records written, is done), at most
// 2s.
func (p *process) settle() {
	deadline := time.Now().Add(2 * time.Second)
	last := p.cpu()
	for time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		now := p.cpu()
		if now-last < 10*time.Millisecond {
			return
		}
		last = now
	}
}

func poolFromFile(path string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%s holds no PEM certificate", path)
	}
	return pool, nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// loopbackOnly refuses an address that is not a loopback IP and port: this
// tool sends traffic only to loopback.
func loopbackOnly(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("load: %q is not a loopback address; this tool connects only to loopback", addr)
	}
	return nil
}

// loadAverage is /proc/loadavg's 1, 5 and 15 minute figures.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// spread is a median over rounds with the lowest and highest round.
type spread struct {
	Median float64 `json:"median"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
}

func spreadOf(v []float64) spread {
	if len(v) == 0 {
		return spread{}
	}
	return spread{Median: median(v), Min: slices.Min(v), Max: slices.Max(v)}
}

// externalMeasure is one row of the table: a figure per side (medians over
// rounds, with the spread), and per round ratios.
type externalMeasure struct {
	Measure string `json:"measure"`
	Unit    string `json:"unit"`
	// Sides: direct, tlslens, mitmproxy (when run): the figure per round.
	Sides map[string]spread `json:"sides"`
	// Ratios to direct, per round: tlslens, mitmproxy. For a latency a
	// multiple of direct's (lower is better), for a rate a fraction.
	Ratios map[string]spread `json:"ratios"`
	// TLSLensPerMitmproxy is tlslens's figure over mitmproxy's, per round.
	TLSLensPerMitmproxy *spread `json:"tlslens_per_mitmproxy,omitempty"`
	// TLSLensPerBase is tlslens's figure over base's (-against), per round:
	// what the changes since base bought, measured in the same run.
	TLSLensPerBase *spread `json:"tlslens_per_base,omitempty"`
	// TLSLensPerBare is tlslens's figure over the bare MITM's (-peer bare),
	// per round: what tlslens keeps of the most any interception reaches.
	TLSLensPerBare *spread          `json:"tlslens_per_bare,omitempty"`
	Errors         map[string]int64 `json:"errors"`
	// ProxyCPU is each proxy process's CPU time (user+system, from
	// /proc/PID/stat, 10ms ticks) per operation, per MB in bulk, in µs:
	// steadier than a wall-clock rate on a shared machine.
	ProxyCPU map[string]spread `json:"proxy_cpu_us_per_op,omitempty"`
	// ProxyCPUPerBase is tlslens's CPU per operation over base's, per
	// round: what an option costs tlslens's own process, apart from the
	// upstream's and the clients' work.
	ProxyCPUPerBase *spread `json:"proxy_cpu_tlslens_per_base,omitempty"`
}

// externalReport is what -external prints, and -json as JSON.
type externalReport struct {
	Binary      string            `json:"binary"`
	Options     string            `json:"options,omitempty"` // -external-args and -external-config
	Events      bool              `json:"events,omitempty"`  // -events: a client read tlslens's /events all along
	Peer        string            `json:"peer,omitempty"`
	Base        string            `json:"base,omitempty"` // -against and -against-env
	GoVersion   string            `json:"go_version"`
	CPUs        int               `json:"cpus"`
	Workers     int               `json:"workers"`
	Duration    string            `json:"duration_per_side_per_round"`
	Slice       string            `json:"slice"`
	Rounds      int               `json:"rounds"`
	BulkBytes   int               `json:"bulk_bytes"`
	LoadAverage [2]string         `json:"load_average"` // at start and at end: 1, 5, 15 min
	Measures    []externalMeasure `json:"measures"`
	Records     int64             `json:"records"`                     // lines in tlslens's record file
	Probed      int64             `json:"probed"`                      // records among them with a probe side
	Tunnels     int64             `json:"connections_through_tlslens"` // CONNECT tunnels it opened
	EventsRead  int64             `json:"events_read,omitempty"`       // -events: events read from its /events
	BaseRecords int64             `json:"base_records,omitempty"`      // the same for base (-against...)
	BaseProbed  int64             `json:"base_probed,omitempty"`
	BaseTunnels int64             `json:"connections_through_base,omitempty"`
	Profiles    []string          `json:"cpu_profiles,omitempty"` // -pprof's files
}

// runExternal is -external: see the file comment.
func runExternal(c config, stdout, stderr io.Writer) error {
	if err := checkExternal(c); err != nil {
		return err
	}
	progress := stdout
	if c.json {
		progress = stderr
	}
	e, err := newEnv(envOptions{bulkSize: c.bulkSize, upstreamOnly: true})
	if err != nil {
		return err
	}
	defer e.stop()
	dir, err := os.MkdirTemp("", "tlslens-load-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	extra := strings.Fields(c.externalArgs)
	if c.pprofDir != "" {
		extra = append(extra, "--admin-pprof")
	}
	tl, err := startTLSLens(c.external, dir, e, nil, c.externalYAML, extra...)
	if err != nil {
		return err
	}
	defer tl.stop()
	var events atomic.Int64
	if c.events {
		stop, err := readEvents(tl.web, &events)
		if err != nil {
			return err
		}
		defer stop()
	}
	type sideSpec struct {
		name string
		cl   *client
		proc *process
	}
	sides := []sideSpec{{"direct", &client{e: e}, nil}, {"tlslens", &client{e: e, via: tl}, tl}}
	baseDesc := ""
	var base *process
	if c.against != "" || c.againstEnv != "" || c.againstArgs != "" || c.againstYAML != "" {
		bin := cmp.Or(c.against, c.external)
		var env []string
		if c.againstEnv != "" {
			env = strings.Split(c.againstEnv, ",")
		}
		baseDir := filepath.Join(dir, "base")
		if err := os.Mkdir(baseDir, 0o700); err != nil {
			return err
		}
		base, err = startTLSLens(bin, baseDir, e, env, c.againstYAML, strings.Fields(c.againstArgs)...)
		if err != nil {
			return fmt.Errorf("base: %w", err)
		}
		defer base.stop()
		base.name = "base"
		sides = append(sides, sideSpec{"base", &client{e: e, via: base}, base})
		baseDesc = describe(bin, c.againstEnv, c.againstArgs, c.againstYAML)
	}
	if slices.Contains(peers(c), "mitmdump") {
		mp, err := startMitmdump(dir)
		if err != nil {
			return err
		}
		defer mp.stop()
		sides = append(sides, sideSpec{"mitmproxy", &client{e: e, via: mp}, mp})
	}
	if slices.Contains(peers(c), "bare") {
		bp, err := startBareProcess(dir, e)
		if err != nil {
			return err
		}
		defer bp.stop()
		sides = append(sides, sideSpec{"bare", &client{e: e, via: bp}, bp})
	}
	rep := externalReport{Binary: c.external, Options: describe("", "", c.externalArgs, c.externalYAML), Events: c.events, Peer: c.peer, Base: baseDesc, GoVersion: runtime.Version(), CPUs: runtime.NumCPU(),
		Workers: c.concurrency, Duration: c.duration.String(), Slice: c.slice.String(), Rounds: c.rounds, BulkBytes: c.bulkSize}
	rep.LoadAverage[0] = loadAverage()
	fmt.Fprintf(progress, "tlslens load -external %s: %d CPUs, %s, %d workers, %s per side per round in %s slices, %d rounds, bulk %d bytes; load average %s\n",
		c.external, runtime.NumCPU(), runtime.Version(), c.concurrency, c.duration, c.slice, c.rounds, c.bulkSize, rep.LoadAverage[0])
	for _, s := range externalScenarios {
		if !slices.Contains(strings.Split(c.scenarios, ","), s.name) {
			continue
		}
		var profile func() error
		if c.pprofDir != "" {
			path := filepath.Join(c.pprofDir, "tlslens-"+s.name+".pprof")
			profile = fetchProfile(tl.admin, time.Duration(c.rounds*len(sides))*c.duration, path)
			rep.Profiles = append(rep.Profiles, path)
		}
		rates := map[string][]float64{}
		cpus := map[string][]float64{} // the proxy process's CPU per operation (per MB in bulk), µs
		p99s := map[string][]float64{}
		errs := map[string]int64{}
		fmt.Fprintf(progress, "\n%s\n", s.measure)
		wl := s.wl() // one for all rounds: newhosts's names stay new across them
		for round := range c.rounds {
			res := make([]result, len(sides))
			run := make([]*side, len(sides))
			for i, sd := range sides {
				run[i] = newSide(e, sd.cl, c.concurrency, wl)
			}
			runtime.GC()
			slice := min(c.slice, c.duration)
			// Until each side has run for c.duration: a bulk slice runs
			// past its length until its responses are whole.
			ran := func() time.Duration {
				return slices.MinFunc(res, func(a, b result) int { return cmp.Compare(a.elapsed, b.elapsed) }).elapsed
			}
			for ran() < c.duration {
				for k := range sides {
					// Who goes first turns with the rounds, and odd rounds
					// run the sides in reverse, so that no side always
					// follows the same other (tlslens after direct).
					i := (k + round) % len(sides)
					if round%2 == 1 {
						i = (len(sides) - 1 - k + round) % len(sides)
					}
					p := sides[i].proc
					var cpu0 time.Duration
					if p != nil {
						cpu0 = p.cpu()
					}
					run[i].slice(slice, &res[i])
					if p != nil {
						p.settle()
						res[i].cpu += p.cpu() - cpu0
					}
				}
			}
			for _, r := range run {
				r.close()
			}
			line := fmt.Sprintf("  round %d:", round+1)
			for i, sd := range sides {
				r := res[i]
				if r.ops == 0 {
					return fmt.Errorf("%s, %s: no successful operation (%d errors, first: %v)", s.measure, sd.name, r.errs, r.firstErr)
				}
				v, unit := r.rate(), "/s"
				if s.bulk {
					v, unit = r.mbps(), " MB/s"
				}
				_, p99 := percentiles(r.lat)
				rates[sd.name] = append(rates[sd.name], v)
				if sd.proc != nil {
					per := float64(r.ops)
					if s.bulk {
						per = float64(r.bytes) / 1e6
					}
					cpus[sd.name] = append(cpus[sd.name], float64(r.cpu.Microseconds())/per)
				}
				p99s[sd.name] = append(p99s[sd.name], float64(p99)/float64(time.Millisecond))
				errs[sd.name] += r.errs
				line += fmt.Sprintf(" %s %.1f%s (p99 %v, %d errors)", sd.name, v, unit, p99.Round(10*time.Microsecond), r.errs)
				if r.errs > 0 {
					line += fmt.Sprintf(" [first: %v]", r.firstErr)
				}
			}
			fmt.Fprintln(progress, line)
		}
		unit := "ops/s"
		if s.bulk {
			unit = "MB/s"
		}
		m := measureOf(s.measure, unit, rates, errs)
		m.ProxyCPU = map[string]spread{}
		for side, v := range cpus {
			m.ProxyCPU[side] = spreadOf(v)
		}
		if b, ok := cpus["base"]; ok {
			r := make([]float64, len(b))
			for i := range b {
				r[i] = cpus["tlslens"][i] / b[i]
			}
			s := spreadOf(r)
			m.ProxyCPUPerBase = &s
		}
		rep.Measures = append(rep.Measures, m)
		if s.newConn {
			rep.Measures = append(rep.Measures, measureOf("p99 latency of a new connection, "+strings.TrimPrefix(s.measure, "new connections/s, "), "ms", p99s, errs))
		}
		if profile != nil {
			if err := profile(); err != nil {
				return fmt.Errorf("%s: CPU profile of tlslens: %w", s.name, err)
			}
		}
	}
	rep.LoadAverage[1] = loadAverage()
	tl.stop() // its records are all written once it has exited
	if tl.exitErr != nil {
		return fmt.Errorf("tlslens exited with %v:\n%s", tl.exitErr, tl.log)
	}
	if rep.Records, rep.Probed, err = countRecords(tl.records); err != nil {
		return err
	}
	rep.Tunnels = tl.tunnels.Load()
	rep.EventsRead = events.Load()
	if base != nil {
		base.stop()
		if base.exitErr != nil {
			return fmt.Errorf("base exited with %v:\n%s", base.exitErr, base.log)
		}
		if rep.BaseRecords, rep.BaseProbed, err = countRecords(base.records); err != nil {
			return err
		}
		rep.BaseTunnels = base.tunnels.Load()
	}
	if c.json {
		printExternal(progress, rep) // the table for the eye, beside the progress lines
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	printExternal(stdout, rep)
	return nil
}

// checkExternal refuses what -external does not do.
func checkExternal(c config) error {
	for _, name := range strings.Split(c.scenarios, ",") {
		if !slices.ContainsFunc(externalScenarios, func(s externalScenario) bool { return s.name == name }) {
			return fmt.Errorf("-external runs newconn, hosts, newhosts, keepalive and bulk, not %q", name)
		}
	}
	for _, peer := range peers(c) {
		if peer != "mitmdump" && peer != "bare" {
			return fmt.Errorf("-peer %q: the peers are mitmdump and bare", peer)
		}
	}
	if c.baseline != "direct" {
		return errors.New("-external compares with direct only")
	}
	return nil
}

// measureOf makes a row from the per-round figures of each side.
func measureOf(name, unit string, perRound map[string][]float64, errs map[string]int64) externalMeasure {
	m := externalMeasure{Measure: name, Unit: unit, Sides: map[string]spread{}, Ratios: map[string]spread{}, Errors: errs}
	for side, v := range perRound {
		m.Sides[side] = spreadOf(v)
	}
	ratio := func(a, b []float64) spread {
		r := make([]float64, len(a))
		for i := range a {
			r[i] = a[i] / b[i]
		}
		return spreadOf(r)
	}
	for _, side := range []string{"tlslens", "mitmproxy", "base", "bare"} {
		if v, ok := perRound[side]; ok {
			m.Ratios[side] = ratio(v, perRound["direct"])
		}
	}
	if b, ok := perRound["bare"]; ok {
		s := ratio(perRound["tlslens"], b)
		m.TLSLensPerBare = &s
	}
	if mp, ok := perRound["mitmproxy"]; ok {
		s := ratio(perRound["tlslens"], mp)
		m.TLSLensPerMitmproxy = &s
	}
	if b, ok := perRound["base"]; ok {
		s := ratio(perRound["tlslens"], b)
		m.TLSLensPerBase = &s
	}
	return m
}

// printPeerRow prints one row of a second proxy's table (base, bare): its
// figure, its ratio to direct and tlslens's to it; a latency row's ratios
// are multiples (x2.00), a rate's fractions (0.450).
func printPeerRow(w io.Writer, m externalMeasure, s, r spread, per *spread) {
	if per == nil {
		return
	}
	format := "| %s | %s %s | %.3f (%.3f-%.3f) | x%.3f (%.3f-%.3f) |\n"
	if m.Unit == "ms" {
		format = "| %s | %s %s | x%.2f (%.2f-%.2f) | x%.2f (%.2f-%.2f) |\n"
	}
	fmt.Fprintf(w, format, m.Measure, figure(s.Median), m.Unit, r.Median, r.Min, r.Max, per.Median, per.Min, per.Max)
}

// printExternal prints the table: measure | direct | tlslens | ratio |
// mitmproxy | ratio | tlslens÷mitmproxy, medians with the rounds' range.
func printExternal(w io.Writer, rep externalReport) {
	fmt.Fprintf(w, "\nload average %s at start, %s at end; %d rounds, medians (range)\n", rep.LoadAverage[0], rep.LoadAverage[1], rep.Rounds)
	if rep.Options != "" || rep.Events {
		fmt.Fprintf(w, "tlslens: %s", rep.Options)
		if rep.Events {
			fmt.Fprintf(w, " (a client reading its /events all along)")
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| measure | direct | tlslens | ratio | mitmproxy | ratio | tlslens÷mitmproxy |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|")
	for _, m := range rep.Measures {
		val := func(side string) string {
			s, ok := m.Sides[side]
			if !ok {
				return "-"
			}
			return fmt.Sprintf("%s %s", figure(s.Median), m.Unit)
		}
		rat := func(s spread, ok bool) string {
			if !ok {
				return "-"
			}
			if m.Unit == "ms" {
				return fmt.Sprintf("x%.2f (%.2f-%.2f)", s.Median, s.Min, s.Max)
			}
			return fmt.Sprintf("%.3f (%.3f-%.3f)", s.Median, s.Min, s.Max)
		}
		tl, tlOK := m.Ratios["tlslens"]
		mp, mpOK := m.Ratios["mitmproxy"]
		per := "-"
		if m.TLSLensPerMitmproxy != nil {
			s := *m.TLSLensPerMitmproxy
			per = fmt.Sprintf("x%.2f (%.2f-%.2f)", s.Median, s.Min, s.Max)
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s |\n", m.Measure, val("direct"), val("tlslens"), rat(tl, tlOK), val("mitmproxy"), rat(mp, mpOK), per)
	}
	if slices.Contains(strings.Split(rep.Peer, ","), "bare") {
		fmt.Fprintf(w, "\nbare: a MITM doing only the two handshakes and a byte copy (bench/load/bare.go), as its own process, in the same run\n\n| measure | bare | ratio to direct | tlslens÷bare |\n|---|---|---|---|\n")
		for _, m := range rep.Measures {
			s, r, per := m.Sides["bare"], m.Ratios["bare"], m.TLSLensPerBare
			printPeerRow(w, m, s, r, per)
		}
	}
	if rep.Base != "" {
		fmt.Fprintf(w, "\nbase: %s, in the same run\n\n| measure | base | ratio to direct | tlslens÷base |\n|---|---|---|---|\n", rep.Base)
		for _, m := range rep.Measures {
			s, r, per := m.Sides["base"], m.Ratios["base"], m.TLSLensPerBase
			printPeerRow(w, m, s, r, per)
		}
	}
	fmt.Fprintf(w, "\nproxy process CPU (user+system) per operation, per MB in bulk, medians (range):\n")
	for _, m := range rep.Measures {
		if len(m.ProxyCPU) == 0 {
			continue
		}
		line := "  " + m.Measure + ":"
		for _, side := range []string{"tlslens", "mitmproxy", "base", "bare"} {
			if v, ok := m.ProxyCPU[side]; ok {
				line += fmt.Sprintf(" %s %.0f µs (%.0f-%.0f)", side, v.Median, v.Min, v.Max)
			}
		}
		if r := m.ProxyCPUPerBase; r != nil {
			line += fmt.Sprintf("; tlslens÷base x%.3f (%.3f-%.3f), per round", r.Median, r.Min, r.Max)
		}
		fmt.Fprintln(w, line)
	}
	fmt.Fprintf(w, "\nrecords written by tlslens: %d (%d with a probe); connections through it: %d\n", rep.Records, rep.Probed, rep.Tunnels)
	if rep.Base != "" {
		fmt.Fprintf(w, "records written by base: %d (%d with a probe); connections through it: %d\n", rep.BaseRecords, rep.BaseProbed, rep.BaseTunnels)
	}
	if rep.Events {
		fmt.Fprintf(w, "events read from tlslens's /events: %d\n", rep.EventsRead)
	}
	for _, p := range rep.Profiles {
		fmt.Fprintf(w, "CPU profile of tlslens: %s\n", p)
	}
}

// figure prints a value with three significant digits or more.
func figure(v float64) string {
	switch {
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	default:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
}

// countRecords counts the lines of a record file, and those with a probe
// side.
func countRecords(path string) (n, probed int64, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 1<<20)
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 && line[len(line)-1] == '\n' {
			n++
		}
		if bytes.Contains(line, []byte(`"probe":{`)) {
			probed++
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err == io.EOF {
			return n, probed, nil
		}
		if err != nil {
			return n, probed, err
		}
	}
}

// describe names a tlslens process's options for the report: its binary,
// environment, extra flags and config lines, those given.
func describe(bin, env, args, yaml string) string {
	var parts []string
	for _, p := range []struct{ label, v string }{{"", bin}, {"env ", env}, {"flags ", args}, {"config ", yaml}} {
		if v := strings.TrimSpace(p.v); v != "" {
			parts = append(parts, p.label+v)
		}
	}
	return strings.Join(parts, "; ")
}

// readEvents reads the web view at url's /events stream, as a browser with
// the page open does, counting the events in n, until stop is called; a
// stream the ring ends for falling behind is reopened after the last event
// read, as the browser's EventSource does.
func readEvents(url string, n *atomic.Int64) (stop func(), err error) {
	if url == "" {
		return nil, errors.New("-events: tlslens named no web view")
	}
	host := strings.TrimSuffix(strings.TrimPrefix(url, "http://"), "/")
	if err := loopbackOnly(host); err != nil {
		return nil, err
	}
	return streamEvents(http.DefaultClient, "http://"+host+"/events", n), nil
}

// streamEvents reads the web view's event stream at url with client, as an
// open page does, counting its events in n, until stop: a stream the ring
// ends for falling behind is reopened after the last event read, as the
// browser's EventSource does.
func streamEvents(client *http.Client, url string, n *atomic.Int64) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		last := ""
		for ctx.Err() == nil {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			if last != "" {
				req.Header.Set("Last-Event-ID", last)
			}
			resp, err := client.Do(req)
			if err != nil {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			sc := bufio.NewScanner(resp.Body)
			sc.Buffer(nil, 1<<20)
			for sc.Scan() {
				line := sc.Text()
				if id, ok := strings.CutPrefix(line, "id: "); ok {
					last = id
				} else if strings.HasPrefix(line, "data: ") {
					n.Add(1)
				}
			}
			resp.Body.Close()
		}
	}()
	return func() { cancel(); <-done }
}

// fetchProfile starts fetching a CPU profile of d from tlslens's admin
// listener into path; the function it returns waits for it.
func fetchProfile(admin string, d time.Duration, path string) func() error {
	done := make(chan error, 1)
	go func() {
		done <- func() error {
			if admin == "" {
				return errors.New("tlslens has no admin listener")
			}
			if err := loopbackOnly(admin); err != nil {
				return err
			}
			secs := max(1, int(d.Round(time.Second)/time.Second))
			ctx, cancel := context.WithTimeout(context.Background(), d+time.Minute)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", admin, secs), nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
				return fmt.Errorf("%s: %s", resp.Status, b)
			}
			f, err := os.Create(path)
			if err != nil {
				return err
			}
			if _, err := io.Copy(f, resp.Body); err != nil {
				f.Close()
				return err
			}
			return f.Close()
		}()
	}()
	return func() error { return <-done }
}
