// Command clientsgen writes inspect's known-client table (knownclients.txt)
// from the ClientHellos that inspect/testdata/clients/capture.sh captured
// from real clients: for each client in clients.txt, its <client>.bin is
// parsed, and its ja4 and ja4_r are written with the client's name and
// version, taken from the version line the client printed. Nothing in the
// table comes from anywhere else.
//
// Run it through go generate in inspect (knownclients.go carries the
// directive), or after a capture:
//
//	go run ./internal/clientsgen -dir testdata/clients -out knownclients.txt
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/tlslens/tlslens/inspect"
)

func main() {
	dir := flag.String("dir", "testdata/clients", "folder of the captures and clients.txt")
	out := flag.String("out", "knownclients.txt", "table file to write")
	flag.Parse()
	table, err := Generate(*dir)
	if err == nil {
		err = os.WriteFile(*out, table, 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "clientsgen:", err)
		os.Exit(1)
	}
}

// A label turns a client's version line into its name in the table: the
// version's major and minor numbers (major alone where minor says nothing
// of the hello, as for browsers) after a fixed name.
type label struct {
	name    string
	version *regexp.Regexp // its first group is the version written
}

// labels are the clients capture.sh knows, by the name of their capture
// (less any -N suffix of a repeated capture).
var labels = map[string]label{
	"chromium":        {"Chromium", regexp.MustCompile(`^Chromium (\d+)\.`)},
	"firefox":         {"Firefox ESR", regexp.MustCompile(`^Mozilla Firefox (\d+)\.`)},
	"curl":            {"curl", regexp.MustCompile(`^curl (\d+\.\d+)`)},
	"wget":            {"Wget", regexp.MustCompile(`^GNU Wget (\d+\.\d+)`)},
	"openssl":         {"OpenSSL s_client", regexp.MustCompile(`^OpenSSL (\d+\.\d+)`)},
	"gnutls":          {"GnuTLS gnutls-cli", regexp.MustCompile(`^gnutls-cli (\d+\.\d+)`)},
	"go":              {"Go crypto/tls", regexp.MustCompile(`^go(\d+\.\d+)`)},
	"nethttp":         {"Go net/http", regexp.MustCompile(`^go(\d+\.\d+)`)},
	"python-urllib":   {"Python urllib", regexp.MustCompile(`^Python (\d+\.\d+)`)},
	"python-requests": {"Python requests", regexp.MustCompile(`^requests (\d+\.\d+)`)},
	"node":            {"Node.js", regexp.MustCompile(`^node v(\d+)\.`)},
	"java":            {"Java HttpClient", regexp.MustCompile(`version "(\d+)`)},
}

// repeat is the suffix of a repeated capture of one client: chromium-2.
var repeat = regexp.MustCompile(`-\d+$`)

// Generate returns the table for the captures in dir.
func Generate(dir string) ([]byte, error) {
	list, err := os.ReadFile(filepath.Join(dir, "clients.txt"))
	if err != nil {
		return nil, err
	}
	type row struct{ kind, fp, name string }
	var rows []row
	sc := bufio.NewScanner(bytes.NewReader(list))
	for sc.Scan() {
		file, version, ok := strings.Cut(sc.Text(), "\t")
		if !ok {
			return nil, fmt.Errorf("clients.txt: %q: want NAME<tab>VERSION", sc.Text())
		}
		name, err := clientName(file, version)
		if err != nil {
			return nil, err
		}
		h, err := readHello(filepath.Join(dir, file+".bin"))
		if err != nil {
			return nil, err
		}
		ja4, ja4r := inspect.JA4(h)
		rows = append(rows, row{"ja4", ja4, name}, row{"ja4_r", ja4r, name})
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	slices.SortFunc(rows, func(a, b row) int {
		return strings.Compare(a.name+"\x00"+a.kind+"\x00"+a.fp, b.name+"\x00"+b.kind+"\x00"+b.fp)
	})
	rows = slices.Compact(rows)

	var b bytes.Buffer
	b.WriteString("# Known clients: the ja4 and ja4_r of hellos captured from real clients by\n" +
		"# inspect/testdata/clients/capture.sh, written by inspect/internal/clientsgen.\n" +
		"# Do not edit: capture again and regenerate (see inspect/testdata/clients/README.md).\n" +
		"# KIND FINGERPRINT NAME\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "%s\t%s\t%s\n", r.kind, r.fp, r.name)
	}
	if _, err := inspect.ParseClientTable(b.Bytes()); err != nil {
		return nil, fmt.Errorf("the generated table: %w", err)
	}
	return b.Bytes(), nil
}

// clientName is a capture's name in the table, e.g. "curl 7.88", from its
// file name and the version line the client printed.
func clientName(file, version string) (string, error) {
	l, ok := labels[repeat.ReplaceAllString(file, "")]
	if !ok {
		return "", fmt.Errorf("clients.txt: %s: not a client clientsgen knows", file)
	}
	m := l.version.FindStringSubmatch(version)
	if m == nil {
		return "", fmt.Errorf("clients.txt: %s: version %q does not match %s", file, version, l.version)
	}
	return l.name + " " + m[1], nil
}

func readHello(file string) (*inspect.ClientHello, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	h, err := inspect.ParseClientHello(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return h, nil
}
