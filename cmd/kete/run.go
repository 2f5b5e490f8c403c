package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/kete-dev/kete"
	"github.com/kete-dev/kete/config"
	"github.com/kete-dev/kete/daemon"
	"github.com/kete-dev/kete/keycloak"
	"github.com/kete-dev/kete/server"
	"github.com/kete-dev/kete/spool"
)

func runDaemon(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("run", stderr)
	path := configFlag(fs, "configuration file (.properties, .json, .yaml)")
	stdin := fs.Bool("stdin", false, "also read events from standard input, one JSON event or array per line; exit at EOF once delivered")
	drain := fs.Duration("shutdown-timeout", 10*time.Second, "on SIGTERM, how long to keep delivering what is spooled before exiting")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := loadConfig(ctx, *path)
	if err != nil {
		return err
	}
	if err := cfg.NothingToRun(); err != nil {
		return err
	}
	log := newLogger(stderr, slog.LevelInfo)
	if !cfg.Enabled {
		log.Warn("kete.enabled=false: no event is forwarded")
	}
	if w := cfg.NoSourceWarning(); w != "" && !*stdin {
		log.Warn(w)
	}
	for _, n := range cfg.RealmMatcherNotes() {
		log.Warn(n)
	}
	d, err := startDaemon(ctx, cfg, daemonOptions{Logger: log, ShutdownTimeout: *drain, Stdin: *stdin})
	if err != nil {
		return err
	}
	if *stdin {
		d.pipeline.Metrics().SourceKnown("stdin")
		n, err := daemon.ReadLines(ctx, os.Stdin, d.pipeline, 100)
		log.Info("stdin done", "events", n)
		if err != nil {
			d.stop()
			return err
		}
		d.waitDrained(ctx, *drain)
		return d.stop()
	}
	<-ctx.Done()
	log.Info("shutting down")
	return d.stop()
}

type daemonOptions struct {
	Logger *slog.Logger
	// ShutdownTimeout bounds how long stop keeps delivering the backlog.
	ShutdownTimeout time.Duration
	// Server, when set, is the bundled server already running (demo); otherwise
	// kete.server.enabled starts one here.
	Server *server.Server
	// Stdin is --stdin: events come from standard input, so the webhook listener is
	// bound only when the webhook is enabled or kete.sources.webhook.listen is set (for
	// /metrics); a pipe does not take the port a running daemon needs.
	Stdin bool
}

// runningDaemon is a started `kete run`: its pipeline, sources, listeners and, when
// kete.server.enabled, the bundled server, with one stop for all.
type runningDaemon struct {
	log      *slog.Logger
	pipeline *daemon.Pipeline
	spool    *spool.Spool
	router   *kete.Router
	server   *server.Server
	opsAddr  net.Addr // the webhook/metrics listener
	srvAddr  net.Addr // the bundled server's listener, when it runs here

	cancelSources context.CancelFunc
	cancelRoutes  context.CancelFunc
	sources       sync.WaitGroup
	routes        sync.WaitGroup
	timeout       time.Duration
	stopOnce      sync.Once
	stopErr       error
}

// startDaemon wires sources → spool → routes and starts them; the caller stops it.
func startDaemon(ctx context.Context, cfg *config.Config, o daemonOptions) (_ *runningDaemon, err error) {
	d := &runningDaemon{log: o.Logger, timeout: o.ShutdownTimeout, server: o.Server}
	for _, w := range cfg.Warnings {
		d.log.Warn("configuration: " + w.String())
	}
	if d.timeout <= 0 {
		d.timeout = 10 * time.Second
	}
	sourcesCtx, cancelSources := context.WithCancel(context.Background())
	routesCtx, cancelRoutes := context.WithCancel(context.Background())
	d.cancelSources, d.cancelRoutes = cancelSources, cancelRoutes
	defer func() {
		if err != nil {
			d.stopNow()
		}
	}()
	// The server comes first: routes that point at it connect as they start.
	if cfg.Server.Enabled && d.server == nil {
		if err := d.startServer(sourcesCtx, cfg.Server); err != nil {
			return nil, err
		}
	}
	names, err := d.startRoutes(ctx, routesCtx, cfg)
	if err != nil {
		return nil, err
	}
	// Sources last: nothing is accepted before it can be made durable.
	if err := d.startListener(sourcesCtx, cfg, o.Stdin, names); err != nil {
		return nil, err
	}
	if err := d.startPoller(sourcesCtx, cfg); err != nil {
		return nil, err
	}
	return d, nil
}

