package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/term"

	"github.com/tlslens/tlslens/ca"
	"github.com/tlslens/tlslens/inspect"
	"github.com/tlslens/tlslens/inspect/report"
	"github.com/tlslens/tlslens/proxy"
	"github.com/tlslens/tlslens/proxy/web"
)

// proxyFlags registers the flags that override config keys.
type proxyFlags struct {
	fs     *flag.FlagSet
	config string
	set    map[string]func(*Config)
	keys   map[string]bool // the config keys a flag sets
}

func newProxyFlags(stderr io.Writer) *proxyFlags {
	pf := &proxyFlags{fs: flag.NewFlagSet("tlslens", flag.ContinueOnError), set: map[string]func(*Config){}, keys: map[string]bool{}}
	fs := pf.fs
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage, "\nProxy flags (each overrides the config key of the same name):\n")
		fs.PrintDefaults()
		fmt.Fprint(stderr, configOnly(pf.keys))
	}
	fs.StringVar(&pf.config, "config", "", "config file (default <user config dir>/tlslens/config.yaml, if present)")
	str := func(name, key, help string, dst func(*Config) *string) {
		v := fs.String(name, "", help+" (config: "+key+")")
		pf.set[name] = func(c *Config) { *dst(c) = *v }
		pf.keys[key] = true
	}
	boolean := func(name, key, help string, dst func(*Config) *bool) {
		v := fs.Bool(name, false, help+" (config: "+key+")")
		pf.set[name] = func(c *Config) { *dst(c) = *v }
		pf.keys[key] = true
	}
	duration := func(name, key, help string, dst func(*Config) *time.Duration) {
		v := fs.Duration(name, 0, help+" (config: "+key+")")
		pf.set[name] = func(c *Config) { *dst(c) = *v }
		pf.keys[key] = true
	}
	str("mode", "mode", "regular (clients use tlslens as their proxy), transparent (Linux: connections redirected to listen by iptables or nftables) or wireguard (also a WireGuard server on wireguard_listen, for phones)", func(c *Config) *string { return &c.Mode })
	str("wireguard-listen", "wireguard_listen", "UDP address of the WireGuard server (mode wireguard)", func(c *Config) *string { return &c.WireGuardListen })
	str("wireguard-endpoint", "wireguard_endpoint", "host or host:port phones reach the WireGuard server at; empty: the onboarding page's host", func(c *Config) *string { return &c.WireGuardEndpoint })
	str("listen", "listen", "proxy address", func(c *Config) *string { return &c.Listen })
	str("admin-listen", "admin_listen", "admin address for /healthz and /metrics; empty disables", func(c *Config) *string { return &c.AdminListen })
	boolean("admin-pprof", "admin_pprof", "serve Go's profiler at /debug/pprof/ on the admin listener", func(c *Config) *bool { return &c.AdminPprof })
	str("web-listen", "web_listen", "web view address (live list of connections); empty disables", func(c *Config) *string { return &c.WebListen })
	str("ca-dir", "ca_dir", "CA directory", func(c *Config) *string { return &c.CADir })
	str("records", "records", "record file (JSON Lines, appended), - for stdout; unset: stdout, or <state dir>/tlslens/records.jsonl when stdout is a terminal", func(c *Config) *string { return &c.Records })
	str("log-format", "log_format", "auto, text or json", func(c *Config) *string { return &c.LogFormat })
	str("log-level", "log_level", "debug, info, warn or error", func(c *Config) *string { return &c.LogLevel })
	str("upstream-ca", "upstream_ca", "PEM file of extra roots trusted upstream", func(c *Config) *string { return &c.UpstreamCA })
	str("fingerprints", "fingerprints", "file of known-client fingerprints that extends and overrides the shipped table (.yaml/.yml: YAML; otherwise the table format)", func(c *Config) *string { return &c.Fingerprints })
	str("upstream-verify", "upstream_verify", "strict or log", func(c *Config) *string { return &c.UpstreamVerify })
	str("client-min-version", "client_min_version", "lowest TLS version accepted from clients", func(c *Config) *string { return &c.ClientMinVersion })
	str("flows", "flows", "flow file: one JSON line per HTTP request (JSON Lines, appended), - for stdout; empty for none", func(c *Config) *string { return &c.Flows })
	str("probe", "probe", "off, first (once per server and distinct client hello within probe_ttl) or always: send the client's own ClientHello to the server on a second connection and record its answer", func(c *Config) *string { return &c.Probe })
	str("key-log", "key_log", "NSS key log file for both legs (SSLKEYLOGFILE is used when unset)", func(c *Config) *string { return &c.KeyLog })
	boolean("allow-open", "allow_open", "allow a non-loopback listen address without proxy_auth or allow_cidrs", func(c *Config) *bool { return &c.AllowOpen })
	boolean("allow-local-targets", "allow_local_targets", "let clients of a non-loopback proxy reach the proxy host's own addresses", func(c *Config) *bool { return &c.AllowLocalTargets })
	boolean("quiet", "quiet", "no line per connection on the terminal", func(c *Config) *bool { return &c.Quiet })
	boolean("verbose", "verbose", "print the full offer and chains per connection", func(c *Config) *bool { return &c.Verbose })
	duration("handshake-timeout", "handshake_timeout", "limit on reading the hello and each handshake", func(c *Config) *time.Duration { return &c.HandshakeTimeout })
	duration("shutdown-timeout", "shutdown_timeout", "on SIGTERM, how long open connections may take to finish", func(c *Config) *time.Duration { return &c.ShutdownTimeout })
	return pf
}

