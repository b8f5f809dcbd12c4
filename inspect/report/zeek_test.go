package report

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tlslens/tlslens/inspect"
)

// zeekLog is an ssl.log read back by readZeekLog.
type zeekLog struct {
	header map[string]string // #separator, #set_separator, … as written, the separator unescaped
	fields []string
	types  []string
	rows   []map[string]zeekValue
}

// A zeekValue is one field: unset ("-"), or its value (strings unescaped;
// a vector's elements in vec).
type zeekValue struct {
	unset bool
	str   string
	vec   []string
}

// readZeekLog parses Zeek's ASCII log format as Zeek documents it (the
// ASCII writer: a "#separator" line whose value is \x-escaped, then
// "#key<sep>value" header lines, #fields and #types naming and typing the
// columns, data lines of separator-split fields, "#close" last) and checks
// every value against its column's type: time as epoch seconds with six
// decimals, addr an IP address, port a count up to 65535, bool T or F,
// vector[string] elements joined by the set separator, "-" unset,
// "(empty)" empty.
func readZeekLog(t *testing.T, out string) *zeekLog {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	sepDecl, ok := strings.CutPrefix(lines[0], "#separator ")
	if !ok {
		t.Fatalf("first line %q: want #separator", lines[0])
	}
	sep := unescapeZeek(t, sepDecl)
	log := &zeekLog{header: map[string]string{"separator": sep}}
	timeRE := regexp.MustCompile(`^[0-9]+\.[0-9]{6}$`)
	for i, line := range lines[1:] {
		if key, ok := strings.CutPrefix(line, "#"); ok {
			k, v, _ := strings.Cut(key, sep)
			switch k {
			case "fields":
				log.fields = strings.Split(v, sep)
			case "types":
				log.types = strings.Split(v, sep)
			}
			log.header[k] = v
			if k == "close" && i != len(lines)-2 {
				t.Errorf("#close on line %d of %d: want it last", i+2, len(lines))
			}
			continue
		}
		if log.fields == nil || len(log.fields) != len(log.types) {
			t.Fatalf("data line %d before #fields and #types of the same length", i+2)
		}
		cells := strings.Split(line, sep)
		if len(cells) != len(log.fields) {
			t.Fatalf("line %d has %d fields, want %d: %q", i+2, len(cells), len(log.fields), line)
		}
		row := make(map[string]zeekValue)
		for j, c := range cells {
			name, typ := log.fields[j], log.types[j]
			if c == log.header["unset_field"] {
				row[name] = zeekValue{unset: true}
				continue
			}
			var v zeekValue
			switch {
			case strings.HasPrefix(typ, "vector["):
				if c != log.header["empty_field"] {
					for _, e := range strings.Split(c, log.header["set_separator"]) {
						v.vec = append(v.vec, unescapeZeek(t, e))
					}
				}
				v.vec = append([]string{}, v.vec...)
			case c == log.header["empty_field"]:
				v.str = ""
			default:
				v.str = unescapeZeek(t, c)
			}
			bad := false
			switch typ {
			case "time":
				bad = !timeRE.MatchString(v.str)
			case "addr":
				bad = net.ParseIP(v.str) == nil
			case "port", "count":
				_, err := strconv.ParseUint(v.str, 10, 16)
				bad = err != nil
			case "bool":
				bad = v.str != "T" && v.str != "F"
			case "string", "vector[string]":
			default:
				t.Fatalf("column %s has type %q, which this reader does not know", name, typ)
			}
			if bad {
				t.Errorf("line %d: %s = %q is not a %s", i+2, name, c, typ)
			}
			row[name] = v
		}
		log.rows = append(log.rows, row)
	}
	return log
}

