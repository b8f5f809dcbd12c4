package main

import (
	corev1 "k8s.io/api/core/v1"
	"os"
	"path/filepath"
	"reflect"
	k8syaml "sigs.k8s.io/yaml"
	"strings"
	"testing"
)

// TestConfigYAML keeps config.yaml, the documented defaults, equal to the
// compiled-in ones.
func TestConfigYAML(t *testing.T) {
	got, err := loadConfig("../../config.yaml", true)
	if err != nil {
		t.Fatal(err)
	}
	if want := defaults(); !reflect.DeepEqual(got, want) {
		t.Errorf("config.yaml = %+v\ndefaults() = %+v", got, want)
	}
	if err := got.validate(); err != nil {
		t.Errorf("defaults do not validate: %v", err)
	}
}

func TestLoadConfig(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	t.Run("missing implicit file gives defaults", func(t *testing.T) {
		c, err := loadConfig(filepath.Join(dir, "nope.yaml"), false)
		if err != nil || !reflect.DeepEqual(c, defaults()) {
			t.Fatalf("loadConfig = %+v, %v; want defaults", c, err)
		}
	})
	t.Run("missing explicit file is an error", func(t *testing.T) {
		if _, err := loadConfig(filepath.Join(dir, "nope.yaml"), true); err == nil {
			t.Fatal("want an error")
		}
	})
	t.Run("empty file gives defaults", func(t *testing.T) {
		c, err := loadConfig(write("empty.yaml", ""), true)
		if err != nil || !reflect.DeepEqual(c, defaults()) {
			t.Fatalf("loadConfig = %+v, %v; want defaults", c, err)
		}
	})
	t.Run("unknown key names the key", func(t *testing.T) {
		_, err := loadConfig(write("typo.yaml", "listen_addr: 1.2.3.4:1\n"), true)
		if err == nil || !strings.Contains(err.Error(), "listen_addr") {
			t.Fatalf("err = %v, want one naming listen_addr", err)
		}
	})
	t.Run("bare number duration is rejected", func(t *testing.T) {
		if _, err := loadConfig(write("dur.yaml", "handshake_timeout: 10\n"), true); err == nil {
			t.Fatal("want an error for a duration without unit")
		}
	})
	t.Run("overrides keep other defaults", func(t *testing.T) {
		c, err := loadConfig(write("some.yaml", "listen: 127.0.0.1:9999\nhandshake_timeout: 3s\n"), true)
		if err != nil {
			t.Fatal(err)
		}
		if c.Listen != "127.0.0.1:9999" || c.HandshakeTimeout.String() != "3s" || c.Records != defaults().Records {
			t.Fatalf("loadConfig = %+v", c)
		}
	})
	t.Run("validate names every bad key", func(t *testing.T) {
		c := defaults()
		c.LogFormat, c.UpstreamVerify, c.ClientMinVersion = "xml", "maybe", "SSL 3.0"
		c.Policies = []PolicyRule{{Match: "a*b", Action: "mitm"}, {Match: "x.test", Action: "drop"}}
		err := c.validate()
		for _, key := range []string{"log_format", "upstream_verify", "client_min_version", "policies[0]", "policies[1]"} {
			if err == nil || !strings.Contains(err.Error(), key) {
				t.Errorf("validate() = %v, want it to name %s", err, key)
			}
		}
	})
	t.Run("mode", func(t *testing.T) {
		for _, tc := range []struct {
			mode      string
			proxyAuth bool
			want      string // in the error; "" for none
		}{
			{mode: "regular"},
			{mode: "transparent"},
			{mode: "transparent", proxyAuth: true, want: "proxy_auth: redirected clients"},
			{mode: "wireguard"}, // built: TestModeValidation checks its wireguard_listen
			{mode: "socks", want: `mode: "socks" is not regular, transparent or wireguard`},
		} {
			c := defaults()
			c.Mode = tc.mode
			if tc.proxyAuth {
				c.ProxyAuth = []ProxyUser{{Username: "u", Password: "p"}}
			}
			err := c.validate()
			if (err == nil) != (tc.want == "") || err != nil && !strings.Contains(err.Error(), tc.want) {
				t.Errorf("mode %s (proxy_auth %v): validate() = %v, want %q", tc.mode, tc.proxyAuth, err, tc.want)
			}
		}
	})
}

// TestDeployConfigs loads the configs shipped under deploy/ with the real
// strict loader and validation, so a key renamed here breaks them visibly.
func TestDeployConfigs(t *testing.T) {
	files := map[string][]byte{}
	for _, f := range []string{"../../deploy/docker/config.yaml", "../../deploy/systemd/config.yaml"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		files[f] = b
	}
	var cm corev1.ConfigMap
	b, err := os.ReadFile("../../deploy/kubernetes/configmap.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := k8syaml.UnmarshalStrict(b, &cm); err != nil {
		t.Fatal(err)
	}
	if cm.Data["config.yaml"] == "" {
		t.Fatal("configmap.yaml has no config.yaml key")
	}
	files["configmap.yaml:config.yaml"] = []byte(cm.Data["config.yaml"])
	for name, b := range files {
		t.Run(filepath.Base(name), func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "config.yaml")
			if err := os.WriteFile(p, b, 0o600); err != nil {
				t.Fatal(err)
			}
			c, err := loadConfig(p, true)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if err := c.validate(); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if err := checkExposure(c); err != nil {
				t.Errorf("%s would be refused at start: %v", name, err)
			}
		})
	}
}
