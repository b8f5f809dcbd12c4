package proxy_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"

	"github.com/tlslens/tlslens/ca"
	"github.com/tlslens/tlslens/inspect"
	"github.com/tlslens/tlslens/proxy"
)

// A proxy on a loopback port, one HTTPS request through it, and facts from
// the connection's record, handed to OnRecord as it is written.
func Example() {
	// The real server, and upstream roots that trust it (only it).
	server := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello from the server")
	}))
	defer server.Close()
	upstreamRoots := x509.NewCertPool()
	upstreamRoots.AddCert(server.Certificate())

	// The CA that mints the certificates the client sees.
	auth, err := ca.New(ca.Options{})
	if err != nil {
		log.Fatal(err)
	}
	records := make(chan *inspect.Record, 1)
	p, err := proxy.New(proxy.Options{
		Authority:     auth,
		UpstreamRoots: upstreamRoots,
		OnRecord:      func(r *inspect.Record) { records <- r },
	})
	if err != nil {
		log.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go p.Serve(ctx, ln)
	defer p.Close()

	// A client using the proxy and trusting the tlslens CA.
	clientRoots := x509.NewCertPool()
	clientRoots.AddCert(auth.Certificate())
	client := &http.Client{Transport: &http.Transport{
		Proxy:           http.ProxyURL(&url.URL{Scheme: "http", Host: ln.Addr().String()}),
		TLSClientConfig: &tls.Config{RootCAs: clientRoots},
	}}
	resp, err := client.Get(server.URL)
	if err != nil {
		log.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(resp.Status, string(body))

	r := <-records
	fmt.Println("mode:", r.Mode)
	fmt.Println("outcome:", r.Outcome)
	fmt.Println("client negotiated:", r.Client.Negotiated.Version)
	fmt.Println("upstream negotiated:", r.Upstream.Negotiated.Version)
	fmt.Println("upstream verified:", r.Upstream.Verify.OK)
	// Output:
	// 200 OK hello from the server
	// mode: mitm
	// outcome: ok
	// client negotiated: TLS 1.3
	// upstream negotiated: TLS 1.3
	// upstream verified: true
}
