package main

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/kete-dev/kete/server"
)

// TestServerRestartMidStreamLosesNothing stops the bundled server while events flow,
// keeps posting, and starts a new one at the same address: every acknowledged event
// reaches the server (counted where the broker carries it).
func TestServerRestartMidStreamLosesNothing(t *testing.T) {
	addr := freeAddr(t)
	broker := server.NewMemoryBroker()
	defer broker.Close()
	tap := tapBroker(t, broker, "events")
	first := startTestServerAt(t, addr, broker)
	_, url := startTestDaemon(t, routeConfig(first, t, "127.0.0.1:0", t.TempDir()), daemonOptions{})
	ctx := context.Background()
	want := map[string]bool{}
	post := func(from int) {
		events := makeEvents("restart", from, 100)
		if status, err := postEvents(ctx, url, events); err != nil || status != http.StatusAccepted {
			t.Fatalf("POST = %d, %v", status, err)
		}
		for _, e := range events {
			want[e.ID] = true
		}
	}
	for i := range 10 {
		post(i * 100)
	}
	first.stop()
	for i := 10; i < 20; i++ {
		post(i * 100) // spooled while no server listens
	}
	startTestServerAt(t, addr, broker)
	for i := 20; i < 30; i++ {
		post(i * 100)
	}
	dups := tap.waitFor(t, want, 60*time.Second)
	t.Logf("%d events across a server restart; %d reached the server twice (de-duplicated there per app)", len(want), dups)
}

// TestDeadDestinationKeepsOtherRoutesFlowing runs a route to a port nobody listens on
// beside a route to the server: the live route delivers everything while the dead one
// keeps its events spooled.
func TestDeadDestinationKeepsOtherRoutesFlowing(t *testing.T) {
	app := startTestServer(t)
	sub := app.subscribe(t, "events")
	dead := freeAddr(t)
	props := routeConfig(app, t, "127.0.0.1:0", t.TempDir()) + fmt.Sprintf(`
kete.routes.dead.destination.kind=websocket
kete.routes.dead.destination.url=ws://%s/nobody
kete.routes.dead.destination.connection-timeout-seconds=1
kete.routes.dead.retry.wait-duration=20ms
kete.routes.dead.retry.max-wait=200ms
`, dead)
	// The dead route never drains: stop without waiting for it.
	d, url := startTestDaemon(t, props, daemonOptions{ShutdownTimeout: time.Millisecond})
	ctx := context.Background()
	want := map[string]bool{}
	var latencies []time.Duration
	for i := range 20 {
		events := makeEvents("live", i*50, 50)
		sent := time.Now()
		if status, err := postEvents(ctx, url, events); err != nil || status != http.StatusAccepted {
			t.Fatalf("POST = %d, %v", status, err)
		}
		batch := map[string]bool{}
		for _, e := range events {
			want[e.ID], batch[e.ID] = true, true
		}
		sub.waitFor(t, batch, 30*time.Second)
		latencies = append(latencies, time.Since(sent))
	}
	sub.waitFor(t, want, 30*time.Second)
	for _, st := range d.pipeline.Status() {
		if st.Route == "dead" && (st.Backlog != 1000 || !st.Failing) {
			t.Fatalf("dead route status %+v, want 1000 spooled and failing", st)
		}
	}
	slices.Sort(latencies)
	t.Logf("live route: 20 batches of 50, POST→subscriber median %v, max %v, while the dead route retried", latencies[len(latencies)/2], latencies[len(latencies)-1])
}

// TestFullSpoolPushesBackThenRecovers fills a small spool while the destination is down
// (503 with Retry-After), then starts the server: the backlog drains and posts are taken
// again.
func TestFullSpoolPushesBackThenRecovers(t *testing.T) {
	addr := freeAddr(t)
	broker := server.NewMemoryBroker()
	defer broker.Close()
	tap := tapBroker(t, broker, "events")
	placeholder := &testApp{secret: []byte("kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk")}
	props := fmt.Sprintf(`
kete.routes.all.destination.kind=websocket
kete.routes.all.destination.url=ws://%s/apps/demo/publish/events?ack=1
kete.routes.all.destination.headers.Authorization=Bearer %s
kete.routes.all.destination.connection-timeout-seconds=1
kete.routes.all.retry.wait-duration=20ms
kete.routes.all.retry.max-wait=100ms
kete.sources.webhook.enabled=true
kete.sources.webhook.listen=127.0.0.1:0
kete.spool.dir=%s
kete.spool.max-bytes=64KiB
`, addr, placeholder.token(t, "daemon", "realtime:publisher:write:topic:*"), filepath.Join(t.TempDir(), "spool"))
	_, url := startTestDaemon(t, props, daemonOptions{})
	ctx := context.Background()
	want := map[string]bool{}
	full := false
	for i := 0; i < 1000 && !full; i++ {
		events := makeEvents("full", i*20, 20)
		req := func() (int, http.Header) {
			status, err := postEvents(ctx, url, events)
			if err != nil {
				t.Fatal(err)
			}
			return status, nil
		}
		switch status, _ := req(); status {
		case http.StatusAccepted:
			for _, e := range events {
				want[e.ID] = true
			}
		case http.StatusServiceUnavailable:
			full = true
		default:
			t.Fatalf("POST = %d", status)
		}
	}
	if !full {
		t.Fatal("a 64 KiB spool never refused a POST")
	}
	startTestServerAt(t, addr, broker)
	tap.waitFor(t, want, 60*time.Second)
	// Room comes back once the route's cursor is saved past whole segments; a sender that
	// honours Retry-After tries again until then.
	deadline := time.Now().Add(10 * time.Second)
	for {
		status, err := postEvents(ctx, url, makeEvents("after", 0, 20))
		if err == nil && status == http.StatusAccepted {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("POST after the backlog drained = %d, %v", status, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("%d events accepted before the spool filled; all delivered once the server came up", len(want))
}
