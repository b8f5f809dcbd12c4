// Package pcap writes TCP connections whose bytes were kept above TCP (what
// each side read and wrote) as a pcapng capture that Wireshark and tshark
// open as if it had been taken on the wire: it synthesises the Ethernet,
// IP and TCP headers (a three-way handshake, sequence and acknowledgement
// numbers that follow the bytes, a FIN at the end) and puts the
// connection's TLS secrets before its packets in a Decryption Secrets
// Block, so the TLS inside is decrypted with no setting at all.
//
// It is bytes in, bytes out: the times are the caller's, and it neither
// opens sockets nor reads a clock. The pcapng blocks and packet layers are
// gopacket's (pcapgo, layers).
package pcap

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// A Conn is what is written for one intercepted connection: its TCP legs
// and the NSS key log lines (SSLKEYLOGFILE format) of their TLS sessions.
type Conn struct {
	Legs   []Leg
	KeyLog []byte // nil: no Decryption Secrets Block
}

// A Leg is one TCP connection: who opened it, to whom, and the bytes each
// side sent, in the order they were sent.
type Leg struct {
	Client, Server netip.AddrPort // an invalid address is written as 0.0.0.0:0
	Start          time.Time      // the three-way handshake's time
	Chunks         []Chunk
	End            time.Time // the FIN's time; zero: the leg is still open, no FIN
}

// A Chunk is the bytes of one read or write, at the time it happened.
type Chunk struct {
	Time       time.Time
	FromClient bool // sent by Leg.Client; false: by Leg.Server
	Data       []byte
}

// segmentSize is the most TCP payload written in one packet: a TLS record
// of 16 KiB (RFC 8446 §5.1) and its header fit in two, and Wireshark
// reassembles TLS records and HTTP messages across them.
const segmentSize = 16 << 10

// A Writer appends connections to one pcapng section. Not safe for
// concurrent use.
type Writer struct {
	ng *pcapgo.NgWriter
}

// NewWriter writes a pcapng section header and one Ethernet interface to
// w; WriteConn adds connections to it.
func NewWriter(w io.Writer) (*Writer, error) {
	intf := pcapgo.DefaultNgInterface
	intf.LinkType = layers.LinkTypeEthernet
	intf.Name = "tlslens"
	intf.Description = "TCP/IP synthesised by tlslens from each leg's bytes"
	ng, err := pcapgo.NewNgWriterInterface(w, intf, pcapgo.DefaultNgWriterOptions)
	if err != nil {
		return nil, fmt.Errorf("pcap: %w", err)
	}
	return &Writer{ng: ng}, nil
}

// WriteConn writes c's key log lines as a Decryption Secrets Block, then
// the packets of all its legs interleaved by time, and flushes them to the
// underlying writer.
func (w *Writer) WriteConn(c Conn) error {
	if len(c.KeyLog) > 0 {
		if err := w.ng.WriteDecryptionSecretsBlock(pcapgo.DSB_SECRETS_TYPE_TLS, c.KeyLog); err != nil {
			return fmt.Errorf("pcap: secrets: %w", err)
		}
	}
	var pkts []packet
	for i := range c.Legs {
		lp, err := c.Legs[i].packets()
		if err != nil {
			return err
		}
		pkts = append(pkts, lp...)
	}
	// Stable: a leg's packets keep their order when their times are equal.
	slices.SortStableFunc(pkts, func(a, b packet) int { return a.at.Compare(b.at) })
	for _, p := range pkts {
		ci := gopacket.CaptureInfo{Timestamp: p.at, CaptureLength: len(p.data), Length: len(p.data)}
		if err := w.ng.WritePacket(ci, p.data); err != nil {
			return fmt.Errorf("pcap: %w", err)
		}
	}
	return w.ng.Flush()
}

// Write writes c to w as a whole pcapng file.
func Write(w io.Writer, c Conn) error {
	pw, err := NewWriter(w)
	if err != nil {
		return err
	}
	return pw.WriteConn(c)
}

type packet struct {
	at   time.Time
	data []byte
}

// Initial sequence numbers: any will do; fixed ones keep output stable.
const clientISN, serverISN = 1_000_000, 2_000_000

var errMixedFamilies = errors.New("pcap: a leg's addresses are of different IP families")

