//go:build unix

package proxy

import "syscall"

// peekClosed peeks at the socket without blocking: a read of 0 bytes is the
// peer's FIN, ECONNRESET its reset; pending data or nothing yet is open.
func peekClosed(rc syscall.RawConn) bool {
	closed := false
	rc.Read(func(fd uintptr) bool {
		var b [1]byte
		n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		closed = (n == 0 && err == nil) || err == syscall.ECONNRESET
		return true // never wait for readiness
	})
	return closed
}
