package main

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
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
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: e.upstreamCA, Intermediates: inter, DNSName: cs.ServerName}); err != nil {
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
				bareConn(e, auth, c, verify)
			}()
		}
	}()
	return ln.Addr().String(), func() { ln.Close(); wg.Wait() }, nil
}

func bareConn(e *env, auth *ca.Authority, c net.Conn, verify func(tls.ConnectionState) error) {
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
	leaf, err := auth.Leaf(host)
	if err != nil {
		return
	}
	raw, err := net.DialTimeout("tcp", e.upstreamAddr, 10*time.Second)
	if err != nil {
		return
	}
	defer raw.Close()
	raw.SetDeadline(time.Now().Add(10 * time.Second))
	up := tls.Client(raw, &tls.Config{ServerName: host, NextProtos: []string{"http/1.1"},
		InsecureSkipVerify: true, VerifyConnection: verify}) // verified by verify, once per chain
	if err := up.Handshake(); err != nil {
		return
	}
	dc := tls.Server(c, &tls.Config{Certificates: []tls.Certificate{*leaf}, NextProtos: []string{"http/1.1"}})
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
