package deploy

import (
	"bufio"
	"bytes"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"

	"github.com/tlslens/tlslens/ca"
)

// Paths the pieces must agree on.
const (
	imageConfig = "/etc/tlslens/config.yaml" // the Dockerfile's --config
	proxyPort   = 8080
	adminPort   = 9090
)

// tlslensConfig is config.yaml as documented for the binary: every key, with
// its type. sigs.k8s.io/yaml's strict decode rejects any other key, so a
// manifest cannot carry a typo that tlslens (which decodes with
// KnownFields) would refuse at start.
//
// This mirrors cmd/tlslens's Config by hand because package main cannot be
// imported; once the config type is importable, decode into it instead.
type tlslensConfig struct {
	Listen      string `json:"listen"`       // default 127.0.0.1:8080
	AdminListen string `json:"admin_listen"` // default 127.0.0.1:9090: /healthz, /metrics
	CADir       string `json:"ca_dir"`       // ca.pem + ca-key.pem (0600)
	Records     string `json:"records"`      // a file, or "-" for stdout
	LogFormat   string `json:"log_format"`   // auto, text or json
	ProxyAuth   []struct {
		Username string `json:"username"`
		Password string `json:"password"`
	} `json:"proxy_auth"`
	AllowCIDRs     []string `json:"allow_cidrs"`
	AllowOpen      bool     `json:"allow_open"`      // non-loopback listen without auth or allow-list
	UpstreamVerify string   `json:"upstream_verify"` // strict or log
	UpstreamCA     string   `json:"upstream_ca"`     // PEM file
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

// splitDocs splits a multi-document YAML file on its "---" lines, dropping
// documents that hold only comments or nothing.
func splitDocs(b []byte) [][]byte {
	var docs [][]byte
	var cur bytes.Buffer
	flush := func() {
		for _, l := range strings.Split(cur.String(), "\n") {
			if s := strings.TrimSpace(l); s != "" && !strings.HasPrefix(s, "#") {
				docs = append(docs, slices.Clone(cur.Bytes()))
				break
			}
		}
		cur.Reset()
	}
	for _, l := range strings.SplitAfter(string(b), "\n") {
		if strings.TrimRight(l, " \r\n") == "---" {
			flush()
			continue
		}
		cur.WriteString(l)
	}
	flush()
	return docs
}

func TestSplitDocs(t *testing.T) {
	tests := []struct {
		in   string
		want int
	}{
		{"a: 1\n", 1},
		{"---\na: 1\n---\nb: 2\n", 2},
		{"# only a comment\n---\na: 1\n---\n", 1},
		{"a: |\n  x --- y\n", 1},
	}
	for _, tt := range tests {
		if got := splitDocs([]byte(tt.in)); len(got) != tt.want {
			t.Errorf("splitDocs(%q) = %d documents, want %d", tt.in, len(got), tt.want)
		}
	}
}

// manifests is every object in kubernetes/, by kind.
type manifests struct {
	deployment *appsv1.Deployment
	service    *corev1.Service
	configMap  *corev1.ConfigMap
	pdb        *policyv1.PodDisruptionBudget
	hpa        *autoscalingv2.HorizontalPodAutoscaler
	files      []string // the manifest files, kustomization.yaml excepted
}

// decodeObject decodes one document strictly into the API type its
// apiVersion and kind name, and stores it in m.
func (m *manifests) decodeObject(doc []byte) error {
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal(doc, &tm); err != nil {
		return err
	}
	var obj any
	switch tm.APIVersion + " " + tm.Kind {
	case "apps/v1 Deployment":
		m.deployment = new(appsv1.Deployment)
		obj = m.deployment
	case "v1 Service":
		m.service = new(corev1.Service)
		obj = m.service
	case "v1 ConfigMap":
		m.configMap = new(corev1.ConfigMap)
		obj = m.configMap
	case "policy/v1 PodDisruptionBudget":
		m.pdb = new(policyv1.PodDisruptionBudget)
		obj = m.pdb
	case "autoscaling/v2 HorizontalPodAutoscaler":
		m.hpa = new(autoscalingv2.HorizontalPodAutoscaler)
		obj = m.hpa
	default:
		return fmt.Errorf("unexpected object %s %s", tm.APIVersion, tm.Kind)
	}
	return yaml.UnmarshalStrict(doc, obj)
}

// loadManifests decodes every YAML file in kubernetes/ (kustomization.yaml
// aside) and fails unless each kind appears exactly once.
func loadManifests(t *testing.T) *manifests {
	t.Helper()
	paths, err := filepath.Glob("kubernetes/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	m := new(manifests)
	seen := map[string]string{}
	for _, p := range paths {
		if filepath.Base(p) == "kustomization.yaml" {
			continue
		}
		m.files = append(m.files, filepath.Base(p))
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		docs := splitDocs(b)
		if len(docs) == 0 {
			t.Errorf("%s: no documents", p)
		}
		for i, doc := range docs {
			var tm metav1.TypeMeta
			if err := yaml.Unmarshal(doc, &tm); err != nil {
				t.Fatalf("%s document %d: %v", p, i+1, err)
			}
			if prev, ok := seen[tm.Kind]; ok {
				t.Fatalf("%s document %d: a second %s (the first is in %s)", p, i+1, tm.Kind, prev)
			}
			seen[tm.Kind] = p
			if err := m.decodeObject(doc); err != nil {
				t.Fatalf("%s document %d: %v", p, i+1, err)
			}
		}
	}
	if m.deployment == nil || m.service == nil || m.configMap == nil || m.pdb == nil || m.hpa == nil {
		t.Fatalf("kubernetes/ holds %v; want a Deployment, Service, ConfigMap, PodDisruptionBudget and HorizontalPodAutoscaler", seen)
	}
	return m
}

// TestManifestsStrict shows the decode is strict: each manifest, with a
// misspelt field added, no longer decodes.
func TestManifestsStrict(t *testing.T) {
	tests := []struct {
		file, after, typo string
	}{
		{"deployment.yaml", "spec:\n", "  replica: 2\n"},
		{"deployment.yaml", "            periodSeconds: 5\n", "            timeoutSecond: 1\n"},
		{"service.yaml", "spec:\n", "  externalTrafficPolicyy: Local\n"},
		{"configmap.yaml", "kind: ConfigMap\n", "date: {}\n"},
		{"pdb.yaml", "spec:\n", "  maxUnavailabe: 1\n"},
		{"hpa.yaml", "spec:\n", "  minReplica: 2\n"},
	}
	for _, tt := range tests {
		t.Run(tt.file+"/"+strings.TrimSpace(tt.typo), func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("kubernetes", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			var m manifests
			if err := m.decodeObject(b); err != nil {
				t.Fatalf("%s as written: %v", tt.file, err)
			}
			bad := strings.Replace(string(b), tt.after, tt.after+tt.typo, 1)
			if bad == string(b) {
				t.Fatalf("%s has no line %q to add the typo after", tt.file, tt.after)
			}
			if err := m.decodeObject([]byte(bad)); err == nil {
				t.Errorf("%s with %q decoded without error, want an unknown field error", tt.file, tt.typo)
			}
		})
	}
}

// k8sConfig returns the ConfigMap's config.yaml, decoded as tlslens would.
func (m *manifests) k8sConfig(t *testing.T) tlslensConfig {
	t.Helper()
	payload, ok := m.configMap.Data["config.yaml"]
	if !ok {
		t.Fatalf("ConfigMap %s has no config.yaml key (keys: %v)", m.configMap.Name, slices.Sorted(maps.Keys(m.configMap.Data)))
	}
	c, err := decodeConfig([]byte(payload))
	if err != nil {
		t.Fatalf("ConfigMap %s config.yaml: %v", m.configMap.Name, err)
	}
	return c
}

// container returns the pod's container or init container named name.
func container(t *testing.T, spec *corev1.PodSpec, name string, init bool) *corev1.Container {
	t.Helper()
	list := spec.Containers
	if init {
		list = spec.InitContainers
	}
	for i := range list {
		if list[i].Name == name {
			return &list[i]
		}
	}
	t.Fatalf("pod has no container %q (init %v)", name, init)
	return nil
}

// containerPort resolves a probe's or Service's port (a number or a name)
// to the container port it designates, or 0.
func containerPort(c *corev1.Container, p intstr.IntOrString) int32 {
	for _, cp := range c.Ports {
		if (p.Type == intstr.String && p.StrVal == cp.Name) || (p.Type == intstr.Int && p.IntVal == cp.ContainerPort) {
			return cp.ContainerPort
		}
	}
	return 0
}

// volume returns the pod volume named name.
func volume(t *testing.T, spec *corev1.PodSpec, name string) *corev1.Volume {
	t.Helper()
	for i := range spec.Volumes {
		if spec.Volumes[i].Name == name {
			return &spec.Volumes[i]
		}
	}
	t.Fatalf("pod has no volume %q", name)
	return nil
}

// mountAt returns c's volume mount at dir.
func mountAt(t *testing.T, c *corev1.Container, dir string) *corev1.VolumeMount {
	t.Helper()
	for i := range c.VolumeMounts {
		if path.Clean(c.VolumeMounts[i].MountPath) == path.Clean(dir) {
			return &c.VolumeMounts[i]
		}
	}
	t.Fatalf("container %s mounts nothing at %s (mounts: %+v)", c.Name, dir, c.VolumeMounts)
	return nil
}

// mountOf returns c's mount of volume name.
func mountOf(t *testing.T, c *corev1.Container, name string) *corev1.VolumeMount {
	t.Helper()
	for i := range c.VolumeMounts {
		if c.VolumeMounts[i].Name == name {
			return &c.VolumeMounts[i]
		}
	}
	t.Fatalf("container %s does not mount volume %s", c.Name, name)
	return nil
}

func TestDeployment(t *testing.T) {
	m := loadManifests(t)
	d := m.deployment
	spec := &d.Spec.Template.Spec
	cfg := m.k8sConfig(t)
	main := container(t, spec, "tlslens", false)

	t.Run("selector", func(t *testing.T) {
		sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
		if err != nil {
			t.Fatal(err)
		}
		if sel.Empty() || !sel.Matches(labels.Set(d.Spec.Template.Labels)) {
			t.Errorf("Deployment selector %v does not match its pod labels %v", sel, d.Spec.Template.Labels)
		}
	})

	t.Run("replicas", func(t *testing.T) {
		if d.Spec.Replicas != nil {
			t.Errorf("Deployment sets replicas: %d; leave it to the HorizontalPodAutoscaler", *d.Spec.Replicas)
		}
	})

	t.Run("ports", func(t *testing.T) {
		for _, tt := range []struct {
			name, addr string
			want       int
		}{
			{"proxy", cfg.Listen, proxyPort},
			{"admin", cfg.AdminListen, adminPort},
		} {
			got := containerPort(main, intstr.FromString(tt.name))
			if got != int32(tt.want) {
				t.Errorf("container port %s = %d, want %d", tt.name, got, tt.want)
			}
			if p := port(t, tt.addr); p != tt.want {
				t.Errorf("config.yaml %s port = %d, want %d (the container port)", tt.name, p, tt.want)
			}
			if loopback(tt.addr) {
				t.Errorf("config.yaml %s = %s: loopback is unreachable from the kubelet and the Service", tt.name, tt.addr)
			}
		}
	})

	t.Run("probes", func(t *testing.T) {
		for name, p := range map[string]*corev1.Probe{"liveness": main.LivenessProbe, "readiness": main.ReadinessProbe} {
			if p == nil || p.HTTPGet == nil {
				t.Errorf("%s probe = %+v, want an HTTP GET", name, p)
				continue
			}
			if p.HTTPGet.Path != "/healthz" {
				t.Errorf("%s probe path = %q, want /healthz", name, p.HTTPGet.Path)
			}
			if got := containerPort(main, p.HTTPGet.Port); got != adminPort || got != int32(port(t, cfg.AdminListen)) {
				t.Errorf("%s probe port %s = container port %d, want the admin port %d (admin_listen %s)",
					name, p.HTTPGet.Port.String(), got, adminPort, cfg.AdminListen)
			}
		}
	})

	t.Run("security", func(t *testing.T) {
		psc := spec.SecurityContext
		if psc == nil || psc.RunAsUser == nil || *psc.RunAsUser == 0 || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot {
			t.Fatalf("pod securityContext = %+v, want runAsNonRoot and a non-zero runAsUser", psc)
		}
		if psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
			t.Errorf("pod seccompProfile = %+v, want RuntimeDefault", psc.SeccompProfile)
		}
		if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
			t.Errorf("automountServiceAccountToken = %v, want false: tlslens never calls the API", val(spec.AutomountServiceAccountToken))
		}
		for _, c := range slices.Concat(spec.InitContainers, spec.Containers) {
			sc := c.SecurityContext
			switch {
			case sc == nil:
				t.Errorf("container %s has no securityContext", c.Name)
			case sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot:
				t.Errorf("container %s: runAsNonRoot = %v, want true", c.Name, val(sc.RunAsNonRoot))
			case sc.RunAsUser != nil && *sc.RunAsUser == 0:
				t.Errorf("container %s: runAsUser = 0", c.Name)
			case sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem:
				t.Errorf("container %s: readOnlyRootFilesystem = %v, want true", c.Name, val(sc.ReadOnlyRootFilesystem))
			case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
				t.Errorf("container %s: allowPrivilegeEscalation = %v, want false", c.Name, val(sc.AllowPrivilegeEscalation))
			case sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) > 0:
				t.Errorf("container %s: capabilities = %+v, want drop [ALL] and no add", c.Name, sc.Capabilities)
			}
			if _, ok := c.Resources.Requests[corev1.ResourceCPU]; !ok {
				t.Errorf("container %s has no CPU request (the HPA's utilization is relative to it)", c.Name)
			}
			if _, ok := c.Resources.Limits[corev1.ResourceMemory]; !ok {
				t.Errorf("container %s has no memory limit", c.Name)
			}
		}
	})

	t.Run("config", func(t *testing.T) {
		mnt := mountAt(t, main, path.Dir(imageConfig))
		v := volume(t, spec, mnt.Name)
		if v.ConfigMap == nil || v.ConfigMap.Name != m.configMap.Name {
			t.Errorf("volume %s at %s = %+v, want ConfigMap %s", v.Name, mnt.MountPath, v.VolumeSource, m.configMap.Name)
		}
		if !mnt.ReadOnly {
			t.Errorf("config mount %s is writable", mnt.MountPath)
		}
		if len(main.Command) > 0 || len(main.Args) > 0 {
			t.Errorf("container overrides the image's entrypoint (command %v, args %v); its --config %s is where the ConfigMap is", main.Command, main.Args, imageConfig)
		}
		if cfg.Records != "-" {
			t.Errorf("config.yaml records = %q, want \"-\" (stdout, for the cluster's log pipeline)", cfg.Records)
		}
	})

	// The CA: a Secret mounted 0400 is root's (or, with fsGroup, 0440, which
	// tlslens refuses), so an init container copies it into ca_dir.
	t.Run("ca", func(t *testing.T) {
		secret := volume(t, spec, "ca-secret")
		if secret.Secret == nil || secret.Secret.SecretName != "tlslens-ca" {
			t.Fatalf("volume ca-secret = %+v, want Secret tlslens-ca", secret.VolumeSource)
		}
		if dm := secret.Secret.DefaultMode; dm == nil || *dm != 0o400 {
			t.Errorf("Secret tlslens-ca defaultMode = %s, want 0400", val(dm))
		}
		var keys []string
		for _, it := range secret.Secret.Items {
			keys = append(keys, it.Key)
			if it.Key != it.Path {
				t.Errorf("Secret item %s is mounted as %s; tlslens reads ca.pem and ca-key.pem", it.Key, it.Path)
			}
		}
		if slices.Sort(keys); !slices.Equal(keys, []string{"ca-key.pem", "ca.pem"}) {
			t.Errorf("Secret items = %v, want ca.pem and ca-key.pem", keys)
		}
		if cfg.CADir == "" {
			t.Fatal("config.yaml sets no ca_dir: each replica would create a CA of its own")
		}
		caMount := mountAt(t, main, cfg.CADir)
		if !caMount.ReadOnly {
			t.Errorf("ca_dir mount %s is writable: a replica that found it empty would create its own CA", caMount.MountPath)
		}
		caDir := volume(t, spec, caMount.Name)
		if caDir.EmptyDir == nil || caDir.EmptyDir.Medium != corev1.StorageMediumMemory {
			t.Errorf("ca_dir volume %s = %+v, want an emptyDir in memory", caDir.Name, caDir.VolumeSource)
		}
		for _, c := range spec.Containers {
			for _, vm := range c.VolumeMounts {
				if vm.Name == secret.Name {
					t.Errorf("container %s mounts the Secret itself; only the init container should", c.Name)
				}
			}
		}
		init := container(t, spec, "ca", true)
		if got := mountOf(t, init, caDir.Name); path.Clean(got.MountPath) != path.Clean(cfg.CADir) || got.ReadOnly {
			t.Errorf("init container mounts %s at %s (read-only %v), want it writable at ca_dir %s", caDir.Name, got.MountPath, got.ReadOnly, cfg.CADir)
		}
		mountOf(t, init, secret.Name)
		// Secret files are root's; fsGroup makes them group-readable by the
		// pod's processes, which get it as a supplementary group.
		if spec.SecurityContext.FSGroup == nil {
			t.Errorf("pod sets no fsGroup: the non-root init container cannot read the root-owned Secret files")
		}
	})

	t.Run("drain", func(t *testing.T) {
		if main.Lifecycle == nil || main.Lifecycle.PreStop == nil || main.Lifecycle.PreStop.Sleep == nil {
			t.Fatalf("preStop = %+v, want a sleep so endpoints update before SIGTERM", main.Lifecycle)
		}
		grace := int64(30) // Kubernetes' default
		if spec.TerminationGracePeriodSeconds != nil {
			grace = *spec.TerminationGracePeriodSeconds
		}
		if sleep := main.Lifecycle.PreStop.Sleep.Seconds; grace < sleep+30 {
			t.Errorf("terminationGracePeriodSeconds %d leaves %d s to drain after the %d s preStop sleep, want at least 30", grace, grace-sleep, sleep)
		}
		ru := d.Spec.Strategy.RollingUpdate
		if d.Spec.Strategy.Type != appsv1.RollingUpdateDeploymentStrategyType || ru == nil || ru.MaxUnavailable == nil || ru.MaxUnavailable.IntValue() != 0 {
			t.Errorf("strategy = %+v, want a rolling update with maxUnavailable 0", d.Spec.Strategy)
		}
	})
}

