package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"reflect"
	"runtime"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/tlslens/tlslens/proxy"
	"github.com/tlslens/tlslens/proxy/web"
)

// Config is config.yaml. Every key has its default in defaults(), and
// TestConfigYAML keeps config.yaml's values equal to them.
type Config struct {
	Mode              string        `yaml:"mode"`
	WireGuardListen   string        `yaml:"wireguard_listen"`
	WireGuardEndpoint string        `yaml:"wireguard_endpoint"`
	Listen            string        `yaml:"listen"`
	AdminListen       string        `yaml:"admin_listen"`
	AdminPprof        bool          `yaml:"admin_pprof"`
	CADir             string        `yaml:"ca_dir"`
	Records           string        `yaml:"records"`
	LogFormat         string        `yaml:"log_format"`
	LogLevel          string        `yaml:"log_level"`
	Quiet             bool          `yaml:"quiet"`
	Verbose           bool          `yaml:"verbose"`
	HandshakeTimeout  time.Duration `yaml:"handshake_timeout"`
	DialTimeout       time.Duration `yaml:"dial_timeout"`
	IdleTimeout       time.Duration `yaml:"idle_timeout"`
	MaxHelloSize      int           `yaml:"max_hello_size"`
	MaxConnections    int           `yaml:"max_connections"`
	MaxHeaderBytes    int           `yaml:"max_header_bytes"`
	UpstreamCA        string        `yaml:"upstream_ca"`
	Fingerprints      string        `yaml:"fingerprints"`
	UpstreamVerify    string        `yaml:"upstream_verify"`
	ClientMinVersion  string        `yaml:"client_min_version"`
	KeyLog            string        `yaml:"key_log"`
	Flows             string        `yaml:"flows"`
	FlowsRedact       bool          `yaml:"flows_redact"`
	FlowBodyMax       int           `yaml:"flow_body_max"`
	FlowMemory        int64         `yaml:"flow_memory"`
	LogFileGroup      string        `yaml:"log_file_group"`
	Policies          []PolicyRule  `yaml:"policies"`
	ClientCerts       []ClientCert  `yaml:"client_certs"`
	LegacyCrypto      bool          `yaml:"legacy_crypto"`
	ProxyAuth         []ProxyUser   `yaml:"proxy_auth"`
	AllowCIDRs        []string      `yaml:"allow_cidrs"`
	AllowOpen         bool          `yaml:"allow_open"`
	AllowLocalTargets bool          `yaml:"allow_local_targets"`
	ShutdownTimeout   time.Duration `yaml:"shutdown_timeout"`
	AutoPassthrough   AutoPass      `yaml:"auto_passthrough"`
	Probe             string        `yaml:"probe"`
	ProbeTTL          time.Duration `yaml:"probe_ttl"`

	// ignore_hosts and record_ignored: hosts relayed untouched, unrecorded.
	IgnoreHosts   []string `yaml:"ignore_hosts"`
	RecordIgnored bool     `yaml:"record_ignored"`
	// The web view (issue 13).
	WebListen string `yaml:"web_listen"`
	WebKeep   int    `yaml:"web_keep"`

	// capture: both legs' bytes of each connection, for Wireshark.
	Capture CaptureConfig `yaml:"capture"`
}

// CaptureConfig is capture: keep both legs' bytes of each intercepted
// connection, to hand it to Wireshark as a pcapng.
type CaptureConfig struct {
	// Enabled keeps captures for the web view's downloads; unset, they
	// are kept while the web view is on. A File enables them too.
	Enabled        *bool  `yaml:"enabled"`
	MaxBytesPerLeg int    `yaml:"max_bytes_per_leg"` // bytes kept of each TCP connection
	MaxBytes       int64  `yaml:"max_bytes"`         // bytes kept by all captures together
	File           string `yaml:"file"`              // every connection appended to this pcapng
}

// AutoPass is auto_passthrough: pass a host through after its clients
// reject the proxy's certificate Rejections times within Window, for TTL.
type AutoPass struct {
	Rejections int           `yaml:"rejections"` // 0 turns it off
	Window     time.Duration `yaml:"window"`
	TTL        time.Duration `yaml:"ttl"`
}

// A ProxyUser is a username and password accepted for Basic proxy
// authentication.
type ProxyUser struct {
	Username string `yaml:"username"`
	Password string `yaml:"password"`
}

// UnmarshalYAML decodes {username: NAME, password: SECRET} strictly, and
// says so when an entry is written another way ("user:pass" is a common
// guess), without echoing the entry: it holds a password.
func (u *ProxyUser) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: proxy_auth: each entry is {username: NAME, password: SECRET}", n.Line)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		var dst *string
		switch key := n.Content[i].Value; key {
		case "username":
			dst = &u.Username
		case "password":
			dst = &u.Password
		default:
			return fmt.Errorf("line %d: proxy_auth: unknown key %q (an entry has username and password)", n.Content[i].Line, key)
		}
		if err := n.Content[i+1].Decode(dst); err != nil {
			return fmt.Errorf("line %d: proxy_auth: %s must be a string", n.Content[i+1].Line, n.Content[i].Value)
		}
	}
	return nil
}

