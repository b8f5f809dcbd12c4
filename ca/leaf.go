package ca

import (
	"crypto"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"
)

const (
	// leafValidity is the longest NotAfter-NotBefore span of a leaf: 397
	// days, under the 398 that Apple (since September 2020) and Chrome
	// accept for server certificates.
	leafValidity = 397 * 24 * time.Hour
	// leafBackdate: a leaf is valid from an hour ago, for clients whose
	// clocks lag a little.
	leafBackdate = time.Hour
	// leafRenewBefore: a cached leaf this close to its NotAfter is minted
	// again rather than served.
	leafRenewBefore = 24 * time.Hour
)

// Leaf returns a certificate for name, a DNS name or an IP literal, signed by
// the root: chain leaf + root, Leaf parsed, the shared ECDSA P-256 leaf key.
// A DNS name becomes a DNS SAN, lowercased and without a trailing dot; an IP
// (v4, v6, optionally in brackets) becomes an IP SAN. An empty or malformed
// name is an error matching ErrInvalidName.
//
// Leaves are cached by name; concurrent calls for one name mint it once. The
// returned certificate is shared and must not be modified. Leaf is safe for
// concurrent use.
func (a *Authority) Leaf(name string) (*tls.Certificate, error) {
	return a.LeafWithNames(name, nil)
}

// LeafWithNames is Leaf with extra SANs (DNS names, wildcards such as
// *.example.com, or IP literals), for instance copied from the upstream
// server's leaf so clients that check other names still accept it. Names are
// normalised as for Leaf and deduplicated; an invalid one is an error
// matching ErrInvalidName (the caller may fall back to Leaf). Leaves are
// cached by name plus the set of extra names.
func (a *Authority) LeafWithNames(name string, sans []string) (*tls.Certificate, error) {
	ns, err := parseNames(name, sans)
	if err != nil {
		return nil, err
	}
	return a.leaf(ns.key(), func() (*tls.Certificate, error) {
		// An ECDSA key signs (RFC 5480 §3); it never encrypts a key.
		return a.mint(ns, a.leafKey, x509.KeyUsageDigitalSignature)
	})
}

// leaf returns the leaf cached under key, or the one mint makes, minting at
// most once per key at a time.
func (a *Authority) leaf(key string, mint func() (*tls.Certificate, error)) (*tls.Certificate, error) {
	if c, ok := a.cached(key); ok {
		a.hits.Add(1)
		return c, nil
	}
	minted := false // set only by this caller's own flight
	v, err, _ := a.flights.Do(key, func() (any, error) {
		if c, ok := a.cached(key); ok { // a flight that ended after our lookup
			return c, nil
		}
		c, err := mint()
		if err != nil {
			return nil, err
		}
		minted = true
		a.misses.Add(1)
		a.cache.Add(key, c)
		return c, nil
	})
	if err != nil {
		return nil, err
	}
	if !minted {
		a.hits.Add(1)
	}
	return v.(*tls.Certificate), nil
}

// CacheStats reports how many Leaf and LeafWithNames calls were answered
// without minting (hits: from the cache, or by waiting for a mint of the same
// name already under way) and how many leaves were minted (misses).
func (a *Authority) CacheStats() (hits, misses uint64) {
	return a.hits.Load(), a.misses.Load()
}

// cached returns the leaf cached under key unless it is about to expire.
func (a *Authority) cached(key string) (*tls.Certificate, bool) {
	c, ok := a.cache.Get(key)
	if !ok || !a.now().Before(c.Leaf.NotAfter.Add(-leafRenewBefore)) {
		return nil, false
	}
	return c, true
}

