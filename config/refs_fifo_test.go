//go:build unix

package config

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestFileRefRefusesAFIFOWithoutBlocking(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "secret.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	// No writer ever opens the FIFO: a plain open or read would wait for ever.
	p, err := fileRefProblem(t, context.Background(), fifo)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(p.Reason, "not a regular file (a FIFO)") {
		t.Errorf("reason %q, want it to say the FIFO is not a regular file", p.Reason)
	}
}

// A SIGTERM during start-up ends the load: with ctx ended, no file is opened (here, a
// FIFO that would otherwise be refused) and the error is ctx's.
func TestFileRefStopsWhenTheContextEnds(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "secret.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := fileRefProblem(t, ctx, fifo)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("load with an ended context: %v, want context.Canceled", err)
	}
}
