package bench

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lxzan/gws"

	"github.com/kete-dev/kete"
	"github.com/kete-dev/kete/destination"
	"github.com/kete-dev/kete/internal/redact"
	"github.com/kete-dev/kete/serializer"
	"github.com/kete-dev/kete/template"
)

// countingSink is a WebSocket server that only counts the frames it receives and the latency
// from the stamp each carries: the far end of `kete bench destination`.
type countingSink struct {
	gws.BuiltinEventHandler
	up     *gws.Upgrader
	frames atomic.Int64
	hist   atomic.Pointer[histogram]

	mu    sync.Mutex
	conns map[*gws.Conn]struct{}
	loops sync.WaitGroup
}

// newSink returns a Sink; serve it with net/http and Close it when done.
func newSink() *countingSink {
	s := &countingSink{conns: map[*gws.Conn]struct{}{}}
	s.up = gws.NewUpgrader(s, &gws.ServerOption{ReadMaxPayloadSize: maxHubMessage})
	s.hist.Store(newHistogram())
	return s
}

// ServeHTTP upgrades every request and reads its frames.
func (s *countingSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c, err := s.up.Upgrade(w, r)
	if err != nil {
		return
	}
	s.mu.Lock()
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	s.loops.Add(1)
	go func() {
		defer s.loops.Done()
		c.ReadLoop()
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
	}()
}

// OnMessage counts a frame and records its latency.
func (s *countingSink) OnMessage(_ *gws.Conn, m *gws.Message) {
	now := time.Now().UnixNano()
	if sent, ok := stampOf(m.Bytes()); ok {
		s.hist.Load().recordValue(now - sent)
	}
	s.frames.Add(1)
	_ = m.Close()
}

// count is how many frames arrived since the last Reset.
func (s *countingSink) count() int64 { return s.frames.Load() }

// reset starts counting afresh and returns the latencies recorded so far.
func (s *countingSink) reset() *histogram {
	s.frames.Store(0)
	return s.hist.Swap(newHistogram())
}

// Close closes every connection and waits for the read loops.
func (s *countingSink) Close() error {
	s.mu.Lock()
	for c := range s.conns {
		_ = c.NetConn().Close()
	}
	s.mu.Unlock()
	s.loops.Wait()
	return nil
}

// destOptions shape a destination run.
type destOptions struct {
	// URL is the sink (ws:// or wss://); the caller's built-in Sink when it serves one.
	URL string
	// AllowRemote lets URL name a non-loopback host (a person gave it).
	AllowRemote bool
	// Sink, when the URL is a countingSink of this process, lets the run count deliveries and
	// sink-side latency.
	Sink *countingSink
	// Size is the serialized event's size in bytes (300).
	Size int
	// Duration of each run (5s); Events, when > 0, stops a run after that many.
	Duration time.Duration
	Events   int64
	// Senders is how many goroutines send at once (1).
	Senders int
}

func (o destOptions) withDefaults() destOptions {
	if o.Size <= 0 {
		o.Size = 300
	}
	if o.Duration <= 0 {
		o.Duration = 5 * time.Second
	}
	if o.Senders <= 0 {
		o.Senders = 1
	}
	return o
}

// destResult is one destination run: kete's route or the bare gws write loop.
type destResult struct {
	Name string `json:"name"`
	// Baseline is true for the bare gws write loop.
	Baseline bool          `json:"baseline"`
	Round    int           `json:"round"`
	Size     int           `json:"size"`
	Events   int64         `json:"events"`
	Failed   int64         `json:"failed"`
	Elapsed  time.Duration `json:"elapsedNs"`
	// EventsPerSec counts events the sender finished (Send returned) per second.
	EventsPerSec float64 `json:"eventsPerSec"`
	// Latency is from the stamp to the sink's receipt with a built-in sink
	// (LatencyKind "sink"), else the duration of one send call ("send").
	LatencyKind string   `json:"latencyKind"`
	Latency     latency  `json:"latency"`
	Buckets     []bucket `json:"buckets"`
	// Delivered is how many frames the built-in sink counted (-1 without one).
	Delivered int64         `json:"delivered"`
	HostBusy  float64       `json:"hostBusy"`
	LoadCPU   time.Duration `json:"loadCpuNs"`
	Errors    []string      `json:"errors,omitempty"`
}

// destFigure is one column of the destination comparison.
type destFigure struct {
	name, unit, better string
	get                func(*destResult) float64
}

