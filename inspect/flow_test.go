package inspect_test

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/tlslens/tlslens/inspect"
)

func TestRedact(t *testing.T) {
	tests := []struct {
		name, value, want string
	}{
		{"Authorization", "Bearer abc.def", "Bearer [redacted]"},
		{"Authorization", "opaque", "[redacted]"},
		{"Proxy-Authorization", "Basic dXNlcjpwYXNz", "Basic [redacted]"},
		{"Cookie", "sid=abc; theme=dark", "sid=[redacted]; theme=[redacted]"},
		{"Set-Cookie", "sid=abc; Path=/; HttpOnly", "sid=[redacted]; Path=/; HttpOnly"},
		{"Set-Cookie", "sid=abc", "sid=[redacted]"},
		{"Accept", "text/html", "text/html"},
	}
	for _, tc := range tests {
		in := []inspect.Header{{Name: "Host", Value: "example.com"}, {Name: tc.name, Value: tc.value}}
		got := inspect.Redact(in)
		want := []inspect.Header{{Name: "Host", Value: "example.com"}, {Name: tc.name, Value: tc.want}}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("Redact(%s: %s) = %v, want %v", tc.name, tc.value, got, want)
		}
		if in[1].Value != tc.value {
			t.Errorf("Redact modified its input: %v", in)
		}
		if got := inspect.RedactValue(tc.name, tc.value); got != tc.want {
			t.Errorf("RedactValue(%s, %q) = %q, want %q", tc.name, tc.value, got, tc.want)
		}
	}
}

// Redact keeps what a reader of a flow file needs (the authorization scheme,
// cookie names and attributes) and drops the credentials.
func ExampleRedact() {
	hs := inspect.Redact([]inspect.Header{
		{Name: "Authorization", Value: "Bearer eyJhbGciOi"},
		{Name: "Cookie", Value: "sid=31d4d96e407aad42; lang=en"},
		{Name: "Set-Cookie", Value: "sid=31d4d96e407aad42; Path=/; Secure; HttpOnly"},
		{Name: "Accept", Value: "text/html"},
	})
	for _, h := range hs {
		fmt.Printf("%s: %s\n", h.Name, h.Value)
	}
	// Output:
	// Authorization: Bearer [redacted]
	// Cookie: sid=[redacted]; lang=[redacted]
	// Set-Cookie: sid=[redacted]; Path=/; Secure; HttpOnly
	// Accept: text/html
}
