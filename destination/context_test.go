package destination

import (
	"bytes"
	"context"
	"errors"
	"os"
	"testing"
	"time"
)

func TestContextEndsMidSend(t *testing.T) {
	t.Run("write cancelled", func(t *testing.T) {
		srv := newTestServer(t, serverOptions{stall: true})
		d := newDestination(t, srv.url+"/events", WebSocketOptions{BinaryMode: true})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		big := bytes.Repeat([]byte("x"), 15<<20)
		done := sendAsync(ctx, d, login("master"), big)
		waitFor(t, "the connection", func() bool { open, _, _, _ := srv.stats(); return open == 1 })
		cancel()
		if err := result(t, done, 5*time.Second); !errors.Is(err, context.Canceled) {
			t.Errorf("send: %v, want context.Canceled", err)
		}
	})
	t.Run("write cancelled after sends under the same ctx", func(t *testing.T) {
		// The connection keeps one watch on a ctx its sends share: it must still cut
		// the write under way when that ctx ends.
		srv := newTestServer(t, serverOptions{stall: true})
		d := newDestination(t, srv.url+"/events", WebSocketOptions{BinaryMode: true})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		for range 3 {
			if err := d.Send(ctx, login("master"), []byte("{}")); err != nil {
				t.Fatalf("small send: %v", err)
			}
		}
		d.mu.Lock()
		var w *cancelWatch
		for c := range d.conns {
			w = c.watch // set by the sends above, kept by the next one (same ctx)
		}
		d.mu.Unlock()
		if w == nil {
			t.Fatal("the connection keeps no watch on the sends' ctx")
		}
		big := bytes.Repeat([]byte("x"), 15<<20)
		done := sendAsync(ctx, d, login("master"), big)
		waitFor(t, "the big write to start", func() bool { return w.state.Load() == watchWriting })
		cancel()
		if err := result(t, done, 5*time.Second); !errors.Is(err, context.Canceled) {
			t.Errorf("send: %v, want context.Canceled", err)
		}
	})
	t.Run("write deadline", func(t *testing.T) {
		srv := newTestServer(t, serverOptions{stall: true})
		d := newDestination(t, srv.url+"/events", WebSocketOptions{BinaryMode: true})
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		big := bytes.Repeat([]byte("x"), 15<<20)
		err := result(t, sendAsync(ctx, d, login("master"), big), 5*time.Second)
		if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("send: %v, want a deadline error", err)
		}
	})
	t.Run("waiting for a connection", func(t *testing.T) {
		srv := newTestServer(t, serverOptions{stall: true})
		d := newDestination(t, srv.url+"/events", WebSocketOptions{
			BinaryMode: true,
			Pool:       PoolOptions{MaxTotal: 1, MaxWait: time.Minute},
		})
		stuck := stuckSend(t, d, srv)
		ctx, cancel := context.WithCancel(context.Background())
		done := sendAsync(ctx, d, login("master"), []byte("{}"))
		cancel()
		if err := result(t, done, 5*time.Second); !errors.Is(err, context.Canceled) {
			t.Errorf("send: %v, want context.Canceled", err)
		}
		_ = d.Close()
		_ = result(t, stuck, 10*time.Second)
	})
	t.Run("already cancelled", func(t *testing.T) {
		srv := newTestServer(t, serverOptions{})
		d := newDestination(t, srv.url+"/events", WebSocketOptions{})
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := d.Send(ctx, login("master"), []byte("{}")); !errors.Is(err, context.Canceled) {
			t.Errorf("send: %v, want context.Canceled", err)
		}
		if _, _, opened, _ := srv.stats(); opened != 0 {
			t.Errorf("a cancelled send opened %d connections", opened)
		}
	})
}

// An ended ctx, or the deadline of an earlier send, must not touch the next send on the
// same connection.
func TestEndedContextLeavesTheConnectionUsable(t *testing.T) {
	srv := newTestServer(t, serverOptions{})
	d := newDestination(t, srv.url+"/events", WebSocketOptions{})
	send := func(ctx context.Context, body string) {
		t.Helper()
		if err := d.Send(ctx, login("master"), []byte(body)); err != nil {
			t.Fatalf("send %s: %v", body, err)
		}
		if f := srv.next(t); f.data != body {
			t.Fatalf("server got %q, want %q", f.data, body)
		}
	}
	first, cancelFirst := context.WithCancel(context.Background())
	send(first, "1")
	second, cancelSecond := context.WithCancel(context.Background())
	defer cancelSecond()
	send(second, "2")
	cancelFirst() // the connection watched first; it now watches second
	send(second, "3")
	cancelSecond() // ends while the connection is idle
	short, cancelShort := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancelShort()
	send(short, "4")
	<-short.Done() // its deadline is now in the past, and was the socket's
	send(context.Background(), "5")
	send(testContext(t), "6")
	if _, _, opened, _ := srv.stats(); opened != 1 {
		t.Errorf("%d connections opened, want the first one reused throughout", opened)
	}
}
