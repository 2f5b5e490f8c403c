package destination

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestUnreachableServer(t *testing.T) {
	url := "ws://" + closedPort(t) + "/events"
	d := newDestination(t, url, WebSocketOptions{ConnectTimeout: time.Minute})
	err := result(t, sendAsync(testContext(t), d, login("master"), []byte("{}")), 5*time.Second)
	if !errors.Is(err, syscall.ECONNREFUSED) || !strings.Contains(err.Error(), url) {
		t.Errorf("send to a closed port: %v, want connection refused naming %s", err, url)
	}
}

func TestHandshakeNeverCompletes(t *testing.T) {
	for _, scheme := range []string{"ws", "wss"} {
		t.Run(scheme, func(t *testing.T) {
			d := newDestination(t, scheme+"://"+silentListener(t)+"/events", WebSocketOptions{ConnectTimeout: 200 * time.Millisecond})
			// The caller's ctx is far off: only ConnectTimeout can end this within 3s.
			err := result(t, sendAsync(testContext(t), d, login("master"), []byte("{}")), 3*time.Second)
			if !errors.Is(err, os.ErrDeadlineExceeded) && !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("send: %v, want a timeout", err)
			}
		})
	}
}

func TestServerClosesMidStream(t *testing.T) {
	srv := newTestServer(t, serverOptions{closeAfter: 1})
	d := newDestination(t, srv.url+"/events", WebSocketOptions{})
	ctx := testContext(t)
	for i := range 5 {
		body := fmt.Sprintf(`{"n":%d}`, i)
		if err := d.Send(ctx, login("master"), []byte(body)); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
		if f := srv.next(t); f.data != body {
			t.Fatalf("frame %q, want %q", f.data, body)
		}
		// The server closes after each frame; once the client has seen the close, the
		// next event must go out on a new connection.
		waitFor(t, "the client to see the close", func() bool { return d.openConns() == 0 })
	}
	if _, _, opened, _ := srv.stats(); opened != 5 {
		t.Errorf("server saw %d connections, want 5", opened)
	}
}

func TestWriteErrorRetriesOnFreshConnection(t *testing.T) {
	srv := newTestServer(t, serverOptions{})
	d := newDestination(t, srv.url+"/events", WebSocketOptions{Pool: PoolOptions{MaxTotal: 1}})
	ctx := testContext(t)
	if err := d.Send(ctx, login("master"), []byte(`{"n":1}`)); err != nil {
		t.Fatal(err)
	}
	srv.next(t)
	// Break the idle connection so that its next write fails, as a peer reset would.
	var old *conn
	d.mu.Lock()
	for c := range d.conns {
		old = c
	}
	d.mu.Unlock()
	_ = old.ws.NetConn().Close()
	if err := d.Send(ctx, login("master"), []byte(`{"n":2}`)); err != nil {
		t.Fatalf("send after the connection broke: %v", err)
	}
	if f := srv.next(t); f.data != `{"n":2}` {
		t.Errorf("frame %q", f.data)
	}
	if _, _, opened, _ := srv.stats(); opened != 2 {
		t.Errorf("server saw %d connections, want 2", opened)
	}
}

func TestLostPeerDetectedAndReplaced(t *testing.T) {
	const lost = 300 * time.Millisecond
	for _, tt := range []struct {
		name string
		o    serverOptions
	}{
		{"no pong", serverOptions{noPong: true}},
		{"stopped reading", serverOptions{stall: true}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := newTestServer(t, tt.o)
			d := newDestination(t, srv.url+"/events", WebSocketOptions{
				ConnectionLostTimeout: lost,
				Pool:                  PoolOptions{MinIdle: 1},
			})
			waitFor(t, "the min-idle connection", func() bool { return d.openConns() == 1 })
			var first *conn
			d.mu.Lock()
			for c := range d.conns {
				first = c
			}
			d.mu.Unlock()
			// Detected within the lost timeout plus one ping interval; allow 10x for a busy host.
			deadline := time.Now().Add(10 * lost)
			for !first.closed.Load() {
				if time.Now().After(deadline) {
					t.Fatalf("dead peer not detected within %s", 10*lost)
				}
				time.Sleep(time.Millisecond)
			}
			t.Logf("dead peer detected %s after connecting (lost timeout %s)", time.Since(first.born).Round(time.Millisecond), lost)
			waitFor(t, "a replacement connection", func() bool {
				_, _, opened, _ := srv.stats()
				return opened >= 2
			})
			if !tt.o.stall {
				if err := d.Send(testContext(t), login("master"), []byte(`{"after":"loss"}`)); err != nil {
					t.Fatalf("send after the loss: %v", err)
				}
				if f := srv.next(t); f.data != `{"after":"loss"}` {
					t.Errorf("frame %q", f.data)
				}
			}
		})
	}
}

// A peer that stops reading while a large frame is being written blocks that write, and
// with it gws's close path; the heartbeat must still cut the connection.
func TestLostPeerCutsStuckWrite(t *testing.T) {
	srv := newTestServer(t, serverOptions{stall: true})
	d := newDestination(t, srv.url+"/events", WebSocketOptions{
		BinaryMode:            true,
		ConnectionLostTimeout: 300 * time.Millisecond,
	})
	big := bytes.Repeat([]byte("x"), 15<<20)
	err := result(t, sendAsync(context.Background(), d, login("master"), big), 10*time.Second)
	if err == nil {
		t.Fatal("a write to a peer that stopped reading succeeded")
	}
	t.Logf("stuck write ended with: %v", err)
	if _, _, opened, _ := srv.stats(); opened != 2 {
		t.Errorf("server saw %d connections, want 2 (the write is retried once)", opened)
	}
}

func TestHeartbeatKeepsHealthyConnection(t *testing.T) {
	srv := newTestServer(t, serverOptions{})
	const lost = 150 * time.Millisecond
	d := newDestination(t, srv.url+"/events", WebSocketOptions{ConnectionLostTimeout: lost, Pool: PoolOptions{MinIdle: 1}})
	waitFor(t, "the min-idle connection", func() bool { return d.openConns() == 1 })
	var c *conn
	d.mu.Lock()
	for x := range d.conns {
		c = x
	}
	d.mu.Unlock()
	// Several lost timeouts pass; pongs keep the connection alive.
	waitFor(t, "pongs across 4 lost timeouts", func() bool {
		return time.Duration(c.lastSeen.Load()) > 4*lost
	})
	if c.closed.Load() {
		t.Fatal("a healthy connection was closed")
	}
	if _, _, opened, _ := srv.stats(); opened != 1 {
		t.Errorf("server saw %d connections, want 1", opened)
	}
}
