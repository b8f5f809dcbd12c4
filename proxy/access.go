package proxy

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"

	"github.com/sirupsen/logrus"
)

// A Credential is a username and password accepted for Basic proxy
// authentication (Options.ProxyAuth).
type Credential struct {
	Username string
	Password string
}

// proxyAuthenticate is the challenge sent with every 407 (RFC 7235 §4.3).
const proxyAuthenticate = `Basic realm="tlslens"`

// access decides whether a client may use the proxy: its source address
// against the allow-list, then its Proxy-Authorization header against the
// credentials. The zero access admits everyone. Safe for concurrent use.
type access struct {
	allow []netip.Prefix
	creds []credDigest
}

// credDigest holds SHA-256 digests of a credential, so comparing them takes
// the same time whatever the lengths and contents of the guess.
type credDigest struct{ user, pass [32]byte }

func newAccess(allow []netip.Prefix, creds []Credential) (access, error) {
	a := access{}
	for _, p := range allow {
		if !p.IsValid() {
			return access{}, fmt.Errorf("proxy: invalid allow-list prefix %v", p)
		}
		if p.Addr().Is4In6() && p.Bits() >= 96 { // ::ffff:10.0.0.0/104 is 10.0.0.0/8
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		a.allow = append(a.allow, p.Masked())
	}
	for i, c := range creds {
		if c.Username == "" || c.Password == "" {
			return access{}, fmt.Errorf("proxy: credential %d: username and password must not be empty", i)
		}
		if strings.Contains(c.Username, ":") {
			return access{}, fmt.Errorf("proxy: credential %d: a username cannot contain ':' (RFC 7617 §2)", i)
		}
		a.creds = append(a.creds, credDigest{sha256.Sum256([]byte(c.Username)), sha256.Sum256([]byte(c.Password))})
	}
	return a, nil
}

// A refusal is why access was refused: the HTTP status and headers to
// answer with, and the record's reason and client error. It never holds
// the credentials the client sent.
type refusal struct {
	status int    // 403 or 407
	title  string // the response page's headline
	reason string // the record's reason
	err    string // the record's client.error, in words a person can act on
}

// checkAddr refuses a client whose source address (ip:port) is not in the
// allow-list; an empty allow-list admits every address.
func (a access) checkAddr(remote string) *refusal {
	if len(a.allow) == 0 {
		return nil
	}
	ap, err := netip.ParseAddrPort(remote)
	if err == nil {
		ip := ap.Addr().Unmap()
		for _, p := range a.allow {
			if p.Contains(ip) {
				return nil
			}
		}
	}
	host, _, _ := net.SplitHostPort(remote)
	return &refusal{
		status: http.StatusForbidden,
		title:  "tlslens does not accept connections from this address",
		reason: "access: allow_cidrs",
		err:    fmt.Sprintf("the client address %s is not in the allow-list (allow_cidrs)", host),
	}
}

// check applies the allow-list to remote, then proxy authentication to the
// request's Proxy-Authorization header.
func (a access) check(r *http.Request, remote string) *refusal {
	if ref := a.checkAddr(remote); ref != nil {
		return ref
	}
	if len(a.creds) == 0 {
		return nil
	}
	fail := func(why string) *refusal {
		return &refusal{status: http.StatusProxyAuthRequired, title: "tlslens requires proxy authentication",
			reason: "access: proxy_auth", err: "proxy authentication failed: " + why}
	}
	h := r.Header.Get("Proxy-Authorization")
	if h == "" {
		return fail("the client sent no credentials (Proxy-Authorization); configure the proxy's username and password in the client")
	}
	scheme, encoded, _ := strings.Cut(h, " ")
	if !strings.EqualFold(scheme, "Basic") {
		return fail(fmt.Sprintf("the client used the %q scheme; tlslens accepts only Basic", scheme))
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(encoded))
	if err != nil {
		return fail("the Proxy-Authorization header is not valid base64")
	}
	user, pass, ok := strings.Cut(string(raw), ":")
	if !ok {
		return fail("the Proxy-Authorization header holds no username:password pair")
	}
	if !a.match(user, pass) {
		return fail("wrong username or password")
	}
	return nil
}

// match compares user and pass with every credential in constant time: how
// long it takes says nothing about which part of a guess was right.
func (a access) match(user, pass string) bool {
	u, p := sha256.Sum256([]byte(user)), sha256.Sum256([]byte(pass))
	found := 0
	for _, c := range a.creds {
		found |= subtle.ConstantTimeCompare(u[:], c.user[:]) & subtle.ConstantTimeCompare(p[:], c.pass[:])
	}
	return found == 1
}

// header is the response header for a refusal: the 407 challenge.
func (ref *refusal) header() http.Header {
	h := http.Header{}
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	if ref.status == http.StatusProxyAuthRequired {
		h.Set("Proxy-Authenticate", proxyAuthenticate)
	}
	return h
}

// response is the refusal of a plain-HTTP proxy request.
func (ref *refusal) response(r *http.Request) *http.Response {
	body := errorPage(ref.status, ref.title, ref.err, nil)
	resp := &http.Response{
		StatusCode:    ref.status,
		Status:        fmt.Sprintf("%d %s", ref.status, http.StatusText(ref.status)),
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        ref.header(),
		Body:          io.NopCloser(strings.NewReader(body)),
		ContentLength: int64(len(body)),
		Request:       r,
	}
	resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
	return resp
}

// admitPlain applies access control to a plain proxy request and returns
// the refusal to send, or nil to go on.
func (p *Proxy) admitPlain(r *http.Request) *http.Response {
	ref := p.access.check(r, r.RemoteAddr)
	if ref == nil {
		return nil
	}
	p.log.WithFields(logrus.Fields{"client": r.RemoteAddr, "reason": ref.reason}).Info("proxy request refused")
	p.recordRefused(r, ref) // the connection's record, if it has none yet
	return ref.response(r)
}

// write sends the refusal to a direct request.
func (ref *refusal) write(w http.ResponseWriter) {
	body := errorPage(ref.status, ref.title, ref.err, nil)
	for k, v := range ref.header() {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(ref.status)
	io.WriteString(w, body)
}

// admitConnect applies access control to a CONNECT from c, and refuses a
// CONNECT to the onboarding host: its page is plain HTTP (see OnboardHost).
func (p *Proxy) admitConnect(req *http.Request, c net.Conn, s *session) *refusal {
	if ref := p.access.check(req, c.RemoteAddr().String()); ref != nil {
		return ref
	}
	if isOnboardHost(s.host) {
		return &refusal{
			status: http.StatusForbidden,
			title:  "open http://" + OnboardHost + "/ instead",
			reason: "onboarding: plain HTTP only",
			err: fmt.Sprintf("the client asked for a TLS tunnel to %s, the onboarding page, which is served over plain HTTP only: open http://%s/ (HTTPS cannot work before the CA is trusted)",
				s.target, OnboardHost),
		}
	}
	return nil
}

// refuse answers a CONNECT that access control refused; the session's
// finish records it as denied and closes the connection.
func (p *Proxy) refuse(c net.Conn, s *session, ref *refusal) {
	body := errorPage(ref.status, ref.title, ref.err, s)
	h := ref.header()
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("Connection", "close")
	var b strings.Builder
	fmt.Fprintf(&b, "HTTP/1.1 %d %s\r\n", ref.status, http.StatusText(ref.status))
	h.Write(&b)
	b.WriteString("\r\n" + body)
	io.WriteString(c, b.String())
	s.denied = true
	s.rec.Reason = ref.reason
	s.rec.Client.Error = ref.err
}

// Guard wraps h, an HTTP listener of tlslens's own (the web view), in the
// proxy's access rules, applied to every request: the allow-list on the
// source address (403), then Basic authentication (RFC 7617, the
// Authorization header) with one of creds (401 and a challenge). With no
// allow-list and no credentials every request reaches h. The handler
// returned is safe for concurrent use.
func Guard(h http.Handler, allow []netip.Prefix, creds []Credential) (http.Handler, error) {
	a, err := newAccess(allow, creds)
	if err != nil {
		return nil, err
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ref := a.checkAddr(r.RemoteAddr); ref != nil {
			ref.write(w)
			return
		}
		if len(a.creds) > 0 {
			user, pass, ok := r.BasicAuth()
			if !ok || !a.match(user, pass) {
				w.Header().Set("WWW-Authenticate", proxyAuthenticate)
				w.Header().Set("Cache-Control", "no-store")
				http.Error(w, "tlslens: sign in with a proxy_auth username and password", http.StatusUnauthorized)
				return
			}
		}
		h.ServeHTTP(w, r)
	}), nil
}
