package deploy

import (
	"bufio"
	"debug/elf"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/tlslens/tlslens/cmd/tlslens/tlslenstest"
)

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

// tlslensBinary builds ./cmd/tlslens with the Dockerfile's go build
// arguments and environment, from a copy of the build context, and returns
// its path.
func tlslensBinary(t *testing.T) string {
	t.Helper()
	b := dockerGoBuild(t, parseDockerfile(t, "Dockerfile"))
	patterns := dockerignore(t)
	return tlslenstest.Binary(t, func(tmp, out string) (*exec.Cmd, error) {
		// Build from the context docker would send, so a file the build
		// needs (a go:embed asset, say) cannot be ignored unnoticed.
		ctxDir := filepath.Join(tmp, "context")
		if err := buildContext("..", ctxDir, patterns); err != nil {
			return nil, err
		}
		args := slices.Clone(b.args)
		i := slices.Index(args, "-o")
		if i < 0 || i+1 >= len(args) {
			return nil, fmt.Errorf("Dockerfile's go build %q has no -o", args)
		}
		args[i+1] = out
		cmd := exec.Command("go", append([]string{"build"}, args...)...)
		cmd.Dir = ctxDir
		cmd.Env = os.Environ()
		for _, kv := range b.env {
			if !strings.Contains(kv, "$") { // GOOS=$TARGETOS: the build platform here
				cmd.Env = append(cmd.Env, kv)
			}
		}
		return cmd, nil
	})
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
