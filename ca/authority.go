// Package ca owns tlslens's certificate authority: the root (created on first
// run, loaded afterwards, exported as PEM, DER, PKCS#12 and the Android
// system-store file name) and the leaves it signs for intercepted names, which
// it caches and mints at most once per name at a time.
//
// ca returns errors and never logs; it knows nothing of HTTP, sockets or the
// proxy. Deciding when to mint, and with which names, belongs to package proxy.
package ca

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/sync/singleflight"
)

// File names inside the CA directory.
const (
	certFile = "ca.pem"
	keyFile  = "ca-key.pem"
)

const (
	// rootValidity: ten years, so a root trusted once on a phone stays
	// trusted; leaves, not the root, carry the short lifetimes browsers demand.
	rootValidity = 10
	// rootBackdate: a root created just now is already valid on a device whose
	// clock lags by up to a day, and a fresh root never forces leaves to clamp
	// their own backdating (leafBackdate) to its NotBefore.
	rootBackdate = 24 * time.Hour
	// defaultCacheSize is the number of leaves kept when Options.CacheSize is 0.
	defaultCacheSize = 1024
)

// Options configures Open and New. The zero value is usable with New; Open
// with a zero Dir uses DefaultDir.
type Options struct {
	// Dir is where ca.pem and ca-key.pem live. Open creates it with mode
	// 0700 if missing; "" means DefaultDir(). New ignores it.
	Dir string
	// CacheSize is the number of leaves kept in the LRU cache; 0 means 1024.
	// Negative is an error.
	CacheSize int
	// Now returns the current time, for certificate validity; nil means
	// time.Now.
	Now func() time.Time
}

// An Authority is a root CA and the leaves it has minted. Its methods are safe
// for concurrent use.
type Authority struct {
	cert     *x509.Certificate
	key      crypto.Signer
	certPath string // "" when in memory (New)
	created  bool   // Open created the root: no client trusts it yet

	now     func() time.Time
	leafKey *ecdsa.PrivateKey               // one key for every leaf: minting is then a signature, not a keygen
	rsaKey  func() (*rsa.PrivateKey, error) // the one key of every RSALeaf, made at its first call
	cache   *lru.Cache[string, *tls.Certificate]
	flights singleflight.Group
	hits    atomic.Uint64
	misses  atomic.Uint64
}

// DefaultDir returns the CA directory used when Options.Dir is empty:
// os.UserConfigDir()/tlslens (e.g. ~/.config/tlslens on Linux).
func DefaultDir() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("ca: finding the default CA directory (set a CA directory explicitly): %w", err)
	}
	return filepath.Join(dir, "tlslens"), nil
}

// Open loads the CA from opts.Dir, creating it on first use: an ECDSA P-256
// root written as ca.pem (mode 0644) and ca-key.pem (mode 0600) in a
// directory created with mode 0700. Later calls load the same pair.
//
// Open refuses a key file readable or writable by group or others
// (*KeyPermissionsError), a key that does not match the certificate
// (*KeyMismatchError), a certificate that is not a CA or has expired
// (ErrCAExpired), and a directory holding only one of the two files; each
// error says how to fix it. Keys are read as PKCS#8, SEC 1 (EC) or PKCS#1
// (RSA), so an existing CA of another type can be used; leaves are ECDSA
// P-256 (Leaf) or RSA 2048 (RSALeaf) whatever the root's key.
func Open(opts Options) (*Authority, error) {
	a, err := newAuthority(opts)
	if err != nil {
		return nil, err
	}
	dir := opts.Dir
	if dir == "" {
		if dir, err = DefaultDir(); err != nil {
			return nil, err
		}
	}
	certPath, keyPath := filepath.Join(dir, certFile), filepath.Join(dir, keyFile)

	cert, key, err := load(certPath, keyPath)
	if errors.Is(err, errNoCA) {
		cert, key, err = a.createRoot()
		if err == nil {
			err = save(dir, certPath, keyPath, cert, key)
		}
		a.created = err == nil
	}
	if err != nil {
		return nil, err
	}
	if !a.now().Before(cert.NotAfter) {
		return nil, fmt.Errorf("%w: %s expired on %s: move ca.pem and ca-key.pem out of %s to create a new CA, then trust the new one on your clients",
			ErrCAExpired, certPath, cert.NotAfter.Format(time.DateOnly), dir)
	}
	a.cert, a.key, a.certPath = cert, key, certPath
	return a, nil
}

