package report

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"

	"github.com/tlslens/tlslens/inspect"
)

// An Input is one file or stream read into a report.
type Input struct {
	Name     string `json:"name"`
	Gzip     bool   `json:"gzip,omitempty"`
	Bytes    int64  `json:"bytes"` // uncompressed
	Lines    int    `json:"lines"`
	Records  int    `json:"records"`   // handshake records, filtered or not
	LogLines int    `json:"log_lines"` // operational log lines, skipped
	BadLines int    `json:"bad_lines"`
	// Error says why reading stopped before the end, e.g. a truncated gzip
	// stream. The lines before it are in the report.
	Error string `json:"error,omitempty"`
}

// A BadLine is a line that is neither a handshake record nor a log line.
type BadLine struct {
	File  string `json:"file"`
	Line  int    `json:"line"`
	Error string `json:"error"`
}

// line is one JSON Lines entry: a record plus logrus's msg.
type line struct {
	Msg string `json:"msg"`
	inspect.Record
}

// Read aggregates the JSON Lines in r, a record file as tlslens writes it
// (gzip-compressed or not: the magic number decides). name labels the input
// in the report and in bad-line positions. Lines whose msg is not
// "handshake" are operational logs, counted and skipped; a line without msg
// that has a schema is taken as a record. Other lines are bad: counted, and
// the first Options.MaxBadLines remembered. An I/O or gzip error ends this
// input and is noted in its Input.Error. Read returns only ctx's error.
func (b *Builder) Read(ctx context.Context, name string, r io.Reader) error {
	b.inputs = append(b.inputs, Input{Name: name})
	in := &b.inputs[len(b.inputs)-1]
	br := bufio.NewReaderSize(r, 64<<10)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			in.Error = fmt.Sprintf("gzip: %v", err)
			return nil
		}
		defer zr.Close()
		in.Gzip = true
		br = bufio.NewReaderSize(zr, 64<<10)
	}
	var (
		long []byte // a line longer than br's buffer, assembled
		over bool   // the line exceeds MaxLineBytes; its rest is discarded
	)
	for {
		chunk, err := br.ReadSlice('\n')
		in.Bytes += int64(len(chunk))
		if errors.Is(err, bufio.ErrBufferFull) {
			if !over && len(long)+len(chunk) <= b.opts.MaxLineBytes {
				long = append(long, chunk...)
			} else {
				over, long = true, long[:0]
			}
			continue
		}
		text := chunk
		if len(long) > 0 || over {
			text = append(long, chunk...)
			long = long[:0]
		}
		if len(text) > 0 {
			in.Lines++
			b.totals.Lines++
			if over || len(text) > b.opts.MaxLineBytes {
				b.bad(in, fmt.Sprintf("line longer than %d bytes", b.opts.MaxLineBytes))
			} else {
				b.line(in, text)
			}
			over = false
			if in.Lines%4096 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
		}
		if err == io.EOF {
			return ctx.Err()
		}
		if err != nil {
			in.Error = err.Error()
			return ctx.Err()
		}
	}
}

// line handles one line of input.
func (b *Builder) line(in *Input, text []byte) {
	text = bytes.TrimSpace(text)
	if len(text) == 0 {
		return // blank: neither a record nor a mistake
	}
	if text[0] != '{' && text[0] != '[' {
		b.bad(in, fmt.Sprintf("not JSON: the line starts %q", shorten(string(text), 24)))
		return
	}
	var l line
	if err := json.Unmarshal(text, &l); err != nil {
		b.bad(in, decodeProblem(err))
		return
	}
	switch {
	case l.Msg == "handshake", l.Msg == "" && l.Schema != 0:
	case l.Msg != "":
		in.LogLines++
		b.totals.LogLines++
		return
	default:
		b.bad(in, `no "msg" and no "schema": not a tlslens log line`)
		return
	}
	if l.Schema != inspect.Schema {
		b.bad(in, fmt.Sprintf("record schema %d, this report reads schema %d", l.Schema, inspect.Schema))
		return
	}
	in.Records++
	b.Add(&l.Record)
}

func (b *Builder) bad(in *Input, msg string) {
	in.BadLines++
	b.totals.BadLines++
	if len(b.badLines) < b.opts.MaxBadLines {
		b.badLines = append(b.badLines, BadLine{File: in.Name, Line: in.Lines, Error: msg})
	}
}

// decodeProblem says what was wrong with a line json.Unmarshal rejected, in
// terms of the record rather than Go types.
func decodeProblem(err error) string {
	var te *json.UnmarshalTypeError
	if !errors.As(err, &te) {
		return "not a JSON record: " + strings.TrimPrefix(err.Error(), "json: ")
	}
	if te.Field == "" {
		return "a JSON " + te.Value + ", not a record object"
	}
	field := strings.TrimPrefix(te.Field, "Record.") // the embedded record in line
	return fmt.Sprintf("%q is a JSON %s, want %s", field, te.Value, jsonKind(te.Type))
}

// jsonKind names the JSON type that decodes into t.
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Pointer:
		return jsonKind(t.Elem())
	}
	return "a number"
}
