// Package advice words the error of a record: why a connection failed, in
// terms a person can act on ("the server requires a client certificate ...:
// add one under client_certs"). Each function takes an error and the facts
// around it, and returns the sentence for the side's error key; "" when it
// has nothing to say.
//
// advice decides no outcome and touches no connection: package proxy
// classifies errors and fills records, and calls advice for the words.
// It depends on inspect and the standard library only.
package advice

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"slices"
	"sync"
	"syscall"
)

// goSuites is every TLS 1.0-1.2 suite crypto/tls implements, built once and
// shared: callers must not modify it.
var goSuites = sync.OnceValue(func() []uint16 {
	var ids []uint16
	for _, cs := range tls.CipherSuites() {
		ids = append(ids, cs.ID)
	}
	for _, cs := range tls.InsecureCipherSuites() {
		ids = append(ids, cs.ID)
	}
	return slices.Clip(ids)
})

// closed reports whether err is the peer closing or resetting the
// connection.
func closed(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, syscall.ECONNRESET)
}
