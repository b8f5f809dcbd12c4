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
	"errors"
	"io"
	"net"
	"syscall"
)

// closed reports whether err is the peer closing or resetting the
// connection.
func closed(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, syscall.ECONNRESET)
}
