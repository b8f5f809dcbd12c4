package proxy

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"

	"golang.org/x/sys/unix"
)

func transparentSupported() error { return nil }

// ip6tSOOriginalDst is IP6T_SO_ORIGINAL_DST (linux/netfilter_ipv6/ip6_tables.h),
// which golang.org/x/sys/unix does not define.
const ip6tSOOriginalDst = 80

// originalDst returns where a connection redirected by iptables or nftables
// (REDIRECT, DNAT) was going: netfilter's conntrack answers getsockopt
// SO_ORIGINAL_DST (IPv4, a sockaddr_in) and IP6T_SO_ORIGINAL_DST (IPv6, a
// sockaddr_in6; linux/netfilter_ipv6/ip6_tables.h). For a connection that
// was not translated it returns the connection's own local address, or
// ENOENT when conntrack does not track it.
func originalDst(c net.Conn) (netip.AddrPort, error) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return netip.AddrPort{}, fmt.Errorf("proxy: %T has no socket", c)
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return netip.AddrPort{}, err
	}
	v4 := addrPort(c.LocalAddr()).Addr().Is4() // an IPv4 client of a dual-stack listener too
	var dst netip.AddrPort
	var serr error
	cerr := raw.Control(func(fd uintptr) {
		if v4 {
			// A sockaddr_in is 16 bytes: IPv6Mreq's 20 hold it (the usual trick,
			// since x/sys/unix has no getsockopt for a sockaddr).
			var m *unix.IPv6Mreq
			if m, serr = unix.GetsockoptIPv6Mreq(int(fd), unix.SOL_IP, unix.SO_ORIGINAL_DST); serr == nil {
				b := m.Multiaddr // family (2 bytes), port (network order), address
				dst = netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[4:8])), binary.BigEndian.Uint16(b[2:4]))
			}
			return
		}
		// A sockaddr_in6 is 28 bytes: IPv6MTUInfo's Addr is one.
		var mi *unix.IPv6MTUInfo
		if mi, serr = unix.GetsockoptIPv6MTUInfo(int(fd), unix.SOL_IPV6, ip6tSOOriginalDst); serr == nil {
			var port [2]byte
			binary.NativeEndian.PutUint16(port[:], mi.Addr.Port) // stored in network order
			dst = netip.AddrPortFrom(netip.AddrFrom16(mi.Addr.Addr).Unmap(), binary.BigEndian.Uint16(port[:]))
		}
	})
	if err := errors.Join(cerr, serr); err != nil {
		return netip.AddrPort{}, fmt.Errorf("getsockopt SO_ORIGINAL_DST: %w", err)
	}
	return dst, nil
}