// A PolicyRule applies Action to targets matching Match: a host name
// ("example.com"), a wildcard ("*.example.com" matches subdomains), "*" for
// everything, or an IP range ("127.0.0.0/8"). The first matching rule wins.
type PolicyRule struct {
	Match  string `yaml:"match"`
	Action string `yaml:"action"`
}

// A ClientCert is a client certificate (mTLS) presented to upstream servers
// whose name matches Match (the patterns of PolicyRule): PEM files, the
// certificate chain in Cert and its private key in Key.
type ClientCert struct {
	Match string `yaml:"match"`
	Cert  string `yaml:"cert"`
	Key   string `yaml:"key"`
}

// defaults returns config.yaml's values; TestConfigYAML keeps the two equal.
func defaults() Config {
	return Config{
		Mode:              "regular",
		WireGuardListen:   "0.0.0.0:51820",
		WireGuardEndpoint: "",
		Listen:            "127.0.0.1:8080",
		AdminListen:       "127.0.0.1:9090",
		CADir:             "",
		Records:           "",
		LogFormat:         "auto",
		LogLevel:          "info",
		HandshakeTimeout:  10 * time.Second,
		DialTimeout:       10 * time.Second,
		IdleTimeout:       5 * time.Minute,
		MaxHelloSize:      64 << 10,
		MaxConnections:    10000,
		MaxHeaderBytes:    64 << 10,
		UpstreamVerify:    "strict",
		ClientMinVersion:  "TLS 1.0",
		FlowsRedact:       true,
		FlowBodyMax:       1 << 20,
		FlowMemory:        64 << 20,
		Policies:          []PolicyRule{},
		ClientCerts:       []ClientCert{},
		ProxyAuth:         []ProxyUser{},
		AllowCIDRs:        []string{},
		ShutdownTimeout:   30 * time.Second,
		AutoPassthrough:   AutoPass{Rejections: 0, Window: 5 * time.Minute, TTL: time.Hour},
		Probe:             proxy.ProbeFirst,
		ProbeTTL:          10 * time.Minute,
		IgnoreHosts:       []string{},
		Capture:           CaptureConfig{MaxBytesPerLeg: 1 << 20, MaxBytes: 256 << 20},
		// The web view (issue 13).
		WebListen: "127.0.0.1:8081",
		WebKeep:   web.DefaultKeep,
	}
}

// loadConfig reads path over the defaults. A missing file is fine unless it
// was named explicitly: the first run needs no file.
func loadConfig(path string, explicit bool) (Config, error) {
	c := defaults()
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) && !explicit {
		return c, nil
	}
	if err != nil {
		return Config{}, err
	}
	defer f.Close()
	var doc yaml.Node
	err = yaml.NewDecoder(f).Decode(&doc)
	if errors.Is(err, io.EOF) { // the file is empty
		return c, nil
	}
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) > 0 {
		root = root.Content[0]
	}
	// A typo is an error, not a silent default, and names the key meant.
	if err := checkKeys(root, reflect.TypeFor[Config](), ""); err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	if err := root.Decode(&c); err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, explainDecode(err, root))
	}
	return c, nil
}