// TestCAInitContainer runs the init container's command on a copy of a
// Secret volume's layout and opens the result the way tlslens does.
func TestCAInitContainer(t *testing.T) {
	m := loadManifests(t)
	spec := &m.deployment.Spec.Template.Spec
	cfg := m.k8sConfig(t)
	init := container(t, spec, "ca", true)
	secretMount := mountOf(t, init, "ca-secret").MountPath
	caMount := mountOf(t, init, mountAt(t, container(t, spec, "tlslens", false), cfg.CADir).Name).MountPath
	if len(init.Command) != 3 || init.Command[0] != "sh" || init.Command[1] != "-c" {
		t.Fatalf("init container command = %q, want [sh -c SCRIPT]", init.Command)
	}
	script := init.Command[2]
	if !strings.Contains(script, secretMount) || !strings.Contains(script, caMount) {
		t.Fatalf("init script %q does not name both mounts %s and %s", script, secretMount, caMount)
	}

	// The CA an operator created with tlslens, to put in the Secret.
	orig, err := ca.Open(ca.Options{Dir: filepath.Join(t.TempDir(), "ca")})
	if err != nil {
		t.Fatal(err)
	}
	origDir := filepath.Dir(orig.CertPath())

	// The kubelet's layout: files in a timestamped directory reached
	// through ..data, each name a symlink into it. defaultMode 0400 with
	// fsGroup set comes out as 0440.
	secretDir := filepath.Join(t.TempDir(), "secret")
	data := filepath.Join(secretDir, "..2026_01_01_00_00_00.000000000")
	if err := os.MkdirAll(data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Base(data), filepath.Join(secretDir, "..data")); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"ca.pem", "ca-key.pem"} {
		b, err := os.ReadFile(filepath.Join(origDir, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(data, name), b, 0o440); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(filepath.Join(data, name), 0o440); err != nil { // whatever the umask
			t.Fatal(err)
		}
		if err := os.Symlink(filepath.Join("..data", name), filepath.Join(secretDir, name)); err != nil {
			t.Fatal(err)
		}
	}

	// Mounted as ca_dir directly, the Secret is refused: this is why the
	// init container exists.
	if _, err := ca.Open(ca.Options{Dir: secretDir}); !errors.Is(err, ca.ErrKeyPermissions) {
		t.Errorf("ca.Open(Secret volume, mode 0440) = %v, want ErrKeyPermissions", err)
	}

	emptyDir := t.TempDir()
	run := strings.NewReplacer(secretMount, secretDir, caMount, emptyDir).Replace(script)
	for i := range 2 { // a restarted pod runs it again over the same emptyDir
		out, err := exec.Command("sh", "-c", run).CombinedOutput()
		if err != nil {
			t.Fatalf("run %d of init script %q: %v\n%s", i+1, run, err, out)
		}
	}
	for _, name := range []string{"ca.pem", "ca-key.pem"} {
		fi, err := os.Lstat(filepath.Join(emptyDir, name))
		if err != nil {
			t.Fatal(err)
		}
		if !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s after the init script: mode %v, want a regular file, 0600", name, fi.Mode())
		}
	}
	got, err := ca.Open(ca.Options{Dir: emptyDir})
	if err != nil {
		t.Fatalf("ca.Open(ca_dir filled by the init container) = %v", err)
	}
	if got.Fingerprint() != orig.Fingerprint() {
		t.Errorf("CA in ca_dir = %s, want the Secret's %s", got.Fingerprint(), orig.Fingerprint())
	}
}

