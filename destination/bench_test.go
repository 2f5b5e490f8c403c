package destination

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/kete-dev/kete"
	"github.com/kete-dev/kete/serializer"
	"github.com/lxzan/gws"
)

// sink is a loopback gws server that only counts frames, so benchmarks can check that
// every event arrived.
type sink struct {
	gws.BuiltinEventHandler
	url    string
	frames atomic.Int64
	bytes  atomic.Int64
}

func newSink(b *testing.B) *sink {
	b.Helper()
	s := &sink{}
	up := gws.NewUpgrader(s, nil)
	var mu sync.Mutex
	var conns []*gws.Conn
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r)
		if err != nil {
			return
		}
		mu.Lock()
		conns = append(conns, c)
		mu.Unlock()
		go c.ReadLoop()
	}))
	s.url = "ws://" + srv.Listener.Addr().String()
	b.Cleanup(func() {
		srv.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.NetConn().Close()
		}
	})
	return s
}

func (s *sink) OnMessage(_ *gws.Conn, m *gws.Message) {
	s.frames.Add(1)
	s.bytes.Add(int64(m.Data.Len()))
	_ = m.Close()
}

// await waits until the sink has counted n frames, failing the benchmark after 30s.
func (s *sink) await(b *testing.B, n int64) {
	b.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for s.frames.Load() < n {
		if time.Now().After(deadline) {
			b.Fatalf("sink counted %d frames, want %d", s.frames.Load(), n)
		}
		time.Sleep(50 * time.Microsecond)
	}
	if got := s.frames.Load(); got != n {
		b.Fatalf("sink counted %d frames, want exactly %d", got, n)
	}
}

// benchEvent is a Keycloak LOGIN event whose JSON form is about 300 bytes.
func benchEvent() *kete.Event {
	return &kete.Event{
		Kind:      kete.KindEvent,
		ID:        "4f1c2a9e-8b7d-4c3e-9a1f-2b6d8e0c5a71",
		Time:      1764201600000,
		RealmID:   "0d6c3b0e-54a1-4b4c-9b5f-8a0f1c2d3e4f",
		RealmName: "acme",
		Type:      "LOGIN",
		ClientID:  "account-console",
		UserID:    "9b2e4c1a-7d3f-4e8b-a6c5-1f0e2d3c4b5a",
		IPAddress: "203.0.113.7",
		Details:   map[string]string{"username": "alice"},
	}
}

func jsonSerializer(b *testing.B) (kete.Serializer, []byte) {
	b.Helper()
	s, err := serializer.New("json", "")
	if err != nil {
		b.Fatal(err)
	}
	body, err := s.Serialize(nil, benchEvent())
	if err != nil {
		b.Fatal(err)
	}
	if len(body) < 250 || len(body) > 350 {
		b.Fatalf("benchmark event serializes to %d bytes, want about 300", len(body))
	}
	return s, body
}

// cpuTime is the CPU time this process (sender and sink together) has used.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// meter reports events/s over the timed part, which ends once the sink has them all, and
// the process's CPU time per event: on a shared host the latter is the steadier figure.
type meter struct {
	b   *testing.B
	cpu time.Duration
}

func startMeter(b *testing.B) *meter {
	b.ReportAllocs()
	b.ResetTimer()
	return &meter{b: b, cpu: cpuTime(b)}
}

func (m *meter) stop() {
	m.b.StopTimer()
	cpu := cpuTime(m.b) - m.cpu
	m.b.ReportMetric(float64(m.b.N)/m.b.Elapsed().Seconds(), "events/s")
	m.b.ReportMetric(float64(cpu.Nanoseconds())/float64(m.b.N), "cpu-ns/event")
}

// prebuilt is a serializer that appends a body serialized once: a route benchmark with it
// measures the route and destination without the JSON encoder.
type prebuilt []byte

