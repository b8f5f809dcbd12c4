// Package hartest checks HAR files against HAR 1.2's required fields, for
// the tests of report.HAR and of `tlslens report --format har`. It is for
// tests only.
package hartest

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"
)

// kind is a JSON type as encoding/json decodes it into any.
type kind string

const (
	str     kind = "string"
	number  kind = "number"
	object  kind = "object"
	array   kind = "array"
	boolean kind = "boolean"
)

// field is one key of an object: its type, and whether HAR 1.2 requires it.
type field struct {
	name     string
	kind     kind
	required bool
}

// spec is HAR 1.2 (http://www.softwareishard.com/blog/har-12-spec/), object
// by object: every required key with its type, and the optional keys
// whose type is checked when present.
var spec = map[string][]field{
	"log": {{"version", str, true}, {"creator", object, true}, {"entries", array, true},
		{"browser", object, false}, {"pages", array, false}, {"comment", str, false}},
	"creator": {{"name", str, true}, {"version", str, true}, {"comment", str, false}},
	"entry": {{"startedDateTime", str, true}, {"time", number, true}, {"request", object, true},
		{"response", object, true}, {"cache", object, true}, {"timings", object, true},
		{"pageref", str, false}, {"serverIPAddress", str, false}, {"connection", str, false}, {"comment", str, false}},
	"request": {{"method", str, true}, {"url", str, true}, {"httpVersion", str, true}, {"cookies", array, true},
		{"headers", array, true}, {"queryString", array, true}, {"headersSize", number, true}, {"bodySize", number, true},
		{"postData", object, false}, {"comment", str, false}},
	"response": {{"status", number, true}, {"statusText", str, true}, {"httpVersion", str, true}, {"cookies", array, true},
		{"headers", array, true}, {"content", object, true}, {"redirectURL", str, true}, {"headersSize", number, true},
		{"bodySize", number, true}, {"comment", str, false}},
	"cookie": {{"name", str, true}, {"value", str, true}, {"path", str, false}, {"domain", str, false},
		{"expires", str, false}, {"httpOnly", boolean, false}, {"secure", boolean, false}, {"comment", str, false}},
	"header":      {{"name", str, true}, {"value", str, true}, {"comment", str, false}},
	"queryString": {{"name", str, true}, {"value", str, true}, {"comment", str, false}},
	"postData":    {{"mimeType", str, true}, {"params", array, true}, {"text", str, true}, {"comment", str, false}},
	"param": {{"name", str, true}, {"value", str, false}, {"fileName", str, false}, {"contentType", str, false},
		{"comment", str, false}},
	"content": {{"size", number, true}, {"mimeType", str, true}, {"compression", number, false},
		{"text", str, false}, {"encoding", str, false}, {"comment", str, false}},
	"cache": {{"beforeRequest", object, false}, {"afterRequest", object, false}, {"comment", str, false}},
	"timings": {{"send", number, true}, {"wait", number, true}, {"receive", number, true},
		{"blocked", number, false}, {"dns", number, false}, {"connect", number, false}, {"ssl", number, false},
		{"comment", str, false}},
}

// Check reports every way b is not a HAR 1.2 file: a required key missing, a
// key of the wrong type, a date that is not ISO 8601, a negative send, wait
// or receive, an optional timing below -1, or an entry's time that is not the
// sum of its timings.
func Check(b []byte) error {
	var top map[string]any
	if err := json.Unmarshal(b, &top); err != nil {
		return fmt.Errorf("not a JSON object: %w", err)
	}
	c := &checker{}
	log, ok := top["log"].(map[string]any)
	if !ok {
		return errors.New(`no "log" object`)
	}
	c.object("log", "log", log)
	if cr, ok := log["creator"].(map[string]any); ok {
		c.object("log.creator", "creator", cr)
	}
	entries, _ := log["entries"].([]any)
	for i, e := range entries {
		c.entry(fmt.Sprintf("log.entries[%d]", i), e)
	}
	return errors.Join(c.errs...)
}

type checker struct{ errs []error }

func (c *checker) fail(format string, a ...any) { c.errs = append(c.errs, fmt.Errorf(format, a...)) }

// object checks obj's keys against spec[name].
func (c *checker) object(where, name string, obj map[string]any) {
	for _, f := range spec[name] {
		v, ok := obj[f.name]
		if !ok {
			if f.required {
				c.fail("%s: required %q missing", where, f.name)
			}
			continue
		}
		if got := kindOf(v); got != f.kind {
			c.fail("%s.%s: %s, want %s", where, f.name, got, f.kind)
		}
	}
}

// list checks each element of obj[key], an array, as a spec[name] object.
func (c *checker) list(where, key, name string, obj map[string]any) {
	items, _ := obj[key].([]any)
	for i, it := range items {
		m, ok := it.(map[string]any)
		if !ok {
			c.fail("%s.%s[%d]: %s, want object", where, key, i, kindOf(it))
			continue
		}
		c.object(fmt.Sprintf("%s.%s[%d]", where, key, i), name, m)
	}
}

func (c *checker) entry(where string, v any) {
	e, ok := v.(map[string]any)
	if !ok {
		c.fail("%s: %s, want object", where, kindOf(v))
		return
	}
	c.object(where, "entry", e)
	if s, ok := e["startedDateTime"].(string); ok {
		if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
			c.fail("%s.startedDateTime %q: not ISO 8601: %v", where, s, err)
		}
	}
	if req, ok := e["request"].(map[string]any); ok {
		w := where + ".request"
		c.object(w, "request", req)
		c.list(w, "cookies", "cookie", req)
		c.list(w, "headers", "header", req)
		c.list(w, "queryString", "queryString", req)
		if pd, ok := req["postData"].(map[string]any); ok {
			c.object(w+".postData", "postData", pd)
			c.list(w+".postData", "params", "param", pd)
		}
	}
	if resp, ok := e["response"].(map[string]any); ok {
		w := where + ".response"
		c.object(w, "response", resp)
		c.list(w, "cookies", "cookie", resp)
		c.list(w, "headers", "header", resp)
		if ct, ok := resp["content"].(map[string]any); ok {
			c.object(w+".content", "content", ct)
		}
	}
	if cache, ok := e["cache"].(map[string]any); ok {
		c.object(where+".cache", "cache", cache)
	}
	t, ok := e["timings"].(map[string]any)
	if !ok {
		return
	}
	c.object(where+".timings", "timings", t)
	sum := 0.0
	for _, k := range []string{"blocked", "dns", "connect", "ssl", "send", "wait", "receive"} {
		x, ok := t[k].(float64)
		if !ok {
			continue
		}
		required := k == "send" || k == "wait" || k == "receive"
		switch {
		case required && x < 0:
			c.fail("%s.timings.%s = %v: must not be negative", where, k, x)
		case x < -1:
			c.fail("%s.timings.%s = %v: -1 (not applicable) or more", where, k, x)
		case x >= 0:
			sum += x
		}
	}
	// ssl is included in connect (HAR 1.2): counted once.
	if ssl, ok := t["ssl"].(float64); ok && ssl > 0 {
		sum -= ssl
	}
	if total, ok := e["time"].(float64); ok && math.Abs(total-sum) > 0.01 {
		c.fail("%s.time = %v, want the sum of its timings %v", where, total, sum)
	}
}

func kindOf(v any) kind {
	switch v.(type) {
	case string:
		return str
	case float64:
		return number
	case map[string]any:
		return object
	case []any:
		return array
	case bool:
		return boolean
	case nil:
		return "null"
	}
	return "unknown"
}
