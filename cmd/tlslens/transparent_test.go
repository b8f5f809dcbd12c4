package main

import (
	"net"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// TestTransparentModeRun runs the real run() with --mode transparent: it
// listens, and a connection made straight to it (not redirected by
// iptables or nftables) is closed and recorded as such. The redirected
// path is TestTransparentNetns in package proxy.
func TestTransparentModeRun(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("transparent mode is Linux only")
	}
	e := newEnv(t)
	records := filepath.Join(e.dir, "records.jsonl")
	logs, stop := e.launch("--mode", "transparent", "--admin-listen=", "--records", records)
	line := logs.wait(t, "tlslens listening")
	if line["mode"] != "transparent" {
		t.Errorf("start-up line mode = %v, want transparent", line["mode"])
	}
	addr := line["addr"].(string)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := c.Read(make([]byte, 1)); err == nil {
		t.Errorf("read %d bytes from a connection that was not redirected, want it closed", n)
	}
	stop()
	if t.Failed() {
		t.FailNow()
	}
	recs := readRecords(t, records)
	if len(recs) != 1 {
		t.Fatalf("%d records, want 1", len(recs))
	}
	r := recs[0]
	if r["via"] != "transparent" || r["outcome"] != "denied" || r["reason"] != "transparent: not redirected" || r["target"] != addr {
		t.Errorf("record via %v outcome %v reason %v target %v, want transparent denied \"transparent: not redirected\" %s",
			r["via"], r["outcome"], r["reason"], r["target"], addr)
	}
}
