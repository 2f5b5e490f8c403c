package destination

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/kete-dev/kete/pool"
)

// TestIdleConnectionEvicted: a connection left idle for min-evictable-idle-time is closed
// by the pool's evictor (the server sees it go) and the next send opens a fresh one, as
// against a proxy that cuts idle connections.
func TestIdleConnectionEvicted(t *testing.T) {
	srv := newTestServer(t, serverOptions{})
	d := newDestination(t, srv.url+"/events", WebSocketOptions{
		Pool: PoolOptions{
			MaxTotal: 2, MinEvictableIdle: 30 * time.Millisecond,
			EvictionInterval: 10 * time.Millisecond,
		},
	})
	if err := d.Send(testContext(t), login("master"), []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	srv.next(t)
	waitFor(t, "the server to see the idle connection closed", func() bool {
		_, _, _, closed := srv.stats()
		return closed == 1
	})
	if err := d.Send(testContext(t), login("master"), []byte(`{}`)); err != nil {
		t.Fatalf("send after eviction: %v", err)
	}
	srv.next(t)
	if _, _, opened, _ := srv.stats(); opened != 2 {
		t.Errorf("opened %d connections, want 2 (the evicted one and its replacement)", opened)
	}
}

// TestFailWhenExhausted: block-when-exhausted=false fails a send at once while every
// connection is busy, even with a long max-wait.
func TestFailWhenExhausted(t *testing.T) {
	srv := newTestServer(t, serverOptions{stall: true})
	d := newDestination(t, srv.url+"/events", WebSocketOptions{
		BinaryMode: true,
		Pool:       PoolOptions{MaxTotal: 1, MaxWait: time.Hour, FailWhenExhausted: true},
	})
	stuck := stuckSend(t, d, srv)
	err := result(t, sendAsync(testContext(t), d, login("master"), []byte("{}")), 5*time.Second)
	if !errors.Is(err, pool.ErrExhausted) || !strings.Contains(err.Error(), "in use") {
		t.Errorf("send to an exhausted pool: %v, want ErrExhausted at once", err)
	}
	_ = d.Close()
	_ = result(t, stuck, 10*time.Second)
}