// packets is the leg as Ethernet frames: the handshake, the data, the FIN.
func (l *Leg) packets() ([]packet, error) {
	cl, sv := addr(l.Client), addr(l.Server)
	if cl.Addr().Is4() != sv.Addr().Is4() {
		return nil, errMixedFamilies
	}
	t := tcpLeg{client: cl, server: sv, seq: [2]uint32{clientISN, serverISN}}
	var out []packet
	emit := func(at time.Time, fromClient bool, flags tcpFlags, payload []byte) error {
		b, err := t.frame(fromClient, flags, payload)
		if err != nil {
			return err
		}
		out = append(out, packet{at: at, data: b})
		return nil
	}
	// RFC 9293 §3.5: SYN, SYN-ACK, ACK; each SYN takes one sequence number.
	if err := emit(l.Start, true, tcpFlags{syn: true}, nil); err != nil {
		return nil, err
	}
	t.seq[0]++
	emit(l.Start, false, tcpFlags{syn: true, ack: true}, nil)
	t.seq[1]++
	emit(l.Start, true, tcpFlags{ack: true}, nil)
	for _, c := range l.Chunks {
		for d := c.Data; len(d) > 0; {
			n := min(len(d), segmentSize)
			if err := emit(c.Time, c.FromClient, tcpFlags{ack: true, psh: n == len(d)}, d[:n]); err != nil {
				return nil, err
			}
			t.seq[side(c.FromClient)] += uint32(n)
			d = d[n:]
		}
	}
	if !l.End.IsZero() {
		emit(l.End, true, tcpFlags{fin: true, ack: true}, nil)
		t.seq[0]++
		emit(l.End, false, tcpFlags{fin: true, ack: true}, nil)
		t.seq[1]++
		emit(l.End, true, tcpFlags{ack: true}, nil)
	}
	return out, nil
}

// addr is a, unmapped, or 0.0.0.0:0 when a is invalid.
func addr(a netip.AddrPort) netip.AddrPort {
	if !a.IsValid() {
		return netip.AddrPortFrom(netip.IPv4Unspecified(), 0)
	}
	return netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
}

func side(fromClient bool) int {
	if fromClient {
		return 0
	}
	return 1
}

type tcpFlags struct{ syn, ack, psh, fin bool }

// tcpLeg is the state of one synthesised TCP connection: each side's next
// sequence number (0: the client's, 1: the server's).
type tcpLeg struct {
	client, server netip.AddrPort
	seq            [2]uint32
}

// Locally administered MAC addresses (IEEE 802 §8.4): one per side.
var (
	clientMAC = net.HardwareAddr{0x02, 0, 0, 0, 0, 1}
	serverMAC = net.HardwareAddr{0x02, 0, 0, 0, 0, 2}
)

// frame serialises one segment from one side, acknowledging all the
// other side has sent.
func (t *tcpLeg) frame(fromClient bool, f tcpFlags, payload []byte) ([]byte, error) {
	src, dst := t.client, t.server
	srcMAC, dstMAC := clientMAC, serverMAC
	me := side(fromClient)
	if !fromClient {
		src, dst = dst, src
		srcMAC, dstMAC = dstMAC, srcMAC
	}
	tcp := &layers.TCP{
		SrcPort: layers.TCPPort(src.Port()), DstPort: layers.TCPPort(dst.Port()),
		Seq: t.seq[me], SYN: f.syn, ACK: f.ack, PSH: f.psh, FIN: f.fin,
		Window: 65535,
	}
	if f.ack {
		tcp.Ack = t.seq[1-me]
	}
	eth := &layers.Ethernet{SrcMAC: srcMAC, DstMAC: dstMAC}
	var ip gopacket.NetworkLayer
	if src.Addr().Is4() {
		eth.EthernetType = layers.EthernetTypeIPv4
		ip4 := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, Flags: layers.IPv4DontFragment,
			SrcIP: src.Addr().AsSlice(), DstIP: dst.Addr().AsSlice()}
		ip = ip4
	} else {
		eth.EthernetType = layers.EthernetTypeIPv6
		ip = &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolTCP,
			SrcIP: src.Addr().AsSlice(), DstIP: dst.Addr().AsSlice()}
	}
	if err := tcp.SetNetworkLayerForChecksum(ip); err != nil {
		return nil, fmt.Errorf("pcap: %w", err)
	}
	buf := gopacket.NewSerializeBuffer()
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	err := gopacket.SerializeLayers(buf, opts, eth, ip.(gopacket.SerializableLayer), tcp, gopacket.Payload(payload))
	if err != nil {
		return nil, fmt.Errorf("pcap: %w", err)
	}
	return buf.Bytes(), nil
}
