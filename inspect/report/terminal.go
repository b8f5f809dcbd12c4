package report

import (
	"fmt"
	"strings"

	"github.com/tlslens/tlslens/inspect"
)

// The terminal output: one line per connection for a person watching, or a
// block with everything the record holds. The JSON record stays the
// contract; these strings may change between versions.

// ANSI SGR colours, used only when the caller asks (a terminal).
const (
	ansiRed    = "\x1b[31m"
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
	ansiReset  = "\x1b[0m"
)

// termPalette colours strings when on.
type termPalette bool

func (p termPalette) paint(colour, s string) string {
	if !p || s == "" {
		return s
	}
	return colour + s + ansiReset
}

// Line is the one-line summary of a record for a person watching a
// terminal, without time or trailing newline: the outcome, the target, each leg as version, suite, group and
// ALPN, the client's JA4, the findings by severity, the reason for the mode
// and, when something failed, the error. Fields are separated by two spaces
// because values contain one ("TLS 1.3"). With color, the outcome and the
// finding counts carry ANSI colours.
func Line(r *inspect.Record, color bool) string {
	p := termPalette(color)
	fields := []string{p.paint(termOutcomeColour(r), string(r.Outcome))}
	if r.Mode == inspect.ModePassthrough {
		fields = append(fields, p.paint(ansiYellow, "passthrough"))
	}
	fields = append(fields, r.Target)
	if r.Client != nil && r.Client.Hello != nil {
		fields = append(fields, "client "+termLeg(r.Client))
	}
	if r.Upstream != nil {
		fields = append(fields, "upstream "+termLeg(r.Upstream))
	}
	if r.Client != nil && r.Client.Hello != nil && r.Client.Hello.JA4 != "" {
		ja4 := "ja4 " + r.Client.Hello.JA4
		if id := r.Client.Identity; id != nil {
			ja4 += " (" + id.Name + ")"
		}
		fields = append(fields, ja4)
	}
	if n := termCounts(r.Findings, p); n != "" {
		fields = append(fields, "findings: "+n)
	}
	if r.Reason != "" {
		fields = append(fields, "reason: "+r.Reason)
	}
	if e := termError(r); e != "" {
		fields = append(fields, "error: "+e)
	}
	return strings.Join(fields, "  ")
}

// termOutcomeColour: green for an intercepted success, yellow for what was let
// through or refused by policy, red for failures.
func termOutcomeColour(r *inspect.Record) string {
	switch r.Outcome {
	case inspect.OutcomeOK:
		if r.Mode == inspect.ModeMITM {
			return ansiGreen
		}
		return ansiYellow
	case inspect.OutcomeDenied, inspect.OutcomeNotTLS:
		return ansiYellow
	}
	return ansiRed
}

// termLeg is "TLS 1.3 AES_128_GCM_SHA256 x25519 h2": what the leg agreed
// (its ServerHello when the handshake did not finish), "-" when nothing.
func termLeg(s *inspect.Side) string {
	a, ok := s.Agreed()
	if !ok {
		return "-"
	}
	var parts []string
	for _, v := range []string{a.Version, termSuite(a.CipherSuite), a.Group, a.ALPN} {
		if v != "" {
			parts = append(parts, v)
		}
	}
	if s.Negotiated != nil && s.Negotiated.Resumed {
		parts = append(parts, "resumed")
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, " ")
}

// termSuite drops the parts of an IANA suite name that every name has:
// TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 is ECDHE_RSA_AES_128_GCM_SHA256,
// TLS_AES_128_GCM_SHA256 is AES_128_GCM_SHA256. No two IANA names collide
// that way; other strings are kept whole.
func termSuite(s string) string {
	rest, ok := strings.CutPrefix(s, "TLS_")
	if !ok || strings.HasSuffix(s, "_SCSV") {
		return s
	}
	return strings.Replace(rest, "_WITH_", "_", 1)
}

// termCounts is "1 critical, 2 warn", most severe first, "" for none.
func termCounts(fs []inspect.Finding, p termPalette) string {
	counts := map[inspect.Severity]int{}
	for _, f := range fs {
		counts[f.Severity]++
	}
	var parts []string
	for _, s := range []struct {
		sev    inspect.Severity
		colour string
	}{
		{inspect.SeverityCritical, ansiRed},
		{inspect.SeverityWarn, ansiYellow},
		{inspect.SeverityInfo, ""},
	} {
		if n := counts[s.sev]; n > 0 {
			parts = append(parts, termSeverity(p, s.sev, fmt.Sprintf("%d %s", n, s.sev)))
		}
	}
	return strings.Join(parts, ", ")
}

