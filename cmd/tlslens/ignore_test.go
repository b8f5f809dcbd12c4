package main

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestIgnoreHostsDefaultList: the browser list commented in config.yaml,
// uncommented, is a valid ignore_hosts; left commented, nothing is ignored.
func TestIgnoreHostsDefaultList(t *testing.T) {
	b, err := os.ReadFile("../../config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	block := regexp.MustCompile(`(?m)^# ignore_hosts:\n(#   - .*\n)+`).Find(b)
	if block == nil {
		t.Fatal("config.yaml has no commented ignore_hosts list")
	}
	uncommented := regexp.MustCompile(`(?m)^# ?`).ReplaceAllString(string(block), "")
	c := defaults()
	if err := yaml.Unmarshal([]byte(uncommented), &c); err != nil {
		t.Fatalf("the commented list does not parse: %v\n%s", err, uncommented)
	}
	if len(c.IgnoreHosts) < 5 {
		t.Fatalf("the commented list has %d hosts: %q", len(c.IgnoreHosts), c.IgnoreHosts)
	}
	if err := c.validate(); err != nil {
		t.Errorf("the commented list is not valid: %v", err)
	}
	if d := defaults(); len(d.IgnoreHosts) != 0 || d.RecordIgnored {
		t.Errorf("defaults ignore %q (record_ignored %v), want nothing", d.IgnoreHosts, d.RecordIgnored)
	}
	c.IgnoreHosts = append(c.IgnoreHosts, "ads*.example")
	if err := c.validate(); err == nil || !strings.Contains(err.Error(), "ignore_hosts[") {
		t.Errorf("validate() = %v, want an error naming ignore_hosts[i]", err)
	}
}