// unescapeZeek undoes Zeek's \xNN escapes.
func unescapeZeek(t *testing.T, s string) string {
	t.Helper()
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && s[i+1] == 'x' {
			n, err := strconv.ParseUint(s[i+2:i+4], 16, 8)
			if err != nil {
				t.Fatalf("bad escape in %q", s)
			}
			b.WriteByte(byte(n))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// TestZeekSSLLog writes testdata/zeek.jsonl (records of real connections
// through tlslens: TLS 1.3, a TLS 1.2 upstream, a failed verification, a
// passthrough with a HelloRetryRequest, a tunnel; and one edited to have
// IPv6 addresses, a hostile SNI, a client alert, a resumed upstream and a
// client certificate) as ssl.log, reads it back as Zeek's format describes,
// and checks each line against its record.
func TestZeekSSLLog(t *testing.T) {
	f, err := os.Open(filepath.Join("testdata", "zeek.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var recs []*inspect.Record
	var out strings.Builder
	z := NewZeekWriter(&out, time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC))
	err = EachRecord(context.Background(), f, func(r *inspect.Record) error {
		recs = append(recs, r)
		return z.Write(r)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := z.Close(time.Date(2026, 11, 22, 11, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	log := readZeekLog(t, out.String())

	wantHeader := map[string]string{"separator": "\t", "set_separator": ",", "empty_field": "(empty)", "unset_field": "-",
		"path": "ssl", "open": "2026-11-22-09-00-00", "close": "2026-11-22-11-00-00"}
	for k, v := range wantHeader {
		if log.header[k] != v {
			t.Errorf("#%s = %q, want %q", k, log.header[k], v)
		}
	}
	// Zeek's ssl.log with its default scripts (base/protocols/ssl and
	// policy/protocols/ssl/validate-certs).
	wantFields := "ts uid id.orig_h id.orig_p id.resp_h id.resp_p version cipher curve server_name resumed last_alert next_protocol established ssl_history cert_chain_fps client_cert_chain_fps sni_matches_cert validation_status"
	wantTypes := "time string addr port addr port string string string string bool string string bool string vector[string] vector[string] bool string"
	if got := strings.Join(log.fields, " "); got != wantFields {
		t.Errorf("#fields = %s\nwant      %s", got, wantFields)
	}
	if got := strings.Join(log.types, " "); got != wantTypes {
		t.Errorf("#types = %s\nwant     %s", got, wantTypes)
	}

	if len(recs) != 6 || len(log.rows) != 10 {
		t.Fatalf("%d records, %d lines: want 6 records and 10 lines (two legs each, none for the tunnel)", len(recs), len(log.rows))
	}
	byUID := map[string][]map[string]zeekValue{}
	for _, row := range log.rows {
		byUID[row["uid"].str] = append(byUID[row["uid"].str], row)
	}
	for _, r := range recs {
		rows := byUID["C"+r.ID]
		if r.Mode == inspect.ModeTunnel {
			if len(rows) != 0 {
				t.Errorf("tunnel %s: %d lines, want none", r.ID, len(rows))
			}
			continue
		}
		if len(rows) != 2 {
			t.Errorf("record %s: %d lines with uid C%s, want 2", r.ID, len(rows), r.ID)
			continue
		}
		checkZeekLeg(t, r, "client", rows[0], r.Client, r.Client.Addr, r.Client.Local)
		checkZeekLeg(t, r, "upstream", rows[1], r.Upstream, r.Upstream.Local, r.Upstream.Addr)
	}

	// The edited record, field by field.
	rows := byUID["C01SYNTHETIC6ALERTRESUMED00"]
	for _, c := range []struct {
		row         int
		field, want string
	}{
		{0, "ts", "1795341900.250000"}, {0, "id.orig_h", "2001:db8::7"}, {0, "id.resp_p", "8080"},
		{0, "server_name", "-"}, {0, "last_alert", "bad_certificate"}, {0, "established", "F"}, {0, "ssl_history", "CsL"},
		{0, "sni_matches_cert", "F"},
		{1, "id.resp_h", "2001:db8::443"}, {1, "server_name", "tab\there,comma"}, {1, "resumed", "T"},
		{1, "next_protocol", "h2"}, {1, "validation_status", "ok"}, {1, "sni_matches_cert", "F"},
	} {
		if got := rows[c.row][c.field]; got.unset || got.str != c.want {
			t.Errorf("edited record, line %d: %s = %+v, want %q", c.row+1, c.field, got, c.want)
		}
	}
	if got := rows[1]["client_cert_chain_fps"].vec; !reflect.DeepEqual(got, []string{strings.Repeat("ab", 32)}) {
		t.Errorf("client_cert_chain_fps = %q, want the client certificate's SHA-256", got)
	}
	if got := rows[0]["next_protocol"]; !got.unset {
		t.Errorf("client leg next_protocol = %+v, want unset", got)
	}
}

// checkZeekLeg checks one ssl.log line against the record's leg.
func checkZeekLeg(t *testing.T, r *inspect.Record, name string, row map[string]zeekValue, leg *inspect.Side, orig, resp string) {
	t.Helper()
	server := leg // what the server side sent on this leg; in passthrough the upstream's
	if r.Mode == inspect.ModePassthrough {
		server = r.Upstream
	}
	a, _ := server.Agreed()
	str := func(field, want string) {
		t.Helper()
		got := row[field]
		if want == "" && !got.unset || want != "" && (got.unset || got.str != want) {
			t.Errorf("%s %s: %s = %+v, want %q (unset if empty)", r.ID, name, field, got, want)
		}
	}
	str("ts", fmt.Sprintf("%d.%06d", r.Time.Unix(), r.Time.Nanosecond()/1000)) // epoch seconds, 6 decimals
	oh, op, _ := net.SplitHostPort(orig)
	rh, rp, _ := net.SplitHostPort(resp)
	str("id.orig_h", oh)
	str("id.orig_p", op)
	str("id.resp_h", rh)
	str("id.resp_p", rp)
	str("version", map[string]string{"TLS 1.3": "TLSv13", "TLS 1.2": "TLSv12"}[a.Version])
	str("cipher", a.CipherSuite)
	str("server_name", leg.Hello.SNI)
	str("last_alert", leg.Alert)
	str("next_protocol", a.ALPN)
	resumed := server.Negotiated != nil && server.Negotiated.Resumed
	str("resumed", map[bool]string{true: "T", false: "F"}[resumed])
	established := leg.Negotiated != nil || r.Mode == inspect.ModePassthrough && r.Outcome == inspect.OutcomeOK
	str("established", map[bool]string{true: "T", false: "F"}[established])
	var fps []string
	for _, c := range server.Chain {
		fps = append(fps, c.SHA256)
	}
	if got := row["cert_chain_fps"]; len(fps) == 0 && !got.unset || len(fps) > 0 && !reflect.DeepEqual(got.vec, fps) {
		t.Errorf("%s %s: cert_chain_fps = %+v, want %q", r.ID, name, got, fps)
	}
	if name == "upstream" && server.Verify != nil {
		want := "ok"
		if !server.Verify.OK {
			want = server.Verify.Error
		}
		str("validation_status", want)
	} else {
		str("validation_status", "")
	}
}

// TestZeekString checks the escaping of fields that would read as
// something else.
func TestZeekString(t *testing.T) {
	for in, want := range map[string]string{
		"":           "(empty)",
		"-":          `\x2d`,
		"(empty)":    `\x28empty)`,
		"a\tb":       `a\x09b`,
		`back\slash`: `back\x5cslash`,
		"é":          `\xc3\xa9`,
		"a,b":        "a,b",
	} {
		if got := zeekString(in); got != want {
			t.Errorf("zeekString(%q) = %q, want %q", in, got, want)
		}
	}
	if got := zeekVector([]string{"a,b", "-"}); got != `a\x2cb,\x2d` {
		t.Errorf("zeekVector = %q", got)
	}
	if got := ZeekUID("not/a ulid"); !regexp.MustCompile(`^C[0-9a-z]+$`).MatchString(got) {
		t.Errorf("ZeekUID(not/a ulid) = %q, want C and alphanumerics", got)
	}
}