func termSeverity(p termPalette, sev inspect.Severity, s string) string {
	switch sev {
	case inspect.SeverityCritical:
		return p.paint(ansiRed, s)
	case inspect.SeverityWarn:
		return p.paint(ansiYellow, s)
	}
	return s
}

// termError is why the connection failed, from the side the outcome
// blames first, with the peer's alert when the error does not carry it.
func termError(r *inspect.Record) string {
	if r.Outcome == inspect.OutcomeOK {
		return ""
	}
	sides := []*inspect.Side{r.Client, r.Upstream}
	switch r.Outcome {
	case inspect.OutcomeUpstreamUnreachable, inspect.OutcomeUpstreamHandshakeFailed, inspect.OutcomeUpstreamVerifyFailed:
		sides[0], sides[1] = sides[1], sides[0]
	}
	for _, s := range sides {
		if s == nil || s.Error == "" && s.Alert == "" {
			continue
		}
		if s.Error == "" {
			return "alert " + s.Alert
		}
		if s.Alert != "" && !strings.Contains(s.Error, s.Alert) {
			return s.Error + " (alert " + s.Alert + ")"
		}
		return s.Error
	}
	return ""
}

// Verbose is Line followed by everything else a person reading
// the terminal may want: each hello in full (versions, suites, groups,
// signature algorithms, ALPN, extensions, fingerprints), the client's
// HTTP/2 fingerprint, where the upstream hello differs from the client's
// (offer delta), what each leg agreed, both chains, the verification, the
// key exchange, the certificate request, earlier attempts, the readiness
// (ReadinessFacts), and every finding with its message. Names are the
// record's, unshortened. No trailing newline.
func Verbose(r *inspect.Record, color bool) string {
	p := termPalette(color)
	var b strings.Builder
	b.WriteString(Line(r, color))
	fmt.Fprintf(&b, "\n  id %s  mode %s", r.ID, r.Mode)
	for _, leg := range []struct {
		name string
		s    *inspect.Side
	}{{"client", r.Client}, {"upstream", r.Upstream}} {
		if leg.s != nil {
			termSide(&b, p, leg.name, leg.s)
		}
	}
	if facts := ReadinessFacts(r.Readiness); facts != nil {
		b.WriteString("\n  readiness")
		for _, f := range facts {
			termKV(&b, "    ", f.Label, f.Text)
		}
	}
	if len(r.Findings) > 0 {
		b.WriteString("\n  findings")
		for _, f := range r.Findings {
			fmt.Fprintf(&b, "\n    %s %s %s: %s", termSeverity(p, f.Severity, string(f.Severity)), f.Side, f.Code, f.Message)
		}
	}
	return b.String()
}

// termKV writes "\n<indent><key padded> <value>", nothing for an empty value.
func termKV(b *strings.Builder, indent, key, value string) {
	if value == "" {
		return
	}
	fmt.Fprintf(b, "\n%s%-13s %s", indent, key, value)
}

func termList(v []string) string { return strings.Join(v, ", ") }