func TestService(t *testing.T) {
	m := loadManifests(t)
	s := m.service
	main := container(t, &m.deployment.Spec.Template.Spec, "tlslens", false)
	if !labels.SelectorFromSet(s.Spec.Selector).Matches(labels.Set(m.deployment.Spec.Template.Labels)) || len(s.Spec.Selector) == 0 {
		t.Errorf("Service selector %v does not select the pods %v", s.Spec.Selector, m.deployment.Spec.Template.Labels)
	}
	if len(s.Spec.Ports) != 1 {
		t.Fatalf("Service ports = %+v, want the proxy port only (admin stays off the Service)", s.Spec.Ports)
	}
	p := s.Spec.Ports[0]
	if p.Protocol != corev1.ProtocolTCP || p.Port != proxyPort {
		t.Errorf("Service port = %s %d, want TCP %d", p.Protocol, p.Port, proxyPort)
	}
	if got := containerPort(main, p.TargetPort); got != proxyPort || got != int32(port(t, m.k8sConfig(t).Listen)) {
		t.Errorf("Service targetPort %s = container port %d, want %d (config.yaml listen)", p.TargetPort.String(), got, proxyPort)
	}
	if s.Spec.SessionAffinity == corev1.ServiceAffinityClientIP {
		t.Errorf("Service sessionAffinity = ClientIP; replicas are stateless, it only unbalances load")
	}
}

