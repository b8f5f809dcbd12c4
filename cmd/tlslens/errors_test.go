package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/tlslens/tlslens/ca"
)

// TestConfigErrors: each mistake in a config file is reported with its key,
// its line and what to write instead: the closest known key for a typo
// (nested keys and keys written at the wrong level included), what a value
// should look like for a wrong one; never a Go type.
func TestConfigErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct{ name, yaml, want string }{
		{"typo", "listen: 127.0.0.1:1\nquiet: true\nupstream_verfy: log\n",
			`unknown key "upstream_verfy" (line 3): did you mean "upstream_verify"?`},
		{"flag spelling", "upstream-verify: log\n",
			`unknown key "upstream-verify" (line 1): did you mean "upstream_verify"?`},
		{"nested", "auto_passthrough:\n  rejection: 3\n",
			`unknown key "auto_passthrough.rejection" (line 2): did you mean "auto_passthrough.rejections"?`},
		{"in a list", "policies:\n  - {match: a.test, acton: deny}\n",
			`unknown key "policies[].acton" (line 2): did you mean "policies[].action"?`},
		{"wrong level", "window: 5m\n",
			`unknown key "window" (line 1): did you mean "auto_passthrough.window"?`},
		{"nothing close", "frobnicate: 1\n",
			`unknown key "frobnicate" (line 1): config.yaml lists every key`},
		{"duration word", "handshake_timeout: ten\n",
			`handshake_timeout (line 1): want a duration like "10s", not "ten"`},
		{"duration without unit", "quiet: false\nidle_timeout: 10\n",
			`idle_timeout (line 2): want a duration like "10s", not "10"`},
		{"bool", "quiet: maybe\n",
			`quiet (line 1): want true or false, not "maybe"`},
		{"number", "max_connections: lots\n",
			`max_connections (line 1): want a whole number, not "lots"`},
		{"nested number", "auto_passthrough: {rejections: x, window: 1m}\n",
			`auto_passthrough.rejections (line 1): want a whole number, not "x"`},
		{"list", "policies: all\n",
			`policies (line 1): want a list (- item, or [a, b]), not "all"`},
		{"list of strings", "ignore_hosts: [a.test, {b: c}]\n",
			`ignore_hosts[1] (line 1): want a single value (quote it), not a mapping`},
		{"not a mapping", "- listen\n",
			`the file (line 1): want a mapping of keys (key: value), as in config.yaml, not a list`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "_")+".yaml")
			if err := os.WriteFile(path, []byte(tt.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := loadConfig(path, true)
			if err == nil {
				t.Fatalf("loadConfig(%q): no error, want %q", tt.yaml, tt.want)
			}
			if got, want := err.Error(), path+": "+tt.want; got != want {
				t.Errorf("loadConfig(%q) = %q, want %q", tt.yaml, got, want)
			}
			if m := regexp.MustCompile(`main\.|time\.|!!|unmarshal|int64|\bstruct\b`).FindString(err.Error()); m != "" {
				t.Errorf("error %q speaks Go (%q)", err, m)
			}
		})
	}
}

