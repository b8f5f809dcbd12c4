package report

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tlslens/tlslens/inspect"
)

// Defaults for the zero values of Options.
const (
	DefaultMaxGroups    = 10000
	DefaultMaxExamples  = 5
	DefaultMaxBadLines  = 20
	DefaultMaxLineBytes = 4 << 20

	maxNames    = 128  // distinct names in one group's counter
	maxGlobal   = 1024 // distinct names in a report-wide counter
	maxMessages = 5    // distinct error messages kept per group

	// maxComparisons caps the client groups that keep an example
	// connection's Comparison (a few KiB each) for the HTML report.
	maxComparisons = 200
)

// Options configure a Builder. The zero value reports every record with the
// default limits.
type Options struct {
	Filter Filter

	// Now is when the report is made, shown in its header. It is not read
	// from a clock: report is pure.
	Now time.Time

	// MaxGroups caps the distinct client fingerprints and, separately, the
	// distinct targets; records beyond it count in an "(other)" group.
	// 0 means DefaultMaxGroups.
	MaxGroups int

	// MaxExamples caps each list of examples (SNIs, addresses). 0 means
	// DefaultMaxExamples.
	MaxExamples int

	// MaxBadLines caps how many bad lines are remembered with their file and
	// line number; all are counted. 0 means DefaultMaxBadLines.
	MaxBadLines int

	// MaxLineBytes is the longest line read; a longer one is a bad line.
	// 0 means DefaultMaxLineBytes.
	MaxLineBytes int

	// Top caps the client and server groups a Report lists, largest first;
	// totals still count all. 0 lists all.
	Top int
}

// A Builder aggregates records into a Report. It is not safe for concurrent
// use.
type Builder struct {
	opts Options
	in   interner

	inputs   []Input
	totals   Totals
	badLines []BadLine

	outcomes   *counter
	offered    dist
	negotiated dist
	findings   map[string]*findingState
	findingOrd []string

	clients map[string]*clientState
	servers map[string]*serverState
	// comparisons counts the client groups holding an example Comparison.
	comparisons int
	// otherClient and otherServer take what no longer fits under MaxGroups.
	otherClient *clientState
	otherServer *serverState

	// readiness is keyed by client identity, or "unknown (JA4 …)";
	// otherReadiness takes the rows beyond MaxGroups.
	readiness      map[string]*readinessState
	otherReadiness *readinessState
}

// dist is a report-wide distribution of versions, suites, groups and
// signature schemes.
type dist struct {
	versions, suites, groups, sigs *counter
}

func newDist() dist {
	return dist{newCounter(maxGlobal), newCounter(maxGlobal), newCounter(maxGlobal), newCounter(maxGlobal)}
}

// New returns a Builder for opts. It fails only on a malformed filter.
func New(opts Options) (*Builder, error) {
	if err := opts.Filter.validate(); err != nil {
		return nil, err
	}
	if opts.MaxGroups <= 0 {
		opts.MaxGroups = DefaultMaxGroups
	}
	if opts.MaxExamples <= 0 {
		opts.MaxExamples = DefaultMaxExamples
	}
	if opts.MaxBadLines <= 0 {
		opts.MaxBadLines = DefaultMaxBadLines
	}
	if opts.MaxLineBytes <= 0 {
		opts.MaxLineBytes = DefaultMaxLineBytes
	}
	return &Builder{
		opts:       opts,
		in:         interner{max: 8192},
		outcomes:   newCounter(maxGlobal),
		offered:    newDist(),
		negotiated: newDist(),
		findings:   make(map[string]*findingState),
		clients:    make(map[string]*clientState),
		servers:    make(map[string]*serverState),
		readiness:  make(map[string]*readinessState),
	}, nil
}

type clientState struct {
	key                            string
	count                          int
	ja4r                           string
	ja3n, snis, addrs              examples
	versions, suites, groups, sigs *counter
	alpn, weak, outcomes, alerts   *counter
	first, last                    time.Time
	// example is the first connection of the group on which tlslens sent
	// its own hello upstream, side by side with the client's offer.
	example       *Comparison
	exampleTarget string
}

type serverState struct {
	key                                  string
	count, handshakes                    int
	addrs                                examples
	versions, suites, groups, alpn, kx   *counter
	leafKeys, leafSigs                   *counter
	leaf                                 *Leaf
	verifyOK, verifyFailed               int
	verifyErrors, errors, problems, outc *counter
	first, last                          time.Time
}

type findingState struct {
	code     string
	severity inspect.Severity
	count    int
	sides    *counter
	message  string
	targets  examples
}