func TestPodDisruptionBudget(t *testing.T) {
	m := loadManifests(t)
	sel, err := metav1.LabelSelectorAsSelector(m.pdb.Spec.Selector)
	if err != nil {
		t.Fatal(err)
	}
	if sel.Empty() || !sel.Matches(labels.Set(m.deployment.Spec.Template.Labels)) {
		t.Errorf("PodDisruptionBudget selector %v does not match the pod labels %v", sel, m.deployment.Spec.Template.Labels)
	}
	mu := m.pdb.Spec.MaxUnavailable
	if mu == nil || mu.Type != intstr.Int || mu.IntVal < 1 {
		t.Fatalf("maxUnavailable = %v, want a count of at least 1 (0 blocks node drains)", mu)
	}
	if min := m.hpa.Spec.MinReplicas; min == nil || *min <= mu.IntVal {
		t.Errorf("HPA minReplicas %v <= PDB maxUnavailable %d: a drain could take every replica", val(min), mu.IntVal)
	}
}

func TestHorizontalPodAutoscaler(t *testing.T) {
	m := loadManifests(t)
	h := m.hpa.Spec
	ref := h.ScaleTargetRef
	if ref.APIVersion != "apps/v1" || ref.Kind != "Deployment" || ref.Name != m.deployment.Name {
		t.Errorf("scaleTargetRef = %+v, want apps/v1 Deployment %s", ref, m.deployment.Name)
	}
	if h.MinReplicas == nil || *h.MinReplicas < 2 || h.MaxReplicas < *h.MinReplicas {
		t.Errorf("replicas %s..%d, want a minimum of at least 2 and max >= min", val(h.MinReplicas), h.MaxReplicas)
	}
	var cpu bool
	for _, mt := range h.Metrics {
		if mt.Type == autoscalingv2.ResourceMetricSourceType && mt.Resource != nil && mt.Resource.Name == corev1.ResourceCPU &&
			mt.Resource.Target.Type == autoscalingv2.UtilizationMetricType && mt.Resource.Target.AverageUtilization != nil {
			cpu = true
		}
	}
	if !cpu {
		t.Errorf("metrics = %+v, want CPU utilization", h.Metrics)
	}
}