var destFigures = []destFigure{
	{"events/s", "1/s", "higher", func(r *destResult) float64 { return r.EventsPerSec }},
	{"p50 latency", "ms", "lower", func(r *destResult) float64 { return ms(r.Latency.P50) }},
	{"p99 latency", "ms", "lower", func(r *destResult) float64 { return ms(r.Latency.P99) }},
}

func meanDest(rs []*destResult, baseline bool, get func(*destResult) float64) (float64, bool) {
	sum, n := 0.0, 0
	for _, r := range rs {
		if r.Baseline == baseline {
			sum += get(r)
			n++
		}
	}
	if n == 0 {
		return 0, false
	}
	return sum / float64(n), true
}

// benchEvent is a LOGIN event whose JSON form is about size bytes, with details.t for
// the stamp.
func benchEvent(ser kete.Serializer, size int) (*kete.Event, error) {
	e := &kete.Event{
		Kind: kete.KindEvent, ID: "4f1c2a9e-8b7d-4c3e-9a1f-2b6d8e0c5a71", Time: time.Now().UnixMilli(),
		RealmID: "acme", RealmName: "acme", Type: "LOGIN", ClientID: "account-console",
		UserID:    "8d2f5b1a-3c4e-4f6a-9b8c-7d1e2f3a4b5c",
		IPAddress: "203.0.113.42",
		Details:   map[string]string{"t": strconv.FormatInt(time.Now().UnixNano(), 10), "pad": ""},
	}
	b, err := ser.Serialize(nil, e)
	if err != nil {
		return nil, fmt.Errorf("serialize the bench event: %w", err)
	}
	if pad := size - len(b); pad > 0 {
		e.Details["pad"] = strings.Repeat("x", pad)
	}
	return e, nil
}

// newRouteSerializer is the serializer of the benchmarked route: json, KETE's default.
func newRouteSerializer() (kete.Serializer, error) { return serializer.New("json", "") }

// sender is one way of getting events to the sink.
type sender interface {
	send(ctx context.Context, stamp int64) error
	close() error
}

// routeSender sends through a kete.Route: JSON serializer + WebSocket destination.
type routeSender struct {
	route *kete.Route
	e     *kete.Event
}

func newRouteSender(o destOptions) (*routeSender, error) {
	tpl, err := template.Compile(o.URL)
	if err != nil {
		return nil, fmt.Errorf("destination url %q: %w", o.URL, err)
	}
	ser, err := newRouteSerializer()
	if err != nil {
		return nil, err
	}
	d, err := destination.NewWebSocket(destination.WebSocketOptions{
		URL: tpl, ConnectTimeout: 10 * time.Second, Logger: slog.New(slog.DiscardHandler),
		TrustUTF8: true, // as config sets it for the json serializer
		Pool:      destination.PoolOptions{MaxTotal: max(o.Senders, 1), MaxIdle: max(o.Senders, 1)},
	})
	if err != nil {
		return nil, err
	}
	e, err := benchEvent(ser, o.Size)
	if err != nil {
		_ = d.Close()
		return nil, err
	}
	return &routeSender{route: &kete.Route{Name: "bench", Serializer: ser, Destination: d}, e: e}, nil
}

func (s *routeSender) send(ctx context.Context, stamp int64) error {
	// The stamp is the one per-event change. One sender sends one event at a time and
	// Deliver keeps nothing, so the event is reused, as the bare loop reuses its buffer.
	s.e.Details["t"] = strconv.FormatInt(stamp, 10)
	return s.route.Deliver(ctx, s.e)
}

func (s *routeSender) close() error { return s.route.Destination.Close() }

// bareSender is the baseline: one gws client writing a pre-serialized event whose stamp
// digits are patched in place.
type bareSender struct {
	c     *gws.Conn
	done  chan struct{}
	body  []byte
	at    int // index of the stamp digits in body
	width int
}

