package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
)

// A first run on a terminal keeps the records out of the way of the
// one-line summaries: with no records destination configured and stdout a
// terminal, they go to a file in the user's state directory, named in the
// start-up line. "records: -" (--records -) still streams them to stdout,
// and a stdout that is not a terminal (a pipe, a file, a service's journal)
// gets them as before.

// recordsPath is where records go for the records key: the key itself when
// set, else stdout ("-") unless stdout is a terminal, where it is
// records.jsonl in the state directory (created 0700).
func recordsPath(key string, stdout io.Writer) (string, error) {
	if key != "" {
		return key, nil
	}
	if !isTerminal(stdout) {
		return "-", nil
	}
	dir, err := stateDir()
	if err != nil {
		return "", fmt.Errorf("records: %w (set records, or --records FILE or -)", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("records: %w (set records, or --records FILE or -)", err)
	}
	return filepath.Join(dir, "records.jsonl"), nil
}

// stateDir is tlslens's directory for the files it keeps on its own:
// $XDG_STATE_HOME/tlslens, else ~/.local/state/tlslens (the XDG Base
// Directory default); on macOS and Windows, which have no state directory,
// <user config dir>/tlslens, beside the CA.
func stateDir() (string, error) {
	switch runtime.GOOS {
	case "darwin", "ios", "windows":
		dir, err := os.UserConfigDir()
		if err != nil {
			return "", err
		}
		return filepath.Join(dir, "tlslens"), nil
	}
	if dir := os.Getenv("XDG_STATE_HOME"); filepath.IsAbs(dir) {
		return filepath.Join(dir, "tlslens"), nil // a relative path is invalid (XDG): ignored
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(home, ".local", "state", "tlslens"), nil
}