// configOnly is --help's list of the config keys no flag sets, with where
// they are described.
func configOnly(flagged map[string]bool) string {
	var keys []string
	for name := range yamlFields(reflect.TypeFor[Config]()) {
		if !flagged[name] {
			keys = append(keys, name)
		}
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString("\nSettings in the config file only (--config FILE; default <user config dir>/tlslens/config.yaml).\n" +
		"config.yaml in the repository lists each with its default and a comment:\n")
	line := " "
	for i, k := range keys {
		if i < len(keys)-1 {
			k += ","
		}
		if len(line)+1+len(k) > 78 {
			b.WriteString(line + "\n")
			line = " "
		}
		line += " " + k
	}
	b.WriteString(line + "\n")
	return b.String()
}

// load parses args and returns the config file overridden by the flags set.
func (pf *proxyFlags) load(args []string) (Config, error) {
	if err := pf.fs.Parse(args); err != nil {
		return Config{}, err
	}
	if pf.fs.NArg() > 0 {
		return Config{}, fmt.Errorf("unexpected argument %q (see tlslens --help)", pf.fs.Arg(0))
	}
	path, explicit := pf.config, pf.config != ""
	if !explicit {
		if dir, err := os.UserConfigDir(); err == nil {
			path = filepath.Join(dir, "tlslens", "config.yaml")
		}
	}
	c, err := loadConfig(path, explicit)
	if err != nil {
		return Config{}, err
	}
	pf.fs.Visit(func(f *flag.Flag) {
		if apply, ok := pf.set[f.Name]; ok {
			apply(&c)
		}
	})
	return c, c.validate()
}

func runProxy(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	pf := newProxyFlags(stderr)
	cfg, err := pf.load(args)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	log, err := newLogger(cfg, stderr)
	if err != nil {
		return err
	}
	if cfg.LegacyCrypto {
		// Before any TLS: the settings are process-wide (README "Legacy servers").
		if err := enableLegacyCrypto(); err != nil {
			return fmt.Errorf("legacy_crypto: %w", err)
		}
		log.WithField("godebug", os.Getenv("GODEBUG")).Warn("legacy_crypto: SHA-1 signatures in TLS 1.2 and RSA keys under 1024 bits are accepted, on both legs")
	}
	if err := checkExposure(cfg); err != nil {
		return err
	}
	if err := checkWebExposure(cfg); err != nil {
		return err
	}
	if cfg.AllowOpen && !isLoopback(cfg.Listen) && len(cfg.ProxyAuth) == 0 && len(cfg.AllowCIDRs) == 0 {
		log.WithField("addr", cfg.Listen).Warn("allow_open: running an open MITM proxy; anyone who can reach it may use it")
	}
	if cfg.AllowOpen && cfg.WebListen != "" && !isLoopback(cfg.WebListen) && len(cfg.ProxyAuth) == 0 && len(cfg.AllowCIDRs) == 0 {
		log.WithField("addr", cfg.WebListen).Warn("allow_open: the web view is open; anyone who can reach it sees every connection")
	}
	auth, err := openCA(cfg.CADir)
	if err != nil {
		return err
	}
	files, err := newLogFiles(cfg.LogFileGroup)
	if err != nil {
		return err
	}
	recPath, err := recordsPath(cfg.Records, stdout)
	if err != nil {
		return err
	}
	records, err := openRecords(recPath, stdout, files)
	if err != nil {
		return err
	}
	defer records.Close()
	flows, err := openFlows(cfg, stdout, files)
	if err != nil {
		return err
	}
	defer flows.Close()
	stopHUP := reopenOnHUP(records, log, flows)
	defer stopHUP()
	reg, err := newRegistry()
	if err != nil {
		return err
	}
	opts := proxy.Options{
		Authority:        auth,
		Log:              log,
		RecordFile:       records, // lines as logrus's JSON formatter writes them, with millisecond times
		Verify:           cfg.UpstreamVerify,
		HandshakeTimeout: cfg.HandshakeTimeout,
		DialTimeout:      cfg.DialTimeout,
		IdleTimeout:      cfg.IdleTimeout,
		MaxHelloSize:     cfg.MaxHelloSize,
		MaxConnections:   cfg.MaxConnections,
		MaxHeaderBytes:   cfg.MaxHeaderBytes,
		ClientMinVersion: tlsVersions[cfg.ClientMinVersion],
		AutoPassthrough: proxy.AutoPassthrough{Threshold: cfg.AutoPassthrough.Rejections,
			Window: cfg.AutoPassthrough.Window, TTL: cfg.AutoPassthrough.TTL},
		Metrics:           reg,
		AllowLocalTargets: cfg.AllowLocalTargets,
		Probe:             cfg.Probe,
		ProbeTTL:          cfg.ProbeTTL,
		IgnoreHosts:       cfg.IgnoreHosts,
		RecordIgnored:     cfg.RecordIgnored,
	}
	flowOptions(cfg, flows, &opts)
	for _, u := range cfg.ProxyAuth {
		opts.ProxyAuth = append(opts.ProxyAuth, proxy.Credential{Username: u.Username, Password: u.Password})
	}
	for _, c := range cfg.AllowCIDRs {
		prefix, _ := parseCIDR(c) // validated with the config
		opts.AllowCIDRs = append(opts.AllowCIDRs, prefix)
	}
	if opts.UpstreamRoots, opts.UpstreamRootsName, err = upstreamRoots(cfg.UpstreamCA); err != nil {
		return err
	}
	if opts.Clients, err = knownClients(cfg.Fingerprints); err != nil {
		return err
	}
	rules := make([]proxy.Rule, len(cfg.Policies))
	for i, r := range cfg.Policies {
		rules[i] = proxy.Rule{Match: r.Match, Action: proxy.Action(r.Action)}
	}
	if opts.Policy, err = proxy.Rules(rules); err != nil {
		return err
	}
	if opts.ClientCertificate, err = clientCertificates(cfg.ClientCerts); err != nil {
		return err
	}
	keyLogPath := cfg.KeyLog
	if keyLogPath == "" {
		keyLogPath = os.Getenv("SSLKEYLOGFILE")
	}
	if keyLogPath != "" {
		f, err := files.open("key_log", keyLogPath)
		if err != nil {
			return err
		}
		defer f.Close()
		opts.KeyLog = f
		log.WithField("path", keyLogPath).Warn("writing TLS session keys: anyone with this file can decrypt captured traffic")
	}
	if c := cfg.Capture; c.on(cfg.WebListen != "") {
		opts.Capture = &proxy.Capture{MaxBytesPerLeg: c.MaxBytesPerLeg, MaxBytes: c.MaxBytes}
		if c.File != "" {
			f, err := files.open("capture.file", c.File)
			if err != nil {
				return err
			}
			defer f.Close()
			opts.Capture.File = f
			log.WithField("path", c.File).Warn("writing every connection's packets and TLS session keys: anyone with this file can read the decrypted traffic")
		}
	}
	if !cfg.Quiet && cfg.LogFormat != "json" {
		if cfg.LogFormat == "text" || isTerminal(stderr) {
			opts.OnRecord = terminalLines(stderr, isTerminal(stderr), cfg.Verbose)
		}
	}
	// The web view keeps the records it shows, fed after the terminal with
	// the JSON the record line was made of.
	var ring *web.Ring
	if cfg.WebListen != "" {
		ring = web.NewRing(cfg.WebKeep, nil)
		opts.OnRecordJSON = ring.AddJSON
	}
	// The admin and web listeners first: the proxy must know their
	// addresses to keep clients from reaching them through the proxy.
	admin := startAdmin(cfg.AdminListen, cfg.AdminPprof, reg, log)
	defer admin.close()
	webView := listenWeb(cfg.WebListen, log)
	defer webView.close()
	opts.Protected = append(admin.addrs(), webView.addrs()...)
	if opts.WireGuard, err = wireGuardOptions(cfg, auth); err != nil {
		return err
	}
	p, err := proxy.New(opts)
	if err != nil {
		return err
	}
	wo := web.Options{Ring: ring}
	if opts.KeepFlows || opts.FlowFile != nil { // flows are captured: list them
		wo.Flows = p.Flows
	}
	// Files the web view offers per connection beyond its record, at
	// /c/<id>.<ext> and linked from its page.
	if opts.Capture != nil {
		wo.Downloads = captureDownloads(p)
	}
	if err := webView.serve(wo, opts, log); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return listenError("listen", cfg.Listen, err)
	}
	started := logrus.Fields{"addr": ln.Addr().String(), "ca": auth.CertPath(),
		"ca_sha256":    auth.Fingerprint(),
		"records":      recPath,
		"trust_the_ca": "open http://" + ln.Addr().String() + "/ (or http://tlslens/ through the proxy)"}
	if recPath == "-" {
		started["records"] = "stdout"
	}
	if auth.Created() {
		started["ca_created"] = "just now: no client trusts it yet"
	}
	if u := webView.url(); u != "" {
		started["web"] = u
	}
	wg, err := startWireGuard(ctx, cfg, p, ln.Addr().String(), log)
	if err != nil {
		ln.Close()
		return err
	}
	if cfg.Mode == "transparent" {
		started["mode"] = cfg.Mode
		started["redirect"] = "send TCP to this port with iptables or nftables REDIRECT, exempting tlslens's own user (README \"Transparent mode\")"
		started["trust_the_ca"] = "install " + auth.CertPath() + " on the clients"
		log.WithFields(started).Info("tlslens listening")
		err = p.ServeTransparent(ctx, ln)
	} else {
		log.WithFields(started).Info("tlslens listening")
		err = p.Serve(ctx, ln)
	}
	log.WithField("timeout", cfg.ShutdownTimeout.String()).Info("shutting down: no new connections; waiting for open ones")
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if serr := p.Shutdown(sctx); serr != nil {
		log.WithError(serr).Warn("shutdown_timeout reached: closed the connections still open")
	}
	wg.stop(log) // after Shutdown: the tunnel carried the connections it waited for
	if ferr := records.Close(); ferr != nil {
		log.WithError(ferr).Error("flushing records")
	}
	if ferr := errors.Join(p.FlushFlows(), flows.Close()); ferr != nil { // FlushFlows: flows ended after Shutdown's flush
		log.WithError(ferr).Error("flushing flows")
	}
	log.Info("tlslens stopped")
	return err
}

