package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"syscall"

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
// A configured port that is taken is refused, never swapped for another: Keycloak,
// probes and browsers are pointed at it.
func listen(addr string, tlsCfg *tls.Config, o httpguard.Options) (net.Listener, error) {
	ln, err := httpguard.Listen(addr, tlsCfg, o)
	if err != nil {
		return nil, listenError(addr, err)
	}
	return ln, nil
}

// errPortInUse is what listen returns for a port another process holds.
var errPortInUse = errors.New("the port is in use by another process (another kete?): stop it or choose another port")

func listenError(addr string, err error) error {
	if errors.Is(err, syscall.EADDRINUSE) {
		return errPortInUse
	}
	if cerr := config.CheckListenAddress(addr); cerr != nil {
		return cerr
	}
	return err
}

// listenOrFree is `kete demo`'s bind: an address the user gave (explicit) is bound or
// refused like any other; a default one that is taken falls back to a free port on the
// same host, and note hears which, so that nobody opens the wrong page. The listener is
// bare: the demo puts httpguard's bounds on it where it serves.
func listenOrFree(addr string, explicit bool, flagName string, note io.Writer) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		err = listenError(addr, err)
	}
	if err == nil || explicit || !errors.Is(err, errPortInUse) {
		if err != nil {
			return nil, fmt.Errorf("--%s %s: %w", flagName, addr, err)
		}
		return ln, nil
	}
	host, _, splitErr := net.SplitHostPort(addr)
	if splitErr != nil {
		return nil, fmt.Errorf("--%s %s: %w", flagName, addr, err)
	}
	ln, ferr := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if ferr != nil {
		return nil, fmt.Errorf("--%s %s: %w", flagName, addr, err)
	}
	fmt.Fprintf(note, "kete demo: %s is in use; using %s instead (--%s chooses)\n", addr, ln.Addr(), flagName)
	return ln, nil
}

// serve runs h on ln until ctx ends, then gives open requests a bounded time to finish;
// o's deadlines cut off clients that send slowly or not at all. net/http's own complaints
// (a failed TLS handshake, a bad request line) go to log at warn level, so that every line
// kete writes has one format.
func serve(ctx context.Context, ln net.Listener, h http.Handler, o httpguard.Options, log *slog.Logger) error {
	return httpguard.Serve(ctx, ln, h, o, log)
}
