package proxy

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
)

// TestGuard: the web view's listener gets the proxy's access rules on every
// request: the allow-list (403), then Basic auth with a credential (401
// with a challenge).
func TestGuard(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "in") })
	loop := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	other := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	creds := []Credential{{"ann", "s3cret"}}
	for _, tt := range []struct {
		name       string
		allow      []netip.Prefix
		creds      []Credential
		user, pass string
		want       int
	}{
		{"open", nil, nil, "", "", 200},
		{"allowed address", loop, nil, "", "", 200},
		{"other address", other, nil, "", "", 403},
		{"no credentials", nil, creds, "", "", 401},
		{"wrong password", nil, creds, "ann", "guess", 401},
		{"signed in", loop, creds, "ann", "s3cret", 200},
		{"signed in, other address", other, creds, "ann", "s3cret", 403},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h, err := Guard(ok, tt.allow, tt.creds)
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(h)
			defer srv.Close()
			req, _ := http.NewRequest("GET", srv.URL, nil)
			if tt.user != "" {
				req.SetBasicAuth(tt.user, tt.pass)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Errorf("GET = %d, want %d", resp.StatusCode, tt.want)
			}
			if tt.want == 401 && resp.Header.Get("WWW-Authenticate") != proxyAuthenticate {
				t.Errorf("401 without the Basic challenge: %q", resp.Header.Get("WWW-Authenticate"))
			}
		})
	}
	if _, err := Guard(ok, nil, []Credential{{"", "x"}}); err == nil {
		t.Error("Guard accepted an empty username")
	}
}