func termSide(b *strings.Builder, p termPalette, name string, s *inspect.Side) {
	head := name
	if s.Addr != "" {
		head += " " + s.Addr
	}
	if s.Local != "" {
		head += " via " + s.Local
	}
	if s.DurationMS > 0 {
		head += fmt.Sprintf("  %.1fms", s.DurationMS)
	}
	b.WriteString("\n  " + head)
	const in = "    "
	if h := s.Hello; h != nil {
		hello := fmt.Sprintf("legacy %s, %d bytes", h.Version, h.Size)
		if h.SNI != "" {
			hello += ", sni " + h.SNI
		}
		var flags []string
		for _, f := range []struct {
			on   bool
			name string
		}{{h.SessionTicket, "session_ticket"}, {h.PSK, "psk"}, {h.EarlyData, "early_data"}, {h.ECH, "ech"}, {h.Grease, "grease"}} {
			if f.on {
				flags = append(flags, f.name)
			}
		}
		if len(flags) > 0 {
			hello += ", " + strings.Join(flags, " ")
		}
		termKV(b, in, "hello", hello)
		termKV(b, in, "versions", termList(h.SupportedVersions))
		termKV(b, in, "suites", termList(h.CipherSuites))
		termKV(b, in, "groups", termList(h.Groups))
		var shares []string
		for _, k := range h.KeyShares {
			shares = append(shares, fmt.Sprintf("%s (%d)", k.Group, k.Length))
		}
		termKV(b, in, "key shares", termList(shares))
		termKV(b, in, "sigalgs", termList(h.SignatureAlgorithms))
		termKV(b, in, "sigalgs cert", termList(h.SignatureAlgorithmsCert))
		termKV(b, in, "alpn", termList(h.ALPN))
		termKV(b, in, "extensions", termList(h.Extensions))
		termKV(b, in, "ja3", h.JA3)
		termKV(b, in, "ja3n", h.JA3N)
		termKV(b, in, "ja4", h.JA4)
	}
	if id := s.Identity; id != nil {
		termKV(b, in, "identity", id.Name+" ("+id.Match+" match)")
	}
	termKV(b, in, "http2", s.HTTP2Fingerprint) // the client leg's HTTP/2 fingerprint
	if len(s.OfferDelta) > 0 {
		b.WriteString("\n" + in + "offer delta (upstream hello against the client's)")
		for _, c := range s.OfferDelta {
			b.WriteString("\n" + in + "  " + inspect.OfferChangeText(c))
		}
	}
	if sh := s.ServerHello; sh != nil {
		v := strings.Join(termNonEmpty(sh.Version, sh.CipherSuite, sh.Group, sh.ALPN), " ")
		if sh.HelloRetry {
			v += " hello_retry"
		}
		if sh.Downgrade != "" {
			v += " downgrade_sentinel " + sh.Downgrade
		}
		termKV(b, in, "server hello", v)
		termKV(b, in, "extensions", termList(sh.Extensions))
		termKV(b, in, "ja3s", sh.JA3S)
	}
	if n := s.Negotiated; n != nil {
		v := strings.Join(termNonEmpty(n.Version, n.CipherSuite, n.Group, n.ALPN), " ")
		for _, f := range []struct {
			on   bool
			name string
		}{{n.Resumed, "resumed"}, {n.HelloRetry, "hello_retry"}, {n.ECH, "ech"}} {
			if f.on {
				v += " " + f.name
			}
		}
		termKV(b, in, "negotiated", v)
	}
	if len(s.Chain) > 0 {
		b.WriteString("\n" + in + "chain")
		for i, c := range s.Chain {
			fmt.Fprintf(b, "\n%s  %d %s  issuer %s  %s  not after %s", in, i, c.Subject, c.Issuer, c.Key, c.NotAfter)
		}
	}
	if v := s.Verify; v != nil {
		if v.OK {
			termKV(b, in, "verify", p.paint(ansiGreen, "ok")+" (roots "+v.Roots+")")
		} else {
			termKV(b, in, "verify", p.paint(ansiRed, "failed")+" (roots "+v.Roots+"): "+v.Error)
		}
	}
	if k := s.KeyExchange; k != nil {
		v := strings.Join(termNonEmpty(k.Kind, k.Group, k.SignatureAlgorithm), " ")
		if k.DHBits > 0 {
			v += fmt.Sprintf(" %d-bit", k.DHBits)
		}
		termKV(b, in, "key exchange", v)
	}
	if cr := s.CertificateRequest; cr != nil {
		v := "sigalgs " + termOrNone(termList(cr.SignatureAlgorithms)) + "; authorities " + termOrNone(strings.Join(cr.Authorities, "; "))
		termKV(b, in, "cert request", v)
	}
	if c := s.ClientCertificate; c != nil {
		termKV(b, in, "client cert", c.Subject+"  issuer "+c.Issuer+"  "+c.Key)
	}
	for i, a := range s.Attempts {
		v := a.Error
		if a.Alert != "" {
			v += " (alert " + a.Alert + ")"
		}
		termKV(b, in, fmt.Sprintf("attempt %d", i+1), v)
	}
	termKV(b, in, "alert", s.Alert)
	termKV(b, in, "error", s.Error)
}

func termNonEmpty(v ...string) []string {
	var out []string
	for _, s := range v {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

func termOrNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
