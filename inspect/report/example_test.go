package report_test

import (
	"context"
	"fmt"
	"log"
	"strings"
	"time"

	"github.com/tlslens/tlslens/inspect/report"
)

func Example() {
	records := `{"time":"2026-11-22T10:00:00Z","level":"info","msg":"handshake","schema":1,"id":"1","mode":"mitm","target":"a.test:443","outcome":"ok","client":{"addr":"10.0.0.1:50000","hello":{"version":"TLS 1.0","cipher_suites":["TLS_RSA_WITH_RC4_128_SHA"],"sni":"a.test","ja4":"t10d0101h1_aaaaaaaaaaaa_000000000000"}},"findings":[]}
{"time":"2026-11-22T10:00:01Z","level":"warning","msg":"relay ended","id":"1"}
{"time":"2026-11-22T10:05:00Z","level":"info","msg":"handshake","schema":1,"id":"2","mode":"mitm","target":"b.test:443","outcome":"ok","client":{"addr":"10.0.0.2:50001","hello":{"version":"TLS 1.2","supported_versions":["TLS 1.3"],"cipher_suites":["TLS_AES_128_GCM_SHA256"],"sni":"b.test","ja4":"t13d0101h2_bbbbbbbbbbbb_cccccccccccc"}},"findings":[]}
not json
`
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	since, err := report.ParseTime("24h", now)
	if err != nil {
		log.Fatal(err)
	}
	b, err := report.New(report.Options{Now: now, Filter: report.Filter{Since: since, Target: "*.test"}})
	if err != nil {
		log.Fatal(err)
	}
	if err := b.Read(context.Background(), "records.jsonl", strings.NewReader(records)); err != nil {
		log.Fatal(err)
	}
	r := b.Report()
	fmt.Printf("%d records, %d log lines, %d bad (line %d)\n",
		r.Totals.Matched, r.Totals.LogLines, r.Totals.BadLines, r.BadLines[0].Line)
	for _, w := range r.WeakOffers {
		fmt.Println(w.JA4, "offers", strings.Join(w.Offers, ", "))
	}
	// Output:
	// 2 records, 1 log lines, 1 bad (line 4)
	// t10d0101h1_aaaaaaaaaaaa_000000000000 offers TLS 1.0, TLS_RSA_WITH_RC4_128_SHA
}
