package report

import (
	"strings"
	"testing"
	"time"

	"github.com/tlslens/tlslens/inspect"
)

func TestFilter(t *testing.T) {
	g := genLines(t, 1000)
	browser, legacy := clientProfiles[0].hello.JA4, clientProfiles[1].hello.JA4
	for _, tt := range []struct {
		name   string
		filter Filter
		keep   func(r *inspect.Record) bool // said another way than Filter.Match
	}{
		{"none", Filter{}, func(*inspect.Record) bool { return true }},
		{"since", Filter{Since: base.Add(500 * time.Minute)},
			func(r *inspect.Record) bool { return r.ID >= "conn-000500" }},
		{"until", Filter{Until: base.Add(100 * time.Minute)},
			func(r *inspect.Record) bool { return r.ID < "conn-000100" }},
		{"since and until", Filter{Since: base.Add(200 * time.Minute), Until: base.Add(300 * time.Minute)},
			func(r *inspect.Record) bool { return r.ID >= "conn-000200" && r.ID < "conn-000300" }},
		{"client JA4", Filter{Client: legacy},
			func(r *inspect.Record) bool {
				return r.Client.Hello != nil && strings.HasPrefix(r.Client.Hello.Version, "TLS 1.0")
			}},
		{"client JA3N", Filter{Client: clientProfiles[0].hello.JA3N},
			func(r *inspect.Record) bool { return r.Client.Hello != nil && r.Client.Hello.JA4 == browser }},
		{"client ip", Filter{Client: "10.0.0.2"},
			func(r *inspect.Record) bool { return strings.HasPrefix(r.Client.Addr, "10.0.0.2:") }},
		{"client ip:port", Filter{Client: "10.0.0.50:30017"},
			func(r *inspect.Record) bool { return r.ID == "conn-000017" }},
		{"target glob on host:port", Filter{Target: "*:8443"},
			func(r *inspect.Record) bool { return r.Target == "b.example.test:8443" }},
		{"target glob on host", Filter{Target: "*.example.test"},
			func(r *inspect.Record) bool { return strings.Contains(r.Target, ".example.test:") }},
		{"target exact host, any case", Filter{Target: "EXPIRED.example.test"},
			func(r *inspect.Record) bool { return strings.HasPrefix(r.Target, "expired.") }},
		{"target IP pattern", Filter{Target: "10.9.8.?"},
			func(r *inspect.Record) bool { return r.Target == "10.9.8.7:993" }},
		{"target and client", Filter{Target: "a.*", Client: browser},
			func(r *inspect.Record) bool {
				return strings.HasPrefix(r.Target, "a.") && r.Client.Hello != nil && r.Client.Hello.JA4 == browser
			}},
		{"no match", Filter{Target: "nowhere.test"}, func(*inspect.Record) bool { return false }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var kept []*inspect.Record
			for _, r := range g.records {
				if tt.keep(r) {
					kept = append(kept, r)
				}
			}
			r := build(t, Options{Filter: tt.filter}, "r", g.data)
			if r.Totals.Matched != len(kept) || r.Totals.Filtered != len(g.records)-len(kept) {
				t.Fatalf("matched %d, filtered %d; want %d, %d", r.Totals.Matched, r.Totals.Filtered,
					len(kept), len(g.records)-len(kept))
			}
			checkReport(t, r, kept)
		})
	}
}

func TestFilterNoTime(t *testing.T) {
	r := genRecord(1)
	r.Time = time.Time{}
	if (Filter{Since: base}).Match(r) {
		t.Error("a record without a time passed a --since filter")
	}
	if !(Filter{}).Match(r) {
		t.Error("a record without a time failed the empty filter")
	}
}

func TestFilterInvalid(t *testing.T) {
	for _, f := range []Filter{
		{Target: "[a-"},
		{Since: base, Until: base},
		{Since: base.Add(time.Hour), Until: base},
	} {
		if _, err := New(Options{Filter: f}); err == nil {
			t.Errorf("New(%+v) succeeded, want an error", f)
		}
	}
}

func TestParseTime(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		in   string
		want time.Time
	}{
		{"2026-11-21T08:30:00Z", time.Date(2026, 11, 21, 8, 30, 0, 0, time.UTC)},
		{"2026-11-21T08:30:00.5+02:00", time.Date(2026, 11, 21, 6, 30, 0, 5e8, time.UTC)},
		{"2026-11-20", time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)},
		{"24h", now.Add(-24 * time.Hour)},
		{"-90m", now.Add(-90 * time.Minute)},
		{"7d", now.Add(-7 * 24 * time.Hour)},
		{"0s", now},
	} {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseTime(tt.in, now)
			if err != nil || !got.Equal(tt.want) {
				t.Errorf("ParseTime(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
		})
	}
	for _, bad := range []string{"", "yesterday", "24", "2026-13-01", "xd", "--1h"} {
		t.Run("bad "+bad, func(t *testing.T) {
			if got, err := ParseTime(bad, now); err == nil {
				t.Errorf("ParseTime(%q) = %v, want an error", bad, got)
			}
		})
	}
}
