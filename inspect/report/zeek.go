package report

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/tlslens/tlslens/inspect"
)

// zeekColumns are the columns of Zeek's ssl.log, its names and types: the
// SSL::Info fields logged by base/protocols/ssl (main.zeek and files.zeek)
// and validation_status from policy/protocols/ssl/validate-certs.zeek, which
// Zeek's default local.zeek loads.
var zeekColumns = []struct{ name, typ string }{
	{"ts", "time"},
	{"uid", "string"},
	{"id.orig_h", "addr"},
	{"id.orig_p", "port"},
	{"id.resp_h", "addr"},
	{"id.resp_p", "port"},
	{"version", "string"},
	{"cipher", "string"},
	{"curve", "string"},
	{"server_name", "string"},
	{"resumed", "bool"},
	{"last_alert", "string"},
	{"next_protocol", "string"},
	{"established", "bool"},
	{"ssl_history", "string"},
	{"cert_chain_fps", "vector[string]"},
	{"client_cert_chain_fps", "vector[string]"},
	{"sni_matches_cert", "bool"},
	{"validation_status", "string"},
}

// Zeek's ASCII log format: tab-separated, "," inside sets and vectors, "-"
// for an unset field, "(empty)" for an empty one; #open and #close in local
// time as Zeek writes them (here UTC).
const (
	zeekSeparator    = "\t"
	zeekSetSeparator = ","
	zeekUnset        = "-"
	zeekEmpty        = "(empty)"
	zeekTimeFormat   = "2006-01-02-15-04-05"
)

// A ZeekWriter writes records as a Zeek ssl.log in Zeek's ASCII format: two
// lines per record, the client leg and the upstream leg, sharing one uid.
// It is not safe for concurrent use.
type ZeekWriter struct {
	w   io.Writer
	err error
}

// NewZeekWriter writes ssl.log's header to w (#separator, #set_separator,
// #empty_field, #unset_field, #path, #open at open, #fields, #types) and
// returns a writer for its lines. Close writes #close.
func NewZeekWriter(w io.Writer, open time.Time) *ZeekWriter {
	z := &ZeekWriter{w: w}
	names, types := make([]string, len(zeekColumns)), make([]string, len(zeekColumns))
	for i, c := range zeekColumns {
		names[i], types[i] = c.name, c.typ
	}
	z.printf("#separator \\x09\n")
	z.printf("#set_separator%s%s\n", zeekSeparator, zeekSetSeparator)
	z.printf("#empty_field%s%s\n", zeekSeparator, zeekEmpty)
	z.printf("#unset_field%s%s\n", zeekSeparator, zeekUnset)
	z.printf("#path%sssl\n", zeekSeparator)
	z.printf("#open%s%s\n", zeekSeparator, open.UTC().Format(zeekTimeFormat))
	z.printf("#fields%s%s\n", zeekSeparator, strings.Join(names, zeekSeparator))
	z.printf("#types%s%s\n", zeekSeparator, strings.Join(types, zeekSeparator))
	return z
}

func (z *ZeekWriter) printf(format string, args ...any) {
	if z.err == nil {
		_, z.err = fmt.Fprintf(z.w, format, args...)
	}
}

// Close writes the #close line, at at, and returns the first error met.
func (z *ZeekWriter) Close(at time.Time) error {
	z.printf("#close%s%s\n", zeekSeparator, at.UTC().Format(zeekTimeFormat))
	return z.err
}

// Write writes r's legs that spoke TLS, as Zeek would log them: the client
// leg (client to tlslens) when the client sent a ClientHello, then the
// upstream leg (tlslens to the server) when tlslens sent one or the server
// answered. A record with neither (not_tls, denied, plain HTTP) writes
// nothing.
func (z *ZeekWriter) Write(r *inspect.Record) error {
	uid := ZeekUID(r.ID)
	if c := r.Client; c != nil && c.Hello != nil {
		z.line(r, uid, c, c.Addr, c.Local, true)
	}
	if u := r.Upstream; u != nil && (u.Hello != nil || u.ServerHello != nil || u.Negotiated != nil) {
		z.line(r, uid, u, u.Local, u.Addr, false)
	}
	return z.err
}

// ZeekUID is the uid of a record's lines: "C" and the record's id (a ULID,
// already Zeek's alphabet), so that a line leads back to its record. An id
// with other characters is replaced by a hash of it.
func ZeekUID(id string) string {
	for _, c := range id {
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') {
			var h uint64 = 14695981039346656037 // FNV-1a
			for i := 0; i < len(id); i++ {
				h = (h ^ uint64(id[i])) * 1099511628211
			}
			return "C" + strconv.FormatUint(h, 36)
		}
	}
	return "C" + id
}

