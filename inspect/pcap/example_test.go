package pcap_test

import (
	"bytes"
	"fmt"
	"net/netip"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/tlslens/tlslens/inspect/pcap"
)

// A connection kept as what each side sent becomes a pcapng: the TCP
// handshake, the data and the FIN are synthesised around the bytes.
func ExampleWrite() {
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	leg := pcap.Leg{
		Client: netip.MustParseAddrPort("192.0.2.1:50000"),
		Server: netip.MustParseAddrPort("198.51.100.7:443"),
		Start:  start,
		Chunks: []pcap.Chunk{
			{Time: start.Add(time.Millisecond), FromClient: true, Data: []byte("hello")},
			{Time: start.Add(2 * time.Millisecond), FromClient: false, Data: []byte("world")},
		},
		End: start.Add(3 * time.Millisecond),
	}
	var b bytes.Buffer
	if err := pcap.Write(&b, pcap.Conn{Legs: []pcap.Leg{leg}, KeyLog: []byte("CLIENT_RANDOM 00 00\n")}); err != nil {
		fmt.Println(err)
		return
	}
	// Read it back: one line per packet.
	r, err := pcapgo.NewNgReader(&b, pcapgo.DefaultNgReaderOptions)
	if err != nil {
		fmt.Println(err)
		return
	}
	for {
		data, _, err := r.ReadPacketData()
		if err != nil {
			break
		}
		p := gopacket.NewPacket(data, layers.LayerTypeEthernet, gopacket.Default)
		ip, tcp := p.NetworkLayer().NetworkFlow(), p.Layer(layers.LayerTypeTCP).(*layers.TCP)
		fmt.Printf("%s:%d > %s:%d syn=%v fin=%v seq=%d ack=%d %q\n", ip.Src(), tcp.SrcPort, ip.Dst(), tcp.DstPort,
			tcp.SYN, tcp.FIN, tcp.Seq, tcp.Ack, tcp.Payload)
	}
	// Output:
	// 192.0.2.1:50000 > 198.51.100.7:443 syn=true fin=false seq=1000000 ack=0 ""
	// 198.51.100.7:443 > 192.0.2.1:50000 syn=true fin=false seq=2000000 ack=1000001 ""
	// 192.0.2.1:50000 > 198.51.100.7:443 syn=false fin=false seq=1000001 ack=2000001 ""
	// 192.0.2.1:50000 > 198.51.100.7:443 syn=false fin=false seq=1000001 ack=2000001 "hello"
	// 198.51.100.7:443 > 192.0.2.1:50000 syn=false fin=false seq=2000001 ack=1000006 "world"
	// 192.0.2.1:50000 > 198.51.100.7:443 syn=false fin=true seq=1000006 ack=2000006 ""
	// 198.51.100.7:443 > 192.0.2.1:50000 syn=false fin=true seq=2000006 ack=1000007 ""
	// 192.0.2.1:50000 > 198.51.100.7:443 syn=false fin=false seq=1000007 ack=2000007 ""
}
