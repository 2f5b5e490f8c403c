package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kete-dev/kete/config"
	"github.com/kete-dev/kete/internal/redact"
	"github.com/kete-dev/kete/server"
	"github.com/kete-dev/kete/server/natsbroker"
)

func runServer(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("server", stderr)
	path := configFlag(fs, "configuration file with kete.server.* keys")
	apps := fs.String("apps", "", "apps file (JSON or YAML); overrides kete.server.apps-file")
	listenAddr := fs.String("listen", "", "address to listen on; overrides kete.server.listen (default :8080)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	settings := config.ServerSettings{Listen: ":8080"}
	if *path != "" {
		cfg, err := config.LoadContext(ctx, *path, environ())
		if err != nil {
			return err
		}
		settings = cfg.Server
	}
	if *apps != "" {
		settings.AppsFile = *apps
	}
	listenKey := "kete.server.listen"
	if *listenAddr != "" {
		if err := config.CheckListenAddress(*listenAddr); err != nil {
			return fmt.Errorf("%w: --listen %s: %v", errUsage, *listenAddr, err)
		}
		settings.Listen, listenKey = *listenAddr, "--listen"
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
	var hangups sync.WaitGroup
	hupCtx, stopHangups := context.WithCancel(ctx)
	defer func() { stopHangups(); hangups.Wait() }() // before srv.Close: no reload after it
	reloadOnHangup(hupCtx, &hangups, srv, log)
	tlsCfg, err := settings.TLSConfig()
	if err != nil {
		return err
	}
	ln, err := listen(settings.Listen, tlsCfg, serverGuard(settings.HTTP, srv))
	if err != nil {
		return fmt.Errorf("%s=%s: %w", listenKey, settings.Listen, err)
	}
	log.Info("kete server listening", "addr", ln.Addr().String(), "dashboard", dashboardURL(schemeOf(tlsCfg), ln.Addr().String()))
	return serve(ctx, ln, srv, guard(settings.HTTP), log)
}

// newServer builds the bundled server from kete.server.*: on the memory broker, or on
// NATS (kete.server.broker=nats://…) so that several nodes act as one. Closing the
// returned server also closes its NATS broker.
func newServer(s config.ServerSettings, log *slog.Logger) (*server.Server, error) {
	opts := server.Options{AppsFile: s.AppsFile, Logger: log,
		ReturnMemoryAfter: s.ReturnMemoryAfter, ReturnMemoryInterval: s.ReturnMemoryInterval}
	var broker *natsbroker.Broker
	switch s.Broker.Kind {
	case config.BrokerMemory:
	case config.BrokerNATS:
		tlsCfg, err := s.NATSTLSConfig()
		if err != nil {
			return nil, err
		}
		n := s.NATS
		o := natsbroker.Options{
			URL: s.Broker.URL, CredentialsFile: n.CredentialsFile, NKeySeedFile: n.NKeySeedFile,
			User: n.User, Password: n.Password, Token: n.Token, TLS: tlsCfg,
			Name: "kete-" + hostname(), SubjectPrefix: n.SubjectPrefix, Logger: log,
		}
		opts.HeartbeatInterval = n.HeartbeatInterval
		if h := n.History; h.Enabled {
			o.History = &natsbroker.HistoryOptions{Stream: h.Stream, Memory: h.Storage == "memory",
				Replicas: h.Replicas, MaxAge: h.MaxAge, MaxMsgsPerTopic: int64(h.MaxMsgsPerTopic)}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if broker, err = natsbroker.New(o); err == nil {
			if err = broker.Start(ctx); err != nil {
				broker.Close()
			}
		}
		if err != nil {
			return nil, fmt.Errorf("kete.server.broker=%s: %w", redact.Text(s.Broker.URL), err)
		}
		opts.Broker, opts.CloseBroker = broker, true
	}
	srv, err := server.New(opts)
	if err != nil {
		if broker != nil {
			broker.Close()
		}
		return nil, appsFileError(s.AppsFile, err)
	}
	if broker != nil {
		// What NATS brought that no handler took is logged by the broker line by line;
		// this makes it a metric to alert on.
		srv.Registry().MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "kete_server_broker_dropped_total",
			Help: "Messages from NATS that this node could not hand on (undecodable, refused by the server, or history it cannot read back).",
		}, func() float64 { return float64(broker.Dropped()) }))
	}
	if err := srv.Start(); err != nil {
		srv.Close() // closes the NATS broker too (CloseBroker)
		return nil, err
	}
	return srv, nil
}

// reloadOnHangup reloads srv's apps file on every SIGHUP until ctx ends; its goroutine
// counts in wg. The signal is caught from the return on, so that a SIGHUP right after
// never takes the default action (exit). The library installs no handler: the signal
// is the binary's.
func reloadOnHangup(ctx context.Context, wg *sync.WaitGroup, srv *server.Server, log *slog.Logger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	wg.Go(func() {
		defer signal.Stop(hup)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				if err := srv.Reload(); err != nil {
					log.Error("apps reload failed", slog.String("error", err.Error()))
				}
			}
		}
	})
}

func schemeOf(tlsCfg *tls.Config) string {
	if tlsCfg != nil {
		return "https"
	}
	return "http"
}

func hostname() string {
	h, err := os.Hostname()
	if err != nil {
		return "node"
	}
	return h
}
