package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/tlslens/tlslens/proxy"
	"github.com/tlslens/tlslens/proxy/web"
)

// webServer is the web view's listener (web_listen). A nil *webServer is a
// disabled one.
type webServer struct {
	ln      net.Listener
	srv     *http.Server
	done    chan struct{}
	streams context.CancelFunc // ends the event streams, which never go idle
}

// checkWebExposure refuses a web view on a non-loopback address open to
// anyone: it shows every connection's targets and certificates. The proxy's
// access rules lift the refusal, as they do for the proxy (checkExposure).
func checkWebExposure(cfg Config) error {
	if cfg.WebListen == "" || isLoopback(cfg.WebListen) || len(cfg.ProxyAuth) > 0 || len(cfg.AllowCIDRs) > 0 || cfg.AllowOpen {
		return nil
	}
	return fmt.Errorf("web_listen: %s is reachable from other machines, and tlslens refuses to show every connection it sees to anyone there. "+
		"Listen on 127.0.0.1, or restrict access with proxy_auth (the web view then asks for its username and password) or allow_cidrs, "+
		"or set allow_open: true (--allow-open) if an open web view is what you mean; web_listen: \"\" disables it", cfg.WebListen)
}

// listenWeb opens the web view's listener; "" disables it. An address it
// cannot listen on is logged as a warning and tlslens runs without it, as
// without the admin listener.
func listenWeb(addr string, log logrus.FieldLogger) *webServer {
	if addr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		log.WithError(listenError("web_listen", addr, err)).WithField("addr", addr).Warn("web view disabled: cannot listen (set web_listen to a free address, or \"\" to disable it)")
		return nil
	}
	return &webServer{ln: ln, done: make(chan struct{})}
}

// addrs is the listener's address for proxy.Options.Protected; none when
// disabled.
func (w *webServer) addrs() []netip.AddrPort {
	if w == nil {
		return nil
	}
	ap, err := netip.ParseAddrPort(w.ln.Addr().String())
	if err != nil {
		return nil
	}
	return []netip.AddrPort{ap}
}

// url is the web view's address for the start-up line; "" when disabled.
func (w *webServer) url() string {
	if w == nil {
		return ""
	}
	return "http://" + w.ln.Addr().String() + "/"
}

// serve serves the web view wo describes, with the proxy's access rules
// (opts) on every request.
func (w *webServer) serve(wo web.Options, opts proxy.Options, log logrus.FieldLogger) error {
	if w == nil {
		return nil
	}
	h, err := proxy.Guard(web.New(wo), opts.AllowCIDRs, opts.ProxyAuth)
	if err != nil {
		return err
	}
	// No WriteTimeout: /events is a stream that stays open, until close
	// cancels the requests' base context.
	base, cancel := context.WithCancel(context.Background())
	w.streams = cancel
	w.srv = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second,
		BaseContext: func(net.Listener) context.Context { return base }}
	go func() {
		defer close(w.done)
		if err := w.srv.Serve(w.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.WithError(err).Error("web view stopped")
		}
	}()
	return nil
}

// close stops the web view: open event streams end at once, a download
// in progress may finish.
func (w *webServer) close() {
	if w == nil {
		return
	}
	if w.srv == nil {
		w.ln.Close()
		return
	}
	w.streams()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if w.srv.Shutdown(ctx) != nil {
		w.srv.Close()
	}
	<-w.done
}

// captureDownloads offers each connection's capture on its web page (issue
// 13, deliverable 4): the pcapng of both legs with their secrets
// (p.Capture), and the NSS key log lines (p.KeyLogLines).
func captureDownloads(p *proxy.Proxy) []web.Download {
	serve := func(get func(string) ([]byte, bool), ext, ctype string) func(http.ResponseWriter, *http.Request, string) {
		return func(w http.ResponseWriter, r *http.Request, id string) {
			b, ok := get(id)
			if !ok {
				http.Error(w, "tlslens: no capture of "+id+" kept (only intercepted connections are captured, and the oldest leave when capture.max_bytes is reached)", http.StatusNotFound)
				return
			}
			w.Header().Set("Content-Type", ctype)
			w.Header().Set("Content-Disposition", `attachment; filename="`+id+`.`+ext+`"`)
			w.Header().Set("Cache-Control", "no-store")
			w.Write(b)
		}
	}
	return []web.Download{
		{Ext: "pcapng", Label: "pcapng of both legs (Wireshark decrypts it)", Serve: serve(p.Capture, "pcapng", "application/octet-stream")},
		{Ext: "keylog", Label: "key log (both legs)", Serve: serve(p.KeyLogLines, "keylog", "text/plain; charset=utf-8")},
	}
}