// startServer starts the bundled server (kete.server.enabled) on its own listener.
func (d *runningDaemon) startServer(ctx context.Context, s config.ServerSettings) error {
	srv, err := newServer(s, d.log)
	if err != nil {
		return err
	}
	tlsCfg, err := s.TLSConfig()
	if err != nil {
		srv.Close()
		return err
	}
	ln, err := listen(s.Listen, tlsCfg, serverGuard(s.HTTP, srv))
	if err != nil {
		srv.Close()
		return fmt.Errorf("kete.server.listen=%s: %w", s.Listen, err)
	}
	d.server, d.srvAddr = srv, ln.Addr()
	reloadOnHangup(ctx, &d.sources, srv, d.log) // stopped before the server
	d.sources.Go(func() {
		if err := serve(ctx, ln, srv, guard(s.HTTP), d.log); err != nil {
			d.log.Error("server stopped", "err", err)
		}
	})
	d.log.Info("kete server listening", "addr", ln.Addr().String(), "dashboard", dashboardURL(schemeOf(tlsCfg), ln.Addr().String()))
	return nil
}

// startRoutes builds the routes, opens the spool and runs the pipeline under ctx; it
// returns the routes' names.
func (d *runningDaemon) startRoutes(buildCtx, ctx context.Context, cfg *config.Config) ([]string, error) {
	router, spooled, err := cfg.SpooledRoutes(buildCtx, config.Deps{Logger: d.log})
	if err != nil {
		return nil, err
	}
	d.router = router
	names := make([]string, len(spooled))
	routes := make([]daemon.Route, len(spooled))
	for i, r := range spooled {
		names[i], routes[i] = r.Name, daemon.RetryRoute(r.Route, r.Retry, r.InFlight)
	}
	if len(routes) == 0 {
		d.log.Warn("no enabled routes: events are spooled but go nowhere")
	}
	dir := cfg.Spool.Dir
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("kete.spool.dir=%s: %w", dir, err)
	}
	sp, err := spool.Open(spool.Options{Dir: dir, MaxBytes: cfg.Spool.MaxBytes, Routes: names, Logger: d.log})
	if err != nil {
		return nil, fmt.Errorf("kete.spool.dir=%s: %w", dir, err)
	}
	d.spool = sp
	p, err := daemon.New(daemon.Options{Spool: sp, Routes: routes, Logger: d.log})
	if err != nil {
		return nil, err
	}
	d.pipeline = p
	d.routes.Go(func() {
		if err := p.Run(ctx); err != nil {
			d.log.Error("routes stopped", "err", err)
		}
	})
	return names, nil
}