func (p prebuilt) Serialize(dst []byte, _ *kete.Event) ([]byte, error) { return append(dst, p...), nil }
func (p prebuilt) ContentType() string                                 { return "application/json" }

// benchRoute pushes b.N events through one route (serializer, retry policy, WebSocket
// destination) to a sink and waits until all arrived.
func benchRoute(b *testing.B, url string, usePrebuilt bool) {
	s := newSink(b)
	ser, body := jsonSerializer(b)
	if usePrebuilt {
		ser = prebuilt(body)
	}
	_, trusted := ser.(kete.UTF8Serializer) // as config decides it
	d := newDestination(b, s.url+url, WebSocketOptions{
		ConnectionLostTimeout: 60 * time.Second,
		Pool:                  PoolOptions{MinIdle: 1, MaxIdle: 10, MaxTotal: 20},
		TrustUTF8:             trusted,
	})
	route := &kete.Route{Name: "bench", Serializer: ser, Destination: WithRetry(d, kete.DefaultRetry)}
	e := benchEvent()
	ctx := context.Background()
	if err := route.Deliver(ctx, e); err != nil { // connect before timing
		b.Fatal(err)
	}
	s.await(b, 1)
	b.SetBytes(int64(len(body)))
	m := startMeter(b)
	for range b.N {
		if err := route.Deliver(ctx, e); err != nil {
			b.Fatal(err)
		}
	}
	s.await(b, int64(b.N)+1)
	m.stop()
}

// BenchmarkDestinationRoute is one route with a fixed URL and the JSON serializer: kete's
// common case, and the figure to compare with BenchmarkBareGWSWriteLoop.
func BenchmarkDestinationRoute(b *testing.B) { benchRoute(b, "/events", false) }

// BenchmarkDestinationRoutePrebuilt is the same route with the body serialized once, to
// tell the route's and destination's cost from the JSON encoder's.
func BenchmarkDestinationRoutePrebuilt(b *testing.B) { benchRoute(b, "/events", true) }

// BenchmarkDestinationSend calls the destination directly with the serialized body, to
// tell the destination's own cost from the serializer's.
func BenchmarkDestinationSend(b *testing.B) {
	s := newSink(b)
	_, body := jsonSerializer(b)
	d := newDestination(b, s.url+"/events", WebSocketOptions{
		ConnectionLostTimeout: 60 * time.Second,
		Pool:                  PoolOptions{MinIdle: 1, MaxIdle: 10, MaxTotal: 20},
	})
	e := benchEvent()
	ctx := context.Background()
	if err := d.Send(ctx, e, body); err != nil {
		b.Fatal(err)
	}
	s.await(b, 1)
	b.SetBytes(int64(len(body)))
	m := startMeter(b)
	for range b.N {
		if err := d.Send(ctx, e, body); err != nil {
			b.Fatal(err)
		}
	}
	s.await(b, int64(b.N)+1)
	m.stop()
}

// BenchmarkDestinationRouteTemplated renders the URL per event (one pool per realm).
func BenchmarkDestinationRouteTemplated(b *testing.B) {
	benchRoute(b, "/events/${realmLowerCase}/${eventTypeLowerCase}", false)
}

// BenchmarkBareGWSWriteLoop is the baseline: the same payload written in a loop by a bare
// gws client to the same kind of sink.
func BenchmarkBareGWSWriteLoop(b *testing.B) {
	s := newSink(b)
	_, body := jsonSerializer(b)
	c, _, err := gws.NewClient(&gws.BuiltinEventHandler{}, &gws.ClientOption{Addr: s.url + "/events"})
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	go func() { c.ReadLoop(); close(done) }()
	b.Cleanup(func() { _ = c.NetConn().Close(); <-done })
	b.SetBytes(int64(len(body)))
	m := startMeter(b)
	for range b.N {
		if err := c.WriteMessage(gws.OpcodeText, body); err != nil {
			b.Fatal(err)
		}
	}
	s.await(b, int64(b.N))
	m.stop()
}
