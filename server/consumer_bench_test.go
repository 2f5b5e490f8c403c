package server

import (
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lxzan/gws"
)

// BenchmarkConsumerGroup publishes 100-byte messages to one topic and reports deliveries
// per CPU-second for a Drogue consumer group of three members (each message to one of
// them, as a CloudEvent) against one plain Realtime subscriber of the same topic, in the
// same run. The clients run in this process, so CPU is the whole process's: compare the
// two, not absolute values.
//
//	go test -run '^$' -bench BenchmarkConsumerGroup -benchtime 20000x ./server/
func BenchmarkConsumerGroup(b *testing.B) {
	b.Run("plain-subscriber", func(b *testing.B) { benchConsumers(b, false) })
	b.Run("group-of-3", func(b *testing.B) { benchConsumers(b, true) })
}

func benchConsumers(b *testing.B, group bool) {
	app := testApp("a", secretA)
	app.Limits.MaxBacklog = 1 << 20
	s, hs := startServer(b, Options{Apps: []App{app}})
	tok := mint(b, secretA, "bench", time.Hour)
	var received atomic.Int64
	var conns []*gws.Conn
	dial := func(u string) {
		c, _, err := gws.NewClient(countingClient{n: &received}, &gws.ClientOption{Addr: u})
		if err != nil {
			b.Fatal(err)
		}
		conns = append(conns, c)
		go c.ReadLoop()
	}
	if group {
		for range 3 {
			dial(wsURL(hs, "/drogue/a/bulk?"+url.Values{"token": {tok}, "group_id": {"g"}}.Encode()))
		}
		waitUntil(b, "members", func() bool { return members(s, "bulk", "g") == 3 })
	} else {
		dial(wsURL(hs, "/apps/a?access_token="+tok))
		waitUntil(b, "welcome", func() bool { return received.Load() >= 1 })
		if err := conns[0].WriteString(`{"type":"subscribe","data":{"topic":"bulk"}}`); err != nil {
			b.Fatal(err)
		}
		waitUntil(b, "subscribed", func() bool { return received.Load() >= 2 })
	}
	b.Cleanup(func() {
		for _, c := range conns {
			_ = c.WriteClose(1000, nil)
		}
	})
	received.Store(0)
	payload := []byte(`"` + strings.Repeat("x", 55) + `"`)
	const window = 64
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime()
	for i := 0; i < b.N; i++ {
		if err := s.publish(s.ctx, "a", "bulk", Message{Data: payload}); err != nil {
			b.Fatal(err)
		}
		if (i+1)%window == 0 {
			want := int64(i + 1 - window)
			deadline := time.Now().Add(30 * time.Second)
			for received.Load() < want && time.Now().Before(deadline) {
				time.Sleep(100 * time.Microsecond)
			}
		}
	}
	want := int64(b.N)
	deadline := time.Now().Add(60 * time.Second)
	for received.Load() < want && time.Now().Before(deadline) {
		time.Sleep(100 * time.Microsecond)
	}
	elapsed, cpu := time.Since(start), cpuTime()-cpu0
	b.StopTimer()
	if got := received.Load(); got < want {
		b.Fatalf("delivered %d of %d", got, want)
	}
	b.ReportMetric(float64(want)/elapsed.Seconds(), "deliveries/s")
	b.ReportMetric(float64(want)/cpu.Seconds(), "deliveries/cpu-s")
}
