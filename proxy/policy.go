package proxy

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// A Rule applies Action to targets matching Match: a host name
// ("example.com"), a wildcard ("*.example.com", subdomains only), "*" for
// everything, or an IP range ("127.0.0.0/8", "::1/128").
type Rule struct {
	Match  string
	Action Action
}

// Rules compiles rules into a policy for Options.Policy: the first matching
// rule wins, and a host no rule matches is intercepted (ActionMITM).
func Rules(rules []Rule) (func(host string) Action, error) {
	type compiled struct {
		match  func(string) bool
		action Action
	}
	var cs []compiled
	var errs []error
	for _, r := range rules {
		m, err := compileMatch(r.Match)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		switch r.Action {
		case ActionMITM, ActionPassthrough, ActionDeny:
		default:
			errs = append(errs, fmt.Errorf("proxy: action %q for %q is not mitm, passthrough or deny", r.Action, r.Match))
			continue
		}
		cs = append(cs, compiled{m, r.Action})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return func(host string) Action {
		host = strings.ToLower(strings.TrimSuffix(strings.Trim(host, "[]"), "."))
		for _, c := range cs {
			if c.match(host) {
				return c.action
			}
		}
		return ActionMITM
	}, nil
}

func compileMatch(pattern string) (func(host string) bool, error) {
	p := strings.ToLower(strings.TrimSpace(pattern))
	switch {
	case p == "":
		return nil, errors.New("proxy: empty match pattern")
	case p == "*":
		return func(string) bool { return true }, nil
	case strings.Contains(p, "/"):
		prefix, err := netip.ParsePrefix(p)
		if err != nil {
			return nil, fmt.Errorf("proxy: match %q: %w", pattern, err)
		}
		return func(host string) bool {
			a, err := netip.ParseAddr(host)
			return err == nil && prefix.Contains(a.Unmap())
		}, nil
	case strings.HasPrefix(p, "*."):
		suffix := p[1:] // ".example.com"
		return func(host string) bool { return strings.HasSuffix(host, suffix) }, nil
	case strings.Contains(p, "*"):
		return nil, fmt.Errorf("proxy: match %q: a wildcard may only start a pattern (\"*.example.com\") or be \"*\"", pattern)
	}
	return func(host string) bool { return host == p }, nil
}
