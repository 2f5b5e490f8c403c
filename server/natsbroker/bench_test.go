package natsbroker_test

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"

	"github.com/kete-dev/kete/server"
	"github.com/kete-dev/kete/server/natsbroker"
)

// BenchmarkNATSBroker measures publish→deliver throughput of 128-byte messages from one
// node to n receiving nodes (handlers that count) through one embedded NATS server; it
// reports delivered messages per second across all receivers. The jetstream-history
// variant publishes history messages (one acknowledged stream write each, one publisher).
func BenchmarkNATSBroker(b *testing.B) {
	type variant struct {
		name      string
		receivers int
		history   bool
	}
	for _, v := range []variant{{"core/receivers=1", 1, false}, {"core/receivers=3", 3, false}, {"jetstream-history/receivers=3", 3, true}} {
		receivers := v.receivers
		b.Run(v.name, func(b *testing.B) {
			var ns *natsserver.Server
			var hist *natsbroker.HistoryOptions
			if v.history {
				ns = startJetStream(b, 0, b.TempDir())
				hist = &natsbroker.HistoryOptions{Memory: true, MaxMsgsPerTopic: 100}
			} else {
				ns = startNATS(b, 0)
			}
			pub := newBroker(b, natsbroker.Options{URL: ns.ClientURL(), Name: "pub", History: hist})
			var delivered atomic.Int64
			done := make(chan struct{})
			want := int64(b.N * receivers)
			for i := range receivers {
				r := newBroker(b, natsbroker.Options{URL: ns.ClientURL(), Name: "recv-" + strconv.Itoa(i), History: hist})
				if _, err := r.Subscribe(func(context.Context, string, string, server.Message) error {
					if delivered.Add(1) == want {
						close(done)
					}
					return nil
				}); err != nil {
					b.Fatal(err)
				}
			}
			msg := server.Message{Data: make([]byte, 128), Origin: "bench", History: v.history}
			for i := range msg.Data {
				msg.Data[i] = 'x'
			}
			ctx := context.Background()
			b.SetBytes(int64(len(msg.Data)))
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i++ {
				if err := pub.Publish(ctx, "bench", "topic/"+strconv.Itoa(i&7), msg); err != nil {
					b.Fatal(err)
				}
			}
			select {
			case <-done:
			case <-time.After(time.Minute):
				b.Fatalf("delivered %d of %d (slow consumer drops?)", delivered.Load(), want)
			}
			b.ReportMetric(float64(want)/time.Since(start).Seconds(), "delivered/s")
		})
	}
}
