package main

import (
	"context"
	"io"
	"net"
	"time"

	"github.com/kete-dev/kete/cmd/kete/internal/bench"
	"github.com/kete-dev/kete/config"
)

// runBench is `kete bench`: the load tool, given the daemon for `bench e2e`.
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return bench.Run(ctx, args, stdout, stderr, bench.Options{StartDaemon: startBenchDaemon})
}

// startBenchDaemon starts `kete run` on cfg in this process, logging nothing: the bench
// prints figures, not the daemon's lines.
func startBenchDaemon(ctx context.Context, cfg *config.Config) (net.Addr, func() error, error) {
	d, err := startDaemon(ctx, cfg, daemonOptions{Logger: newLogger(io.Discard, 0), ShutdownTimeout: time.Second})
	if err != nil {
		return nil, nil, err
	}
	return d.opsAddr, d.stop, nil
}
