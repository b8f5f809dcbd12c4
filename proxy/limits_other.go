//go:build !unix

package proxy

import "syscall"

// peekClosed cannot peek without blocking here: it reports the peer open.
func peekClosed(syscall.RawConn) bool { return false }
