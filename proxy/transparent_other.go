//go:build !linux

package proxy

import (
	"errors"
	"net"
	"net/netip"
	"runtime"
)

func transparentSupported() error {
	return errors.New("proxy: transparent mode needs Linux (iptables or nftables REDIRECT and SO_ORIGINAL_DST); this is " + runtime.GOOS)
}

func originalDst(net.Conn) (netip.AddrPort, error) { return netip.AddrPort{}, transparentSupported() }
