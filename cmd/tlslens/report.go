package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/tlslens/tlslens/inspect"
	"github.com/tlslens/tlslens/inspect/report"
)

// progressMin is the input size from which `tlslens report` draws a progress
// bar on a terminal: smaller inputs finish before anyone would look.
const progressMin = 32 << 20

const reportUsage = `Usage: tlslens report [flags] [FILE...]

Summarise handshake records: the JSON Lines tlslens writes (gzip-compressed
files too; "-", or no FILE with input piped in, reads standard input).

The report groups clients by JA4 fingerprint (how many records, example SNIs
and addresses, JA3N, the versions, cipher suites, groups and signature schemes
offered, weak offers, first and last seen) and servers by target (what they
negotiated, key exchange, leaf certificate, verification problems), then
counts outcomes and findings by code. A readiness table shows, per client
(its known identity, or its JA4 when unidentified), how many connections
offered a post-quantum group and key share, agreed one on each leg, went
through a HelloRetryRequest, offered ECH, and the lowest version and weak
suites offered. A weak offer is SSL 3.0, TLS 1.0 or 1.1,
or a NULL, EXPORT, anon, RC4, DES or 3DES cipher suite.

Operational log lines are skipped. Malformed lines are counted and the first
ones listed with their file and line number; they never stop the report.
Memory stays bounded whatever the input size.

Examples:
  tlslens report records.jsonl
  tlslens report --since 24h --format html records.jsonl records.jsonl.1.gz > report.html
  tlslens report --target '*.example.com' --format markdown - < records.jsonl
  tlslens report --client t13d1516h2_8daaf6152771_d8a2da3f94cd records.jsonl
  tlslens report --format har records.jsonl flows.jsonl > requests.har

--format zeek writes the records as a Zeek ssl.log (Zeek's ASCII format:
#fields and #types headers, tab-separated, "-" unset, "(empty)" empty): two
lines per record, the client leg (client to tlslens) and the upstream leg
(tlslens to the server), sharing the uid "C" + the record's id. The time
filters, --client and --target apply; --top and --max-groups do not.

--format har writes a HAR 1.2 log (for browsers' DevTools, HTTP Toolkit,
Charles) of the requests in a flow file (flows: FILE), each entry joined to
its connection's record: _tls names the negotiated version, cipher suite and
the client's JA4. The other flags do not apply to it.

Flags:
`

// runReport is `tlslens report ARGS...`.
func runReport(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		since     = fs.String("since", "", "keep records at or after `TIME`: RFC 3339, a date (2026-11-22), or a duration before now (24h, 90m, 7d)")
		until     = fs.String("until", "", "keep records before `TIME`, in the same forms as --since")
		client    = fs.String("client", "", "keep records from this client: a JA4 (or JA3, JA3N) fingerprint, an ip:port, or an ip")
		target    = fs.String("target", "", "keep records whose target matches `PATTERN` (path.Match glob on host:port or host, e.g. '*.example.com', '*:8443')")
		format    = fs.String("format", "text", "output `FORMAT`: "+strings.Join(report.Formats, ", ")+", zeek (both legs of each record as Zeek ssl.log lines), or har (HAR 1.2 of the requests in a flow file: RECORDS FLOWS)")
		top       = fs.Int("top", 50, "list at most `N` client and server groups, largest first (0: all); totals count all")
		maxGroups = fs.Int("max-groups", report.DefaultMaxGroups, "keep at most `N` distinct JA4s and targets; the rest count as \"(other)\"")
	)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), reportUsage)
		fs.PrintDefaults()
	}
	files, err := parseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return nil // the usage is printed: asking for it is not a failure
	}
	if err != nil {
		return err
	}
	if *format == "har" {
		return reportHAR(files, stdout)
	}
	if !slices.Contains(report.Formats, *format) && *format != "zeek" {
		return fmt.Errorf("report: unknown --format %q (want %s, zeek or har)", *format, strings.Join(report.Formats, ", "))
	}

	now := time.Now()
	opts := report.Options{Now: now, Top: *top, MaxGroups: *maxGroups,
		Filter: report.Filter{Client: *client, Target: *target}}
	if *since != "" {
		if opts.Filter.Since, err = report.ParseTime(*since, now); err != nil {
			return fmt.Errorf("--since: %w", err)
		}
	}
	if *until != "" {
		if opts.Filter.Until, err = report.ParseTime(*until, now); err != nil {
			return fmt.Errorf("--until: %w", err)
		}
	}
	b, err := report.New(opts)
	if err != nil {
		return err
	}

	if len(files) == 0 {
		if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			return errors.New("report: no input: name a record file, or pipe records in (see --help)")
		}
		files = []string{"-"}
	}
	if *format == "zeek" {
		return reportZeek(ctx, files, stdin, stdout, opts.Filter)
	}
	total, known, err := inputSize(files, stdin)
	if err != nil {
		return err
	}
	var progress *report.Progress
	if f, ok := stderr.(*os.File); ok && known && total >= progressMin && term.IsTerminal(int(f.Fd())) {
		progress = report.NewProgress(stderr, total)
	}

	for _, name := range files {
		if err := readInput(ctx, b, name, stdin, progress); err != nil {
			return err
		}
	}
	if progress != nil {
		progress.Done()
	}

	r := b.Report()
	for _, in := range r.Inputs {
		if in.Error != "" {
			fmt.Fprintf(stderr, "tlslens report: %s: stopped early: %s\n", in.Name, in.Error)
		}
	}
	if n := r.Totals.BadLines; n > 0 {
		fmt.Fprintf(stderr, "tlslens report: %d bad lines, the first at %s:%d: %s\n",
			n, r.BadLines[0].File, r.BadLines[0].Line, r.BadLines[0].Error)
	}
	w := bufio.NewWriterSize(stdout, 64<<10)
	if err := r.Write(w, *format); err != nil {
		return err
	}
	return w.Flush()
}

