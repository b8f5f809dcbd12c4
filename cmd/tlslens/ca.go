package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/tlslens/tlslens/ca"
)

func runCA(args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "export" {
		return runCAExport(args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("tlslens ca", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("ca-dir", "", "CA directory (default <user config dir>/tlslens)")
	fs.Usage = func() {
		fmt.Fprint(stderr, "Usage: tlslens ca [--ca-dir DIR]\n       tlslens ca export [--format pem|der|p12|android] [--out FILE]\n\nShows the CA, creating it on first use.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("ca: unknown command %q (want export)", fs.Arg(0))
	}
	a, err := openCA(*dir)
	if err != nil {
		return err
	}
	c := a.Certificate()
	fmt.Fprintf(stdout, "certificate: %s\nsubject:     %s\nsha256:      %s\nnot after:   %s\n",
		a.CertPath(), c.Subject, a.Fingerprint(), c.NotAfter.UTC().Format("2006-01-02"))
	return nil
}

func runCAExport(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("tlslens ca export", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("ca-dir", "", "CA directory (default <user config dir>/tlslens)")
	format := fs.String("format", "pem", "pem, der, p12 (certificate only, for iOS, Windows, Java), or android (PEM named <subject_hash_old>.0 for the system store)")
	out := fs.String("out", "", "output file (default stdout; for android, a directory, default .)")
	password := fs.String("password", "", "password for p12 (empty is allowed: the file holds no key)")
	fs.Usage = func() {
		fmt.Fprint(stderr, "Usage: tlslens ca export [--format pem|der|p12|android] [--out FILE]\n\nWrites the CA certificate (never its key).\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	a, err := openCA(*dir)
	if err != nil {
		return err
	}
	var b []byte
	switch *format {
	case "pem":
		b = a.PEM()
	case "der":
		b = a.DER()
	case "p12":
		if b, err = a.PKCS12(*password); err != nil {
			return err
		}
	case "android":
		d := *out
		if d == "" {
			d = "."
		}
		path := d + string(os.PathSeparator) + a.SubjectHashOld() + ".0"
		if err := os.WriteFile(path, a.PEM(), 0o644); err != nil {
			return err
		}
		fmt.Fprintln(stdout, path)
		fmt.Fprintln(stderr, wrote(path, *format, *password, a))
		return nil
	default:
		return fmt.Errorf("ca export: unknown format %q (want pem, der, p12 or android)", *format)
	}
	if *out == "" {
		_, err = stdout.Write(b)
		return err
	}
	if err := os.WriteFile(*out, b, 0o644); err != nil {
		return err
	}
	fmt.Fprintln(stderr, wrote(*out, *format, *password, a))
	return nil
}

// wrote says what ca export wrote to path: the format, and the CA's
// fingerprint to compare with what a device shows once it is installed.
func wrote(path, format, password string, a *ca.Authority) string {
	what := map[string]string{
		"pem":     "PEM",
		"der":     "DER",
		"p12":     "PKCS#12 with an empty password",
		"android": "PEM named for Android's system store (/system/etc/security/cacerts)",
	}[format]
	if format == "p12" && password != "" {
		what = "PKCS#12 with the password given"
	}
	return fmt.Sprintf("wrote %s: the tlslens CA certificate (%s; never its key), %s, sha256 %s",
		path, what, a.Certificate().Subject, a.Fingerprint())
}
