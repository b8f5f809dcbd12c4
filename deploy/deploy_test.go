package deploy

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/tlslens/tlslens/cmd/tlslens/tlslenstest"
)

// Values the Dockerfile, the configs and the manifests must agree on.
const (
	imageConfig = "/etc/tlslens/config.yaml" // the Dockerfile's --config
	proxyPort   = 8080
	adminPort   = 9090
)

// tlslensConfig holds the config.yaml keys documented for deployments, with
// their types. tlslens has more (timeouts, policies, ...); the configs under
// deploy/ use only these, and sigs.k8s.io/yaml's strict decode rejects any
// other key, so a typo fails here rather than at tlslens's start (it decodes
// with KnownFields).
//
// This mirrors cmd/tlslens's Config by hand because package main cannot be
// imported; cmd/tlslens's TestDeployConfigs decodes the same files with the
// real loader and validation.
type tlslensConfig struct {
	Listen      string `json:"listen"`       // the proxy
	AdminListen string `json:"admin_listen"` // /healthz and /metrics
	CADir       string `json:"ca_dir"`       // ca.pem + ca-key.pem (0600)
	Records     string `json:"records"`      // a file, or "-" for stdout
	LogFormat   string `json:"log_format"`   // auto, text or json
	ProxyAuth   []struct {
		Username string `json:"username"`
		Password string `json:"password"`
	} `json:"proxy_auth"`
	AllowCIDRs      []string `json:"allow_cidrs"`
	AllowOpen       bool     `json:"allow_open"`       // non-loopback listen without auth or allow-list
	UpstreamVerify  string   `json:"upstream_verify"`  // strict or log
	UpstreamCA      string   `json:"upstream_ca"`      // PEM file
	ShutdownTimeout string   `json:"shutdown_timeout"` // drain limit on SIGTERM
}

// decodeConfig decodes a config.yaml strictly and applies the documented
// rules tlslens checks at start.
func decodeConfig(b []byte) (tlslensConfig, error) {
	var c tlslensConfig
	if err := yaml.UnmarshalStrict(b, &c); err != nil {
		return c, err
	}
	var errs []error
	for key, addr := range map[string]string{"listen": c.Listen, "admin_listen": c.AdminListen} {
		if addr == "" {
			continue // the default, on loopback
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", key, err))
		}
	}
	for _, cidr := range c.AllowCIDRs {
		if _, err := netip.ParsePrefix(cidr); err != nil {
			errs = append(errs, fmt.Errorf("allow_cidrs: %w", err))
		}
	}
	if c.Listen != "" && !loopback(c.Listen) && len(c.ProxyAuth) == 0 && len(c.AllowCIDRs) == 0 && !c.AllowOpen {
		errs = append(errs, fmt.Errorf("listen %s is not loopback: needs proxy_auth, allow_cidrs or allow_open", c.Listen))
	}
	if !slices.Contains([]string{"", "auto", "text", "json"}, c.LogFormat) {
		errs = append(errs, fmt.Errorf("log_format %q: want auto, text or json", c.LogFormat))
	}
	if !slices.Contains([]string{"", "strict", "log"}, c.UpstreamVerify) {
		errs = append(errs, fmt.Errorf("upstream_verify %q: want strict or log", c.UpstreamVerify))
	}
	for i, u := range c.ProxyAuth {
		if u.Username == "" || u.Password == "" {
			errs = append(errs, fmt.Errorf("proxy_auth[%d]: username and password are required", i))
		}
	}
	return c, errors.Join(errs...)
}

// loopback reports whether addr's host is a loopback address or localhost.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// val formats *p for a message: "unset" when p is nil, integers in octal
// too (file modes).
func val[T any](p *T) string {
	if p == nil {
		return "unset"
	}
	if n, ok := any(*p).(int32); ok {
		return fmt.Sprintf("%d (%#o)", n, n)
	}
	return fmt.Sprint(*p)
}

// port returns addr's port, failing the test if it has none.
func port(t *testing.T, addr string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("address %q: %v", addr, err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatalf("address %q: port: %v", addr, err)
	}
	return n
}

func TestDecodeConfigRejects(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"unknown key", "listen: 127.0.0.1:8080\nlisten_addr: 0.0.0.0:8080\n", "unknown field"},
		{"open listener", "listen: 0.0.0.0:8080\n", "not loopback"},
		{"bad cidr", "listen: 0.0.0.0:8080\nallow_cidrs: [10.0.0.0/33]\n", "allow_cidrs"},
		{"bad log_format", "log_format: yaml\n", "log_format"},
		{"bad upstream_verify", "upstream_verify: off\n", "upstream_verify"},
		{"user without password", "proxy_auth: [{username: a}]\n", "proxy_auth[0]"},
		{"wrong type", "allow_open: sometimes\n", "allow_open"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decodeConfig([]byte(tt.yaml))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("decodeConfig(%q) = %v, want an error containing %q", tt.yaml, err, tt.want)
			}
		})
	}
	if _, err := decodeConfig([]byte("listen: 0.0.0.0:8080\nproxy_auth: [{username: a, password: b}]\n")); err != nil {
		t.Errorf("decodeConfig(listen with proxy_auth) = %v, want nil", err)
	}
}

// TestMain removes what tlslensBinary built once the tests are done.
func TestMain(m *testing.M) { tlslenstest.Main(m) }
