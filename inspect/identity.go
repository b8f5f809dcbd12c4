package inspect

import "strings"

// CodeClientIdentityMismatch: in mitm mode, the first request's User-Agent
// names a client family that the hello's known-client identity contradicts,
// e.g. a Chrome User-Agent over Python's hello.
const CodeClientIdentityMismatch = "client_identity_mismatch"

// A family is a kind of client as both a User-Agent and the known-client
// table can name it, and the TLS library it brings: two families of one
// library cannot be told apart by the hello of the library's own tool.
type family struct {
	name string // as a finding says it: "Chrome", "Python"
	lib  string // "BoringSSL", "OpenSSL", …
}

var (
	famChrome  = family{"Chrome", "BoringSSL"}
	famFirefox = family{"Firefox", "NSS"}
	famCurl    = family{"curl", "OpenSSL"} // Debian's curl; others build it on other libraries
	famWget    = family{"Wget", "GnuTLS"}  // Debian's wget
	famPython  = family{"Python", "OpenSSL"}
	famGo      = family{"Go", "Go"}
	famJava    = family{"Java", "JSSE"}
	famNode    = family{"Node.js", "OpenSSL"}
	// The libraries' own tools: their hello is the library's defaults, which
	// any program on the library may send.
	famOpenSSL = family{"", "OpenSSL"}
	famGnuTLS  = family{"", "GnuTLS"}
)

// nameFamilies are the families of known-client names, by the start of the
// name (knownclients.txt's names, and those a user's file may use).
var nameFamilies = []struct {
	prefix string
	fam    family
}{
	{"Chromium", famChrome}, {"Chrome", famChrome}, {"Edge", famChrome}, {"Opera", famChrome}, {"Brave", famChrome},
	{"Firefox", famFirefox},
	{"curl", famCurl},
	{"Wget", famWget},
	{"Python", famPython},
	{"Go ", famGo},
	{"Java", famJava},
	{"Node.js", famNode},
	{"OpenSSL", famOpenSSL},
	{"GnuTLS", famGnuTLS},
}

// identityFamilies returns the families of an identity's names, one per
// name ("curl 7.88 or Wget 1.21" has two); ok is false when any name is of
// no known family, for then nothing can be said of it.
func identityFamilies(id *Identity) (fams []family, ok bool) {
	for _, name := range strings.Split(id.Name, " or ") {
		i := 0
		for i < len(nameFamilies) && !strings.HasPrefix(name, nameFamilies[i].prefix) {
			i++
		}
		if i == len(nameFamilies) {
			return nil, false
		}
		fams = append(fams, nameFamilies[i].fam)
	}
	return fams, len(fams) > 0
}

// userAgentFamily returns the family a User-Agent claims and how a finding
// says it; ok is false for a User-Agent of no known family. Every Chromium
// browser (Chrome, Edge, Opera, Brave, headless) says "Chrome/"; Firefox
// says "Firefox/" and never "Chrome/". Node.js sends no User-Agent of its
// own.
func userAgentFamily(ua string) (fam family, says string, ok bool) {
	switch {
	case strings.Contains(ua, "Chrome/") || strings.Contains(ua, "Chromium/"):
		return famChrome, "Chrome", true
	case strings.Contains(ua, "Firefox/"):
		return famFirefox, "Firefox", true
	case strings.HasPrefix(ua, "curl/"):
		return famCurl, "curl", true
	case strings.HasPrefix(ua, "Wget/"):
		return famWget, "Wget", true
	case strings.HasPrefix(ua, "python-requests/"):
		return famPython, "python-requests", true
	case strings.HasPrefix(ua, "Python-urllib/"):
		return famPython, "Python's urllib", true
	case strings.HasPrefix(ua, "Go-http-client/"):
		return famGo, "Go's net/http", true
	case strings.HasPrefix(ua, "Java-http-client/"), strings.HasPrefix(ua, "Java/"):
		return famJava, "Java", true
	}
	return family{}, "", false
}

// identityFindings compares the client's first User-Agent with its hello's
// identity. Only a contradiction between known families is a finding: the
// User-Agent's family is none of the identity's, and the identity is not the
// bare library that family's client is built on (a program on OpenSSL may
// send s_client's hello).
func identityFindings(c *Side, add addFunc) {
	if c.Identity == nil || c.UserAgent == "" {
		return
	}
	uaFam, says, ok := userAgentFamily(c.UserAgent)
	if !ok {
		return
	}
	fams, ok := identityFamilies(c.Identity)
	if !ok {
		return
	}
	for _, f := range fams {
		if f == uaFam || f.name == "" && f.lib == uaFam.lib {
			return
		}
	}
	add(sideClient, SeverityWarn, CodeClientIdentityMismatch,
		"the User-Agent says %s, the hello is %s's (%s match): the client is not what it claims to be", says, c.Identity.Name, c.Identity.Match)
}
