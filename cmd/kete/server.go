package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/kete-dev/kete/config"
	"github.com/kete-dev/kete/server"
)

func runServer(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("server", stderr)
	path := fs.String("config", "", "configuration file with kete.server.* keys")
	apps := fs.String("apps", "", "apps file (JSON or YAML); overrides kete.server.apps-file")
	listenAddr := fs.String("listen", "", "address to listen on; overrides kete.server.listen (default :8080)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	settings := config.ServerSettings{Listen: ":8080", Broker: "memory"}
	if *path != "" {
		cfg, err := config.Load(*path, environ())
		if err != nil {
			return err
		}
		settings = cfg.Server
	}
	if *apps != "" {
		settings.AppsFile = *apps
	}
	if *listenAddr != "" {
		settings.Listen = *listenAddr
	}
	if settings.AppsFile == "" {
		return fmt.Errorf("%w: no apps: give --apps FILE or kete.server.apps-file", errUsage)
	}
	log := newLogger(stderr, slog.LevelInfo)
	srv, err := newServer(settings, log)
	if err != nil {
		return err
	}
	defer srv.Close()
	tlsCfg, err := settings.TLSConfig()
	if err != nil {
		return err
	}
	ln, err := listen(settings.Listen, tlsCfg)
	if err != nil {
		return err
	}
	scheme := "http"
	if tlsCfg != nil {
		scheme = "https"
	}
	log.Info("kete server listening", "addr", ln.Addr().String(), "dashboard", scheme+"://"+ln.Addr().String()+"/")
	return serve(ctx, ln, srv)
}

// newServer builds the bundled server from kete.server.* settings.
func newServer(s config.ServerSettings, log *slog.Logger) (*server.Server, error) {
	if s.Broker != "" && s.Broker != "memory" {
		if strings.HasPrefix(s.Broker, "nats://") {
			return nil, fmt.Errorf("kete.server.broker=%s: the NATS broker is not built yet; use memory", s.Broker)
		}
		return nil, fmt.Errorf("kete.server.broker=%s: want memory or a nats:// URL", s.Broker)
	}
	return server.New(server.Options{AppsFile: s.AppsFile, ReloadOnSignal: true, Logger: log})
}
