package proxy

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Where tlslens connects is what its policies judge. A target is resolved
// once (destination), every address its name resolves to is judged (deny
// and passthrough IP-range rules, the proxy host's own addresses, the
// protected listeners), and only the judged addresses are dialled: a name
// cannot resolve to an allowed address at the check and to a denied one at
// the dial.

// A Resolver looks up the addresses of a host name. *net.Resolver is one.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// destination is a target resolved once and judged.
type destination struct {
	port  uint16
	addrs []netip.Addr // every address the name resolved to, each judged
	err   error        // the name did not resolve: dialling reports it

	// action is ActionDeny or ActionPassthrough when an address decided
	// it, with reason naming the rule; ActionMITM otherwise.
	action Action
	reason string
}

// resolved is the record's list of the judged addresses.
func (d *destination) resolved() []string {
	var out []string
	for _, a := range d.addrs {
		out = append(out, a.String())
	}
	return out
}

// A deniedError is a dial to a denied destination, with the reason for
// the record. Refusals before the dial are the usual path; this is the dial
// path's own guard.
type deniedError struct{ reason string }

func (e *deniedError) Error() string { return "proxy: denied by " + e.reason }

// splitTarget splits host:port and checks the port: a TCP port is 1 to
// 65535 (RFC 9293 §3.1); 0 is no port at all, and a CONNECT to it or to a
// number beyond is a malformed request, not a destination (RFC 9110 §9.3.6).
func splitTarget(target string) (host string, port uint16, err error) {
	host, p, err := net.SplitHostPort(target)
	if err != nil {
		return "", 0, fmt.Errorf("the target %q is not host:port", target)
	}
	n, err := strconv.ParseUint(p, 10, 16)
	if err != nil || n == 0 {
		return "", 0, fmt.Errorf("the port %q of %s is not a number from 1 to 65535", p, target)
	}
	return strings.ToLower(strings.TrimSuffix(host, ".")), uint16(n), nil
}

// isLocalhost reports whether host is "localhost" or a name under it: the
// loopback addresses, whatever DNS would say (RFC 6761 §6.3).
func isLocalhost(host string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	return host == "localhost" || strings.HasSuffix(host, ".localhost")
}

// resolve returns the addresses tlslens connects to for host: an IP literal
// is itself, except the unspecified addresses 0.0.0.0 and ::, which a
// connect(2) takes for the loopback address; names under localhost are the
// loopback addresses; any other name is looked up once, here.
func (p *Proxy) resolve(ctx context.Context, host string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		a = a.Unmap() // a zone stays, for the dial: fe80::1%eth0
		switch {
		case a == netip.IPv4Unspecified():
			a = netip.AddrFrom4([4]byte{127, 0, 0, 1})
		case a == netip.IPv6Unspecified():
			a = netip.IPv6Loopback()
		}
		return []netip.Addr{a}, nil
	}
	if isLocalhost(host) {
		return []netip.Addr{netip.AddrFrom4([4]byte{127, 0, 0, 1}), netip.IPv6Loopback()}, nil
	}
	addrs, err := p.resolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil, err
	}
	out := make([]netip.Addr, 0, len(addrs))
	for _, a := range addrs {
		out = append(out, a.Unmap())
	}
	if len(out) == 0 {
		return nil, &net.DNSError{Err: "no addresses", Name: host, IsNotFound: true}
	}
	return out, nil
}