// terminalLines returns an Options.OnRecord that writes each record to w as
// one line (report.Line), or with verbose as the full view (report.Verbose),
// coloured when color is set. Records arrive from concurrent connections:
// each is written whole, in one call.
func terminalLines(w io.Writer, color, verbose bool) func(*inspect.Record) {
	var mu sync.Mutex
	return func(r *inspect.Record) {
		line := report.Line(r, color)
		if verbose {
			line = report.Verbose(r, color)
		}
		mu.Lock()
		defer mu.Unlock()
		io.WriteString(w, strings.TrimRight(line, "\n")+"\n")
	}
}

// isTerminal reports whether w is a terminal, for colour and the log
// format. Only an *os.File can be one.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && f != nil && term.IsTerminal(int(f.Fd()))
}

func newLogger(cfg Config, stderr io.Writer) (*logrus.Logger, error) {
	log := logrus.New()
	log.Out = stderr
	lvl, err := logrus.ParseLevel(cfg.LogLevel)
	if err != nil {
		return nil, fmt.Errorf("log_level: %w", err)
	}
	log.SetLevel(lvl)
	if cfg.LogFormat == "json" || (cfg.LogFormat == "auto" && !isTerminal(stderr)) {
		log.Formatter = &logrus.JSONFormatter{}
	} else {
		log.Formatter = &logrus.TextFormatter{FullTimestamp: true}
	}
	return log, nil
}

