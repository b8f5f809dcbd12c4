package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"

	"github.com/sirupsen/logrus"

	"github.com/tlslens/tlslens/ca"
	"github.com/tlslens/tlslens/proxy"
)

// WireGuard key files in the CA directory, base64 as `wg genkey` writes
// them, mode 0600 like the CA's key.
const (
	wireGuardServerKeyFile = "wireguard.key"
	wireGuardPeerKeyFile   = "wireguard-peer.key"
)

// wireGuardOptions returns proxy.Options.WireGuard for cfg: nil unless mode
// is wireguard. The keys are made on first run in the CA's directory and
// reused after, so a phone configured once keeps working.
func wireGuardOptions(cfg Config, auth *ca.Authority) (*proxy.WireGuard, error) {
	if cfg.Mode != "wireguard" {
		return nil, nil
	}
	dir := filepath.Dir(auth.CertPath())
	server, err := wireGuardKey(filepath.Join(dir, wireGuardServerKeyFile))
	if err != nil {
		return nil, err
	}
	peer, err := wireGuardKey(filepath.Join(dir, wireGuardPeerKeyFile))
	if err != nil {
		return nil, err
	}
	return &proxy.WireGuard{PrivateKey: server, PeerKey: peer, Endpoint: cfg.WireGuardEndpoint}, nil
}

// wireGuardKey loads the private key at path, creating it (mode 0600) if
// there is none. Like the CA's key, a file others may read is refused: with
// it anyone can use the tunnel, or pose as tlslens to the phone.
func wireGuardKey(path string) (proxy.WireGuardKey, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		k, err := proxy.NewWireGuardKey()
		if err != nil {
			return k, err
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return k, fmt.Errorf("wireguard: writing a new key: %w", err)
		}
		_, err = fmt.Fprintln(f, k)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(path)
			return k, fmt.Errorf("wireguard: writing a new key: %w", err)
		}
		return k, nil
	}
	if err != nil {
		return proxy.WireGuardKey{}, fmt.Errorf("wireguard: %w", err)
	}
	if st, err := os.Stat(path); err == nil && st.Mode().Perm()&0o077 != 0 {
		return proxy.WireGuardKey{}, fmt.Errorf("wireguard: %s is mode %v, readable or writable by others: run chmod 600 %s", path, st.Mode().Perm(), path)
	}
	k, err := proxy.ParseWireGuardKey(string(b))
	if err != nil {
		return k, fmt.Errorf("wireguard: %s: %w", path, err)
	}
	return k, nil
}

// wireGuardServer is the WireGuard server that startWireGuard started.
type wireGuardServer struct {
	cancel context.CancelFunc
	done   chan error
}

// startWireGuard listens on wireguard_listen and serves WireGuard there
// until stop is called, not when ctx ends: the tunnel carries the
// connections that Shutdown lets finish. Nil unless mode is wireguard.
// proxyAddr is the proxy's own address, named in the log line.
func startWireGuard(ctx context.Context, cfg Config, p *proxy.Proxy, proxyAddr string, log logrus.FieldLogger) (*wireGuardServer, error) {
	if cfg.Mode != "wireguard" {
		return nil, nil
	}
	addr, err := net.ResolveUDPAddr("udp", cfg.WireGuardListen)
	if err != nil {
		return nil, fmt.Errorf("wireguard_listen: %w", err)
	}
	pc, err := net.ListenUDP("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("wireguard_listen: %w", err)
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	w := &wireGuardServer{cancel: cancel, done: make(chan error, 1)}
	go func() { w.done <- p.ServeWireGuard(ctx, pc) }()
	log.WithFields(logrus.Fields{"addr": pc.LocalAddr().String(),
		"peer_config": "open http://" + proxyAddr + "/ and scan the QR code with the WireGuard app"}).Info("wireguard listening")
	return w, nil
}

// stop closes the tunnel, and the connections it carries, and waits.
func (w *wireGuardServer) stop(log logrus.FieldLogger) {
	if w == nil {
		return
	}
	w.cancel()
	if err := <-w.done; err != nil {
		log.WithError(err).Error("wireguard stopped")
	}
}