// parseInterspersed parses flags wherever they appear among the file names
// (`report a.jsonl --format html`), stopping at "--".
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var files []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if consumed := args[:len(args)-len(rest)]; len(consumed) > 0 && consumed[len(consumed)-1] == "--" {
			return append(files, rest...), nil
		}
		if len(rest) == 0 {
			return files, nil
		}
		files = append(files, rest[0])
		args = rest[1:]
	}
}

// inputSize adds up the sizes of the inputs for the progress bar; known is
// false when one of them is a pipe. A file that does not exist is an error
// before anything is read.
func inputSize(files []string, stdin io.Reader) (total int64, known bool, err error) {
	known = true
	stdins := 0
	for _, name := range files {
		var fi os.FileInfo
		if name == "-" {
			if stdins++; stdins > 1 {
				return 0, false, errors.New(`report: "-" (standard input) given more than once`)
			}
			f, ok := stdin.(*os.File)
			if !ok {
				known = false
				continue
			}
			if fi, err = f.Stat(); err != nil {
				known = false
				continue
			}
		} else if fi, err = os.Stat(name); err != nil {
			return 0, false, fmt.Errorf("report: %w", err)
		}
		if !fi.Mode().IsRegular() {
			known = false
			continue
		}
		total += fi.Size()
	}
	return total, known, nil
}

// readInput reads one named input ("-": stdin) into b.
func readInput(ctx context.Context, b *report.Builder, name string, stdin io.Reader, p *report.Progress) error {
	var r io.Reader = stdin
	label := "stdin"
	if name != "-" {
		label = name
		f, err := os.Open(name)
		if err != nil {
			return fmt.Errorf("report: %w", err)
		}
		defer f.Close()
		r = f
	}
	if p != nil {
		r = p.Reader(r)
	}
	return b.Read(ctx, label, r)
}

// reportZeek is `tlslens report --format zeek FILE...`: the records that
// pass filter as Zeek ssl.log lines, read and written as they come.
func reportZeek(ctx context.Context, files []string, stdin io.Reader, stdout io.Writer, filter report.Filter) error {
	w := bufio.NewWriterSize(stdout, 64<<10)
	z := report.NewZeekWriter(w, time.Now())
	write := func(rec *inspect.Record) error {
		if !filter.Match(rec) {
			return nil
		}
		return z.Write(rec)
	}
	for _, name := range files {
		if err := eachRecord(ctx, name, stdin, write); err != nil {
			return err
		}
	}
	if err := z.Close(time.Now()); err != nil {
		return err
	}
	return w.Flush()
}

// eachRecord calls fn with each record of the input name ("-": stdin).
func eachRecord(ctx context.Context, name string, stdin io.Reader, fn func(*inspect.Record) error) error {
	r := stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return fmt.Errorf("report: %w", err)
		}
		defer f.Close()
		r = f
	}
	if err := report.EachRecord(ctx, r, fn); err != nil {
		return fmt.Errorf("report: %s: %w", name, err)
	}
	return nil
}
