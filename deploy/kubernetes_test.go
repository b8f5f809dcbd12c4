package deploy

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
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
		if a := d.Spec.Template.Annotations["prometheus.io/port"]; a != "" && a != strconv.Itoa(adminPort) {
			t.Errorf("prometheus.io/port annotation = %s, want the admin port %d", a, adminPort)
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
