// Command hellocap captures the ClientHello of a real TLS client for
// inspect's golden tests. It listens on 127.0.0.1, runs the client against
// that address, keeps every TLS record up to the end of the ClientHello
// message, writes them to a file and closes the connection: the client then
// fails its handshake, which is expected.
//
// Usage:
//
//	hellocap -out FILE [-timeout 60s] -- COMMAND [ARG...]
//	hellocap -out FILE -go
//	hellocap -out FILE -nethttp
//
// Each "{port}" in COMMAND and its arguments is replaced by the listening
// port. With -go the client is crypto/tls itself, configured as net/http
// configures it (SNI "localhost", ALPN h2 and http/1.1). With -nethttp the
// client is net/http itself: a GET of https://localhost:PORT/ through a
// clone of http.DefaultTransport without a proxy, dialling 127.0.0.1.
//
// The command runs in its own process group, which is killed once the hello
// is captured or the timeout expires. Nothing but 127.0.0.1 is ever listened
// on or dialled.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/tlslens/tlslens/inspect"
)

// maxHello bounds the bytes read before giving up: a ClientHello is at most
// 2^24 bytes by its length field, real ones are a few kilobytes.
const maxHello = 1 << 18

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "hellocap:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("hellocap", flag.ContinueOnError)
	out := fs.String("out", "", "file to write the ClientHello's TLS records to")
	timeout := fs.Duration("timeout", 60*time.Second, "how long to wait for the client's hello")
	goClient := fs.Bool("go", false, "use a crypto/tls client instead of COMMAND")
	netHTTP := fs.Bool("nethttp", false, "use a net/http client instead of COMMAND")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" {
		return errors.New("-out is required")
	}
	if *goClient && *netHTTP || (*goClient || *netHTTP) == (fs.NArg() > 0) {
		return errors.New("give one of -go, -nethttp or a COMMAND after --")
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer ln.Close()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)

	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()

	stop := func() {}
	switch {
	case *goClient:
		go goHandshake(ctx, ln.Addr().String())
	case *netHTTP:
		go netHTTPGet(ctx, ln.Addr().String(), port)
	default:
		stop, err = start(fs.Args(), port)
		if err != nil {
			return err
		}
	}
	defer stop()

	records, err := capture(ctx, ln)
	ln.Close() // a client that retries is refused rather than left waiting
	if err != nil {
		return err
	}
	if err := os.WriteFile(*out, records, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "hellocap: wrote %d bytes to %s\n", len(records), *out)
	return nil
}

// start runs the client command with {port} substituted, in a process group
// of its own, and returns a function that ends that group.
func start(argv []string, port string) (stop func(), err error) {
	for i := range argv {
		argv[i] = strings.ReplaceAll(argv[i], "{port}", port)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin = nil // /dev/null: gnutls-cli and openssl s_client would wait on a terminal
	cmd.Stdout = os.Stderr
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", argv[0], err)
	}
	done := make(chan struct{})
	go func() {
		cmd.Wait() // the client fails its handshake by design; its status says nothing
		close(done)
	}()
	return func() {
		// A browser keeps running after a failed load; give a command-line
		// client a moment to exit by itself, then end the whole group.
		select {
		case <-done:
		case <-time.After(3 * time.Second):
		}
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}, nil
}

// goHandshake is the -go client: crypto/tls with the configuration net/http
// would use for https://localhost/. Its handshake fails when hellocap closes
// the connection.
func goHandshake(ctx context.Context, addr string) {
	d := tls.Dialer{Config: &tls.Config{
		ServerName: "localhost",
		NextProtos: []string{"h2", "http/1.1"},
	}}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err == nil {
		c.Close()
	}
}

// netHTTPGet is the -nethttp client: net/http's default transport, without
// a proxy and dialling addr, getting https://localhost:PORT/. It fails when
// hellocap closes the connection.
func netHTTPGet(ctx context.Context, addr, port string) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
	defer tr.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://localhost:"+port+"/", nil)
	if err != nil {
		return
	}
	if resp, err := (&http.Client{Transport: tr}).Do(req); err == nil {
		resp.Body.Close()
	}
}

// capture accepts one connection and returns its TLS records up to and
// including the one that completes the ClientHello message.
func capture(ctx context.Context, ln net.Listener) ([]byte, error) {
	if d, ok := ctx.Deadline(); ok {
		ln.(*net.TCPListener).SetDeadline(d)
	}
	c, err := ln.Accept()
	if err != nil {
		return nil, fmt.Errorf("waiting for the client: %w", err)
	}
	defer c.Close()
	if d, ok := ctx.Deadline(); ok {
		c.SetDeadline(d)
	}
	return readHello(c)
}

// readHello reads TLS handshake records (RFC 8446 §5.1) until the first
// handshake message, which must be a ClientHello, is complete.
func readHello(r io.Reader) ([]byte, error) {
	var records []byte
	for {
		start := len(records)
		records = append(records, make([]byte, inspect.RecordHeaderLen)...)
		if _, err := io.ReadFull(r, records[start:]); err != nil {
			return nil, fmt.Errorf("reading record header after %d bytes: %w", start, err)
		}
		if !inspect.IsHandshakeRecord(records[start:]) {
			return nil, fmt.Errorf("record type %d after %d bytes, want handshake (%d)", records[start], start, inspect.RecordTypeHandshake)
		}
		n, _ := inspect.RecordLen(records[start:])
		if n == inspect.RecordHeaderLen || start+n > maxHello {
			return nil, fmt.Errorf("record length %d after %d bytes", n-inspect.RecordHeaderLen, start)
		}
		records = append(records, make([]byte, n-inspect.RecordHeaderLen)...)
		if _, err := io.ReadFull(r, records[start+inspect.RecordHeaderLen:]); err != nil {
			return nil, fmt.Errorf("reading record body: %w", err)
		}
		switch done, err := inspect.HelloComplete(records); {
		case err != nil:
			return nil, fmt.Errorf("after %d bytes: %w", start, err)
		case done:
			return records, nil
		}
	}
}
