package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/kete-dev/kete/cmd/kete/internal/demo"
	"github.com/kete-dev/kete/config"
	"github.com/kete-dev/kete/internal/httpguard"
	"github.com/kete-dev/kete/server"
)

// runDemo is `kete demo`: the bundled server and the daemon in this process, fed by
// internal/demo's event generator.
func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("demo", stderr)
	listenAddr := fs.String("listen", "127.0.0.1:8080", "server address; the default falls back to a free port when taken (and says so), a given one is refused")
	webhookAddr := fs.String("webhook", "127.0.0.1:8081", "webhook/metrics address; the default falls back to a free port when taken (and says so), a given one is refused")
	rate := fs.Int("rate", 20, "events generated per second")
	duration := fs.Duration("duration", 0, "stop after this long (0: until Ctrl-C)")
	quiet := fs.Bool("quiet", false, "no progress line")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *duration)
		defer cancel()
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	srvLn, whAddr, err := demoListeners(*listenAddr, given["listen"], *webhookAddr, given["webhook"], stderr)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "kete-demo-")
	if err != nil {
		srvLn.Close()
		return err
	}
	defer os.RemoveAll(dir)
	s, err := startDemo(ctx, srvLn, whAddr, dir, newLogger(stderr, slog.LevelWarn))
	if err != nil {
		return err
	}
	demo.PrintLinks(stdout, srvLn.Addr(), s.d.opsAddr, s.setup.Viewer, *rate)
	genErr := demo.Run(ctx, demo.Options{Rate: *rate, Pipeline: s.d.pipeline, Spooled: func() uint64 { return s.d.spool.Stats().Written },
		Out: stdout, Quiet: *quiet})
	stopErr := s.stop()
	if genErr != nil {
		return genErr
	}
	return stopErr
}

// demoListeners binds the server's listener and picks the webhook's address (which the
// daemon binds again from its configuration); a default port that is taken moves.
func demoListeners(listenAddr string, listenGiven bool, webhookAddr string, webhookGiven bool, stderr io.Writer) (net.Listener, string, error) {
	srvLn, err := listenOrFree(listenAddr, listenGiven, "listen", stderr)
	if err != nil {
		return nil, "", err
	}
	whLn, err := listenOrFree(webhookAddr, webhookGiven, "webhook", stderr)
	if err != nil {
		srvLn.Close()
		return nil, "", err
	}
	whAddr := whLn.Addr().String()
	whLn.Close()
	return srvLn, whAddr, nil
}

// runningDemo is the server serving on its listener and the daemon feeding it.
type runningDemo struct {
	setup       demo.Setup
	d           *runningDaemon
	stopServing context.CancelFunc
	served      chan error
}

// startDemo serves the demo's app on srvLn and starts the daemon on the demo's
// configuration (webhook at whAddr, spool in dir); on an error it closes srvLn.
func startDemo(ctx context.Context, srvLn net.Listener, whAddr, dir string, log *slog.Logger) (*runningDemo, error) {
	s := &runningDemo{setup: demo.NewSetup(), served: make(chan error, 1)}
	cfg, err := config.Parse(demo.Config(srvLn.Addr().String(), s.setup.Publisher, dir, whAddr), "properties", nil)
	if err != nil {
		srvLn.Close()
		return nil, fmt.Errorf("demo configuration: %w", err)
	}
	srv, err := server.New(server.Options{Apps: []server.App{s.setup.App}, Logger: log})
	if err != nil {
		srvLn.Close()
		return nil, err
	}
	if err := srv.Start(); err != nil {
		srv.Close()
		srvLn.Close()
		return nil, err
	}
	var serveCtx context.Context
	serveCtx, s.stopServing = context.WithCancel(context.Background())
	go func() {
		s.served <- serve(serveCtx, httpguard.Wrap(srvLn, nil, httpguard.Options{}), srv, httpguard.Options{}, log)
	}()
	if s.d, err = startDaemon(ctx, cfg, daemonOptions{Logger: log, Server: srv, ShutdownTimeout: 3 * time.Second}); err != nil {
		s.stopServing()
		<-s.served
		srv.Close()
		return nil, err
	}
	return s, nil
}

// stop stops the daemon (and with it the server), then serving.
func (s *runningDemo) stop() error {
	err := s.d.stop()
	s.stopServing()
	<-s.served
	return err
}
