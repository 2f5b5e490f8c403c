package main

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"
)

// BenchmarkWebhookToSubscriber measures sustained events/s from webhook POSTs (batches of
// 100, four posters) through the spool, one route and the bundled server's acked ingest
// to one subscriber, in one process on this machine.
func BenchmarkWebhookToSubscriber(b *testing.B) {
	app := startTestServerB(b)
	sub := app.subscribe(b, "events")
	_, url := startTestDaemon(b, routeConfig(app, b, "127.0.0.1:0", b.TempDir()), daemonOptions{})
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