// judge resolves host and judges every address it resolves to for a
// connection to port. The checks, in order: a protected listener (never
// reachable), an IP-range rule of the policy (deny wins over passthrough,
// whichever address it matched), and, when the proxy listens beyond
// loopback, the proxy host's own addresses (unless AllowLocalTargets). A
// name rule matching host itself is the caller's, as before.
func (p *Proxy) judge(ctx context.Context, host string, port uint16) *destination {
	d := &destination{port: port, action: ActionMITM}
	rctx, cancel := context.WithTimeout(ctx, p.opts.DialTimeout)
	d.addrs, d.err = p.resolve(rctx, host)
	cancel()
	if d.err != nil {
		return d
	}
	literal, _ := netip.ParseAddr(strings.Trim(host, "[]"))
	literal = literal.Unmap().WithZone("")
	for _, a := range d.addrs {
		a = a.WithZone("") // a prefix contains no zoned address
		ap := netip.AddrPortFrom(a, port)
		if pa, ok := p.protected(a, port); ok {
			d.action = ActionDeny
			d.reason = fmt.Sprintf("admin listener: %s is tlslens's admin listener, never reachable through the proxy", ap)
			if pa != ap {
				d.reason = fmt.Sprintf("admin listener: %s reaches tlslens's admin listener on %s, never reachable through the proxy", ap, pa)
			}
			return d
		}
		if a == literal {
			continue // the text of host was judged by the caller, with every rule
		}
		switch act, rule := p.opts.Policy.addr(a); act {
		case ActionDeny:
			d.action, d.reason = ActionDeny, fmt.Sprintf("policy: deny %s (resolved %s)", rule, a)
			return d
		case ActionPassthrough:
			if d.action == ActionMITM {
				d.action, d.reason = ActionPassthrough, fmt.Sprintf("policy: passthrough %s (resolved %s)", rule, a)
			}
		}
	}
	if p.exposed.Load() && !p.opts.AllowLocalTargets {
		for _, a := range d.addrs {
			if what := p.local.kind(a.WithZone("")); what != "" {
				d.action = ActionDeny
				d.reason = fmt.Sprintf("local target: %s is %s (allow_local_targets is off)", a, what)
				return d
			}
		}
	}
	return d
}

// protected reports whether a connection to a:port reaches one of
// Options.Protected, and which: one bound to 0.0.0.0 or :: listens on every
// address of the host.
func (p *Proxy) protected(a netip.Addr, port uint16) (netip.AddrPort, bool) {
	for _, pa := range p.opts.Protected {
		if pa.Port() != port {
			continue
		}
		pip := pa.Addr().Unmap().WithZone("")
		if pip == a || pip.IsUnspecified() && p.local.onHost(a) {
			return pa, true
		}
	}
	return netip.AddrPort{}, false
}