// TestLevenshtein: the distance closest ranks keys by.
func TestLevenshtein(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"", "abc", 3}, {"listen", "listen", 0}, {"upstream_verfy", "upstream_verify", 1},
		{"kitten", "sitting", 3}, {"ttl", "tll", 1},
	} {
		if got := levenshtein(tt.a, tt.b); got != tt.want {
			t.Errorf("levenshtein(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

// TestListenErrors: an address tlslens cannot listen on names the option
// (and the flag) that moves it, for the proxy (an error) and for the admin
// listener (a warning: tlslens runs without it).
func TestListenErrors(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	addr := busy.Addr().String()
	_, inUse := net.Listen("tcp", addr)
	_, notHere := net.Listen("tcp", "192.0.2.1:8080") // TEST-NET-1: no host has it
	for _, tt := range []struct {
		name, key, addr string
		err             error
		want            string
	}{
		{"busy", "listen", addr, inUse, "listen " + addr + ": address already in use: set listen (or --listen) to another port"},
		{"admin busy", "admin_listen", addr, inUse, "admin_listen " + addr + ": address already in use: set admin_listen (or --admin-listen) to another port"},
		{"not this host's", "listen", "192.0.2.1:8080", notHere,
			"listen 192.0.2.1:8080: no interface of this host has that address: set listen (or --listen) to one of its addresses"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.err == nil {
				t.Skipf("listening on %s succeeded here", tt.addr)
			}
			if got := listenError(tt.key, tt.addr, tt.err).Error(); got != tt.want {
				t.Errorf("listenError(%s, %s) = %q, want %q", tt.key, tt.addr, got, tt.want)
			}
		})
	}

	// The same through the command: the proxy's port is busy.
	e := newEnv(t)
	_, err = runCmd(t, append(e.args, "--listen", addr, "--admin-listen=")...)
	if want := "listen " + addr + ": address already in use: set listen (or --listen) to another port"; err == nil || err.Error() != want {
		t.Errorf("tlslens --listen %s (busy) = %v, want %q", addr, err, want)
	}
	// The admin listener's: a warning whose error names admin_listen.
	logs := e.startRun("--admin-listen", addr, "--records", filepath.Join(e.dir, "r.jsonl"))
	warn := logs.wait(t, "admin listener disabled")
	if want := "admin_listen " + addr + ": address already in use: set admin_listen (or --admin-listen) to another port"; warn["error"] != want {
		t.Errorf("admin warning error = %v, want %q", warn["error"], want)
	}
}

// TestHelpListsConfigOnlySettings: --help lists, after the flags, every
// config key no flag sets, and where they are described.
func TestHelpListsConfigOnlySettings(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"--help"}, strings.NewReader(""), &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	help := stderr.String()
	_, section, ok := strings.Cut(help, "Settings in the config file only")
	if !ok {
		t.Fatalf("--help has no section of config-only settings:\n%s", help)
	}
	if !strings.Contains(section, "config.yaml") {
		t.Errorf("the config-only section does not point to config.yaml:\n%s", section)
	}
	words := map[string]bool{}
	for _, w := range strings.FieldsFunc(section, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' }) {
		words[w] = true
	}
	for _, key := range []string{"policies", "proxy_auth", "client_certs", "ignore_hosts", "record_ignored",
		"allow_cidrs", "auto_passthrough", "legacy_crypto", "log_file_group", "dial_timeout", "idle_timeout"} {
		if !words[key] {
			t.Errorf("--help does not list %s among the config-only settings:\n%s", key, section)
		}
	}
	for _, key := range []string{"listen", "records", "upstream_verify", "quiet"} {
		if words[key] {
			t.Errorf("--help lists %s, which has a flag, as config-only", key)
		}
	}
}

// TestCAExportSaysWhatItWrote: ca export --out names the file, the format and
// the CA's fingerprint.
func TestCAExportSaysWhatItWrote(t *testing.T) {
	dir := t.TempDir()
	auth, err := ca.Open(ca.Options{Dir: filepath.Join(dir, "ca")})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ format, out, want string }{
		{"pem", "ca.pem", "(PEM; never its key)"},
		{"der", "ca.der", "(DER; never its key)"},
		{"p12", "ca.p12", "(PKCS#12 with an empty password; never its key)"},
		{"android", "android", "(PEM named for Android's system store"},
	} {
		t.Run(tt.format, func(t *testing.T) {
			out := filepath.Join(dir, tt.out)
			if tt.format == "android" {
				if err := os.Mkdir(out, 0o700); err != nil {
					t.Fatal(err)
				}
				out = filepath.Join(out, auth.SubjectHashOld()+".0")
			}
			var stdout, stderr bytes.Buffer
			args := []string{"ca", "export", "--ca-dir", filepath.Join(dir, "ca"), "--format", tt.format, "--out", filepath.Join(dir, tt.out)}
			if err := run(context.Background(), args, strings.NewReader(""), &stdout, &stderr); err != nil {
				t.Fatal(err)
			}
			said := stderr.String()
			for _, want := range []string{"wrote " + out + ": the tlslens CA certificate " + tt.want, "sha256 " + auth.Fingerprint()} {
				if !strings.Contains(said, want) {
					t.Errorf("ca export --format %s said %q, want it to contain %q", tt.format, said, want)
				}
			}
			if _, err := os.Stat(out); err != nil {
				t.Errorf("ca export --format %s: %v", tt.format, err)
			}
		})
	}
}

// TestReadmeKeyLog: the README's tshark line decodes an upstream on any
// port: Wireshark takes only 443 for TLS, so the example's upstream port
// (not 443) gets both decode-as options, TLS on TCP and HTTP in TLS, as
// the proxy port does; TestKeyLogWireshark (proxy) decrypts both legs of a
// real capture with exactly these options.
func TestReadmeKeyLog(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?s)\ntshark -r .*?-Y http\n`).Find(b)
	if m == nil {
		t.Fatal("README has no tshark example")
	}
	cmd := strings.ReplaceAll(string(m), "\\\n", " ")
	ports := map[string]bool{}
	for _, d := range regexp.MustCompile(`-d (tcp|tls)\.port==(\d+),(\w+)`).FindAllStringSubmatch(cmd, -1) {
		ports[d[2]] = true
		if d[1] == "tls" && d[3] != "http" {
			t.Errorf("%s: TLS port %s decoded as %s, want http", d[0], d[2], d[3])
		}
	}
	upstream := ""
	for p := range ports {
		if p != "8080" {
			upstream = p
		}
	}
	if upstream == "" || upstream == "443" {
		t.Fatalf("README's tshark example has no upstream port besides 443 (ports %v):\n%s", ports, cmd)
	}
	for _, want := range []string{"-d tcp.port==" + upstream + ",tls", "-d tls.port==" + upstream + ",http",
		"-d tcp.port==8080,http", "-d tls.port==8080,http", "-o tls.keylog_file:"} {
		if !strings.Contains(cmd, want) {
			t.Errorf("README's tshark example lacks %q:\n%s", want, cmd)
		}
	}
}
