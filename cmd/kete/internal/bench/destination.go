package bench

import (
	"context"
	"fmt"
	"log/slog"
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
	o.Size = positiveOr(o.Size, 300)
	o.Duration = positiveOr(o.Duration, 5*time.Second)
	o.Senders = positiveOr(o.Senders, 1)
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
	var senders []sender
	defer func() {
		for _, s := range senders {
			_ = s.close()
		}
	}()
	senders, err := newSenders(o, baseline, senders)
	if err != nil {
		return nil, err
	}
	if err := warmUp(ctx, senders, o.Sink); err != nil {
		return nil, fmt.Errorf("%s: first event: %w", res.Name, err)
	}
	h0, _ := readHost()
	self0, _ := readProc(selfPID())
	s := &sending{o: o, hist: newHistogram()}
	s.sendAll(ctx, senders)
	res.Events, res.Failed, res.Elapsed = s.events.Load(), s.failed.n.Load(), s.elapsed
	res.EventsPerSec = float64(res.Events-res.Failed) / s.elapsed.Seconds()
	hist := s.hist
	if o.Sink != nil {
		waitFrames(ctx, o.Sink, res.Events-res.Failed, 10*time.Second)
		res.Delivered = o.Sink.count()
		hist = o.Sink.reset()
	}
	h1, _ := readHost()
	self1, _ := readProc(selfPID())
	res.HostBusy = busyBetween(h0, h1)
	res.LoadCPU = self1.CPU - self0.CPU
	res.Latency = hist.summary()
	res.Buckets = hist.buckets()
	if err := s.failed.firstErr(); err != nil {
		res.Errors = append(res.Errors, fmt.Sprintf("%d sends failed; first: %v", res.Failed, err))
	}
	return res, ctx.Err()
}

// newSenders connects o.Senders senders of one kind, appending them to senders, which
// the caller closes even on an error.
func newSenders(o destOptions, baseline bool, senders []sender) ([]sender, error) {
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
			return senders, err
		}
		senders = append(senders, s)
	}
	return senders, nil
}

// warmUp sends one event from each sender (the route dials on its first send) and,
// with a sink, waits for them and counts afresh.
func warmUp(ctx context.Context, senders []sender, sink *countingSink) error {
	for _, s := range senders {
		if err := s.send(ctx, time.Now().UnixNano()); err != nil {
			return err
		}
	}
	if sink != nil {
		waitFrames(context.Background(), sink, int64(len(senders)), 5*time.Second)
		sink.reset()
	}
	return nil
}

// waitFrames waits, at most timeout or until ctx ends, until sink counted want frames.
func waitFrames(ctx context.Context, sink *countingSink, want int64, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for sink.count() < want && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(time.Millisecond)
	}
}

// sending is the measured part of a destination run: every sender sends until
// o.Duration passes (or o.Events are sent), each send timed into hist.
type sending struct {
	o       destOptions
	hist    *histogram
	events  atomic.Int64
	failed  failures
	elapsed time.Duration
}

func (s *sending) sendAll(ctx context.Context, senders []sender) {
	start := time.Now()
	stop := start.Add(s.o.Duration)
	rctx, cancel := context.WithDeadline(ctx, stop.Add(10*time.Second))
	defer cancel()
	var wg sync.WaitGroup
	for _, snd := range senders {
		wg.Go(func() { s.loop(rctx, snd, stop) })
	}
	wg.Wait()
	s.elapsed = time.Since(start)
}

func (s *sending) loop(ctx context.Context, snd sender, stop time.Time) {
	for ctx.Err() == nil && time.Now().Before(stop) {
		if s.o.Events > 0 && s.events.Add(1) > s.o.Events {
			s.events.Add(-1)
			return
		}
		t0 := time.Now().UnixNano()
		err := snd.send(ctx, t0)
		s.hist.recordValue(time.Now().UnixNano() - t0)
		if s.o.Events <= 0 {
			s.events.Add(1)
		}
		if err != nil {
			s.failed.add(err)
		}
	}
}
