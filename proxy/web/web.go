// Package web is tlslens's web view: a live list of the records as they are
// written, pushed to the browser with Server-Sent Events, and a page per
// connection setting what the client offered, what tlslens offered the
// server and what each side chose side by side (report.Compare).
//
// It serves an http.Handler fed by a Ring (the proxy's OnRecord); the
// listener, its address and access control (proxy.Guard) belong to cmd.
// Its HTML, CSS and JavaScript are embedded: no build step, nothing fetched
// from elsewhere.
package web

import (
	"bytes"
	"embed"
	"encoding/json"
	"html/template"
	"io/fs"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tlslens/tlslens/inspect"
	"github.com/tlslens/tlslens/inspect/report"
)

//go:embed assets
var assets embed.FS

// A Download is one more file offered for a connection, at /c/<id>.<Ext>
// and linked from its page: a capture, say. Serve writes it, or an error
// status when it has nothing for id.
type Download struct {
	Ext   string // the file name's extension, without the dot: "pcapng"
	Label string // the link's text: "pcapng of both legs (Wireshark)"
	Serve func(w http.ResponseWriter, r *http.Request, id string)
}

// Options configures a Server.
type Options struct {
	// Ring holds the records the server shows. Required.
	Ring *Ring
	// Downloads are the files offered for each connection beyond its
	// record (/c/<id>.json). Nil offers none.
	Downloads []Download
	// Flows, if set, returns the HTTP flows kept of a connection
	// (proxy.Proxy.Flows), listed on its page. Nil lists none.
	Flows func(id string) []*inspect.Flow
}

// A Server is the web view's handler. Safe for concurrent use.
type Server struct {
	ring      *Ring
	downloads map[string]Download
	order     []Download
	flows     func(id string) []*inspect.Flow
	mux       *http.ServeMux
	conn      *template.Template
}

// New returns the web view of o.Ring.
func New(o Options) *Server {
	s := &Server{ring: o.Ring, downloads: map[string]Download{}, order: o.Downloads, flows: o.Flows, mux: http.NewServeMux()}
	for _, d := range o.Downloads {
		s.downloads[d.Ext] = d
	}
	s.conn = template.Must(template.Must(template.New("conn.html.tmpl").Funcs(template.FuncMap{
		"join": func(v []string) string { return strings.Join(v, ", ") },
	}).ParseFS(assets, "assets/conn.html.tmpl")).Parse(report.CompareTemplate))
	static, _ := fs.Sub(assets, "assets")
	s.mux.HandleFunc("GET /{$}", s.index)
	s.mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	s.mux.HandleFunc("GET /style.css", s.style)
	s.mux.HandleFunc("GET /events", s.events)
	s.mux.HandleFunc("GET /rows.json", s.rows)
	s.mux.HandleFunc("GET /records.jsonl", s.records)
	s.mux.HandleFunc("GET /c/{name}", s.connection)
	return s
}

// ServeHTTP serves the web view: / (the live list), /events, /rows.json,
// /records.jsonl, /c/<id> (a connection), /c/<id>.json and the downloads.
// Its pages load nothing from elsewhere (Content-Security-Policy self).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'")
	w.Header().Set("Referrer-Policy", "no-referrer")
	s.mux.ServeHTTP(w, r)
}

func (s *Server) index(w http.ResponseWriter, r *http.Request) {
	b, _ := assets.ReadFile("assets/index.html")
	b = bytes.Replace(b, []byte("{{keep}}"), []byte(strconv.Itoa(len(s.ring.entries))), 1)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(b)
}

// style is the report's stylesheet followed by the web view's own.
func (s *Server) style(w http.ResponseWriter, r *http.Request) {
	own, _ := assets.ReadFile("assets/web.css")
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Write([]byte(report.CSS))
	w.Write(own)
}

// rows is the list's rows the ring holds as one JSON array, oldest first:
// the page loads them at once, faster than as 10 000 events, then opens
// /events?after= the newest (X-Last-Seq).
func (s *Server) rows(w http.ResponseWriter, r *http.Request) {
	b, last := s.ring.rows(nil, 0)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Last-Seq", strconv.FormatUint(last, 10))
	w.Write(b)
}

