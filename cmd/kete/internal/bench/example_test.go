package bench_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"time"

	"github.com/kete-dev/kete/cmd/kete/internal/bench"
)

// A fan-out run against the bare gws hub: 3 subscribers, 300 deliveries/s (100
// messages/s) for 300ms, then the report as a table.
func ExampleRunFanout() {
	hub := bench.NewHub()
	srv := httptest.NewServer(hub)
	defer srv.Close()
	defer hub.Close()

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := bench.RunFanout(ctx, bench.Target{Name: "hub", Kind: bench.KindHub, URL: "ws://" + srv.Listener.Addr().String()},
		bench.FanoutOptions{Subscribers: 3, Rate: 300, Duration: 300 * time.Millisecond})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("sent %d messages, delivered %d of %d, lost %d\n", res.Sent, res.Received, res.Expected, res.Loss)

	rep := bench.NewReport("example", "ExampleRunFanout")
	rep.Fanout = append(rep.Fanout, res)
	_ = rep.WriteTable(os.Stderr) // latencies vary from run to run: not part of the output
	// Output:
	// sent 30 messages, delivered 90 of 90, lost 0
}

// The histogram behind every latency figure: log-linear buckets, at most 1/128 wide.
func ExampleHistogram() {
	h := bench.NewHistogram()
	for i := 1; i <= 100; i++ {
		h.Record(time.Duration(i) * time.Millisecond)
	}
	fmt.Println(h.Quantile(0.5).Round(time.Millisecond), h.Quantile(0.99).Round(time.Millisecond), h.Max())
	// Output:
	// 50ms 99ms 100ms
}