func (b *Builder) newClient(key string) *clientState {
	n := b.opts.MaxExamples
	return &clientState{
		key:  key,
		ja3n: examples{max: n}, snis: examples{max: n}, addrs: examples{max: n},
		versions: newCounter(maxNames), suites: newCounter(maxNames),
		groups: newCounter(maxNames), sigs: newCounter(maxNames),
		alpn: newCounter(maxNames), weak: newCounter(maxNames),
		outcomes: newCounter(maxNames), alerts: newCounter(maxNames),
	}
}

func (b *Builder) newServer(key string) *serverState {
	return &serverState{
		key:      key,
		addrs:    examples{max: b.opts.MaxExamples},
		versions: newCounter(maxNames), suites: newCounter(maxNames),
		groups: newCounter(maxNames), alpn: newCounter(maxNames), kx: newCounter(maxNames),
		leafKeys: newCounter(maxNames), leafSigs: newCounter(maxNames),
		verifyErrors: newCounter(maxMessages), errors: newCounter(maxMessages),
		problems: newCounter(maxNames), outc: newCounter(maxNames),
	}
}

// Add aggregates one record if it passes the filter. r must not be nil.
func (b *Builder) Add(r *inspect.Record) {
	b.totals.Records++
	if !b.opts.Filter.Match(r) {
		b.totals.Filtered++
		return
	}
	b.totals.Matched++
	if !r.Time.IsZero() {
		if b.totals.First.IsZero() || r.Time.Before(b.totals.First) {
			b.totals.First = r.Time
		}
		if r.Time.After(b.totals.Last) {
			b.totals.Last = r.Time
		}
	}
	outcome := b.in.intern(string(r.Outcome))
	b.outcomes.add(outcome, 1)
	for _, f := range r.Findings {
		b.addFinding(r, f)
	}
	if r.Client != nil && r.Client.Hello != nil {
		b.addClient(r, r.Client.Hello, outcome)
		b.addReadiness(r)
	} else {
		b.totals.NoHello++
	}
	b.addServer(r, outcome)
}

// seen widens [first, last] to take t.
func seen(first, last *time.Time, t time.Time) {
	if t.IsZero() {
		return
	}
	if first.IsZero() || t.Before(*first) {
		*first = t
	}
	if t.After(*last) {
		*last = t
	}
}

// offeredVersions is what a hello offers: supported_versions when present
// (RFC 8446 §4.2.1: legacy_version is then always TLS 1.2 and means nothing),
// else legacy_version.
func offeredVersions(h *inspect.Hello) []string {
	if len(h.SupportedVersions) > 0 {
		return h.SupportedVersions
	}
	if h.Version != "" {
		return []string{h.Version}
	}
	return nil
}

func (b *Builder) addClient(r *inspect.Record, h *inspect.Hello, outcome string) {
	key := h.JA4
	if key == "" {
		key = "(no JA4)"
	}
	c := b.clients[key]
	if c == nil {
		if len(b.clients) < b.opts.MaxGroups {
			c = b.newClient(key)
			c.ja4r = h.JA4R
			b.clients[key] = c
		} else {
			if b.otherClient == nil {
				b.otherClient = b.newClient(other)
			}
			c = b.otherClient
		}
	}
	c.count++
	seen(&c.first, &c.last, r.Time)
	if c.example == nil && c != b.otherClient && r.Upstream != nil && r.Upstream.Hello != nil && b.comparisons < maxComparisons {
		cmp := Compare(r)
		c.example, c.exampleTarget = &cmp, r.Target
		b.comparisons++
	}
	c.ja3n.add(h.JA3N)
	c.snis.add(h.SNI)
	c.addrs.add(host(r.Client.Addr))
	c.outcomes.add(outcome, 1)
	if r.Client.Alert != "" {
		c.alerts.add(b.in.intern(r.Client.Alert), 1)
	}
	b.countOffered(offeredVersions(h), c.versions, b.offered.versions, c.weak, weakVersion)
	b.countOffered(h.CipherSuites, c.suites, b.offered.suites, c.weak, weakSuite)
	b.countOffered(h.Groups, c.groups, b.offered.groups, nil, nil)
	b.countOffered(h.SignatureAlgorithms, c.sigs, b.offered.sigs, nil, nil)
	for _, a := range h.ALPN {
		if a == "GREASE" {
			continue
		}
		c.alpn.add(b.in.intern(a), 1)
	}
}

