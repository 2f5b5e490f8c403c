package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}