func TestKustomization(t *testing.T) {
	m := loadManifests(t)
	b, err := os.ReadFile("kubernetes/kustomization.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var k struct {
		APIVersion string   `json:"apiVersion"`
		Kind       string   `json:"kind"`
		Resources  []string `json:"resources"`
		Images     []struct {
			Name    string `json:"name"`
			NewName string `json:"newName"`
			NewTag  string `json:"newTag"`
		} `json:"images"`
	}
	if err := yaml.UnmarshalStrict(b, &k); err != nil {
		t.Fatal(err)
	}
	if k.APIVersion != "kustomize.config.k8s.io/v1beta1" || k.Kind != "Kustomization" {
		t.Errorf("kustomization.yaml is %s %s", k.APIVersion, k.Kind)
	}
	res := slices.Sorted(slices.Values(k.Resources))
	if !slices.Equal(res, m.files) {
		t.Errorf("kustomization.yaml resources = %v, want every manifest: %v", res, m.files)
	}
	image := container(t, &m.deployment.Spec.Template.Spec, "tlslens", false).Image
	if len(k.Images) != 1 || k.Images[0].Name != image || k.Images[0].NewName == "" {
		t.Errorf("kustomization.yaml images = %+v, want one entry renaming %q", k.Images, image)
	}
}

