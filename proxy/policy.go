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

// A Policy decides what tlslens does with a target: the first matching rule
// wins, and a target no rule matches is intercepted (ActionMITM). A nil
// *Policy intercepts everything. Safe for concurrent use.
type Policy struct {
	rules []compiled
}

type compiled struct {
	rule   Rule
	match  func(string) bool
	prefix netip.Prefix // the rule's IP range; invalid for a name rule
}

// Rules compiles rules into a Policy for Options.Policy.
func Rules(rules []Rule) (*Policy, error) {
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
		c := compiled{rule: r, match: m}
		if strings.Contains(r.Match, "/") {
			c.prefix, _ = netip.ParsePrefix(strings.TrimSpace(r.Match)) // parsed by compileMatch
		}
		cs = append(cs, c)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &Policy{rules: cs}, nil
}

// Action is what the policy does with a target named host (a name or an IP
// literal, as the client wrote it): every rule matches against this text.
func (p *Policy) Action(host string) Action {
	if p == nil {
		return ActionMITM
	}
	host = strings.ToLower(strings.TrimSuffix(strings.Trim(host, "[]"), "."))
	for _, c := range p.rules {
		if c.match(host) {
			return c.rule.Action
		}
	}
	return ActionMITM
}

// match is the pattern of the first rule matching host (as Action matches
// it), or "" when none does.
func (p *Policy) match(host string) string {
	if p == nil {
		return ""
	}
	host = strings.ToLower(strings.TrimSuffix(strings.Trim(host, "[]"), "."))
	for _, c := range p.rules {
		if c.match(host) {
			return c.rule.Match
		}
	}
	return ""
}

// addr is what the IP-range rules do with an address a target's name
// resolved to, and the matching rule's range; ActionMITM and "" when none
// matches. Name rules and "*" judge the name, not its addresses.
func (p *Policy) addr(a netip.Addr) (Action, string) {
	if p == nil {
		return ActionMITM, ""
	}
	a = a.Unmap()
	for _, c := range p.rules {
		if c.prefix.IsValid() && c.prefix.Contains(a) {
			return c.rule.Action, c.rule.Match
		}
	}
	return ActionMITM, ""
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