// line writes one leg. orig and resp are the leg's TCP endpoints; client
// says whether it is the client leg. In passthrough the two legs carry one
// handshake: the server's side of the client leg is the upstream's.
func (z *ZeekWriter) line(r *inspect.Record, uid string, leg *inspect.Side, orig, resp string, client bool) {
	server := leg
	if client && r.Mode == inspect.ModePassthrough && r.Upstream != nil {
		server = r.Upstream
	}
	a, agreed := server.Agreed()
	curve := a.Group
	if curve == "" && server.KeyExchange != nil {
		curve = server.KeyExchange.Group
	}
	sni := ""
	if leg.Hello != nil {
		sni = leg.Hello.SNI
	}
	established := leg.Negotiated != nil ||
		r.Mode == inspect.ModePassthrough && r.Outcome == inspect.OutcomeOK && agreed
	resumed := server.Negotiated != nil && server.Negotiated.Resumed

	origH, origP := zeekEndpoint(orig)
	respH, respP := zeekEndpoint(resp)
	fps, clientFPs := zeekUnset, zeekUnset
	if len(server.Chain) > 0 {
		// Zeek fills both vectors once it sees the first certificate.
		fps, clientFPs = zeekVector(chainFPs(server.Chain)), zeekEmpty
		if c := server.ClientCertificate; c != nil && !client {
			clientFPs = zeekVector([]string{c.SHA256})
		}
	}
	sniMatches := zeekUnset
	if sni != "" && len(server.Chain) > 0 {
		sniMatches = zeekBool(server.Chain[0].MatchesHost(sni))
	}
	validation := zeekUnset
	if v := server.Verify; v != nil && !client {
		validation = "ok"
		if !v.OK {
			validation = zeekString(v.Error)
		}
	}
	fields := []string{
		zeekTime(r.Time), uid, origH, origP, respH, respP,
		zeekOptional(zeekVersion(a.Version)), zeekOptional(a.CipherSuite), zeekOptional(curve), zeekOptional(sni),
		zeekBool(resumed), zeekOptional(leg.Alert), zeekOptional(a.ALPN), zeekBool(established),
		zeekString(sslHistory(leg, server, client)), fps, clientFPs, sniMatches, validation,
	}
	z.printf("%s\n", strings.Join(fields, zeekSeparator))
}

// sslHistory is the part of Zeek's ssl_history tlslens knows, in order:
// the ClientHello (C), a HelloRetryRequest (j) and the second ClientHello
// (C), the ServerHello (s), and an alert from the client (L) or the server
// (l). Client messages are capitals, as in Zeek.
func sslHistory(leg, server *inspect.Side, client bool) string {
	var b strings.Builder
	if leg.Hello != nil {
		b.WriteString("C")
	}
	retried := server.Negotiated != nil && server.Negotiated.HelloRetry || server.ServerHello != nil && server.ServerHello.HelloRetry
	if retried {
		b.WriteString("jC")
	}
	if server.Negotiated != nil || server.ServerHello != nil {
		b.WriteString("s")
	}
	if leg.Alert != "" { // received by tlslens: sent by the client on the client leg
		if client {
			b.WriteString("L")
		} else {
			b.WriteString("l")
		}
	}
	return b.String()
}

func chainFPs(chain []inspect.Cert) []string {
	out := make([]string, len(chain))
	for i, c := range chain {
		out[i] = strings.ToLower(c.SHA256) // Zeek's X509 fingerprint: SHA-256, lowercase hex
	}
	return out
}

// zeekVersion spells a version as Zeek's ssl.log does: "TLSv13", "SSLv3".
func zeekVersion(v string) string {
	switch v {
	case "SSL 2.0":
		return "SSLv2"
	case "SSL 3.0":
		return "SSLv3"
	case "TLS 1.0":
		return "TLSv10"
	case "TLS 1.1":
		return "TLSv11"
	case "TLS 1.2":
		return "TLSv12"
	case "TLS 1.3":
		return "TLSv13"
	}
	return v
}

// zeekTime is a time as Zeek logs it: epoch seconds with 6 decimals.
func zeekTime(t time.Time) string {
	if t.IsZero() {
		return zeekUnset
	}
	return fmt.Sprintf("%d.%06d", t.Unix(), t.Nanosecond()/1000)
}

// zeekEndpoint splits "ip:port" into Zeek's addr and port (a count); unset
// when absent.
func zeekEndpoint(hostport string) (addr, port string) {
	h, p, err := net.SplitHostPort(hostport)
	if err != nil || h == "" {
		return zeekUnset, zeekUnset
	}
	if _, err := strconv.ParseUint(p, 10, 16); err != nil {
		return zeekString(h), zeekUnset
	}
	return zeekString(h), p
}

func zeekBool(b bool) string {
	if b {
		return "T"
	}
	return "F"
}

// zeekOptional is an optional string field: unset when empty.
func zeekOptional(s string) string {
	if s == "" {
		return zeekUnset
	}
	return zeekString(s)
}

// zeekString escapes a string field as Zeek's ASCII writer does: the
// separator, backslash and non-printable bytes as \xNN; a value that reads
// as the unset or empty marker has its first byte escaped; an empty string
// is "(empty)".
func zeekString(s string) string {
	if s == "" {
		return zeekEmpty
	}
	out := zeekEscape(s, false)
	if out == zeekUnset || out == zeekEmpty {
		out = fmt.Sprintf("\\x%02x", out[0]) + out[1:]
	}
	return out
}

// zeekVector joins a vector's elements with the set separator, each
// escaped (the separator inside an element too); "(empty)" for none.
func zeekVector(vs []string) string {
	if len(vs) == 0 {
		return zeekEmpty
	}
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = zeekEscape(v, true)
		if out[i] == zeekUnset || out[i] == zeekEmpty {
			out[i] = fmt.Sprintf("\\x%02x", out[i][0]) + out[i][1:]
		}
	}
	return strings.Join(out, zeekSetSeparator)
}

func zeekEscape(s string, inSet bool) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || c == '\\' || inSet && c == ',' {
			fmt.Fprintf(&b, "\\x%02x", c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// EachRecord calls fn with each record of a record file (JSON Lines as
// tlslens writes them, gzip-compressed or not), in order, skipping
// operational log lines. A malformed record line is an error naming its
// line; so is fn's error, which stops the reading.
func EachRecord(ctx context.Context, r io.Reader, fn func(*inspect.Record) error) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var in io.Reader = br
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return fmt.Errorf("gzip: %w", err)
		}
		defer zr.Close()
		in = zr
	}
	return readLines(in, "handshake", func(b []byte) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		rec := &inspect.Record{}
		if err := json.Unmarshal(b, rec); err != nil {
			return err
		}
		return fn(rec)
	})
}