// dockerfile is a parsed Dockerfile: its stages in order.
type dockerfile []stage

type stage struct {
	from, name string        // base image and AS name
	instrs     []instruction // after FROM
}

type instruction struct {
	cmd  string // upper case: RUN, COPY, ...
	args string // continuation lines joined by a space
	line int
}

// parseDockerfile reads path the way BuildKit does for the parts checked
// here: comment lines dropped (inside continuations too), a trailing
// backslash continuing the line.
func parseDockerfile(t *testing.T, path string) dockerfile {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var instrs []instruction
	var cur strings.Builder
	start := 0
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		l := strings.TrimSpace(sc.Text())
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		if cur.Len() == 0 {
			start = n
		} else {
			cur.WriteByte(' ')
		}
		if s, ok := strings.CutSuffix(l, `\`); ok {
			cur.WriteString(strings.TrimSpace(s))
			continue
		}
		cur.WriteString(l)
		cmd, args, _ := strings.Cut(cur.String(), " ")
		instrs = append(instrs, instruction{strings.ToUpper(cmd), strings.TrimSpace(args), start})
		cur.Reset()
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if cur.Len() > 0 {
		t.Fatalf("%s ends inside a continued line", path)
	}
	var d dockerfile
	for _, in := range instrs {
		if in.cmd == "FROM" {
			var s stage
			fields := slices.DeleteFunc(strings.Fields(in.args), func(f string) bool { return strings.HasPrefix(f, "--") })
			if len(fields) == 0 {
				t.Fatalf("%s:%d: FROM without an image", path, in.line)
			}
			s.from = fields[0]
			if len(fields) == 3 && strings.EqualFold(fields[1], "AS") {
				s.name = fields[2]
			}
			d = append(d, s)
			continue
		}
		if len(d) == 0 {
			if in.cmd != "ARG" {
				t.Fatalf("%s:%d: %s before the first FROM", path, in.line, in.cmd)
			}
			continue
		}
		d[len(d)-1].instrs = append(d[len(d)-1].instrs, in)
	}
	return d
}

// shellWords splits a command line the way sh would for the simple quoting
// used in the Dockerfile: whitespace separates words, quotes group.
func shellWords(s string) ([]string, error) {
	var words []string
	var w strings.Builder
	in, quote := false, rune(0)
	for _, r := range s {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			w.WriteRune(r)
		case r == '"' || r == '\'':
			quote, in = r, true
		case r == ' ' || r == '\t':
			if in {
				words = append(words, w.String())
				w.Reset()
				in = false
			}
		default:
			w.WriteRune(r)
			in = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated %c quote in %q", quote, s)
	}
	if in {
		words = append(words, w.String())
	}
	return words, nil
}

func TestShellWords(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{`go build -o x ./cmd`, []string{"go", "build", "-o", "x", "./cmd"}},
		{`-ldflags="-s -w" -trimpath`, []string{"-ldflags=-s -w", "-trimpath"}},
		{`a '' 'b c'`, []string{"a", "", "b c"}},
	}
	for _, tt := range tests {
		got, err := shellWords(tt.in)
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("shellWords(%q) = %q, %v, want %q", tt.in, got, err, tt.want)
		}
	}
	if _, err := shellWords(`a "b`); err == nil {
		t.Errorf("shellWords(unterminated) = nil error")
	}
}

// goBuild is the Dockerfile's go build command: its environment
// assignments and its arguments after "go build".
type goBuild struct {
	env  []string
	args []string
}

// dockerGoBuild finds the build stage's RUN that calls go build.
func dockerGoBuild(t *testing.T, d dockerfile) goBuild {
	t.Helper()
	for _, in := range d[0].instrs {
		if in.cmd != "RUN" || !strings.Contains(in.args, "go build") {
			continue
		}
		words, err := shellWords(in.args)
		if err != nil {
			t.Fatalf("Dockerfile:%d: %v", in.line, err)
		}
		words = slices.DeleteFunc(words, func(w string) bool { return strings.HasPrefix(w, "--mount=") })
		var b goBuild
		for i, w := range words {
			if w == "go" && i+1 < len(words) && words[i+1] == "build" {
				b.args = words[i+2:]
				return b
			}
			if !strings.Contains(w, "=") {
				t.Fatalf("Dockerfile:%d: %q before go build is not an environment assignment", in.line, w)
			}
			b.env = append(b.env, w)
		}
	}
	t.Fatal("Dockerfile: no RUN with go build in the first stage")
	return goBuild{}
}

