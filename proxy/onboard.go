package proxy

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
)

// OnboardHost is the host name that reaches the onboarding page through the
// proxy: a client using tlslens as its proxy opens http://tlslens/ to get
// the CA and the steps to trust it. The proxy answers it itself; nothing of
// that name is ever dialled.
//
// A CONNECT to it (https://tlslens/) is refused with 403 and a record
// (outcome denied): a TLS page cannot be trusted before the CA is, so the
// page is served over plain HTTP only.
const OnboardHost = "tlslens"

//go:embed onboard.html
var onboardHTML string

// onboardTemplate renders onboard.html; parsing an embedded template can
// only fail through a programmer error.
var onboardTemplate = template.Must(template.New("onboard").Parse(onboardHTML))

// isOnboardHost reports whether host (no port) names the onboarding page.
func isOnboardHost(host string) bool {
	return strings.EqualFold(strings.TrimSuffix(host, "."), OnboardHost)
}

// onboardPage is one answer of the onboarding handler.
type onboardPage struct {
	status int
	header http.Header
	body   []byte
}

// Content types that make browsers and phones offer to install a CA rather
// than display or save it.
const (
	contentTypeCACert = "application/x-x509-ca-cert"
	contentTypePKCS12 = "application/x-pkcs12"
)

// onboard answers a request for the onboarding page or one of its
// downloads. proxyAddr is the proxy's address as the client reaches it,
// used in the page's instructions.
func (p *Proxy) onboard(r *http.Request, proxyAddr string) onboardPage {
	h := http.Header{}
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.Set("Allow", "GET, HEAD")
		return p.onboardError(h, http.StatusMethodNotAllowed, "the onboarding page answers GET and HEAD only")
	}
	a := p.opts.Authority
	download := func(ctype, name string, b []byte) onboardPage {
		h.Set("Content-Type", ctype)
		h.Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", name))
		h.Set("Content-Length", strconv.Itoa(len(b)))
		return onboardPage{http.StatusOK, h, b}
	}
	hash := a.SubjectHashOld()
	switch r.URL.Path {
	case "/ca.pem":
		return download(contentTypeCACert, "tlslens-ca.pem", a.PEM())
	case "/ca.der", "/ca.crt", "/ca.cer":
		return download(contentTypeCACert, "tlslens-ca.der", a.DER())
	case "/ca.p12":
		b, err := a.PKCS12("")
		if err != nil {
			p.log.WithError(err).Error("onboarding: encoding the CA as PKCS#12")
			return p.onboardError(h, http.StatusInternalServerError, "the CA could not be encoded as PKCS#12; use the PEM or DER download")
		}
		return download(contentTypePKCS12, "tlslens-ca.p12", b)
	case "/ca.0", "/" + hash + ".0":
		// Android's system store names each CA file by OpenSSL's old
		// subject hash; the content is the PEM certificate.
		return download(contentTypeCACert, hash+".0", a.PEM())
	case "/", "/index.html":
	default:
		return p.onboardError(h, http.StatusNotFound, "no such page: the onboarding page is at /")
	}
	host, port, err := net.SplitHostPort(proxyAddr)
	if err != nil {
		host, port = proxyAddr, "80"
	}
	cert := a.Certificate()
	data := struct {
		Proxy, ProxyHost, ProxyPort string
		Auth                        bool
		Subject, NotAfter           string
		Fingerprint, Hash, Serial   string
		WireGuard                   *wireGuardPage // nil without WireGuard mode
	}{
		Proxy: proxyAddr, ProxyHost: strings.Trim(host, "[]"), ProxyPort: port,
		Auth:        len(p.access.creds) > 0,
		Subject:     cert.Subject.CommonName,
		NotAfter:    cert.NotAfter.UTC().Format("2 January 2006"),
		Fingerprint: a.Fingerprint(),
		Hash:        hash,
		Serial:      cert.SerialNumber.Text(16),
		WireGuard:   p.wireGuardPage(host),
	}
	var b bytes.Buffer
	if err := onboardTemplate.Execute(&b, data); err != nil {
		p.log.WithError(err).Error("onboarding: rendering the page")
		return p.onboardError(h, http.StatusInternalServerError, "the onboarding page could not be rendered")
	}
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(b.Len()))
	return onboardPage{http.StatusOK, h, b.Bytes()}
}

func (p *Proxy) onboardError(h http.Header, status int, detail string) onboardPage {
	body := []byte(errorPage(status, "tlslens onboarding", detail, nil))
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	return onboardPage{status, h, body}
}

// write sends the page to a direct request.
func (pg onboardPage) write(w http.ResponseWriter, r *http.Request) {
	for k, v := range pg.header {
		w.Header()[k] = v
	}
	w.WriteHeader(pg.status)
	if r.Method != http.MethodHead {
		w.Write(pg.body)
	}
}

// response is the page as goproxy's answer to a proxy request.
func (pg onboardPage) response(r *http.Request) *http.Response {
	return &http.Response{
		StatusCode:    pg.status,
		Status:        fmt.Sprintf("%d %s", pg.status, http.StatusText(pg.status)),
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        pg.header,
		Body:          io.NopCloser(bytes.NewReader(pg.body)),
		ContentLength: int64(len(pg.body)),
		Request:       r,
	}
}

// onboardProxy answers a proxy request for http://tlslens/ or for the
// proxy's own address with the onboarding page; nil for any other request.
func (p *Proxy) onboardProxy(r *http.Request) *http.Response {
	if !isOnboardHost(r.URL.Hostname()) && !isSelf(r) {
		return nil
	}
	return p.onboard(r, localAddr(r)).response(r)
}

// localAddr is the proxy's own address on the connection r came in on.
func localAddr(r *http.Request) string {
	if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		return a.String()
	}
	return ""
}

// isSelf reports whether a proxy request is addressed to the proxy itself
// (http://<the proxy's address>/): answering it by proxying would loop.
func isSelf(r *http.Request) bool {
	local := localAddr(r)
	if local == "" {
		return false
	}
	port := r.URL.Port()
	if port == "" {
		port = "80"
	}
	want, err := netip.ParseAddrPort(local)
	if err != nil {
		return false
	}
	got, err := netip.ParseAddrPort(net.JoinHostPort(r.URL.Hostname(), port))
	return err == nil && got.Port() == want.Port() && got.Addr().Unmap() == want.Addr().Unmap()
}