// startListener serves the webhook (when enabled), /metrics, /healthz and /readyz on
// kete.sources.webhook.listen; with --stdin and no reason to listen, nothing.
func (d *runningDaemon) startListener(ctx context.Context, cfg *config.Config, stdin bool, names []string) error {
	p := d.pipeline
	mux := http.NewServeMux()
	ops := p.Handler()
	if cfg.MetricsEnabled { // kete.metrics.enabled=false: no endpoint, KETE's meaning
		mux.Handle("GET /metrics", ops)
	}
	mux.Handle("GET /healthz", ops)
	mux.Handle("GET /readyz", ops)
	wh := cfg.Sources.Webhook
	if wh.Enabled {
		p.Metrics().SourceKnown("webhook")
		ro := keycloak.ReceiverOptions{
			Secret: wh.Secret, BearerToken: wh.BearerToken, BasicUser: wh.BasicUsername, BasicPassword: wh.BasicPassword,
			MaxBytes: wh.MaxBytes, IsFull: daemon.IsBackPressure, Logger: d.log,
			Refused: p.Metrics().WebhookRefused,
		}
		if cfg.KeycloakAdminConfigured() {
			ro.Realms = keycloak.NewRealmNames(cfg.Keycloak.Admin(nil))
		}
		if err := keycloak.NewReceiver(p, ro).Register(mux, wh.Path); err != nil {
			return fmt.Errorf("kete.sources.webhook.path=%s: %w", wh.Path, err)
		}
	}
	if stdin && !wh.Enabled && !cfg.Explicit("kete.sources.webhook.listen") {
		d.log.Info("no listener: --stdin without the webhook; set kete.sources.webhook.listen for /metrics and /readyz", "routes", names)
		return nil
	}
	ln, err := listen(wh.Listen, nil, guard(wh.HTTP))
	if err != nil {
		return fmt.Errorf("kete.sources.webhook.listen=%s: %w", wh.Listen, err)
	}
	d.opsAddr = ln.Addr()
	d.sources.Go(func() {
		if err := serve(ctx, ln, mux, guard(wh.HTTP), d.log); err != nil {
			d.log.Error("webhook listener stopped", "err", err)
		}
	})
	d.log.Info("daemon listening", "addr", ln.Addr().String(), "webhook", wh.Enabled, "path", wh.Path, "routes", names)
	return nil
}

// startPoller polls Keycloak's events API (kete.sources.keycloak.enabled) until ctx ends.
func (d *runningDaemon) startPoller(ctx context.Context, cfg *config.Config) error {
	pc := cfg.Sources.Keycloak
	if !pc.Enabled {
		return nil
	}
	p := d.pipeline
	polled := make([]string, len(pc.Realms))
	for i, realm := range pc.Realms {
		polled[i] = "keycloak-poller/" + realm
	}
	p.Metrics().SourceKnown("keycloak", polled...)
	poller, err := keycloak.NewPoller(cfg.Keycloak.Admin(nil), p, keycloak.PollerOptions{
		Realms: pc.Realms, Interval: pc.Interval, Lookback: pc.Lookback, DatesOnly: pc.DatesOnly,
		StateFile: filepath.Join(cfg.Spool.Dir, "keycloak-poller.json"), Logger: d.log,
		ConfigureRealms: pc.ConfigureRealms,
		// Each realm's outcome shows in /readyz and /metrics.
		OnPoll: func(realm string, err error) { p.SourcePolled("keycloak-poller/"+realm, err) },
	})
	if err != nil {
		return err
	}
	d.sources.Go(func() { poller.Run(ctx) })
	return nil
}

// waitDrained waits until every route has delivered what is spooled, or timeout.
func (d *runningDaemon) waitDrained(ctx context.Context, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for {
		drained := true
		for _, st := range d.pipeline.Status() {
			if st.Backlog > 0 {
				drained = false
			}
		}
		if drained {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop takes no more events, keeps delivering the backlog for the shutdown timeout,
// then stops the routes (what is left stays spooled for the next start) and closes.
func (d *runningDaemon) stop() error {
	d.stopOnce.Do(func() {
		d.cancelSources()
		d.sources.Wait()
		if !d.waitDrained(context.Background(), d.timeout) {
			d.log.Warn("shutdown timeout reached; undelivered events stay in the spool", "timeout", d.timeout)
		}
		d.stopErr = d.stopNow()
	})
	return d.stopErr
}

func (d *runningDaemon) stopNow() error {
	d.cancelSources()
	d.cancelRoutes()
	d.sources.Wait()
	d.routes.Wait()
	var errs []error
	if d.spool != nil {
		errs = append(errs, d.spool.Close())
	}
	if d.router != nil {
		errs = append(errs, d.router.Close())
	}
	if d.server != nil {
		d.server.Close()
	}
	return errors.Join(errs...)
}