// events streams the list's rows: those the ring still holds after
// Last-Event-ID (a reconnect), or after ?after= (a page that loaded
// /rows.json), or all of them, then each new one as it is added. A stream
// that falls behind is ended by the ring; the browser reconnects and
// resumes.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	last := r.Header.Get("Last-Event-ID")
	if last == "" {
		last = r.URL.Query().Get("after")
	}
	after, _ := strconv.ParseUint(last, 10, 64)
	backlog, sub := s.ring.subscribe(after)
	defer s.ring.unsubscribe(sub)
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	var buf bytes.Buffer
	buf.WriteString("retry: 1000\n\n")
	for _, f := range backlog {
		buf.Write(f)
		if buf.Len() > 64<<10 {
			if _, err := w.Write(buf.Bytes()); err != nil {
				return
			}
			buf.Reset()
		}
	}
	w.Write(buf.Bytes())
	if rc.Flush() != nil {
		return
	}
	ping := time.NewTicker(15 * time.Second)
	defer ping.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-ping.C:
			w.Write([]byte(": ping\n\n"))
		case f, ok := <-sub.frames:
			if !ok {
				return // dropped for falling behind
			}
			buf.Reset()
			buf.Write(f)
			for more := true; more && buf.Len() < 64<<10; { // whatever else is waiting, in one write
				select {
				case f, ok := <-sub.frames:
					if !ok {
						w.Write(buf.Bytes())
						return
					}
					buf.Write(f)
				default:
					more = false
				}
			}
			if _, err := w.Write(buf.Bytes()); err != nil {
				return
			}
		}
		if rc.Flush() != nil {
			return
		}
	}
}

// records is the filtered list as JSON Lines: ?q= in the filter box's
// syntax (ParseQuery).
func (s *Server) records(w http.ResponseWriter, r *http.Request) {
	q := ParseQuery(r.URL.Query().Get("q"))
	w.Header().Set("Content-Type", "application/jsonl; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="tlslens-records.jsonl"`)
	w.Header().Set("Cache-Control", "no-store")
	for _, rec := range s.ring.matching(q) {
		w.Write(rec)
		w.Write([]byte("\n"))
	}
}

// connection serves /c/<id> (the page), /c/<id>.json (the record) and
// /c/<id>.<ext> for each Download.
func (s *Server) connection(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	id, ext, _ := strings.Cut(name, ".")
	if d, ok := s.downloads[ext]; ok && ext != "" {
		d.Serve(w, r, id)
		return
	}
	raw, ok := s.ring.record(id)
	if !ok || (ext != "" && ext != "json") {
		http.Error(w, "tlslens: no record "+id+" in the web view (it keeps the last web_keep records)", http.StatusNotFound)
		return
	}
	if ext == "json" {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Disposition", `attachment; filename="`+id+`.json"`)
		w.Write(raw)
		w.Write([]byte("\n"))
		return
	}
	var rec inspect.Record
	if err := json.Unmarshal(raw, &rec); err != nil {
		http.Error(w, "tlslens: "+err.Error(), http.StatusInternalServerError)
		return
	}
	var pretty bytes.Buffer
	json.Indent(&pretty, raw, "", "  ")
	v := connView{R: &rec, Compare: report.Compare(&rec), Raw: pretty.String(), Downloads: s.order, FlowsKept: s.flows != nil}
	if s.flows != nil {
		v.Flows = s.flows(id)
	}
	var b bytes.Buffer
	if err := s.conn.Execute(&b, v); err != nil {
		http.Error(w, "tlslens: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(b.Bytes())
}

// connView is what the connection page is rendered from.
type connView struct {
	R         *inspect.Record
	Compare   report.Comparison
	Raw       string
	Downloads []Download
	FlowsKept bool // flows are captured: list them, or say there are none
	Flows     []*inspect.Flow
}

// Readiness is the record's readiness in three lines (post-quantum, ECH,
// legacy); none for a record without a client hello.
func (v connView) Readiness() []report.Fact { return report.ReadinessFacts(v.R.Readiness) }

// Legs are the record's sides with their names, for the chains and key
// exchanges.
func (v connView) Legs() []legView {
	var out []legView
	for _, l := range []legView{{"client leg (tlslens's certificate to the client)", v.R.Client}, {"upstream leg (the server's certificate)", v.R.Upstream}, {"probe (the server's answer to the client's own hello)", v.R.Probe}} {
		if l.Side != nil {
			out = append(out, l)
		}
	}
	return out
}

type legView struct {
	Name string
	Side *inspect.Side
}
