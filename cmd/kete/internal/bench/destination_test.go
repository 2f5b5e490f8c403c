package bench

import (
	"context"
	"testing"
	"time"
)

func TestRunDestinationBothSenders(t *testing.T) {
	sink := newSink()
	addr, stop, err := serveLoopback(sink)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stop(); _ = sink.Close() })
	for _, baseline := range []bool{false, true} {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		res, err := runDestination(ctx, baseline, destOptions{URL: "ws://" + addr + "/", Sink: sink, Events: 300, Duration: 30 * time.Second})
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if res.Events != 300 || res.Failed != 0 || res.Delivered != 300 {
			t.Errorf("%s: events %d failed %d delivered %d (errors %v)", res.Name, res.Events, res.Failed, res.Delivered, res.Errors)
		}
		if res.LatencyKind != "sink" || res.Latency.Count != 300 || res.Latency.P50 <= 0 || res.EventsPerSec <= 0 {
			t.Errorf("%s: latency %+v, %v events/s", res.Name, res.Latency, res.EventsPerSec)
		}
	}
}

func TestBenchEventSize(t *testing.T) {
	ser, err := newRouteSerializer()
	if err != nil {
		t.Fatal(err)
	}
	e, err := benchEvent(ser, 300)
	if err != nil {
		t.Fatal(err)
	}
	b, err := ser.Serialize(nil, e)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 295 || len(b) > 305 {
		t.Fatalf("bench event is %d bytes, want about 300: %s", len(b), b)
	}
	if _, ok := stampOf(b); !ok {
		t.Fatalf("no stamp in %s", b)
	}
}