func TestDockerfile(t *testing.T) {
	d := parseDockerfile(t, "Dockerfile")
	if len(d) < 2 {
		t.Fatalf("Dockerfile has %d stage(s), want a builder and a runtime stage", len(d))
	}
	build, final := d[0], d[len(d)-1]
	if !strings.HasPrefix(build.from, "golang:1.26") || build.name == "" {
		t.Errorf("first stage FROM %s AS %q, want golang:1.26 with a name", build.from, build.name)
	}
	if !strings.HasPrefix(final.from, "gcr.io/distroless/static") && final.from != "scratch" {
		t.Errorf("final stage FROM %s, want distroless/static or scratch", final.from)
	}

	t.Run("static build", func(t *testing.T) {
		b := dockerGoBuild(t, d)
		if !slices.Contains(b.env, "CGO_ENABLED=0") {
			t.Errorf("go build environment %q lacks CGO_ENABLED=0: the runtime image has no libc", b.env)
		}
		if !slices.Contains(b.args, "./cmd/tlslens") {
			t.Errorf("go build %q does not build ./cmd/tlslens", b.args)
		}
	})

	byCmd := func(s stage, cmd string) []instruction {
		var out []instruction
		for _, in := range s.instrs {
			if in.cmd == cmd {
				out = append(out, in)
			}
		}
		return out
	}

	t.Run("user", func(t *testing.T) {
		users := byCmd(final, "USER")
		if len(users) == 0 {
			t.Fatal("final stage has no USER: it would run as root")
		}
		u, _, _ := strings.Cut(users[len(users)-1].args, ":")
		uid, err := strconv.Atoi(u)
		if err != nil || uid == 0 {
			t.Errorf("USER %s: want a numeric non-root UID (runAsNonRoot cannot check a name)", users[len(users)-1].args)
		}
	})

	t.Run("expose", func(t *testing.T) {
		var ports []string
		for _, in := range byCmd(final, "EXPOSE") {
			for _, p := range strings.Fields(in.args) {
				ports = append(ports, strings.TrimSuffix(p, "/tcp"))
			}
		}
		for _, want := range []int{proxyPort, adminPort} {
			if !slices.Contains(ports, strconv.Itoa(want)) {
				t.Errorf("EXPOSE %v lacks %d", ports, want)
			}
		}
	})

	t.Run("entrypoint", func(t *testing.T) {
		eps := byCmd(final, "ENTRYPOINT")
		if len(eps) != 1 {
			t.Fatalf("final stage has %d ENTRYPOINTs, want 1", len(eps))
		}
		var argv []string
		if err := json.Unmarshal([]byte(eps[0].args), &argv); err != nil {
			t.Fatalf("ENTRYPOINT %s is not exec (JSON) form, so signals would go to a shell: %v", eps[0].args, err)
		}
		i := slices.Index(argv, "--config")
		if i < 0 || i+1 >= len(argv) || argv[i+1] != imageConfig {
			t.Errorf("ENTRYPOINT %q, want --config %s", argv, imageConfig)
		}
		var copied bool
		for _, in := range byCmd(final, "COPY") {
			f := strings.Fields(in.args)
			if f[len(f)-1] == argv[0] {
				copied = true
			}
		}
		if !copied {
			t.Errorf("ENTRYPOINT runs %s, which no COPY in the final stage puts there", argv[0])
		}
	})

	// The context is the repository root; every COPY from it must exist
	// and not be excluded by Dockerfile.dockerignore.
	t.Run("copy sources", func(t *testing.T) {
		patterns := dockerignore(t)
		stages := map[string]bool{}
		for _, s := range d {
			for _, in := range s.instrs {
				if in.cmd != "COPY" {
					continue
				}
				f := strings.Fields(in.args)
				var from string
				for len(f) > 0 && strings.HasPrefix(f[0], "--") {
					if v, ok := strings.CutPrefix(f[0], "--from="); ok {
						from = v
					}
					f = f[1:]
				}
				if from != "" {
					if !stages[from] {
						t.Errorf("Dockerfile:%d: COPY --from=%s names no earlier stage", in.line, from)
					}
					continue
				}
				for _, src := range f[:len(f)-1] {
					if src == "." {
						continue
					}
					if _, err := os.Stat(filepath.Join("..", src)); err != nil {
						t.Errorf("Dockerfile:%d: COPY %s: %v", in.line, src, err)
					}
					if p := ignoredBy(src, patterns); p != "" {
						t.Errorf("Dockerfile:%d: COPY %s, which Dockerfile.dockerignore excludes (%s)", in.line, src, p)
					}
				}
			}
			stages[s.name] = s.name != ""
		}
	})

	t.Run("image config", func(t *testing.T) {
		b, err := os.ReadFile("docker/config.yaml")
		if err != nil {
			t.Fatal(err)
		}
		c, err := decodeConfig(b)
		if err != nil {
			t.Fatalf("docker/config.yaml: %v", err)
		}
		if p := port(t, c.Listen); p != proxyPort || loopback(c.Listen) {
			t.Errorf("docker/config.yaml listen = %s, want a non-loopback address on port %d", c.Listen, proxyPort)
		}
		if p := port(t, c.AdminListen); p != adminPort || loopback(c.AdminListen) {
			t.Errorf("docker/config.yaml admin_listen = %s, want a non-loopback address on port %d", c.AdminListen, adminPort)
		}
		var volumes []string
		for _, in := range byCmd(final, "VOLUME") {
			volumes = append(volumes, strings.Fields(in.args)...)
		}
		if !slices.Contains(volumes, c.CADir) {
			t.Errorf("docker/config.yaml ca_dir %s is not a VOLUME (%v): the CA would die with the container", c.CADir, volumes)
		}
		var placed bool
		for _, in := range byCmd(final, "COPY") {
			if f := strings.Fields(in.args); f[len(f)-1] == imageConfig && f[len(f)-2] == "deploy/docker/config.yaml" {
				placed = true
			}
		}
		if !placed {
			t.Errorf("no COPY puts deploy/docker/config.yaml at %s", imageConfig)
		}
	})
}