// checkExposure refuses to run an open proxy on a non-loopback address: an
// open MITM proxy is a gift to attackers. Proxy authentication, an
// allow-list, or allow_open (for those who mean it) lifts the refusal.
func checkExposure(cfg Config) error {
	if isLoopback(cfg.Listen) || len(cfg.ProxyAuth) > 0 || len(cfg.AllowCIDRs) > 0 || cfg.AllowOpen {
		return nil // in mode transparent, validate has refused proxy_auth
	}
	return fmt.Errorf("listen: %s is reachable from other machines, and tlslens refuses to run an open MITM proxy there: "+
		"anyone who reaches it could relay traffic through it and read what it decrypts. "+
		"Listen on 127.0.0.1, or restrict access with proxy_auth (a username and password) or allow_cidrs (the client address ranges allowed), "+
		"or set allow_open: true (--allow-open) if an open proxy is what you mean", cfg.Listen)
}

// isLoopback reports whether a listen address accepts only this machine's
// connections: a loopback IP or "localhost". An empty host (":8080") means
// every interface.
func isLoopback(listen string) bool {
	host, _, _ := net.SplitHostPort(listen)
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func openCA(dir string) (*ca.Authority, error) {
	if dir == "" {
		d, err := ca.DefaultDir()
		if err != nil {
			return nil, err
		}
		dir = d
	}
	return ca.Open(ca.Options{Dir: dir})
}

func upstreamRoots(file string) (*x509.CertPool, string, error) {
	if file == "" {
		return nil, "system", nil
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, "", fmt.Errorf("upstream_ca: %w", err)
	}
	if !pool.AppendCertsFromPEM(b) {
		return nil, "", fmt.Errorf("upstream_ca: %s holds no PEM certificate", file)
	}
	return pool, "system+" + file, nil
}

// recordFile is where records go: stdout, or a file opened for appending
// that can be reopened after log rotation. Safe for concurrent use.
type recordFile struct {
	mu    sync.Mutex
	key   string // the config key naming it in errors; "" means records
	path  string
	files logFiles // the mode and group of each file opened
	w     io.Writer
	f     *os.File
}

func openRecords(path string, stdout io.Writer, files logFiles) (*recordFile, error) {
	r := &recordFile{path: path, files: files, w: stdout}
	if path == "-" || path == "" {
		return r, nil
	}
	return r, r.Reopen()
}

// Reopen closes and reopens the file, for log rotation (SIGHUP).
func (r *recordFile) Reopen() error {
	if r.path == "-" || r.path == "" {
		return nil
	}
	f, err := r.files.open(r.configKey(), r.path)
	if err != nil {
		return err
	}
	r.mu.Lock()
	old := r.f
	r.f, r.w = f, f
	r.mu.Unlock()
	if old != nil {
		return old.Close()
	}
	return nil
}

func (r *recordFile) Write(b []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.w.Write(b)
}

// configKey is the config key of r's path: records, or flows.
func (r *recordFile) configKey() string {
	if r.key == "" {
		return "records"
	}
	return r.key
}

// Close syncs the file; a nil recordFile (no flow file) has none.
func (r *recordFile) Close() error {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f != nil {
		return r.f.Sync()
	}
	return nil
}

// legacyGODEBUG is what legacy_crypto adds to GODEBUG: SHA-1 signatures in
// TLS 1.2 (crypto/tls, off since Go 1.25) and RSA keys under 1024 bits
// (crypto/rsa, refused since Go 1.24). No tls.Config field can enable
// either.
const legacyGODEBUG = "tlssha1=1,rsa1024min=0"

// enableLegacyCrypto appends legacyGODEBUG to the process's GODEBUG. The
// runtime re-reads GODEBUG when os.Setenv changes it, so settings read at
// use (as these two are) take effect at once; the last value of a key wins.
func enableLegacyCrypto() error {
	v := os.Getenv("GODEBUG")
	if v != "" {
		v += ","
	}
	return os.Setenv("GODEBUG", v+legacyGODEBUG)
}

// clientCertificates loads the client_certs PEM files.
func clientCertificates(certs []ClientCert) (func(host string) *tls.Certificate, error) {
	if len(certs) == 0 {
		return nil, nil
	}
	var list []proxy.ClientCert
	for i, cc := range certs {
		pair, err := tls.LoadX509KeyPair(cc.Cert, cc.Key)
		if err != nil {
			return nil, fmt.Errorf("client_certs[%d]: %w", i, err)
		}
		list = append(list, proxy.ClientCert{Match: cc.Match, Certificate: &pair})
	}
	return proxy.ClientCertificates(list)
}
