package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/tlslens/tlslens/inspect"
)

// fingerprintRow is one row of a YAML fingerprints file.
type fingerprintRow struct {
	Name string `yaml:"name"`
	JA4  string `yaml:"ja4"`
	JA4R string `yaml:"ja4_r"`
}

// knownClients returns the table that names each client's hello: the
// shipped one, extended and overridden by the fingerprints file when one is
// set. A .yaml or .yml file is a strict YAML list of {name, ja4, ja4_r};
// any other is in the shipped table's own format (inspect.ParseClientTable).
func knownClients(file string) (*inspect.ClientTable, error) {
	if file == "" {
		return inspect.KnownClients(), nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("fingerprints: %w", err)
	}
	var user *inspect.ClientTable
	switch strings.ToLower(filepath.Ext(file)) {
	case ".yaml", ".yml":
		user, err = yamlClients(b)
	default:
		user, err = inspect.ParseClientTable(b)
	}
	if err != nil {
		return nil, fmt.Errorf("fingerprints: %s: %w", file, err)
	}
	return inspect.KnownClients().Extend(user), nil
}

// yamlClients parses a YAML fingerprints file strictly: a key other than
// name, ja4 and ja4_r is an error, as is a row without a name or a
// fingerprint.
func yamlClients(b []byte) (*inspect.ClientTable, error) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var rows []fingerprintRow
	if err := dec.Decode(&rows); err != nil && !errors.Is(err, io.EOF) { // io.EOF: the file is empty
		return nil, err
	}
	clients := make([]inspect.KnownClient, len(rows))
	for i, r := range rows {
		clients[i] = inspect.KnownClient{Name: r.Name, JA4: r.JA4, JA4R: r.JA4R}
	}
	return inspect.NewClientTable(clients)
}
