package main

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"net/http"

	"github.com/kete-dev/kete/config"
	"github.com/kete-dev/kete/internal/httpguard"
	"github.com/kete-dev/kete/server"
)

// guard turns a listener's <prefix>.http.* settings into httpguard's options.
func guard(s config.HTTPListenerSettings) httpguard.Options {
	return httpguard.Options{
		ReadHeaderTimeout: s.ReadHeaderTimeout, ReadTimeout: s.ReadTimeout, WriteTimeout: s.WriteTimeout,
		IdleTimeout: s.IdleTimeout, MaxConnsPerAddress: s.MaxConnsPerAddress,
	}
}

// serverGuard is guard for the bundled server's listener: a connection refused over the
// per-address cap is counted and logged by the server, with its other refusals.
func serverGuard(s config.HTTPListenerSettings, srv *server.Server) httpguard.Options {
	o := guard(s)
	o.OnRefuse = srv.RefusedConnection
	return o
}

// listen binds addr now, so that a port in use is reported before anything starts and
// ":0" can be resolved to the port actually taken; o caps the connections per address.
func listen(addr string, tlsCfg *tls.Config, o httpguard.Options) (net.Listener, error) {
	return httpguard.Listen(addr, tlsCfg, o)
}

// serve runs h on ln until ctx ends, then gives open requests a bounded time to finish;
// o's deadlines cut off clients that send slowly or not at all. net/http's own complaints
// (a failed TLS handshake, a bad request line) go to log at warn level, so that every line
// kete writes has one format.
func serve(ctx context.Context, ln net.Listener, h http.Handler, o httpguard.Options, log *slog.Logger) error {
	return httpguard.Serve(ctx, ln, h, o, log)
}
