package proxy

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tlslens/tlslens/ca/testpki"
	"github.com/tlslens/tlslens/inspect"
)

// TestIgnoreHosts: a CONNECT whose host, server name or resolved address
// matches ignore_hosts is relayed untouched (the client gets the server's
// own certificate) and leaves no record, only a count in
// tlslens_connections_ignored_total, so that records written plus ignored
// equal connections accepted; with record_ignored it is recorded as a
// passthrough with ignored: true; a deny rule still wins.
func TestIgnoreHosts(t *testing.T) {
	up, roots := failuresUpstream(t)
	port := up.port()
	for _, tt := range []struct {
		name, connect, sni string
		ignore             []string
		record             bool
		policy             []Rule
		want               inspect.Outcome // "" for no record
		wantMode           inspect.Mode
	}{
		{name: "by name", connect: "example.com", sni: "example.com", ignore: []string{"*.test", "example.com"}},
		{name: "by wildcard", connect: "www.example.com", sni: "example.com", ignore: []string{"*.example.com"}},
		{name: "by server name", connect: "127.0.0.1", sni: "example.com", ignore: []string{"example.com"}},
		{name: "by resolved address", connect: "example.com", sni: "example.com", ignore: []string{"127.0.0.0/8"}},
		{name: "recorded", connect: "example.com", sni: "example.com", ignore: []string{"example.com"}, record: true,
			want: inspect.OutcomeOK, wantMode: inspect.ModePassthrough},
		{name: "not matching", connect: "example.com", sni: "example.com", ignore: []string{"other.test", "10.0.0.0/8"},
			want: inspect.OutcomeOK, wantMode: inspect.ModeMITM},
		{name: "deny wins", connect: "127.0.0.1", sni: "example.com", ignore: []string{"example.com"},
			policy: []Rule{{Match: "example.com", Action: ActionDeny}}, want: inspect.OutcomeDenied, wantMode: inspect.ModeMITM},
	} {
		t.Run(tt.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			h := newHarness(t, func(o *Options) {
				o.UpstreamRoots, o.Metrics = roots, reg
				o.IgnoreHosts, o.RecordIgnored = tt.ignore, tt.record
				if tt.policy != nil {
					o.Policy, _ = Rules(tt.policy)
				}
			})
			// An untouched connection shows the server's certificate,
			// an intercepted one tlslens's: the client trusts both roots.
			pool := roots.Clone()
			pool.AddCert(h.auth.Certificate())
			c := tls.Client(h.connect(tt.connect+":"+port), &tls.Config{ServerName: tt.sni, RootCAs: pool, NextProtos: []string{"http/1.1"}})
			defer c.Close()
			err := c.Handshake()
			if tt.want == inspect.OutcomeDenied {
				if r := h.record(); r.Outcome != tt.want {
					t.Fatalf("outcome %s, want %s", r.Outcome, tt.want)
				}
			} else {
				if err != nil {
					t.Fatal(err)
				}
				relayed := tt.want == "" || tt.wantMode == inspect.ModePassthrough
				if issuer := c.ConnectionState().PeerCertificates[0].Issuer.CommonName; relayed != (issuer == "Upstream Test Root") {
					t.Errorf("the client got a certificate issued by %q; relayed untouched: %v", issuer, relayed)
				}
				if resp := newReaderClient(t, c).do("GET", "/x", tt.sni); resp.status != 200 {
					t.Fatalf("GET /x: %d %q", resp.status, resp.body)
				}
				if tt.want != "" {
					r := h.record()
					if r.Outcome != tt.want || r.Mode != tt.wantMode || r.Ignored != tt.record {
						t.Errorf("record outcome %s mode %s ignored %v, want %s %s %v", r.Outcome, r.Mode, r.Ignored, tt.want, tt.wantMode, tt.record)
					}
					if j := h.recordJSON(); (j["ignored"] == true) != tt.record {
						t.Errorf("record JSON ignored = %v, want %v", j["ignored"], tt.record)
					}
				}
			}
			records, ignored := 0.0, 0.0
			if tt.want != "" {
				records = 1
			} else {
				ignored = 1
			}
			h.recordCount(int(records))
			if got := metricValue(t, reg, "tlslens_records_written_total"); got != records {
				t.Errorf("tlslens_records_written_total = %v, want %v", got, records)
			}
			if got := metricValue(t, reg, "tlslens_connections_ignored_total"); got != ignored {
				t.Errorf("tlslens_connections_ignored_total = %v, want %v", got, ignored)
			}
			if got := metricValue(t, reg, "tlslens_connections_total"); got != records+ignored {
				t.Errorf("tlslens_connections_total = %v, want records + ignored = %v", got, records+ignored)
			}
		})
	}
}

// TestIgnoreHostsPatterns: an ignore_hosts pattern is checked like a policy
// rule's, and a bad one stops New with an error naming the key.
func TestIgnoreHostsPatterns(t *testing.T) {
	for _, bad := range []string{"", "a*b.example", "10.0.0.0/33"} {
		_, err := New(Options{Authority: testpki.Authority(t), IgnoreHosts: []string{bad}})
		if err == nil {
			t.Errorf("New with ignore_hosts %q: no error", bad)
		}
	}
}

// TestIgnoreHostsIntercepted: a connection handed to Intercept (transparent
// mode, WireGuard) whose server name is ignored is relayed untouched and
// counted, without a record, as a CONNECT is.
func TestIgnoreHostsIntercepted(t *testing.T) {
	up, roots := failuresUpstream(t)
	reg := prometheus.NewRegistry()
	h := newHarness(t, func(o *Options) {
		o.UpstreamRoots, o.Metrics, o.IgnoreHosts = roots, reg, []string{"example.com"}
	})
	addr, returned := interceptListener(t, h, net.JoinHostPort("127.0.0.1", up.port()), inspect.ViaTransparent)
	tr := &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: "example.com"}, // the server's own certificate
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "tcp", addr) // as if redirected
		},
		DisableKeepAlives: true,
	}
	t.Cleanup(tr.CloseIdleConnections)
	resp, err := (&http.Client{Transport: tr}).Get("https://example.com/ignored")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.HasPrefix(string(body), "hello from upstream /ignored") {
		t.Errorf("body = %q, want the upstream's page", body)
	}
	returns(t, returned)
	h.recordCount(0)
	if got := metricValue(t, reg, "tlslens_connections_ignored_total"); got != 1 {
		t.Errorf("tlslens_connections_ignored_total = %v, want 1", got)
	}
}
