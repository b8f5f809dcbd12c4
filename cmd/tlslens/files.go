package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"strconv"
)

// Files tlslens writes records, key log lines or flows to are readable by
// tlslens's user alone (0600), or also by one group (0640, log_file_group):
// records hold client addresses, server names and fingerprints, and a key
// log decrypts every captured connection. The mode is set on the open file,
// not left to the umask, and an existing file that grants more is tightened.

// logFiles opens those files with one mode and group.
type logFiles struct {
	group string // log_file_group; "" for none
	gid   int    // the group's id; -1 without a group
}

// newLogFiles looks group up; "" means no group (mode 0600).
func newLogFiles(group string) (logFiles, error) {
	if group == "" {
		return logFiles{gid: -1}, nil
	}
	g, err := user.LookupGroup(group)
	if err != nil {
		return logFiles{}, fmt.Errorf("log_file_group: %w (name an existing group, such as adm)", err)
	}
	gid, err := strconv.Atoi(g.Gid)
	if err != nil {
		return logFiles{}, fmt.Errorf("log_file_group: group %s has id %q, not a number", group, g.Gid)
	}
	return logFiles{group: group, gid: gid}, nil
}

// mode is the permission of every file l opens.
func (l logFiles) mode() fs.FileMode {
	if l.group != "" {
		return 0o640
	}
	return 0o600
}

// open opens path for appending, creating it if needed, with l's mode and
// group. key names the config key in errors.
func (l logFiles) open(key, path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, l.mode())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	if err := l.secure(key, f); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// secure gives f to l's group and sets its mode. A mode tlslens cannot set
// (the file belongs to another user) is an error only when the file grants
// more than l's mode: a stricter one is left as it is.
func (l logFiles) secure(key string, f *os.File) error {
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	if l.gid >= 0 {
		if err := f.Chown(-1, l.gid); err != nil {
			if errors.Is(err, fs.ErrPermission) {
				return fmt.Errorf("log_file_group: giving %s to group %s: %w: run tlslens as a member of %s (or as root), or leave log_file_group empty",
					f.Name(), l.group, err, l.group)
			}
			return fmt.Errorf("log_file_group: giving %s to group %s: %w", f.Name(), l.group, err)
		}
	}
	want, got := l.mode(), fi.Mode().Perm()
	if got == want {
		return nil
	}
	if err := f.Chmod(want); err != nil && got&^want != 0 {
		return fmt.Errorf("%s: %s is mode %#o, readable beyond tlslens, and tlslens cannot change it (%w): run chmod %o %s",
			key, f.Name(), got, err, want, f.Name())
	}
	return nil
}
