package main

import (
	"io"

	"github.com/tlslens/tlslens/proxy"
)

// Flows (flows: FILE, --flows): one JSON line per HTTP request on a recorded
// connection, in a file of their own, so that filters over the record file
// keep seeing records only. The file is created like the record file (0600,
// or 0640 with log_file_group) and reopened with it on SIGHUP.

// openFlows opens the flow file, or returns nil when flows is empty.
func openFlows(cfg Config, stdout io.Writer, files logFiles) (*recordFile, error) {
	if cfg.Flows == "" {
		return nil, nil
	}
	f := &recordFile{key: "flows", path: cfg.Flows, files: files, w: stdout}
	return f, f.Reopen()
}

// flowOptions sets the proxy's flow options from cfg, writing to flows
// (nil: no flow file). With the web view on, flows are kept in memory for
// its connection pages whether or not they also go to a file.
func flowOptions(cfg Config, flows *recordFile, opts *proxy.Options) {
	if flows == nil && cfg.WebListen == "" {
		return
	}
	if flows != nil {
		opts.FlowFile = flows // lines as logrus's JSON formatter writes them, with millisecond times
	}
	opts.KeepFlows = cfg.WebListen != ""
	opts.FlowSecrets = !cfg.FlowsRedact
	opts.FlowBodyMax, opts.FlowMemory = cfg.FlowBodyMax, cfg.FlowMemory
	if cfg.FlowBodyMax == 0 {
		opts.FlowBodyMax = -1 // 0 in config.yaml keeps no body; in proxy.Options it means the default
	}
	if cfg.FlowMemory == 0 {
		opts.FlowMemory = -1
	}
}

// validateFlows checks the flow keys.
func (c Config) validateFlows(bad func(key, format string, a ...any)) {
	if c.Flows != "" && c.Flows == c.Records {
		bad("flows", "%q is also records: flows need a file of their own (records must stay records only)", c.Flows)
	}
	if c.FlowBodyMax < 0 {
		bad("flow_body_max", "%d: must be 0 (keep no body) or a number of bytes", c.FlowBodyMax)
	}
	if c.FlowMemory < 0 {
		bad("flow_memory", "%d: must be 0 (keep no flow in memory) or a number of bytes", c.FlowMemory)
	}
}
