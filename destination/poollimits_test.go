package destination

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kete-dev/kete/pool"
)

func TestPoolNeverExceedsMaxTotal(t *testing.T) {
	srv := newTestServer(t, serverOptions{})
	const maxTotal, senders, each = 4, 50, 20
	d := newDestination(t, srv.url+"/events", WebSocketOptions{Pool: PoolOptions{MaxTotal: maxTotal, MaxIdle: maxTotal}})
	ctx := testContext(t)
	var wg sync.WaitGroup
	errs := make(chan error, senders)
	for i := range senders {
		wg.Go(func() {
			for j := range each {
				if err := d.Send(ctx, login("master"), fmt.Appendf(nil, `{"n":"%d-%d"}`, i, j)); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("send: %v", err)
	}
	waitFor(t, "every frame", func() bool { return srv.count.Load() == senders*each })
	if _, maxOpen, opened, _ := srv.stats(); maxOpen > maxTotal || opened > maxTotal {
		t.Errorf("server saw %d connections open at once (%d in all), max-total %d", maxOpen, opened, maxTotal)
	}
}

// stuckSend starts a Send of a body too big for the socket buffers to a server that does
// not read, and waits until its connection is open: the send then holds that connection.
func stuckSend(t *testing.T, d *WebSocket, srv *testServer) <-chan error {
	t.Helper()
	big := bytes.Repeat([]byte("x"), 15<<20)
	done := sendAsync(context.Background(), d, login("master"), big)
	waitFor(t, "the stuck send's connection", func() bool {
		open, _, _, _ := srv.stats()
		return open == 1 && d.static.pool.Stats().Idle == 0
	})
	return done
}

func TestPoolExhausted(t *testing.T) {
	srv := newTestServer(t, serverOptions{stall: true})
	d := newDestination(t, srv.url+"/events", WebSocketOptions{
		BinaryMode: true,
		Pool:       PoolOptions{MaxTotal: 1, MaxWait: 100 * time.Millisecond},
	})
	stuck := stuckSend(t, d, srv)
	err := result(t, sendAsync(testContext(t), d, login("master"), []byte("{}")), 5*time.Second)
	if !errors.Is(err, pool.ErrExhausted) || !strings.Contains(err.Error(), "max-total 1") {
		t.Errorf("send to an exhausted pool: %v, want ErrExhausted naming max-total", err)
	}
	if err := d.Close(); err != nil {
		t.Logf("close: %v", err)
	}
	if err := result(t, stuck, 10*time.Second); err == nil {
		t.Error("the stuck send succeeded after Close cut its connection")
	}
}
