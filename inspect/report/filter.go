package report

import (
	"errors"
	"fmt"
	"net"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/tlslens/tlslens/inspect"
)

// A Filter selects the records a report covers. Its zero value selects all.
type Filter struct {
	// Since and Until bound the record's time: Since <= time < Until. A zero
	// bound is open. When either is set, records without a time are dropped:
	// nothing says they fall inside.
	Since time.Time `json:"since,omitzero"`
	Until time.Time `json:"until,omitzero"`

	// Client, if not empty, keeps the records whose client offered this JA4
	// (or JA3, JA3N), or came from this address: "ip:port", or just "ip" for
	// any port.
	Client string `json:"client,omitempty"`

	// Target, if not empty, is a path.Match pattern that the record's target
	// ("host:port") or its host alone must match, ignoring case:
	// "*.example.com", "*:8443", "10.0.0.?".
	Target string `json:"target,omitempty"`
}

// validate reports a malformed Target pattern.
func (f Filter) validate() error {
	if f.Target != "" {
		if _, err := path.Match(f.Target, ""); err != nil {
			return fmt.Errorf("report: target pattern %q: %w", f.Target, err)
		}
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
		return fmt.Errorf("report: since (%s) is not before until (%s)",
			f.Since.Format(time.RFC3339), f.Until.Format(time.RFC3339))
	}
	return nil
}

// Match reports whether r passes the filter. r must not be nil.
func (f Filter) Match(r *inspect.Record) bool {
	if !f.Since.IsZero() || !f.Until.IsZero() {
		if r.Time.IsZero() {
			return false
		}
		if !f.Since.IsZero() && r.Time.Before(f.Since) {
			return false
		}
		if !f.Until.IsZero() && !r.Time.Before(f.Until) {
			return false
		}
	}
	if f.Client != "" && !matchClient(f.Client, r.Client) {
		return false
	}
	if f.Target != "" && !matchTarget(f.Target, r.Target) {
		return false
	}
	return true
}

func matchClient(want string, s *inspect.Side) bool {
	if s == nil {
		return false
	}
	if h := s.Hello; h != nil && want != "" && (h.JA4 == want || h.JA3 == want || h.JA3N == want) {
		return true
	}
	if s.Addr == "" {
		return false
	}
	return s.Addr == want || host(s.Addr) == strings.Trim(want, "[]")
}

func matchTarget(pattern, target string) bool {
	pattern, target = strings.ToLower(pattern), strings.ToLower(target)
	if ok, _ := path.Match(pattern, target); ok {
		return true
	}
	ok, _ := path.Match(pattern, host(target))
	return ok
}

// host returns the host of "host:port", or addr itself when it has no port.
func host(addr string) string {
	h, _, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return h
}

// ParseTime reads a --since or --until value: an RFC 3339 time
// ("2026-11-22T15:00:00Z"), a date ("2026-11-22", midnight UTC), or a
// duration before now ("24h", "90m", "7d"; a leading "-" is allowed).
func ParseTime(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	d, err := parseDuration(strings.TrimPrefix(s, "-"))
	if err != nil {
		return time.Time{}, fmt.Errorf("report: %q is neither an RFC 3339 time, a date nor a duration like 24h", s)
	}
	return now.Add(-d), nil
}

// parseDuration is time.ParseDuration plus whole days ("7d").
func parseDuration(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 0 {
			return 0, errors.New("report: bad day count")
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, err
	}
	if d < 0 {
		return 0, errors.New("report: negative duration")
	}
	return d, nil
}
