package ca

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/binary"
	"encoding/pem"
	"fmt"
	"strings"

	pkcs12 "software.sslmate.com/src/go-pkcs12"
)

// Fingerprint returns the SHA-256 of the root's DER encoding as uppercase
// hex pairs separated by colons, the form browsers and certificate viewers
// show, so a user can compare it with what they are about to trust.
func (a *Authority) Fingerprint() string {
	sum := sha256.Sum256(a.cert.Raw)
	var b strings.Builder
	for i, c := range sum {
		if i > 0 {
			b.WriteByte(':')
		}
		fmt.Fprintf(&b, "%02X", c)
	}
	return b.String()
}

// PEM returns the root certificate PEM-encoded (a "CERTIFICATE" block), the
// format for ca.pem, Linux trust stores, Firefox, Android and iOS profiles.
func (a *Authority) PEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: a.cert.Raw})
}

// DER returns the root certificate DER-encoded, the format Windows and
// Android import as .cer/.crt. The caller must not modify it.
func (a *Authority) DER() []byte { return a.cert.Raw }

// PKCS12 returns the root certificate alone (no key) as a PKCS#12 trust
// store protected by password, for importing into Java (keytool), Windows or
// Apple keychains. The certificate is marked as a trust anchor for any
// purpose (Java's 2.16.840.1.113894.746875.1.1 attribute) and named by the
// root's CN. It uses go-pkcs12's Modern encoder (PBES2 with AES-256, HMAC
// SHA-256 MAC), which OpenSSL 1.1.1+, Java 12+ and Windows Server 2019+ read.
// password may be empty; "changeit" is Java's customary default. Characters
// outside Unicode's Basic Multilingual Plane are an error.
func (a *Authority) PKCS12(password string) ([]byte, error) {
	b, err := pkcs12.Modern.EncodeTrustStoreEntries([]pkcs12.TrustStoreEntry{
		{Cert: a.cert, FriendlyName: a.cert.Subject.CommonName},
	}, password)
	if err != nil {
		return nil, fmt.Errorf("ca: encoding the CA as PKCS#12: %w", err)
	}
	return b, nil
}

// SubjectHashOld returns OpenSSL's old-style subject hash of the root
// (`openssl x509 -subject_hash_old`): the MD5 of the DER-encoded subject
// name, its first four bytes read little-endian, as 8 lowercase hex digits.
// Android's system trust store names each CA file SubjectHashOld()+".0"
// (e.g. /system/etc/security/cacerts/9a5ba575.0, holding PEM()); a ".1"
// suffix is for a second CA whose subject hashes the same.
func (a *Authority) SubjectHashOld() string {
	// OpenSSL X509_NAME_hash_old (crypto/x509/x509_cmp.c): MD5 over the
	// name's DER encoding, the bytes exactly as they are in the certificate.
	sum := md5.Sum(a.cert.RawSubject)
	return fmt.Sprintf("%08x", binary.LittleEndian.Uint32(sum[:4]))
}
