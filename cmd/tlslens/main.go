// Command tlslens is a man-in-the-middle HTTP(S) proxy that records both sides
// of every TLS handshake. See README.md.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "tlslens:", err)
		os.Exit(1)
	}
}

const usage = `tlslens: a MITM HTTP(S) proxy that records both sides of every TLS handshake.

Usage:
  tlslens [flags]                 run the proxy (127.0.0.1:8080 by default)
  tlslens ca [--ca-dir DIR]       show the CA: path, subject, SHA-256 fingerprint
  tlslens ca export [flags]       write the CA certificate (pem, der, p12, android)
  tlslens report [flags] FILE...  summarise record files
  tlslens version                 print the version

Run 'tlslens COMMAND --help' for a command's flags, 'tlslens --help' for the proxy's.
`

// run is main without the process: tests call it with their own arguments.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "ca":
			return runCA(args[1:], stdout, stderr)
		case "report":
			return runReport(ctx, args[1:], stdin, stdout, stderr)
		case "version":
			fmt.Fprintln(stdout, "tlslens", version())
			return nil
		case "help":
			fmt.Fprint(stdout, usage)
			return nil
		}
	}
	return runProxy(ctx, args, stdout, stderr)
}

// version is the module version from the build info, "(devel)" for a
// build from a work tree.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += " " + s.Value[:12]
		}
	}
	return v + " " + bi.GoVersion
}
