package main

import (
	"context"
	"io"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// startRun runs tlslens in process with args until the test ends, and
// returns its log once it listens.
func startRun(t *testing.T, args []string) *logLines {
	t.Helper()
	logs := newLogLines()
	ctx, cancel := context.WithCancel(context.Background())
	var runErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		runErr = run(ctx, args, strings.NewReader(""), io.Discard, logs)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
			if runErr != nil {
				t.Errorf("run = %v", runErr)
			}
		case <-time.After(30 * time.Second):
			t.Error("run did not return within 30s of its context ending")
		}
	})
	select {
	case <-done:
		t.Fatalf("run = %v before listening; log:\n%s", runErr, logs)
	case <-waitLine(logs, "tlslens listening"):
	case <-time.After(30 * time.Second):
		t.Fatalf("tlslens did not listen within 30s; log:\n%s", logs)
	}
	return logs
}

// waitLine is closed once a log line starting with prefix is in l.
func waitLine(l *logLines, prefix string) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			l.mu.Lock()
			for _, m := range l.lines {
				if msg, _ := m["msg"].(string); strings.HasPrefix(msg, prefix) {
					l.mu.Unlock()
					return
				}
			}
			changed := l.changed
			l.mu.Unlock()
			<-changed
		}
	}()
	return done
}

// checkFile fails unless path has mode want and, when gid >= 0, group gid.
func checkFile(t *testing.T, path string, want fs.FileMode, gid int) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != want {
		t.Errorf("%s: mode %#o, want %#o", filepath.Base(path), got, want)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && gid >= 0 && int(st.Gid) != gid {
		t.Errorf("%s: group %d, want %d", filepath.Base(path), st.Gid, gid)
	}
}

// otherGroup returns a group other than the process's own, to which the
// process may give files: one it is a member of, or any when root.
func otherGroup(t *testing.T) (string, int) {
	t.Helper()
	cands := []string{"adm", "daemon", "nogroup"}
	if os.Geteuid() != 0 {
		ids, _ := os.Getgroups()
		cands = nil
		for _, id := range ids {
			if g, err := user.LookupGroupId(strconv.Itoa(id)); err == nil {
				cands = append(cands, g.Name)
			}
		}
	}
	for _, name := range cands {
		g, err := user.LookupGroup(name)
		if err != nil {
			continue
		}
		if gid, _ := strconv.Atoi(g.Gid); gid != os.Getegid() || name == cands[len(cands)-1] {
			return name, gid
		}
	}
	t.Skip("no group to give files to")
	return "", 0
}

// TestLogFileModes: the record and key log files are 0600 whatever the
// umask, 0640 and owned by log_file_group with one, an existing looser file
// is tightened, and the file reopened on SIGHUP gets the same mode.
func TestLogFileModes(t *testing.T) {
	old := syscall.Umask(0) // the modes must not come from the umask
	t.Cleanup(func() { syscall.Umask(old) })
	group, gid := otherGroup(t)
	for _, tc := range []struct {
		name  string
		group string
		mode  fs.FileMode
		gid   int
	}{
		{"owner only", "", 0o600, -1},
		{"log_file_group", group, 0o640, gid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			config := filepath.Join(e.dir, "files.yaml")
			var yaml []byte // empty without a group, as in a config written before log_file_group
			if tc.group != "" {
				yaml = []byte("log_file_group: " + tc.group + "\n")
			}
			if err := os.WriteFile(config, yaml, 0o600); err != nil {
				t.Fatal(err)
			}
			records := filepath.Join(e.dir, "records.jsonl")
			keyLog := filepath.Join(e.dir, "keys.log")
			if err := os.WriteFile(keyLog, nil, 0o666); err != nil { // there already, readable by all
				t.Fatal(err)
			}
			logs := startRun(t, append(e.args, "--config", config, "--admin-listen=", "--records", records, "--key-log", keyLog))
			checkFile(t, records, tc.mode, tc.gid)
			checkFile(t, keyLog, tc.mode, tc.gid)

			if err := os.Rename(records, records+".1"); err != nil {
				t.Fatal(err)
			}
			syscall.Kill(os.Getpid(), syscall.SIGHUP) // tlslens's handler is in place once it listens
			select {
			case <-waitLine(logs, "SIGHUP: record file reopened"):
			case <-time.After(30 * time.Second):
				t.Fatalf("no reopen within 30s of SIGHUP; log:\n%s", logs)
			}
			checkFile(t, records, tc.mode, tc.gid)
		})
	}
}

// TestLogFileGroupErrors: a group that does not exist, or one tlslens may
// not give files to, stops tlslens with an error naming log_file_group.
func TestLogFileGroupErrors(t *testing.T) {
	e := newEnv(t)
	groups := map[string]string{"unknown": "tlslens-no-such-group"}
	if os.Geteuid() != 0 { // root may give a file to any group
		groups["not a member"] = "root"
	}
	for name, group := range groups {
		t.Run(name, func(t *testing.T) {
			config := filepath.Join(t.TempDir(), "files.yaml")
			if err := os.WriteFile(config, []byte("log_file_group: "+group+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			var stderr strings.Builder
			err := run(context.Background(), append(e.args, "--config", config, "--admin-listen=",
				"--records", filepath.Join(t.TempDir(), "r.jsonl")), strings.NewReader(""), io.Discard, &stderr)
			if err == nil || !strings.Contains(err.Error(), "log_file_group: ") || !strings.Contains(err.Error(), group) {
				t.Errorf("run with log_file_group %q = %v, want an error naming log_file_group and the group", group, err)
			}
		})
	}
}