func newBareSender(o destOptions) (*bareSender, error) {
	ser, err := newRouteSerializer()
	if err != nil {
		return nil, err
	}
	e, err := benchEvent(ser, o.Size)
	if err != nil {
		return nil, err
	}
	body, err := ser.Serialize(nil, e)
	if err != nil {
		return nil, err
	}
	t := `"t":"` + e.Details["t"]
	i := strings.Index(string(body), t)
	if i < 0 {
		return nil, fmt.Errorf("bench event: no stamp in %s", body)
	}
	c, resp, err := gws.NewClient(gws.BuiltinEventHandler{}, &gws.ClientOption{Addr: o.URL, HandshakeTimeout: 10 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("baseline %s: %w", redact.URL(o.URL), describeHandshake(err, resp))
	}
	s := &bareSender{c: c, done: make(chan struct{}), body: body, at: i + 5, width: len(e.Details["t"])}
	go func() { defer close(s.done); c.ReadLoop() }()
	return s, nil
}

func (s *bareSender) send(_ context.Context, stamp int64) error {
	b := strconv.AppendInt(s.body[s.at:s.at], stamp, 10)
	if len(b) != s.width { // the clock grew a digit: cannot happen before 2286
		return fmt.Errorf("stamp width changed")
	}
	return s.c.WriteMessage(gws.OpcodeText, s.body)
}

func (s *bareSender) close() error {
	_ = s.c.WriteClose(1000, nil)
	_ = s.c.NetConn().Close()
	<-s.done
	return nil
}

// runDestination sends events for o.Duration (or o.Events) through kete's route
// (baseline false) or the bare gws write loop (baseline true) and measures.
func runDestination(ctx context.Context, baseline bool, o destOptions) (*destResult, error) {
	o = o.withDefaults()
	if err := (target{Name: "sink", Kind: kindHub, URL: o.URL, AllowRemote: o.AllowRemote}).check(); err != nil {
		return nil, err
	}
	res := &destResult{Name: "kete route", Baseline: baseline, Size: o.Size, Delivered: -1, LatencyKind: "send"}
	if baseline {
		res.Name = "bare gws"
	}
	if o.Sink != nil {
		o.Sink.reset()
		res.LatencyKind = "sink"
	}
	senders := make([]sender, 0, o.Senders)
	defer func() {
		for _, s := range senders {
			_ = s.close()
		}
	}()
	for range o.Senders {
		var (
			s   sender
			err error
		)
		if baseline {
			s, err = newBareSender(o)
		} else {
			s, err = newRouteSender(o)
		}
		if err != nil {
			return nil, err
		}
		senders = append(senders, s)
	}
	// Warm up: one event each (the route dials on its first send).
	for _, s := range senders {
		if err := s.send(ctx, time.Now().UnixNano()); err != nil {
			return nil, fmt.Errorf("%s: first event: %w", res.Name, err)
		}
	}
	var warm int64 = int64(len(senders))
	if o.Sink != nil {
		deadline := time.Now().Add(5 * time.Second)
		for o.Sink.count() < warm && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		o.Sink.reset()
	}
	sendHist := newHistogram()
	var (
		events, failed atomic.Int64
		errMu          sync.Mutex
		firstErr       error
		wg             sync.WaitGroup
	)
	h0, _ := readHost()
	self0, _ := readProc(selfPID())
	start := time.Now()
	stop := start.Add(o.Duration)
	rctx, cancel := context.WithDeadline(ctx, stop.Add(10*time.Second))
	defer cancel()
	for _, s := range senders {
		wg.Go(func() {
			for rctx.Err() == nil && time.Now().Before(stop) {
				if o.Events > 0 && events.Add(1) > o.Events {
					events.Add(-1)
					return
				}
				t0 := time.Now().UnixNano()
				err := s.send(rctx, t0)
				sendHist.recordValue(time.Now().UnixNano() - t0)
				if o.Events <= 0 {
					events.Add(1)
				}
				if err != nil {
					failed.Add(1)
					errMu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					errMu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	res.Events = events.Load()
	res.Failed = failed.Load()
	res.Elapsed = elapsed
	res.EventsPerSec = float64(res.Events-res.Failed) / elapsed.Seconds()
	hist := sendHist
	if o.Sink != nil {
		want := res.Events - res.Failed
		deadline := time.Now().Add(10 * time.Second)
		for o.Sink.count() < want && time.Now().Before(deadline) && ctx.Err() == nil {
			time.Sleep(time.Millisecond)
		}
		res.Delivered = o.Sink.count()
		hist = o.Sink.reset()
	}
	h1, _ := readHost()
	self1, _ := readProc(selfPID())
	res.HostBusy = busyBetween(h0, h1)
	res.LoadCPU = self1.CPU - self0.CPU
	res.Latency = hist.summary()
	res.Buckets = hist.buckets()
	if firstErr != nil {
		res.Errors = append(res.Errors, fmt.Sprintf("%d sends failed; first: %v", res.Failed, firstErr))
	}
	return res, ctx.Err()
}
