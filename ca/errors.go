package ca

import (
	"errors"
	"fmt"
	"io/fs"
)

// ErrKeyPermissions reports that the CA's private key file can be read or
// written by users other than its owner. Open returns it wrapped in a
// *KeyPermissionsError, which carries the path and mode.
var ErrKeyPermissions = errors.New("ca: CA private key is accessible by other users")

// ErrKeyMismatch reports that the CA's private key is not the key of its
// certificate. Open returns it wrapped in a *KeyMismatchError.
var ErrKeyMismatch = errors.New("ca: CA private key does not match the CA certificate")

// ErrCAExpired reports that the CA certificate is no longer valid, so no leaf
// it signs would verify.
var ErrCAExpired = errors.New("ca: CA certificate has expired")

// ErrInvalidName reports a name that is neither an IP literal nor a DNS name
// that can go in a certificate (empty, a port, a space, a bad label...).
var ErrInvalidName = errors.New("ca: invalid name")

// A KeyPermissionsError reports a CA key file whose mode lets group or others
// read or write it. Anyone who can read the key can impersonate every site to
// every client that trusts the CA, so Open refuses to start. It matches
// ErrKeyPermissions with errors.Is.
type KeyPermissionsError struct {
	Path string      // the key file, e.g. ~/.config/tlslens/ca-key.pem
	Mode fs.FileMode // its permission bits as found
}

// Error says which file, its mode, and the chmod that fixes it.
func (e *KeyPermissionsError) Error() string {
	access := "read or change"
	switch perm := e.Mode.Perm(); {
	case perm&0o022 == 0:
		access = "read"
	case perm&0o044 == 0:
		access = "change"
	}
	return fmt.Sprintf("ca: CA private key %s has mode %#o, so other users can %s it: run `chmod 600 %s` (if someone may already have copied it, move the CA directory away instead so a new CA is created)",
		e.Path, uint32(e.Mode.Perm()), access, e.Path)
}

// Unwrap returns ErrKeyPermissions.
func (e *KeyPermissionsError) Unwrap() error { return ErrKeyPermissions }

// A KeyMismatchError reports a CA key file whose key is not the one in the CA
// certificate, typically after one of the two files was replaced. Signing with
// it would produce leaves no client can verify. It matches ErrKeyMismatch with
// errors.Is.
type KeyMismatchError struct {
	CertPath string // ca.pem
	KeyPath  string // ca-key.pem
}

// Error names both files and how to recover.
func (e *KeyMismatchError) Error() string {
	return fmt.Sprintf("ca: CA private key %s does not match the certificate %s: restore the pair that belongs together, or move both files away to create a new CA (clients must then trust the new one)",
		e.KeyPath, e.CertPath)
}

// Unwrap returns ErrKeyMismatch.
func (e *KeyMismatchError) Unwrap() error { return ErrKeyMismatch }