// New makes an in-memory CA: a fresh root that is never written anywhere.
// It is meant for tests and ephemeral use; opts.Dir is ignored.
func New(opts Options) (*Authority, error) {
	a, err := newAuthority(opts)
	if err != nil {
		return nil, err
	}
	if a.cert, a.key, err = a.createRoot(); err != nil {
		return nil, err
	}
	a.created = true
	return a, nil
}

// newAuthority returns an Authority with everything but the root.
func newAuthority(opts Options) (*Authority, error) {
	size := opts.CacheSize
	switch {
	case size < 0:
		return nil, fmt.Errorf("ca: cache size %d is negative", size)
	case size == 0:
		size = defaultCacheSize
	}
	cache, err := lru.New[string, *tls.Certificate](size)
	if err != nil {
		return nil, fmt.Errorf("ca: creating the leaf cache: %w", err)
	}
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("ca: generating the leaf key: %w", err)
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	return &Authority{now: now, leafKey: leafKey, rsaKey: sync.OnceValues(newRSALeafKey), cache: cache}, nil
}

// Certificate returns the root certificate. The caller must not modify it.
func (a *Authority) Certificate() *x509.Certificate { return a.cert }

// Created reports whether Open created the root on this call (the first
// use of its directory), so that no client trusts it yet. It is true for a
// CA made by New, which is never saved.
func (a *Authority) Created() bool { return a.created }

// CertPath returns the path of ca.pem, or "" for an Authority made by New.
func (a *Authority) CertPath() string { return a.certPath }

// createRoot makes a new self-signed ECDSA P-256 root.
func (a *Authority) createRoot() (*x509.Certificate, crypto.Signer, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("ca: generating the CA key: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, nil, err
	}
	suffix := make([]byte, 3)
	if _, err := rand.Read(suffix); err != nil {
		return nil, nil, fmt.Errorf("ca: naming the CA: %w", err)
	}
	now := a.now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		// The CN says which machine the root came from and, with the random
		// suffix, keeps two roots apart in a trust store list and in
		// Android's <subject_hash_old>.0 file names.
		Subject: pkix.Name{
			CommonName:   rootCommonName(hex.EncodeToString(suffix)),
			Organization: []string{"tlslens"},
		},
		NotBefore: now.Add(-rootBackdate),
		NotAfter:  now.AddDate(rootValidity, 0, 0),
		// RFC 5280 §4.2.1.9: a CA that signs only end-entity certificates.
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLen:            0,
		MaxPathLenZero:        true,
		// RFC 5280 §4.2.1.3: keyCertSign for signing leaves, cRLSign
		// because CA/B Forum root profiles require it alongside.
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		// SubjectKeyId is left empty: CreateCertificate derives it from
		// the public key for a CA (RFC 7093 §2 method 1), and leaves then
		// carry it as their AuthorityKeyId.
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, nil, fmt.Errorf("ca: creating the CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, fmt.Errorf("ca: parsing the new CA certificate: %w", err)
	}
	return cert, key, nil
}

// rootCommonName returns "tlslens CA <host> <suffix>", or without the host
// when it is unknown.
func rootCommonName(suffix string) string {
	host, _ := os.Hostname()
	host, _, _ = strings.Cut(host, ".")
	if len(host) > 32 { // ub-common-name is 64 (RFC 5280 Appendix A)
		host = host[:32]
	}
	if host == "" {
		return "tlslens CA " + suffix
	}
	return "tlslens CA " + host + " " + suffix
}

// randomSerial returns a positive 128-bit serial number from crypto/rand.
// RFC 5280 §4.1.2.2 allows up to 20 octets; CA/B Forum BR §7.1 asks for at
// least 64 bits of randomness.
func randomSerial() (*big.Int, error) {
	limit := new(big.Int).Lsh(big.NewInt(1), 128)
	for {
		n, err := rand.Int(rand.Reader, limit)
		if err != nil {
			return nil, fmt.Errorf("ca: generating a serial number: %w", err)
		}
		if n.Sign() > 0 {
			return n, nil
		}
	}
}

// errNoCA reports that neither file exists: Open creates the CA.
var errNoCA = errors.New("ca: no CA yet")

