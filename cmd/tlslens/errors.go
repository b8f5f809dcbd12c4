package main

import (
	"errors"
	"fmt"
	"net"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"gopkg.in/yaml.v3"
)

// Errors a person can act on: a config key that does not exist names the
// closest one that does, a value of the wrong kind says what is wanted (never
// a Go type), and an address tlslens cannot listen on names the option that
// moves it.

// listenError explains why tlslens cannot listen on addr, the value of the
// config key key (and of the flag --flag).
func listenError(key, addr string, err error) error {
	flag := "--" + strings.ReplaceAll(key, "_", "-")
	switch {
	case errors.Is(err, syscall.EADDRINUSE):
		return fmt.Errorf("%s %s: address already in use: set %s (or %s) to another port", key, addr, key, flag)
	case errors.Is(err, syscall.EACCES):
		return fmt.Errorf("%s %s: permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE): set %s (or %s) to another port", key, addr, key, flag)
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return fmt.Errorf("%s %s: no interface of this host has that address: set %s (or %s) to one of its addresses", key, addr, key, flag)
	}
	return fmt.Errorf("%s %s: %w: set %s (or %s) to another address", key, addr, unwrapOp(err), key, flag)
}

// unwrapOp drops net.OpError's "listen tcp ADDR:" prefix, which the caller's
// message already says.
func unwrapOp(err error) error {
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		return oe.Err
	}
	return err
}

// checkKeys reports the first key of the mapping n that type t (a struct with
// yaml tags) has no field for, with the closest known key, checking nested
// mappings and lists of them too. path is the key n is the value of ("" for
// the document).
func checkKeys(n *yaml.Node, t reflect.Type, path string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(reflect.TypeFor[yaml.Unmarshaler]()) {
		return nil // it checks its own keys (proxy_auth)
	}
	switch t.Kind() {
	case reflect.Slice:
		if n.Kind == yaml.SequenceNode {
			for _, item := range n.Content {
				if err := checkKeys(item, t.Elem(), path+"[]"); err != nil {
					return err
				}
			}
		}
		return nil
	case reflect.Struct:
		if t == reflect.TypeFor[time.Duration]() {
			return nil
		}
	default:
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return nil // a type error: the decoder says it, explained by explainDecode
	}
	fields := yamlFields(t)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		f, ok := fields[k.Value]
		if !ok {
			return unknownKey(join(path, k.Value), k.Line, fields, path)
		}
		if err := checkKeys(v, f, join(path, k.Value)); err != nil {
			return err
		}
	}
	return nil
}

// yamlFields maps the yaml keys of struct type t to their field types.
func yamlFields(t reflect.Type) map[string]reflect.Type {
	m := map[string]reflect.Type{}
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name != "" && name != "-" {
			m[name] = f.Type
		}
	}
	return m
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// unknownKey is the error for key (its full path) on line, whose mapping
// knows fields: the closest of them, or of every key in the config (a key
// written at the wrong level), when one is close enough to be a typo.
func unknownKey(key string, line int, fields map[string]reflect.Type, path string) error {
	leaf := key[strings.LastIndex(key, ".")+1:]
	var here []string
	for k := range fields {
		here = append(here, join(path, k))
	}
	sort.Strings(here)
	best := closest(leaf, here, func(s string) string { return s[strings.LastIndex(s, ".")+1:] })
	if best == "" {
		// A key at the wrong level: "window" for auto_passthrough.window.
		best = closest(leaf, configKeys(), func(s string) string { return s[strings.LastIndex(s, ".")+1:] })
	}
	if best != "" {
		return fmt.Errorf("unknown key %q (line %d): did you mean %q?", key, line, best)
	}
	return fmt.Errorf("unknown key %q (line %d): config.yaml lists every key", key, line)
}

