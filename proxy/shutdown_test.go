package proxy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/tlslens/tlslens/inspect"
)

// echoServer accepts TCP connections on 127.0.0.1 and echoes what they send.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); io.Copy(c, c) }()
		}
	}()
	return ln.Addr().String()
}

// TestShutdownWaitsForTunnels checks that Shutdown waits for a relayed
// (not TLS) tunnel until it ends, and that when its context ends first it
// closes the tunnel and reports the context's error.
func TestShutdownWaitsForTunnels(t *testing.T) {
	echo := echoServer(t)
	for _, tt := range []struct {
		name    string
		timeout time.Duration
		wantErr error
	}{
		{"tunnel ends before the timeout", 30 * time.Second, nil},
		{"timeout ends first", 100 * time.Millisecond, context.DeadlineExceeded},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, nil)
			p := h.p

			c, err := net.Dial("tcp", h.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", echo, echo)
			br := bufio.NewReader(c)
			resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
			if err != nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("CONNECT: %v %v", resp, err)
			}
			roundTrip := func(msg string) error {
				if _, err := io.WriteString(c, msg); err != nil {
					return err
				}
				got := make([]byte, len(msg))
				if _, err := io.ReadFull(br, got); err != nil {
					return err
				}
				if string(got) != msg {
					return fmt.Errorf("echo %q, want %q", got, msg)
				}
				return nil
			}
			if err := roundTrip("not TLS, relayed\n"); err != nil {
				t.Fatal(err)
			}
			if r := h.record(); r.Outcome != inspect.OutcomeNotTLS {
				t.Fatalf("record outcome %s, want not_tls", r.Outcome)
			}

			h.stop() // what SIGTERM does
			<-h.served
			if h.err != nil {
				t.Fatalf("Serve = %v", h.err)
			}
			if _, err := net.Dial("tcp", h.addr); err == nil {
				t.Error("the listener still accepts after Serve returned")
			}
			sctx, scancel := context.WithTimeout(context.Background(), tt.timeout)
			defer scancel()
			shut := make(chan error, 1)
			go func() { shut <- p.Shutdown(sctx) }()

			if tt.wantErr == nil {
				if err := roundTrip("still relayed while shutting down\n"); err != nil {
					t.Fatalf("tunnel during shutdown: %v", err)
				}
				select {
				case err := <-shut:
					t.Fatalf("Shutdown returned (%v) with a tunnel open", err)
				default:
				}
				c.Close()
			}
			select {
			case err := <-shut:
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Shutdown = %v, want %v", err, tt.wantErr)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("Shutdown did not return")
			}
			if p.live.count() != 0 {
				t.Errorf("%d connections still tracked after Shutdown", p.live.count())
			}
			if tt.wantErr != nil {
				c.SetReadDeadline(time.Now().Add(10 * time.Second))
				if _, err := br.ReadByte(); err == nil {
					t.Error("the tunnel is still open after Shutdown's timeout")
				}
			}
		})
	}
}