// countOffered counts each non-GREASE name a client offered in its group's
// counter and the report-wide one, and in weak when isWeak says so (weak and
// isWeak may be nil).
func (b *Builder) countOffered(names []string, client, all, weak *counter, isWeak func(string) bool) {
	for _, n := range names {
		if n == "GREASE" {
			continue
		}
		n = b.in.intern(n)
		client.add(n, 1)
		all.add(n, 1)
		if isWeak != nil && isWeak(n) {
			weak.add(n, 1)
		}
	}
}

func (b *Builder) addServer(r *inspect.Record, outcome string) {
	key := r.Target
	if key == "" {
		key = "(no target)"
	}
	s := b.servers[key]
	if s == nil {
		if len(b.servers) < b.opts.MaxGroups {
			s = b.newServer(key)
			b.servers[key] = s
		} else {
			if b.otherServer == nil {
				b.otherServer = b.newServer(other)
			}
			s = b.otherServer
		}
	}
	s.count++
	seen(&s.first, &s.last, r.Time)
	s.outc.add(outcome, 1)
	for _, f := range r.Findings {
		if f.Side == "upstream" {
			s.problems.add(b.in.intern(f.Code), 1)
		}
	}
	u := r.Upstream
	if u == nil {
		return
	}
	s.addrs.add(u.Addr)
	a, _ := u.Agreed() // passthrough: only the clear ServerHello is known
	version, suite, group, alpn := a.Version, a.CipherSuite, a.Group, a.ALPN
	if u.KeyExchange != nil && group == "" {
		group = u.KeyExchange.Group
	}
	if version != "" {
		s.handshakes++
		version = b.in.intern(version)
		s.versions.add(version, 1)
		b.negotiated.versions.add(version, 1)
	}
	if suite != "" {
		suite = b.in.intern(suite)
		s.suites.add(suite, 1)
		b.negotiated.suites.add(suite, 1)
	}
	if group != "" {
		group = b.in.intern(group)
		s.groups.add(group, 1)
		b.negotiated.groups.add(group, 1)
	}
	if alpn != "" {
		s.alpn.add(b.in.intern(alpn), 1)
	}
	if kx := u.KeyExchange; kx != nil {
		desc := strings.Join(nonEmpty(kx.Kind, kx.Group, dhBits(kx.DHBits), kx.SignatureAlgorithm), " ")
		s.kx.add(b.in.intern(desc), 1)
		if kx.SignatureAlgorithm != "" {
			b.negotiated.sigs.add(b.in.intern(kx.SignatureAlgorithm), 1)
		}
	}
	if len(u.Chain) > 0 {
		l := u.Chain[0]
		s.leafKeys.add(b.in.intern(l.Key), 1)
		s.leafSigs.add(b.in.intern(l.Signature), 1)
		s.leaf = &Leaf{Subject: l.Subject, Issuer: l.Issuer, Key: l.Key, Signature: l.Signature,
			NotAfter: l.NotAfter, Chain: len(u.Chain)}
	}
	if v := u.Verify; v != nil {
		if v.OK {
			s.verifyOK++
		} else {
			s.verifyFailed++
			if v.Error != "" {
				s.verifyErrors.add(v.Error, 1)
			}
		}
	}
	if u.Error != "" {
		s.errors.add(u.Error, 1)
	}
}

func dhBits(n int) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprintf("%d-bit", n)
}

func nonEmpty(ss ...string) []string {
	return slices.DeleteFunc(ss, func(s string) bool { return s == "" })
}

var severityRank = map[inspect.Severity]int{inspect.SeverityInfo: 1, inspect.SeverityWarn: 2, inspect.SeverityCritical: 3}

func (b *Builder) addFinding(r *inspect.Record, f inspect.Finding) {
	st := b.findings[f.Code]
	if st == nil {
		if len(b.findings) >= maxGlobal {
			return
		}
		st = &findingState{code: f.Code, sides: newCounter(4), message: f.Message,
			targets: examples{max: b.opts.MaxExamples}}
		b.findings[f.Code] = st
		b.findingOrd = append(b.findingOrd, f.Code)
	}
	st.count++
	if severityRank[f.Severity] > severityRank[st.severity] {
		st.severity = f.Severity
	}
	st.sides.add(b.in.intern(f.Side), 1)
	st.targets.add(r.Target)
}

// groups returns the number of client and server groups held, "(other)"
// included: what MaxGroups bounds.
func (b *Builder) groups() (clients, servers int) {
	clients, servers = len(b.clients), len(b.servers)
	if b.otherClient != nil {
		clients++
	}
	if b.otherServer != nil {
		servers++
	}
	return clients, servers
}