// load reads and checks the CA pair. It returns errNoCA when neither file
// exists.
func load(certPath, keyPath string) (*x509.Certificate, crypto.Signer, error) {
	_, certErr := os.Stat(certPath)
	_, keyErr := os.Stat(keyPath)
	certMissing, keyMissing := errors.Is(certErr, fs.ErrNotExist), errors.Is(keyErr, fs.ErrNotExist)
	switch {
	case certMissing && keyMissing:
		return nil, nil, errNoCA
	case certMissing:
		return nil, nil, fmt.Errorf("ca: %s exists but %s does not: restore the certificate, or move the key away to create a new CA", keyPath, certPath)
	case keyMissing:
		return nil, nil, fmt.Errorf("ca: %s exists but %s does not: restore the key, or move the certificate away to create a new CA", certPath, keyPath)
	}

	cert, err := readCert(certPath)
	if err != nil {
		return nil, nil, err
	}
	key, err := readKey(keyPath)
	if err != nil {
		return nil, nil, err
	}
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(cert.PublicKey) {
		return nil, nil, &KeyMismatchError{CertPath: certPath, KeyPath: keyPath}
	}
	return cert, key, nil
}

// readCert reads the first certificate of a PEM file and checks it is a CA.
func readCert(path string) (*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("ca: reading the CA certificate: %w", err)
	}
	for {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			return nil, fmt.Errorf("ca: %s holds no PEM CERTIFICATE block", path)
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("ca: parsing %s: %w", path, err)
		}
		if !cert.BasicConstraintsValid || !cert.IsCA {
			return nil, fmt.Errorf("ca: %s is not a CA certificate (basic constraints CA:TRUE missing)", path)
		}
		return cert, nil
	}
}

// readKey reads the CA key, refusing it when group or others may access it.
func readKey(path string) (crypto.Signer, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("ca: reading the CA key: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat() // the opened file, not the path: no race with a chmod or rename
	if err != nil {
		return nil, fmt.Errorf("ca: reading the CA key: %w", err)
	}
	// Read or write access for group or others is refused; execute bits
	// grant nothing on a regular file. Windows has no mode bits to check:
	// os reports 0666 or 0444.
	if runtime.GOOS != "windows" && fi.Mode().Perm()&0o066 != 0 {
		return nil, &KeyPermissionsError{Path: path, Mode: fi.Mode().Perm()}
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("ca: reading the CA key: %w", err)
	}
	for {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			return nil, fmt.Errorf("ca: %s holds no PEM private key (PRIVATE KEY, EC PRIVATE KEY or RSA PRIVATE KEY)", path)
		}
		var key any
		switch block.Type {
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(block.Bytes)
		case "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		case "ENCRYPTED PRIVATE KEY":
			return nil, fmt.Errorf("ca: %s is encrypted; tlslens needs an unencrypted key (protect it with mode 0600 instead)", path)
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("ca: parsing %s: %w", path, err)
		}
		signer, ok := key.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("ca: %s holds a %T, which cannot sign", path, key)
		}
		switch signer.(type) {
		case *ecdsa.PrivateKey, *rsa.PrivateKey:
		default:
			// Ed25519 roots sign fine, but browsers do not accept them.
			return nil, fmt.Errorf("ca: %s holds a %T key; use an ECDSA or RSA CA", path, key)
		}
		return signer, nil
	}
}

// save writes a new CA pair into dir, creating dir with mode 0700. Neither
// file is overwritten: if one appears meanwhile (another tlslens starting at
// the same time), save fails rather than leave a mismatched pair.
func save(dir, certPath, keyPath string, cert *x509.Certificate, key crypto.Signer) error {
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("ca: creating the CA directory: %w", err)
		}
		if err := os.Chmod(dir, 0o700); err != nil { // whatever the umask
			return fmt.Errorf("ca: creating the CA directory: %w", err)
		}
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("ca: encoding the CA key: %w", err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
	// Key first: a crash in between leaves a key without a certificate,
	// which Open reports, never a certificate clients trust without its key.
	if err := writeNew(keyPath, keyPEM, 0o600); err != nil {
		return err
	}
	if err := writeNew(certPath, certPEM, 0o644); err != nil {
		os.Remove(keyPath)
		return err
	}
	return nil
}

// writeNew creates path with perm and writes b to it, failing if path exists.
func writeNew(path string, b []byte, perm fs.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("ca: %s appeared while creating the CA (is another tlslens starting?): start again to load it: %w", path, err)
	}
	if err != nil {
		return fmt.Errorf("ca: writing the CA: %w", err)
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("ca: writing the CA: %w", err)
	}
	return nil
}
