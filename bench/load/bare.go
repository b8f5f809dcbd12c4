package main

import (
	"bufio"
	"cmp"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/tlslens/tlslens/ca"
)

// startBare starts the least a TLS-intercepting proxy can do, as a second
// baseline (-baseline bare): read the CONNECT, answer 200, mint (from the
// same cache tlslens uses) and present a leaf, handshake with the upstream
// verifying its chain once per chain, then copy bytes both ways. No HTTP
// parsing, no recorded flights, no record. tlslens's ratio to it is what
// tlslens's inspection and HTTP handling cost on top of the two handshakes
// any interception needs.
func startBare(e *env, auth *ca.Authority) (addr string, stop func(), err error) {
	return serveBare(e.upstreamCA, auth, func(string) string { return e.upstreamAddr })
}

// serveBare is startBare's listener: each CONNECT's upstream leg is dialled
// at dialAt(CONNECT target), verified against roots.
func serveBare(roots *x509.CertPool, auth *ca.Authority, dialAt func(target string) string) (addr string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	var verified sync.Map // string(leaf DER) -> struct{}
	verify := func(cs tls.ConnectionState) error {
		leaf := cs.PeerCertificates[0]
		if _, ok := verified.Load(string(leaf.Raw)); ok {
			return nil
		}
		inter := x509.NewCertPool()
		for _, c := range cs.PeerCertificates[1:] {
			inter.AddCert(c)
		}
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, DNSName: cs.ServerName}); err != nil {
			return err
		}
		verified.Store(string(leaf.Raw), struct{}{})
		return nil
	}
	var wg sync.WaitGroup
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				bareConn(auth, c, verify, dialAt)
			}()
		}
	}()
	return ln.Addr().String(), func() { ln.Close(); wg.Wait() }, nil
}

func bareConn(auth *ca.Authority, c net.Conn, verify func(tls.ConnectionState) error, dialAt func(string) string) {
	c.SetDeadline(time.Now().Add(10 * time.Second))
	req, err := http.ReadRequest(bufio.NewReaderSize(c, 512)) // the client waits for the 200: nothing is buffered past it
	if err != nil || req.Method != http.MethodConnect {
		return
	}
	host, _, err := net.SplitHostPort(req.URL.Host)
	if err != nil {
		return
	}
	if _, err := io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		return
	}
	// As tlslens does: the client's hello first, for its SNI (a proxy
	// process's CONNECT target is an address), then the upstream's
	// handshake for that name, then the client's with a leaf for it.
	var up *tls.Conn
	var raw net.Conn
	defer func() {
		if raw != nil {
			raw.Close()
		}
	}()
	dc := tls.Server(c, &tls.Config{NextProtos: []string{"http/1.1"}, GetCertificate: func(hi *tls.ClientHelloInfo) (*tls.Certificate, error) {
		name := cmp.Or(hi.ServerName, host)
		var err error
		if raw, err = net.DialTimeout("tcp", dialAt(req.URL.Host), 10*time.Second); err != nil {
			return nil, err
		}
		raw.SetDeadline(time.Now().Add(10 * time.Second))
		up = tls.Client(raw, &tls.Config{ServerName: name, NextProtos: []string{"http/1.1"},
			InsecureSkipVerify: true, VerifyConnection: verify}) // verified by verify, once per chain
		if err := up.Handshake(); err != nil {
			return nil, err
		}
		return auth.Leaf(name)
	}})
	if err := dc.Handshake(); err != nil {
		return
	}
	c.SetDeadline(time.Time{})
	raw.SetDeadline(time.Time{})
	done := make(chan struct{})
	go func() {
		io.Copy(up, dc)
		up.CloseWrite()
		close(done)
	}()
	io.Copy(dc, up)
	dc.CloseWrite()
	<-done
}

// bareChild is the bare MITM as its own process (-role bare, for -external
// -peer bare): the ceiling of any interception as users run one, beside
// tlslens's own process. Its CA is made in dir (root in dir/bare-ca.pem);
// it dials each CONNECT target, which must be loopback, verifying the
// upstream against the roots in caFile; it prints its address and serves
// until its standard input closes.
func bareChild(c config, stdout io.Writer) error {
	b, err := os.ReadFile(c.caFile)
	if err != nil {
		return err
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(b) {
		return fmt.Errorf("no certificate in %s", c.caFile)
	}
	auth, err := ca.New(ca.Options{})
	if err != nil {
		return err
	}
	rootPEM := filepath.Join(c.dir, "bare-ca.pem")
	if err := os.WriteFile(rootPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: auth.Certificate().Raw}), 0o600); err != nil {
		return err
	}
	addr, stop, err := serveBare(roots, auth, func(target string) string {
		if loopbackOnly(target) != nil {
			return "127.0.0.1:0" // refused: nothing listens there
		}
		return target
	})
	if err != nil {
		return err
	}
	defer stop()
	fmt.Fprintf(stdout, "%s %s\n", addr, rootPEM)
	io.Copy(io.Discard, os.Stdin)
	return nil
}
