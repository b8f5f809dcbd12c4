package advice

import (
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/tlslens/tlslens/inspect"
)

// A HelloTooLargeError reports a ClientHello that grew past the size limit
// (max_hello_size) before it was complete. proxy returns it from reading the
// hello; Hello names the limit to raise.
type HelloTooLargeError struct{ Limit int }

func (e *HelloTooLargeError) Error() string {
	return fmt.Sprintf("proxy: ClientHello larger than %d bytes", e.Limit)
}

// Hello says why a client's ClientHello could not be read, from the error
// reading it, the n bytes received before it and the timeout that bounded
// it: SSL 2.0, too large, stalled, closed or truncated.
func Hello(err error, n int, timeout time.Duration) string {
	var tooLarge *HelloTooLargeError
	var ne net.Error
	switch {
	case errors.Is(err, inspect.ErrSSLv2):
		return "the client sent an SSL 2.0-format ClientHello (RFC 5246 Appendix E.2), which tlslens cannot answer: configure the client to send a TLS ClientHello (disable SSLv2Hello)"
	case errors.As(err, &tooLarge):
		return fmt.Sprintf("the client's ClientHello exceeds %d bytes; raise max_hello_size if this client is legitimate", tooLarge.Limit)
	case errors.As(err, &ne) && ne.Timeout():
		return fmt.Sprintf("the client sent no complete ClientHello within %s (%d bytes received): it stalled or is not speaking TLS", timeout, n)
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		if n == 0 {
			return "the client closed the tunnel without sending anything"
		}
		return fmt.Sprintf("the client closed the connection in the middle of its ClientHello (%d bytes received)", n)
	case errors.Is(err, inspect.ErrTruncated):
		return fmt.Sprintf("the client's ClientHello is truncated (%d bytes received)", n)
	}
	return "the client's ClientHello could not be read: " + err.Error()
}
