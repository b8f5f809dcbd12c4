//go:build linux

package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tlslens/tlslens/ca"
)

// openPTY opens a pseudo-terminal: its master, to read what the program
// prints, and its slave, the program's terminal.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { master.Close() })
	fd := int(master.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil { // unlockpt
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN) // ptsname
	if err != nil {
		t.Fatal(err)
	}
	slave, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { slave.Close() })
	return master, slave
}

// screen is what a terminal shows: everything read from a pty's master.
// Safe for concurrent use.
type screen struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *screen) read(master *os.File) {
	b := make([]byte, 4096)
	for {
		n, err := master.Read(b)
		s.mu.Lock()
		s.buf.Write(b[:n])
		s.mu.Unlock()
		if err != nil {
			return
		}
	}
}

func (s *screen) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// wait returns the screen once it matches re, and re's submatches.
func (s *screen) wait(t *testing.T, re *regexp.Regexp) []string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if m := re.FindStringSubmatch(s.String()); m != nil {
			return m
		}
		time.Sleep(20 * time.Millisecond) // a terminal has no event to wait on
	}
	t.Fatalf("the terminal never showed %s:\n%s", re, s)
	return nil
}

// ansi matches the colour escapes of logrus's text format on a terminal.
var ansi = regexp.MustCompile("\x1b\\[[0-9;]*m")

// TestFirstRunOnTerminal runs the binary as a new user does, on a terminal
// (a pseudo-terminal for stdout and stderr) with no config: the CA is
// created and the start-up line says so, and the records go to
// $XDG_STATE_HOME/tlslens/records.jsonl (named in the start-up line, 0600
// in a 0700 directory), so the terminal shows only the one-line summaries.
// --records - brings them back to the terminal.
func TestFirstRunOnTerminal(t *testing.T) {
	bin := tlslensBinary(t)
	for _, tt := range []struct {
		name   string
		args   []string
		toFile bool // records in the state directory, not on the terminal
	}{
		{"no records key", nil, true},
		{"--records -", []string{"--records", "-"}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			home, state, config := filepath.Join(e.dir, "home"), filepath.Join(e.dir, "state"), filepath.Join(e.dir, "config")
			master, slave := openPTY(t)
			cmd := exec.Command(bin, append([]string{"--listen", "127.0.0.1:0", "--admin-listen=",
				"--upstream-ca", filepath.Join(e.dir, "upstream.pem")}, tt.args...)...)
			cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "XDG_STATE_HOME=" + state, "XDG_CONFIG_HOME=" + config}
			cmd.Stdout, cmd.Stderr = slave, slave
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
			var scr screen
			go scr.read(master)

			m := scr.wait(t, regexp.MustCompile(`tlslens listening.*\n`))
			start := ansi.ReplaceAllString(m[0], "")
			if !strings.Contains(start, "ca_created=") {
				t.Errorf("the start-up line does not say the CA was just created: %s", start)
			}
			addr := regexp.MustCompile(`addr="?(127\.0\.0\.1:\d+)`).FindStringSubmatch(start)
			if addr == nil {
				t.Fatalf("no address in the start-up line: %s", start)
			}
			want := filepath.Join(state, "tlslens", "records.jsonl")
			if !tt.toFile {
				want = "stdout"
			}
			if !strings.Contains(start, "records="+want) {
				t.Errorf("start-up line %q, want records=%s", start, want)
			}
			// The client trusts the CA this run created in the config directory.
			if e.auth, _ = ca.Open(ca.Options{Dir: filepath.Join(config, "tlslens")}); e.auth == nil {
				t.Fatal("no CA in the user config directory")
			}
			c := e.client(addr[1])
			for i := range 3 {
				e.get(c, fmt.Sprintf("/%d", i), fmt.Sprintf("hello /%d", i))
			}
			scr.wait(t, regexp.MustCompile(`(?s)(  client TLS .*){3}`)) // three summaries

			onScreen := strings.Count(scr.String(), `"msg":"handshake"`)
			if !tt.toFile {
				if onScreen != 3 {
					t.Errorf("%d records on the terminal with --records -, want 3:\n%s", onScreen, scr.String())
				}
				if _, err := os.Stat(want); err == nil {
					t.Errorf("%s exists with --records -", want)
				}
				return
			}
			if onScreen != 0 {
				t.Errorf("%d records on the terminal, want only the summaries:\n%s", onScreen, scr.String())
			}
			if n := len(readRecords(t, want)); n != 3 {
				t.Errorf("%s holds %d records, want 3", want, n)
			}
			for path, mode := range map[string]os.FileMode{want: 0o600, filepath.Dir(want): 0o700 | os.ModeDir} {
				if fi, err := os.Stat(path); err != nil || fi.Mode() != mode {
					t.Errorf("%s: mode %v (%v), want %v", path, fi.Mode(), err, mode)
				}
			}
		})
	}
}