// mint signs a new leaf for ns with key, whose uses are usage.
func (a *Authority) mint(ns names, key crypto.Signer, usage x509.KeyUsage) (*tls.Certificate, error) {
	now := a.now()
	notBefore := now.Add(-leafBackdate)
	if notBefore.Before(a.cert.NotBefore) { // a leaf may not outlive its issuer at either end
		notBefore = a.cert.NotBefore
	}
	notAfter := notBefore.Add(leafValidity)
	if notAfter.After(a.cert.NotAfter) {
		notAfter = a.cert.NotAfter
	}
	if !now.Before(notAfter) {
		return nil, fmt.Errorf("%w: it expired on %s; create a new CA and trust it on your clients",
			ErrCAExpired, a.cert.NotAfter.Format(time.DateOnly))
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		// O "tlslens" tells a person inspecting the certificate that it was
		// intercepted. Clients match SANs only (RFC 6125 §6.4.4); the CN is
		// for display and, by RFC 5280's ub-common-name, at most 64 bytes.
		Subject:               pkix.Name{Organization: []string{"tlslens"}},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              usage,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              ns.dns,
	}
	if len(ns.primary) <= 64 {
		tmpl.Subject.CommonName = ns.primary
	}
	for _, ip := range ns.ips {
		tmpl.IPAddresses = append(tmpl.IPAddresses, net.IP(ip.AsSlice()))
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, a.cert, key.Public(), a.key)
	if err != nil {
		return nil, fmt.Errorf("ca: signing a leaf for %q: %w", ns.primary, err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("ca: parsing the leaf for %q: %w", ns.primary, err)
	}
	// The chain is the leaf alone. Every client that accepts it already holds
	// the root (RFC 8446 §4.4.2 lets a trust anchor be omitted), and sending
	// the root too costs each client a second path to build and a second
	// signature to check: Go's verifier takes twice as long for
	// [leaf, root] as for [leaf] (BenchmarkClientVerify).
	return &tls.Certificate{
		Certificate: [][]byte{der},
		PrivateKey:  key,
		Leaf:        leaf,
	}, nil
}

// names are a leaf's normalised SANs.
type names struct {
	primary string // the name asked for, normalised: the CN and first SAN
	dns     []string
	ips     []netip.Addr
	extra   []string // normalised extra SANs, sorted, without primary: the cache key
}

// key returns the cache and singleflight key.
func (ns names) key() string {
	if len(ns.extra) == 0 {
		return ns.primary
	}
	return ns.primary + "\x00" + strings.Join(ns.extra, "\x00")
}

// parseNames normalises name and sans into a leaf's SANs.
func parseNames(name string, sans []string) (names, error) {
	var ns names
	add := func(s string) (string, error) {
		dns, ip, err := normalize(s)
		if err != nil {
			return "", err
		}
		if ip.IsValid() {
			if slices.Contains(ns.ips, ip) {
				return "", nil
			}
			ns.ips = append(ns.ips, ip)
			return ip.String(), nil
		}
		if slices.Contains(ns.dns, dns) {
			return "", nil
		}
		ns.dns = append(ns.dns, dns)
		return dns, nil
	}
	primary, err := add(name)
	if err != nil {
		return names{}, err
	}
	ns.primary = primary
	for _, s := range sans {
		n, err := add(s)
		if err != nil {
			return names{}, err
		}
		if n != "" {
			ns.extra = append(ns.extra, n)
		}
	}
	slices.Sort(ns.extra)
	return ns, nil
}

// normalize returns name as a DNS name (lowercase, no trailing dot) or an IP
// address (no zone, IPv4-mapped IPv6 unmapped), whichever it is.
func normalize(name string) (string, netip.Addr, error) {
	s := name
	bracketed := strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]")
	if bracketed {
		s = s[1 : len(s)-1]
	}
	if ip, err := netip.ParseAddr(s); err == nil {
		// A zone (fe80::1%eth0) is local to a host and has no place in a SAN.
		return "", ip.WithZone("").Unmap(), nil
	}
	if bracketed {
		return "", netip.Addr{}, invalidName(name, "brackets around something that is not an IP address")
	}
	// RFC 4343: DNS names compare case-insensitively; RFC 1034 §3.1: the
	// trailing dot of a fully qualified name is not part of any label.
	s = strings.TrimSuffix(strings.ToLower(s), ".")
	if err := checkDNSName(s); err != "" {
		return "", netip.Addr{}, invalidName(name, err)
	}
	return s, netip.Addr{}, nil
}

// checkDNSName returns why s cannot be a DNS SAN, or "". It allows what real
// certificates hold: LDH labels (RFC 1123 §2.1), underscores (service
// names), and "*" as a whole leftmost label (RFC 6125 §6.4.3).
func checkDNSName(s string) string {
	switch {
	case s == "":
		return "empty"
	case len(s) > 253:
		return "longer than 253 bytes"
	}
	labels := strings.Split(s, ".")
	for i, l := range labels {
		switch {
		case l == "":
			return "empty label"
		case len(l) > 63:
			return "label longer than 63 bytes"
		case l == "*":
			if i != 0 || len(labels) < 3 {
				return "a wildcard must be the leftmost label of a name with at least two more"
			}
			continue
		case l[0] == '-' || l[len(l)-1] == '-':
			return "label starts or ends with a hyphen"
		}
		for j := 0; j < len(l); j++ {
			c := l[j]
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return fmt.Sprintf("character %q not allowed (a port or path? pass the host alone; an IDN? pass its xn-- form)", c)
			}
		}
	}
	return ""
}

func invalidName(name, why string) error {
	return fmt.Errorf("%w %q: %s", ErrInvalidName, name, why)
}