// dialDestination dials the judged addresses of d in turn, each within its
// share of ctx's time, and returns the first connection made. It never
// looks the name up again.
func (p *Proxy) dialDestination(ctx context.Context, d *destination) (net.Conn, error) {
	if d.err != nil {
		return nil, d.err
	}
	if d.action == ActionDeny {
		return nil, &deniedError{reason: d.reason}
	}
	var first error
	for i, a := range d.addrs {
		dctx := ctx
		if dl, ok := ctx.Deadline(); ok && i < len(d.addrs)-1 {
			// As net.Dialer does: an address that does not answer leaves
			// time for the others, each given at least 2s.
			left := time.Until(dl)
			if share := max(left/time.Duration(len(d.addrs)-i), 2*time.Second); share < left {
				var cancel context.CancelFunc
				dctx, cancel = context.WithTimeout(ctx, share)
				defer cancel()
			}
		}
		c, err := p.opts.Dial(dctx, "tcp", netip.AddrPortFrom(a, d.port).String())
		if err == nil {
			return c, nil
		}
		if first == nil {
			first = err
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, first
}

// dialPlain is the dialer of plain http:// requests: the destination judged
// by route when it is in ctx, else one judged now. Either way, what is
// dialled was judged.
func (p *Proxy) dialPlain(ctx context.Context, network, addr string) (net.Conn, error) {
	if j, ok := ctx.Value(judgedKey{}).(judged); ok && strings.EqualFold(j.target, addr) {
		return p.dialDestination(ctx, j.dest)
	}
	host, port, err := splitTarget(addr)
	if err != nil {
		return nil, err
	}
	if p.policy(host) == ActionDeny {
		return nil, &deniedError{reason: "policy: deny (host " + host + ")"}
	}
	return p.dialDestination(ctx, p.judge(ctx, host, port))
}

// judgedKey carries a plain request's judged destination to dialPlain.
type judgedKey struct{}

type judged struct {
	target string // host:port as the transport dials it
	dest   *destination
}

// localAddrs knows the proxy host's own addresses: its interfaces' (read
// again at most every localAddrsTTL) and its listeners'. Safe for
// concurrent use.
type localAddrs struct {
	mu        sync.Mutex
	read      time.Time
	addrs     map[netip.Addr]bool
	listeners sync.Map // netip.Addr → true: the proxy's own listener addresses
}

// localAddrsTTL bounds how stale the list of interface addresses may be: an
// address added by DHCP is a local target within this time.
const localAddrsTTL = 5 * time.Second

// kind says what a is to this host, or "" when it is not a local target:
// loopback, unspecified, link-local (169.254.169.254, cloud metadata,
// included), or one of the host's own addresses.
func (l *localAddrs) kind(a netip.Addr) string {
	switch {
	case a.IsLoopback():
		return "this host's loopback"
	case a.IsUnspecified():
		return "the unspecified address, this host"
	case a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast():
		return "link-local, this host's own link (where cloud metadata answers)"
	case l.own(a):
		return "one of this host's own addresses"
	}
	return ""
}

// onHost reports whether a connection to a stays on this host: a loopback,
// unspecified or own address.
func (l *localAddrs) onHost(a netip.Addr) bool {
	return a.IsLoopback() || a.IsUnspecified() || l.own(a)
}

// own reports whether a is an address of one of the host's interfaces or
// of the proxy's listeners.
func (l *localAddrs) own(a netip.Addr) bool {
	if _, ok := l.listeners.Load(a); ok {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.addrs == nil || time.Since(l.read) > localAddrsTTL {
		l.addrs = map[netip.Addr]bool{}
		l.read = time.Now()
		ifas, _ := net.InterfaceAddrs() // none known on error: loopback and link-local still are
		for _, ifa := range ifas {
			if n, ok := ifa.(*net.IPNet); ok {
				if ip, ok := netip.AddrFromSlice(n.IP); ok {
					l.addrs[ip.Unmap()] = true
				}
			}
		}
	}
	return l.addrs[a]
}

// listening notes a listener of the proxy: its address is a local target,
// and one beyond loopback makes the proxy exposed.
func (p *Proxy) listening(addr net.Addr) {
	ap, err := netip.ParseAddrPort(addr.String())
	if err != nil {
		p.exposed.Store(true) // not an IP listener: assume the worst
		return
	}
	a := ap.Addr().Unmap().WithZone("")
	p.local.listeners.Store(a, true)
	if !a.IsLoopback() {
		p.exposed.Store(true)
	}
}

// admitDestination checks a session's target before anything is sent to the
// client: a port outside 1-65535 is a bad request (400), and a destination
// whose judged addresses are denied is refused (403). It sets s.dest.
func (p *Proxy) admitDestination(ctx context.Context, s *session) *refusal {
	host, port, err := splitTarget(s.target)
	if err != nil {
		return &refusal{
			status: http.StatusBadRequest,
			title:  "no such port",
			reason: "bad port",
			err:    err.Error() + ": tlslens connects to TCP ports 1 to 65535 only",
		}
	}
	s.dest = p.judge(ctx, host, port)
	if s.dest.action == ActionDeny {
		return destinationRefusal(s.target, s.dest.reason)
	}
	return nil
}

// destinationRefusal is the 403 for a destination tlslens does not
// connect to, naming the rule.
func destinationRefusal(target, reason string) *refusal {
	return &refusal{
		status: http.StatusForbidden,
		title:  "tlslens does not connect to " + target,
		reason: reason,
		err:    fmt.Sprintf("tlslens does not connect to %s: %s", target, reason),
	}
}

// refused notes in s a refusal by admitDestination, for finish: denied,
// or bad_request for a bad port, with the status sent.
func (s *session) refused(ref *refusal) {
	s.denied, s.badRequest = true, ref.status == http.StatusBadRequest
	s.rec.Reason, s.rec.Client.Error, s.rec.Client.Status = ref.reason, ref.err, ref.status
}

// resolved is the record's list of the addresses s's target resolved to.
func (s *session) resolved() []string {
	if s.dest == nil || s.dest.err != nil {
		return nil
	}
	return s.dest.resolved()
}

// admitPlainHTTP judges the destination of a plain http:// request. A
// refusal is answered (400 for a bad port, 403 naming the rule) and
// recorded (the connection's record, if it has none yet); otherwise the
// request carries its judged destination to dialPlain, so that the
// transport dials what was judged.
func (p *Proxy) admitPlainHTTP(r *http.Request) (*http.Request, *http.Response) {
	target := r.URL.Host
	if r.URL.Port() == "" {
		target = net.JoinHostPort(r.URL.Hostname(), "80")
	}
	s := &session{target: target}
	if ref := p.admitDestination(r.Context(), s); ref != nil {
		p.recordRefused(r, ref)
		return r, ref.response(r)
	}
	ctx := context.WithValue(r.Context(), judgedKey{}, judged{target: target, dest: s.dest})
	return r.WithContext(ctx), nil
}
