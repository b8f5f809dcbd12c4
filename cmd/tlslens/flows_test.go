package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/tlslens/tlslens/inspect/report/hartest"
)

// TestFlowFileAndHAR runs tlslens with a flow file: each request through it
// is one flow line (msg flow, credentials redacted) in a file of mode 0600,
// joined to a record of the record file, which holds records only; `tlslens
// report --format har` of the two files is a valid HAR 1.2 log.
func TestFlowFileAndHAR(t *testing.T) {
	old := syscall.Umask(0) // the mode must not come from the umask
	t.Cleanup(func() { syscall.Umask(old) })
	e := newEnv(t)
	records, flows := filepath.Join(e.dir, "records.jsonl"), filepath.Join(e.dir, "flows.jsonl")
	logs, stop := e.launch("--admin-listen=", "--records", records, "--flows", flows)
	addr := logs.wait(t, "tlslens listening")["addr"].(string)
	c := e.client(addr)
	e.get(c, "/a", "hello /a")
	e.get(c, "/b?x=1", "hello /b")
	req, _ := http.NewRequest(http.MethodGet, e.upstream.URL+"/secret", nil)
	req.Header.Set("Authorization", "Bearer hunter2")
	req.Header.Set("Cookie", "sid=s3cr3t")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	stop()
	if t.Failed() {
		t.FailNow()
	}

	checkFile(t, flows, 0o600, -1)
	ids := map[string]bool{}
	for _, r := range readRecords(t, records) { // fails on a line that is not a record
		ids[r["id"].(string)] = true
	}
	b, err := os.ReadFile(flows)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"hunter2", "s3cr3t"} {
		if bytes.Contains(b, []byte(secret)) {
			t.Errorf("the flow file holds %q", secret)
		}
	}
	var paths []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		var line struct {
			Msg, ID string
			Flow    struct{ ID, URL string }
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil || line.Msg != "flow" {
			t.Fatalf("flow file line %q: %v, want a flow", sc.Text(), err)
		}
		if !ids[line.ID] || line.Flow.ID != line.ID {
			t.Errorf("flow %v: id %v (%v in the flow) is no record's", line.Flow.URL, line.ID, line.Flow.ID)
		}
		paths = append(paths, strings.TrimPrefix(line.Flow.URL, e.upstream.URL))
	}
	if strings.Join(paths, " ") != "/a /b?x=1 /secret" {
		t.Errorf("flows for %v, want /a /b?x=1 /secret", paths)
	}

	var har, stderr bytes.Buffer
	if err := run(context.Background(), []string{"report", "--format", "har", records, flows}, strings.NewReader(""), &har, &stderr); err != nil {
		t.Fatalf("report --format har: %v\n%s", err, stderr.String())
	}
	if err := hartest.Check(har.Bytes()); err != nil {
		t.Fatalf("the HAR of a real run fails the HAR 1.2 check:\n%v\n%s", err, har.String())
	}
	var h struct {
		Log struct {
			Entries []struct {
				Connection string
				Request    struct{ URL string }
				Response   struct{ Status int }
				TLS        struct {
					Version   string `json:"version"`
					ClientJA4 string `json:"client_ja4"`
				} `json:"_tls"`
			}
		}
	}
	if err := json.Unmarshal(har.Bytes(), &h); err != nil {
		t.Fatal(err)
	}
	if len(h.Log.Entries) != 3 {
		t.Fatalf("%d HAR entries, want 3", len(h.Log.Entries))
	}
	for _, en := range h.Log.Entries {
		if !ids[en.Connection] || en.Response.Status != 200 || en.TLS.Version != "TLS 1.3" || en.TLS.ClientJA4 == "" {
			t.Errorf("HAR entry %s: connection %s status %d _tls %+v", en.Request.URL, en.Connection, en.Response.Status, en.TLS)
		}
	}
}

// TestFlowsConfig: the flow keys' defaults and their errors.
func TestFlowsConfig(t *testing.T) {
	c := defaults()
	if c.Flows != "" || !c.FlowsRedact || c.FlowBodyMax != 1<<20 {
		t.Errorf("defaults: flows %q, flows_redact %v, flow_body_max %d", c.Flows, c.FlowsRedact, c.FlowBodyMax)
	}
	c.Flows, c.Records, c.FlowBodyMax, c.FlowMemory = "same.jsonl", "same.jsonl", -1, -1
	err := c.validate()
	for _, key := range []string{"flows: ", "flow_body_max: ", "flow_memory: "} {
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("validate = %v, want an error naming %s", err, key)
		}
	}
}
