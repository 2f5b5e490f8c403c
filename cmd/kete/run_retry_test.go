package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kete-dev/kete/spool"
)

// `kete run` retries from its spool and its destinations try each send once: a route
// with retry.max-attempts=3 against a server that answers every handshake 503 (retried:
// "not now") knocks three times, not three times three, then dead-letters the event.
func TestRunRetriesOnlyFromTheSpool(t *testing.T) {
	var handshakes atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handshakes.Add(1)
		http.Error(w, "busy", http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	dir := t.TempDir()
	_, webhook := startTestDaemon(t, fmt.Sprintf(`
kete.routes.ws.destination.url=ws://%s/events
kete.routes.ws.destination.pool.min-idle=0
kete.routes.ws.retry.max-attempts=3
kete.routes.ws.retry.wait-duration=10ms
kete.routes.ws.retry.max-wait=20ms
kete.sources.webhook.enabled=true
kete.sources.webhook.listen=127.0.0.1:0
kete.spool.dir=%s
`, srv.Listener.Addr(), dir), daemonOptions{ShutdownTimeout: time.Millisecond})
	if status, err := postEvents(context.Background(), webhook, makeEvents("retry", 0, 1)); err != nil || status != http.StatusAccepted {
		t.Fatalf("POST = %d, %v", status, err)
	}
	waitUntil(t, 30*time.Second, "the event to be dead-lettered", func() bool {
		letters, err := spool.DeadLetters(dir, "ws")
		return err == nil && len(letters) == 1
	})
	if got := handshakes.Load(); got != 3 {
		t.Errorf("%d handshakes, want 3: one per attempt the daemon makes", got)
	}
}
