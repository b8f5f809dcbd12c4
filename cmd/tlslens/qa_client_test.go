package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestQAProxyAuthEntries: proxy_auth entries decode from the documented
// form, and any other form is an error that says the form without echoing
// the entry (it holds a password).
func TestQAProxyAuthEntries(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		yaml    string
		want    []ProxyUser
		wantErr string
	}{
		{"documented", "proxy_auth:\n  - {username: qa, password: \"s3cret pass\"}\n", []ProxyUser{{"qa", "s3cret pass"}}, ""},
		{"block style", "proxy_auth:\n  - username: a\n    password: b\n  - username: c\n    password: d\n", []ProxyUser{{"a", "b"}, {"c", "d"}}, ""},
		{"user:pass string", "proxy_auth: [\"qa:s3cret\"]\n", nil, "each entry is {username: NAME, password: SECRET}"},
		{"misspelt key", "proxy_auth:\n  - {user: qa, password: s3cret}\n", nil, `unknown key "user"`},
		{"password not a string", "proxy_auth:\n  - {username: qa, password: [s3cret]}\n", nil, "password must be a string"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "config.yaml")
			if err := os.WriteFile(path, []byte(tc.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			c, err := loadConfig(path, true)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("loadConfig = %v, want an error saying %q", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), "s3cret") {
					t.Errorf("error %q echoes the password", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(c.ProxyAuth) != len(tc.want) {
				t.Fatalf("proxy_auth = %+v, want %+v", c.ProxyAuth, tc.want)
			}
			for i := range tc.want {
				if c.ProxyAuth[i] != tc.want[i] {
					t.Errorf("proxy_auth[%d] = %+v, want %+v", i, c.ProxyAuth[i], tc.want[i])
				}
			}
		})
	}
}
