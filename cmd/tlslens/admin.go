package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	httppprof "net/http/pprof"
	"net/netip"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/sirupsen/logrus"
)

// newRegistry is the private registry the proxy's metrics go to, with the
// Go runtime and process collectors. Nothing uses Prometheus's global
// default registry.
func newRegistry() (*prometheus.Registry, error) {
	reg := prometheus.NewRegistry()
	for _, c := range []prometheus.Collector{
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("metrics: %w", err)
		}
	}
	return reg, nil
}

// adminServer is the admin listener: /healthz, /metrics and, with
// admin_pprof, /debug/pprof/. A nil
// *adminServer is a disabled one.
type adminServer struct {
	srv  *http.Server
	addr net.Addr
	done chan struct{}
}

// addrs is the listener's address for proxy.Options.Protected; none when
// disabled.
func (a *adminServer) addrs() []netip.AddrPort {
	if a == nil {
		return nil
	}
	ap, err := netip.ParseAddrPort(a.addr.String())
	if err != nil {
		return nil // a TCP listener's address always parses
	}
	return []netip.AddrPort{ap}
}

// startAdmin serves the admin endpoints on addr; "" disables them. With
// pprof it serves net/http/pprof's handlers under /debug/pprof/ too. An
// address it cannot listen on (the port is busy, say) is logged as a warning
// and the proxy runs without it: metrics are not worth an outage.
func startAdmin(addr string, pprof bool, reg *prometheus.Registry, log logrus.FieldLogger) *adminServer {
	if addr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		log.WithError(listenError("admin_listen", addr, err)).WithField("addr", addr).Warn("admin listener disabled: cannot listen (set admin_listen to a free address, or \"\" to disable it)")
		return nil
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		io.WriteString(w, "ok\n")
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog:          log.WithField("component", "metrics"),
		EnableOpenMetrics: true,
	}))
	if pprof {
		// Registered on this mux alone: importing net/http/pprof also
		// registers on http.DefaultServeMux, which nothing serves.
		mux.HandleFunc("GET /debug/pprof/", httppprof.Index)
		mux.HandleFunc("GET /debug/pprof/cmdline", httppprof.Cmdline)
		mux.HandleFunc("GET /debug/pprof/profile", httppprof.Profile)
		mux.HandleFunc("GET /debug/pprof/symbol", httppprof.Symbol)
		mux.HandleFunc("GET /debug/pprof/trace", httppprof.Trace)
	}
	a := &adminServer{
		srv: &http.Server{
			Handler:           mux,
			ReadHeaderTimeout: 10 * time.Second,
		},
		addr: ln.Addr(),
		done: make(chan struct{}),
	}
	go func() {
		defer close(a.done)
		if err := a.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.WithError(err).Error("admin listener stopped")
		}
	}()
	log.WithField("addr", ln.Addr().String()).Info("admin listening")
	return a
}

// close stops the admin listener, letting a scrape in progress finish.
func (a *adminServer) close() {
	if a == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	a.srv.Shutdown(ctx)
	<-a.done
}
