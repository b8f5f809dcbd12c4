package proxy

import (
	"bytes"
	"crypto/x509"
	"net"
	"reflect"
	"testing"

	"github.com/tlslens/tlslens/ca"
	"github.com/tlslens/tlslens/inspect"
)

// TestCertSummaries: a chain summarised through the cache is what
// inspect.Chain says, the first time and when answered from the cache, and
// certificates with different contents never share a summary.
func TestCertSummaries(t *testing.T) {
	auth, err := ca.New(ca.Options{})
	if err != nil {
		t.Fatal(err)
	}
	leafA, err := auth.Leaf("a.example")
	if err != nil {
		t.Fatal(err)
	}
	leafB, err := auth.LeafWithNames("b.example", []string{"b.example", "www.b.example"})
	if err != nil {
		t.Fatal(err)
	}
	// The same DER parsed again: another pointer, the same contents.
	reparsed, err := x509.ParseCertificate(leafA.Leaf.Raw)
	if err != nil {
		t.Fatal(err)
	}
	root := auth.Certificate()
	cache := newCertSummaries()
	tests := []struct {
		name  string
		chain []*x509.Certificate
	}{
		{"leaf and root", []*x509.Certificate{leafA.Leaf, root}},
		{"again, from the cache", []*x509.Certificate{leafA.Leaf, root}},
		{"another leaf, same root", []*x509.Certificate{leafB.Leaf, root}},
		{"reparsed leaf", []*x509.Certificate{reparsed, root}},
		{"root alone", []*x509.Certificate{root}},
		{"empty", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, want := cache.chain(tt.chain), inspect.Chain(tt.chain)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("chain = %+v, want %+v", got, want)
			}
		})
	}
	if a, b := cache.chain([]*x509.Certificate{leafA.Leaf}), cache.chain([]*x509.Certificate{leafB.Leaf}); a[0].SHA256 == b[0].SHA256 || reflect.DeepEqual(a[0].SANs, b[0].SANs) {
		t.Errorf("two leaves share a summary: %+v and %+v", a[0], b[0])
	}
}

// TestRecordingConn: each direction keeps what passed, up to the limit,
// whatever the first allocation, and nothing after stop.
func TestRecordingConn(t *testing.T) {
	tests := []struct {
		name        string
		limit, size int
		writes      [][]byte
		want        []byte
	}{
		{"one write", 1 << 10, 0, [][]byte{[]byte("hello")}, []byte("hello")},
		{"grows past the first allocation", 1 << 10, 4, [][]byte{[]byte("abc"), []byte("defgh"), bytes.Repeat([]byte("i"), 600)},
			append([]byte("abcdefgh"), bytes.Repeat([]byte("i"), 600)...)},
		{"presized", 1 << 10, recordingSize, [][]byte{[]byte("abc"), []byte("def")}, []byte("abcdef")},
		{"cut at the limit", 5, recordingSize, [][]byte{[]byte("abc"), []byte("defgh"), []byte("ij")}, []byte("abcde")},
		{"nothing", 1 << 10, recordingSize, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := net.Pipe()
			defer a.Close()
			defer b.Close()
			rc := newRecordingConn(a, tt.limit)
			rc.readSize, rc.writeSize = tt.size, tt.size
			done := make(chan []byte)
			go func() { // the peer echoes every write back
				var got []byte
				buf := make([]byte, 1<<10)
				for range tt.writes {
					n, err := b.Read(buf)
					if err != nil {
						break
					}
					got = append(got, buf[:n]...)
					b.Write(buf[:n])
				}
				done <- got
			}()
			for _, w := range tt.writes {
				if _, err := rc.Write(w); err != nil {
					t.Fatal(err)
				}
				if _, err := rc.Read(make([]byte, len(w))); err != nil {
					t.Fatal(err)
				}
			}
			<-done
			read, written := rc.stop()
			if !bytes.Equal(written, tt.want) || !bytes.Equal(read, tt.want) {
				t.Errorf("written %q, read %q; want %q both", written, read, tt.want)
			}
			go func() {
				buf := make([]byte, 8)
				n, _ := b.Read(buf)
				b.Write(buf[:n])
			}()
			rc.Write([]byte("after"))
			rc.Read(make([]byte, 8))
			if r2, w2 := rc.stop(); r2 != nil || w2 != nil {
				t.Errorf("recorded after stop: read %q, written %q", r2, w2)
			}
		})
	}
}
