package deploy

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// unit is a parsed systemd unit file: section, then key, then every value
// in order (keys like SystemCallFilter may repeat).
type unit map[string]map[string][]string

func parseUnit(t *testing.T, path string) unit {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	u := unit{}
	section := ""
	for n, l := range strings.Split(string(b), "\n") {
		l = strings.TrimSpace(l)
		switch {
		case l == "" || strings.HasPrefix(l, "#") || strings.HasPrefix(l, ";"):
		case strings.HasPrefix(l, "[") && strings.HasSuffix(l, "]"):
			section = l[1 : len(l)-1]
			u[section] = map[string][]string{}
		case strings.HasSuffix(l, `\`):
			t.Fatalf("%s:%d: continued lines are not expected here", path, n+1)
		default:
			k, v, ok := strings.Cut(l, "=")
			if !ok || section == "" {
				t.Fatalf("%s:%d: %q is not key=value in a section", path, n+1, l)
			}
			k = strings.TrimSpace(k)
			u[section][k] = append(u[section][k], strings.TrimSpace(v))
		}
	}
	return u
}

func TestSystemdUnit(t *testing.T) {
	const file = "systemd/tlslens.service"
	u := parseUnit(t, file)
	svc := u["Service"]
	if svc == nil {
		t.Fatalf("%s has no [Service]", file)
	}
	want := []struct{ key, value string }{
		{"DynamicUser", "yes"},
		{"StateDirectory", "tlslens"},
		{"ConfigurationDirectory", "tlslens"},
		{"LogsDirectory", "tlslens"},
		{"ProtectSystem", "strict"},
		{"ProtectHome", "yes"},
		{"PrivateTmp", "yes"},
		{"PrivateDevices", "yes"},
		{"NoNewPrivileges", "yes"},
		{"CapabilityBoundingSet", ""},
		{"AmbientCapabilities", ""},
		{"RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX"},
		{"SystemCallFilter", "@system-service"},
		{"SystemCallArchitectures", "native"},
		{"ProtectKernelTunables", "yes"},
		{"ProtectKernelModules", "yes"},
		{"ProtectControlGroups", "yes"},
		{"RestrictNamespaces", "yes"},
		{"LockPersonality", "yes"},
		{"MemoryDenyWriteExecute", "yes"},
		{"UMask", "0077"},
		{"ExecReload", "kill -HUP $MAINPID"},
		{"KillSignal", "SIGTERM"},
		{"Restart", "on-failure"},
	}
	for _, w := range want {
		if !slices.Contains(svc[w.key], w.value) {
			t.Errorf("[Service] %s = %q, want %q among them", w.key, svc[w.key], w.value)
		}
	}

	start := svc["ExecStart"]
	if len(start) != 1 {
		t.Fatalf("ExecStart = %q, want one", start)
	}
	argv := strings.Fields(start[0])
	flag := func(name string) string {
		i := slices.Index(argv, name)
		if i < 0 || i+1 >= len(argv) {
			t.Errorf("ExecStart %q has no %s", start[0], name)
			return ""
		}
		return argv[i+1]
	}
	if got, want := flag("--ca-dir"), "/var/lib/"+svc["StateDirectory"][0]; got != want {
		t.Errorf("--ca-dir %s, want the StateDirectory %s", got, want)
	}
	// --config reads the credential systemd copies from ConfigurationDirectory.
	cred, src, _ := strings.Cut(strings.Join(svc["LoadCredential"], ""), ":")
	if got := flag("--config"); got != "%d/"+cred {
		t.Errorf("--config %s, want %%d/%s (LoadCredential %q)", got, cred, svc["LoadCredential"])
	}
	if want := "/etc/" + svc["ConfigurationDirectory"][0] + "/config.yaml"; src != want {
		t.Errorf("LoadCredential source %q, want %s", src, want)
	}
	if !slices.Contains(u["Install"]["WantedBy"], "multi-user.target") {
		t.Errorf("[Install] WantedBy = %q, want multi-user.target", u["Install"]["WantedBy"])
	}

	t.Run("config", func(t *testing.T) {
		b, err := os.ReadFile("systemd/config.yaml")
		if err != nil {
			t.Fatal(err)
		}
		c, err := decodeConfig(b)
		if err != nil {
			t.Fatalf("systemd/config.yaml: %v", err)
		}
		if c.CADir != "" {
			t.Errorf("systemd/config.yaml sets ca_dir %s; the unit's --ca-dir decides it", c.CADir)
		}
		logs := "/var/log/" + svc["LogsDirectory"][0] + "/"
		if c.Records != "-" && !strings.HasPrefix(c.Records, logs) {
			t.Errorf("systemd/config.yaml records = %s: ProtectSystem=strict allows writing only under %s", c.Records, logs)
		}
		rot, err := os.ReadFile("systemd/tlslens.logrotate")
		if err != nil {
			t.Fatal(err)
		}
		if c.Records != "-" && !bytes.Contains(rot, []byte("\n"+c.Records+" {")) {
			t.Errorf("systemd/tlslens.logrotate does not rotate %s", c.Records)
		}
	})
}

// TestSystemdAnalyze runs systemd's own checks on a copy of the unit whose
// ExecStart is the binary built as the Dockerfile builds it.
func TestSystemdAnalyze(t *testing.T) {
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not installed: apt-get install systemd")
	}
	if testing.Short() {
		t.Skip("builds the binary; skipped with -short")
	}
	bin := tlslensBinary(t)
	b, err := os.ReadFile("systemd/tlslens.service")
	if err != nil {
		t.Fatal(err)
	}
	const installed = "ExecStart=/usr/local/bin/tlslens "
	if !bytes.Contains(b, []byte(installed)) {
		t.Fatalf("tlslens.service has no %q", installed)
	}
	unitPath := filepath.Join(t.TempDir(), "tlslens.service")
	b = bytes.Replace(b, []byte(installed), []byte("ExecStart="+bin+" "), 1)
	if err := os.WriteFile(unitPath, b, 0o644); err != nil {
		t.Fatal(err)
	}

	t.Run("verify", func(t *testing.T) {
		out, err := exec.Command(sa, "verify", unitPath).CombinedOutput()
		if err != nil {
			t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
		}
		// Unknown keys and bad values are warnings, not failures.
		for _, l := range strings.Split(string(out), "\n") {
			if strings.Contains(l, unitPath) || strings.Contains(l, "tlslens.service") {
				t.Errorf("systemd-analyze verify: %s", l)
			}
		}
	})

	t.Run("security", func(t *testing.T) {
		// Exposure 0.0 (locked down) to 10.0; the unit scores 1.0. A
		// threshold of 15 (1.5) fails if hardening is dropped.
		out, err := exec.Command(sa, "security", "--offline=yes", "--threshold=15", "--no-pager", unitPath).CombinedOutput()
		if err != nil {
			t.Errorf("systemd-analyze security --threshold=15: %v\n%s", err, out)
		}
	})
}