// closest returns the candidate whose name (by name) is nearest to key by
// Levenshtein distance, if it is close enough to be a typo: at most a third
// of the key's length, and at least 2 edits allowed. Dashes count as
// underscores (a flag's spelling). "" when none is.
func closest(key string, candidates []string, name func(string) string) string {
	key = strings.ToLower(strings.ReplaceAll(key, "-", "_"))
	best, bestD := "", max(2, len(key)/3)+1
	for _, c := range candidates {
		if d := levenshtein(key, name(c)); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// levenshtein is the edit distance between a and b: insertions, deletions
// and substitutions of bytes.
func levenshtein(a, b string) int {
	prev, cur := make([]int, len(b)+1), make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// configKeys is every key of config.yaml, nested ones as a.b, list items'
// as a[].b.
func configKeys() []string {
	var keys []string
	var walk func(t reflect.Type, path string)
	walk = func(t reflect.Type, path string) {
		for name, ft := range yamlFields(t) {
			key := join(path, name)
			keys = append(keys, key)
			switch {
			case ft.Kind() == reflect.Struct && ft != reflect.TypeFor[time.Duration]():
				walk(ft, key)
			case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct &&
				!reflect.PointerTo(ft.Elem()).Implements(reflect.TypeFor[yaml.Unmarshaler]()):
				walk(ft.Elem(), key+"[]")
			}
		}
	}
	walk(reflect.TypeFor[Config](), "")
	sort.Strings(keys)
	return keys
}

// typeErrorLine matches one of yaml.v3's type errors: "line 4: cannot
// unmarshal !!str `ten` into time.Duration", or without the value for a
// mapping or a list.
var typeErrorLine = regexp.MustCompile("^line (\\d+): cannot unmarshal !!(\\w+)(?: `(.*)`)? into (.+)$")

// explainDecode rewrites yaml.v3's type errors in doc's decoding as the key
// and what it wants ("handshake_timeout (line 4): want a duration like
// \"10s\", not \"ten\""), without Go type names. Other errors pass as they
// are.
func explainDecode(err error, doc *yaml.Node) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return err
	}
	var out []error
	for _, msg := range te.Errors {
		m := typeErrorLine.FindStringSubmatch(msg)
		if m == nil {
			out = append(out, errors.New(msg))
			continue
		}
		line, _ := strconv.Atoi(m[1])
		tag, value := "!!"+m[2], m[3]
		key := keyAt(doc, line, tag, value, "")
		if key == "" {
			key = "the file" // the document itself: a list or a word, not keys
		}
		got := strconv.Quote(value)
		switch tag {
		case "!!map":
			got = "a mapping"
		case "!!seq":
			got = "a list"
		}
		out = append(out, fmt.Errorf("%s (line %d): want %s, not %s", key, line, want(m[4]), got))
	}
	return errors.Join(out...)
}

// want says in words what a value of the Go type named goType is.
func want(goType string) string {
	switch {
	case goType == "time.Duration":
		return `a duration like "10s"`
	case goType == "bool":
		return "true or false"
	case strings.HasPrefix(goType, "int") || strings.HasPrefix(goType, "uint"):
		return "a whole number"
	case goType == "string":
		return "a single value (quote it)"
	case strings.HasPrefix(goType, "[]"):
		return "a list (- item, or [a, b])"
	}
	return "a mapping of keys (key: value), as in config.yaml"
}

// keyAt is the path of the value under n that starts on line with tag (and,
// for a scalar, value): the value a type error is about. "" if none.
func keyAt(n *yaml.Node, line int, tag, value, path string) string {
	is := func(v *yaml.Node) bool {
		return v.Line == line && v.ShortTag() == tag && (v.Kind != yaml.ScalarNode || v.Value == value)
	}
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if is(v) {
				return join(path, k.Value)
			}
			if found := keyAt(v, line, tag, value, join(path, k.Value)); found != "" {
				return found
			}
		}
	case yaml.SequenceNode:
		for i, item := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			if is(item) {
				return p
			}
			if found := keyAt(item, line, tag, value, p); found != "" {
				return found
			}
		}
	}
	return ""
}
