// Package tlslenstest builds the tlslens command for tests that run it as a
// process (signals, the Docker image's static binary, the systemd unit). It is
// for tests only.
package tlslenstest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// The binary, built once per test binary.
var (
	once sync.Once
	dir  string // the temporary directory holding it, removed by Main
	path string
	err  error
)

// A BuildFunc returns the command that builds tlslens to out. tmp is a
// temporary directory it may use (a copy of the sources, say); Main removes
// it.
type BuildFunc func(tmp, out string) (*exec.Cmd, error)

// Binary returns the path of the tlslens command, built on the first call
// (by build, or `go build` of github.com/tlslens/tlslens/cmd/tlslens when
// build is nil); later calls return the same binary, whatever their build.
// A failed build fails each test that asks for it.
func Binary(tb testing.TB, build BuildFunc) string {
	tb.Helper()
	once.Do(func() {
		if build == nil {
			build = goBuild
		}
		if dir, err = os.MkdirTemp("", "tlslens-test-bin-"); err != nil {
			return
		}
		path = filepath.Join(dir, "tlslens")
		var cmd *exec.Cmd
		if cmd, err = build(dir, path); err != nil {
			return
		}
		if out, berr := cmd.CombinedOutput(); berr != nil {
			err = fmt.Errorf("%s: %w\n%s", cmd, berr, out)
		}
	})
	if err != nil {
		tb.Fatal(err)
	}
	return path
}

// Main runs the tests and removes what Binary built; call it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	if dir != "" {
		os.RemoveAll(dir)
	}
	os.Exit(code)
}

func goBuild(_, out string) (*exec.Cmd, error) {
	return exec.Command("go", "build", "-o", out, "github.com/tlslens/tlslens/cmd/tlslens"), nil
}