// validate reports every problem in c, each naming its key.
func (c Config) validate() error {
	var errs []error
	bad := func(key, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{key}, a...)...))
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		bad("listen", "%v", err)
	}
	switch c.Mode {
	case "regular":
	case "transparent":
		if runtime.GOOS != "linux" {
			bad("mode", "transparent needs Linux (iptables or nftables REDIRECT, SO_ORIGINAL_DST); this is %s", runtime.GOOS)
		}
		if len(c.ProxyAuth) > 0 {
			bad("proxy_auth", "redirected clients do not know they use a proxy and cannot send credentials: in mode transparent restrict them with allow_cidrs")
		}
	case "wireguard":
		if _, _, err := net.SplitHostPort(c.WireGuardListen); err != nil {
			bad("wireguard_listen", "%v", err)
		}
	default:
		bad("mode", "%q is not regular, transparent or wireguard", c.Mode)
	}
	if e := c.WireGuardEndpoint; strings.ContainsAny(e, "/ ") {
		bad("wireguard_endpoint", "%q is not a host or host:port", e)
	}
	if c.AdminListen != "" {
		if _, _, err := net.SplitHostPort(c.AdminListen); err != nil {
			bad("admin_listen", "%v", err)
		}
	}
	// The web view (issue 13).
	if c.WebListen != "" {
		if _, _, err := net.SplitHostPort(c.WebListen); err != nil {
			bad("web_listen", "%v", err)
		}
	}
	if c.WebKeep <= 0 {
		bad("web_keep", "must be positive: the records the web view keeps, e.g. 10000")
	}
	switch c.LogFormat {
	case "auto", "text", "json":
	default:
		bad("log_format", "%q is not auto, text or json", c.LogFormat)
	}
	switch c.UpstreamVerify {
	case "strict", "log":
	default:
		bad("upstream_verify", "%q is not strict or log", c.UpstreamVerify)
	}
	if _, ok := tlsVersions[c.ClientMinVersion]; !ok {
		bad("client_min_version", "%q is not one of TLS 1.0, TLS 1.1, TLS 1.2, TLS 1.3", c.ClientMinVersion)
	}
	switch c.Probe {
	case proxy.ProbeOff, proxy.ProbeFirst, proxy.ProbeAlways:
	default:
		bad("probe", "%q is not off, first or always", c.Probe)
	}
	for key, d := range map[string]time.Duration{"handshake_timeout": c.HandshakeTimeout,
		"dial_timeout": c.DialTimeout, "idle_timeout": c.IdleTimeout, "shutdown_timeout": c.ShutdownTimeout,
		"probe_ttl": c.ProbeTTL} {
		if d <= 0 {
			bad(key, "must be positive, e.g. \"10s\"")
		}
	}
	if a := c.AutoPassthrough; a.Rejections < 0 || a.Rejections > 0 && (a.Window <= 0 || a.TTL <= 0) {
		bad("auto_passthrough", "rejections must be 0 (off) or positive, with a positive window and ttl")
	}
	if c.Capture.MaxBytesPerLeg < 1 || c.Capture.MaxBytes < 1 {
		bad("capture", "max_bytes_per_leg and max_bytes must be positive byte counts, e.g. 1048576")
	}
	if c.MaxHelloSize < 1024 {
		bad("max_hello_size", "%d is below 1024 bytes", c.MaxHelloSize)
	}
	if c.MaxConnections < 1 {
		bad("max_connections", "%d: must be at least 1", c.MaxConnections)
	}
	if c.MaxHeaderBytes < 1024 {
		bad("max_header_bytes", "%d is below 1024 bytes", c.MaxHeaderBytes)
	}
	c.validateFlows(bad)
	for i, r := range c.Policies {
		key := fmt.Sprintf("policies[%d]", i)
		if _, err := proxy.Rules([]proxy.Rule{{Match: r.Match, Action: proxy.Action(r.Action)}}); err != nil {
			bad(key, "%v", err)
		}
	}
	for i, h := range c.IgnoreHosts {
		if _, err := proxy.Rules([]proxy.Rule{{Match: h, Action: proxy.ActionPassthrough}}); err != nil {
			bad(fmt.Sprintf("ignore_hosts[%d]", i), "%v", err)
		}
	}
	for i, u := range c.ProxyAuth {
		key := fmt.Sprintf("proxy_auth[%d]", i)
		if u.Username == "" || u.Password == "" {
			bad(key, "username and password are both required")
		}
		if strings.Contains(u.Username, ":") {
			bad(key, "a username cannot contain ':' (Basic authentication separates the two with it)")
		}
	}
	for i, s := range c.AllowCIDRs {
		if _, err := parseCIDR(s); err != nil {
			bad(fmt.Sprintf("allow_cidrs[%d]", i), "%q is not an address range like 10.0.0.0/8 or an address: %v", s, err)
		}
	}
	for i, cc := range c.ClientCerts {
		key := fmt.Sprintf("client_certs[%d]", i)
		if cc.Match == "" || cc.Cert == "" || cc.Key == "" {
			bad(key, "match, cert and key are all required")
		} else if _, err := proxy.Rules([]proxy.Rule{{Match: cc.Match, Action: proxy.ActionMITM}}); err != nil {
			bad(key, "%v", err)
		}
	}
	return errors.Join(errs...)
}

// parseCIDR parses an allow_cidrs entry: a range, or one address.
func parseCIDR(s string) (netip.Prefix, error) {
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), nil
	}
	return netip.ParsePrefix(s)
}

var tlsVersions = map[string]uint16{"TLS 1.0": 0x0301, "TLS 1.1": 0x0302, "TLS 1.2": 0x0303, "TLS 1.3": 0x0304}

// on reports whether captures are kept: when enabled says so, else while the
// web view is on; and always for a capture file.
func (c CaptureConfig) on(webView bool) bool {
	if c.File != "" {
		return true
	}
	if c.Enabled != nil {
		return *c.Enabled
	}
	return webView
}
