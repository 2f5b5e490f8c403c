package main

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/kete-dev/kete/config"
)

// BenchmarkWebhookToSubscriber measures sustained events/s from webhook POSTs (batches of
// 100, four posters) through the spool, one route and the bundled server's acked ingest
// to one subscriber, in one process on this machine.
func BenchmarkWebhookToSubscriber(b *testing.B) {
	app := startTestServerB(b)
	sub := app.subscribe(b, "events")
	cfg, err := config.Parse([]byte(routeConfig(app, b, "127.0.0.1:0", b.TempDir())), "properties", nil)
	if err != nil {
		b.Fatal(err)
	}
	d, err := startDaemon(context.Background(), cfg, daemonOptions{Logger: discardLogger()})
	if err != nil {
		b.Fatal(err)
	}
	defer d.stop()
	url := "http://" + d.opsAddr.String() + "/events"
	const batch = 100
	batches := (b.N + batch - 1) / batch
	want := make(map[string]bool, batches*batch)
	work := make(chan int, batches)
	for i := range batches {
		work <- i
		for _, e := range makeEvents("bench", i*batch, batch) {
			want[e.ID] = true
		}
	}
	close(work)
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for i := range work {
				for {
					status, err := postEvents(context.Background(), url, makeEvents("bench", i*batch, batch))
					if err == nil && status == http.StatusAccepted {
						break
					}
				}
			}
		})
	}
	wg.Wait()
	sub.waitFor(b, want, 5*time.Minute)
	elapsed := time.Since(start)
	b.ReportMetric(float64(len(want))/elapsed.Seconds(), "events/s")
}