// dockerignore returns Dockerfile.dockerignore's patterns.
func dockerignore(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("Dockerfile.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	var patterns []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			patterns = append(patterns, path.Clean(strings.TrimPrefix(l, "/")))
		}
	}
	return patterns
}

// buildContext copies the repository into dir as docker build sends it:
// without what Dockerfile.dockerignore excludes.
func buildContext(root, dir string, patterns []string) error {
	return filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil || rel == "." {
			return err
		}
		if ignoredBy(filepath.ToSlash(rel), patterns) != "" {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		dst := filepath.Join(dir, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(dst, 0o755)
		case d.Type().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return os.WriteFile(dst, b, 0o644)
		}
		return nil // symlinks and the like: none in the repository
	})
}

// ignoredBy returns the .dockerignore pattern that excludes src (a path in
// the context), or "". It covers the pattern forms Dockerfile.dockerignore
// uses: a path or glob from the root, "**/" + a glob on any base name, and a
// directory excluding what is under it.
func ignoredBy(src string, patterns []string) string {
	for _, p := range patterns {
		if strings.HasPrefix(p, "!") {
			continue
		}
		for dir := src; dir != "." && dir != "/"; dir = path.Dir(dir) {
			if g, ok := strings.CutPrefix(p, "**/"); ok {
				if m, _ := path.Match(g, path.Base(dir)); m {
					return p
				}
			} else if m, _ := path.Match(p, dir); m {
				return p
			}
		}
	}
	return ""
}

func TestIgnoredBy(t *testing.T) {
	patterns := []string{".git", "**/testdata", "**/*.test", "bin"}
	tests := []struct{ src, want string }{
		{"go.mod", ""},
		{"deploy/docker/config.yaml", ""},
		{"inspect/testdata/a.bin", "**/testdata"},
		{"deploy.test", "**/*.test"},
		{"bin/tlslens", "bin"},
		{"cmd/bin", ""},
	}
	for _, tt := range tests {
		if got := ignoredBy(tt.src, patterns); got != tt.want {
			t.Errorf("ignoredBy(%q) = %q, want %q", tt.src, got, tt.want)
		}
	}
}

// The binary, built once the way the Dockerfile builds it.
var (
	buildOnce sync.Once
	binPath   string
	binErr    error
	binDir    string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// tlslensBinary builds ./cmd/tlslens with the Dockerfile's go build
// arguments and environment, from a copy of the build context, and returns
// its path.
func tlslensBinary(t *testing.T) string {
	t.Helper()
	b := dockerGoBuild(t, parseDockerfile(t, "Dockerfile"))
	patterns := dockerignore(t)
	buildOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "tlslens-deploy-")
		if binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "tlslens")
		// Build from the context docker would send, so a file the build
		// needs (a go:embed asset, say) cannot be ignored unnoticed.
		ctxDir := filepath.Join(binDir, "context")
		if binErr = buildContext("..", ctxDir, patterns); binErr != nil {
			return
		}
		args := slices.Clone(b.args)
		i := slices.Index(args, "-o")
		if i < 0 || i+1 >= len(args) {
			binErr = fmt.Errorf("Dockerfile's go build %q has no -o", args)
			return
		}
		args[i+1] = binPath
		cmd := exec.Command("go", append([]string{"build"}, args...)...)
		cmd.Dir = ctxDir
		cmd.Env = os.Environ()
		for _, kv := range b.env {
			if !strings.Contains(kv, "$") { // GOOS=$TARGETOS: the build platform here
				cmd.Env = append(cmd.Env, kv)
			}
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build %q: %w\n%s", args, err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// TestStaticBinary builds tlslens as the Dockerfile does and checks the
// result runs on distroless/static: no ELF interpreter, no shared libraries.
func TestStaticBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary; skipped with -short")
	}
	f, err := elf.Open(tlslensBinary(t))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("binary has an ELF interpreter: it is dynamically linked")
		}
	}
	libs, err := f.ImportedLibraries()
	if err != nil {
		t.Fatal(err)
	}
	if len(libs) > 0 {
		t.Errorf("binary needs shared libraries %v", libs)
	}
}

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
