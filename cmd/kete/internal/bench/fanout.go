package bench

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lxzan/gws"

	"github.com/kete-dev/kete/internal/redact"
)

// fanoutMode is what a fan-out run measures.
type fanoutMode string

// Fan-out modes.
const (
	modeRate     fanoutMode = "rate"     // publish at a fixed rate for a duration
	modeSaturate fanoutMode = "saturate" // publish as fast as deliveries keep up, within a window
	modeIdle     fanoutMode = "idle"     // connect, settle, measure memory; publish nothing
)

// fanoutOptions shape a fan-out run. Zero values take the defaults in the comments.
type fanoutOptions struct {
	Mode fanoutMode
	// Subscribers is how many WebSocket subscribers to connect (2,000).
	Subscribers int
	// Rate is deliveries per second (modeRate; 50,000): messages per second is Rate
	// divided by Subscribers.
	Rate float64
	// Size is each published payload in bytes (100).
	Size int
	// Duration is how long to publish (10s), or to settle in modeIdle.
	Duration time.Duration
	// Topic every subscriber joins ("bench").
	Topic string
	// Publish picks the publisher (http).
	Publish publishMode
	// Publishers is how many goroutines publish (1 for ws, 4 for http).
	Publishers int
	// Window bounds the messages in flight in modeSaturate: published but not yet
	// delivered to every subscriber (max(8, 100,000 / Subscribers)).
	Window int
	// DialConcurrency bounds simultaneous handshakes (32).
	DialConcurrency int
	// SourceIPs spreads subscribers over that many loopback source addresses (127.0.0.1,
	// 127.0.0.2, …) when the nodes are on 127.0.0.0/8: one source address has about
	// 28,000 ephemeral ports per node (ip_local_port_range), too few for 100,000
	// subscribers. 0: one per 20,000 subscribers per node.
	SourceIPs int
	// ConnectTimeout bounds connecting and subscribing everyone (30s + 10s per 1,000).
	ConnectTimeout time.Duration
	// Drain bounds the wait for the last deliveries after publishing stops (10s).
	Drain time.Duration
	// Interval is the resolution of the delivery-rate timeline (100ms).
	Interval time.Duration
	// NewPublisher, when set, replaces the target's publisher (end-to-end runs).
	NewPublisher func(ctx context.Context) (publisher, error)
	// Progress receives progress: a bar redrawn in place when ProgressTTY, else a line
	// per 10%. Nil: no progress.
	Progress    io.Writer
	ProgressTTY bool
}

func (o fanoutOptions) withDefaults() fanoutOptions {
	o.Mode = cmp.Or(o.Mode, modeRate)
	o.Subscribers = positiveOr(o.Subscribers, 2000)
	o.Rate = positiveOr(o.Rate, 50000)
	o.Size = positiveOr(o.Size, 100)
	o.Duration = positiveOr(o.Duration, 10*time.Second)
	o.Topic = cmp.Or(o.Topic, "bench")
	o.Publish = cmp.Or(o.Publish, publishHTTP)
	if o.Publishers <= 0 {
		o.Publishers = 1
		if o.Publish == publishHTTP {
			o.Publishers = 4
		}
	}
	o.Window = positiveOr(o.Window, max(8, 100000/o.Subscribers))
	o.SourceIPs = positiveOr(o.SourceIPs, 1+(o.Subscribers-1)/sourceIPSubscribers)
	o.DialConcurrency = positiveOr(o.DialConcurrency, 32)
	o.ConnectTimeout = positiveOr(o.ConnectTimeout, 30*time.Second+time.Duration(o.Subscribers/1000)*10*time.Second)
	o.Drain = positiveOr(o.Drain, 10*time.Second)
	o.Interval = positiveOr(o.Interval, 100*time.Millisecond)
	return o
}

// positiveOr is v when it is above zero, else def: an option left at zero takes its
// default.
func positiveOr[T int | int64 | float64 | time.Duration](v, def T) T {
	if v > 0 {
		return v
	}
	return def
}

// maxSubscribers bounds one run (file descriptors: each subscriber is one here and one in
// the server).
const maxSubscribers = 200_000

// run is one runFanout in progress.
type run struct {
	t      target
	o      fanoutOptions
	ready  []byte
	hist   *histogram
	subs   []*subscriber
	loops  sync.WaitGroup
	nReady atomic.Int64
	// publishing is set while deliveries count.
	publishing atomic.Bool
	received   atomic.Int64
	closedMid  atomic.Int64
	start      atomic.Int64 // unix ns of the first publish
	timeline   []atomic.Int64
	readyCh    chan struct{}
}

type subscriber struct {
	gws.BuiltinEventHandler
	r     *run
	c     *gws.Conn
	ready atomic.Bool
	got   atomic.Int64 // deliveries counted while publishing
}

// OnMessage counts one delivery: its latency from the payload's stamp, and the timeline.
func (s *subscriber) OnMessage(_ *gws.Conn, m *gws.Message) {
	now := time.Now().UnixNano()
	b := m.Bytes()
	r := s.r
	if !s.ready.Load() {
		if bytes.HasPrefix(b, r.ready) {
			s.ready.Store(true)
			r.nReady.Add(1)
			select {
			case r.readyCh <- struct{}{}:
			default:
			}
		}
		_ = m.Close()
		return
	}
	if r.publishing.Load() {
		if sent, ok := stampOf(b); ok {
			r.hist.recordValue(now - sent)
			r.received.Add(1)
			s.got.Add(1)
			if slot := (now - r.start.Load()) / int64(r.o.Interval); slot >= 0 && slot < int64(len(r.timeline)) {
				r.timeline[slot].Add(1)
			}
		}
	}
	_ = m.Close()
}

// OnClose counts a subscriber the target dropped while it was subscribed.
func (s *subscriber) OnClose(_ *gws.Conn, _ error) {
	if s.ready.Load() && s.r.publishing.Load() {
		s.r.closedMid.Add(1)
	}
}

// runFanout connects o.Subscribers subscribers to t, subscribes them to o.Topic, waits
// until every one is subscribed, publishes for o.Duration (modeRate, modeSaturate) or
// settles (modeIdle), and measures. Every wait is bounded; every connection is closed
// before it returns.
func runFanout(ctx context.Context, t target, o fanoutOptions) (*result, error) {
	o = o.withDefaults()
	if err := t.check(); err != nil {
		return nil, err
	}
	if o.Subscribers > maxSubscribers {
		return nil, fmt.Errorf("subscribers %d: at most %d", o.Subscribers, maxSubscribers)
	}
	switch o.Mode {
	case modeRate, modeSaturate, modeIdle:
	default:
		return nil, fmt.Errorf("mode %q: want rate, saturate or idle", o.Mode)
	}
	slots := int((o.Duration+o.Drain)/o.Interval) + 2
	r := &run{
		t: t, o: o, ready: t.readyPrefix(o.Topic), hist: newHistogram(),
		timeline: make([]atomic.Int64, slots), readyCh: make(chan struct{}, 1),
	}
	res := &result{
		Target: t, Mode: o.Mode, Requested: o.Subscribers, Size: o.Size, Publish: o.Publish,
		Interval: o.Interval, hist: r.hist,
	}
	if o.Mode == modeRate {
		res.RateTarget = o.Rate
	}
	if o.Mode == modeSaturate {
		res.Window = o.Window
	}
	if o.Mode == modeIdle {
		res.Publish = ""
	}
	if pids := t.pids(); len(pids) > 0 {
		if p, err := readProcs(pids); err != nil {
			res.Errors = append(res.Errors, err.Error())
		} else if res.RSSBefore = p.RSS; t.RSSBase > 0 {
			res.RSSBefore = t.RSSBase
		}
	}
	defer r.closeAll()

	if err := r.connect(ctx); err != nil {
		return nil, err
	}
	res.Connected = int(r.nReady.Load())
	if res.Connected < o.Subscribers {
		res.Errors = append(res.Errors, fmt.Sprintf("only %d of %d subscribers subscribed within %s", res.Connected, o.Subscribers, o.ConnectTimeout))
	}
	if res.Connected == 0 {
		return res, fmt.Errorf("target %s: no subscriber subscribed within %s", t.Name, o.ConnectTimeout)
	}

	if o.Mode == modeIdle {
		if err := r.settle(ctx, res); err != nil {
			return res, err
		}
		return res, nil
	}
	if pids := t.pids(); len(pids) > 0 {
		if p, err := readProcs(pids); err == nil {
			res.RSSConnected = p.RSS
		}
	}
	if err := r.publish(ctx, res); err != nil {
		return res, err
	}
	return res, nil
}

// settle waits o.Duration with everyone connected, then reads the target's RSS.
func (r *run) settle(ctx context.Context, res *result) error {
	t := time.NewTimer(r.o.Duration)
	defer t.Stop()
	var h0 hostSample
	h0, _ = readHost()
	self0, _ := readProc(selfPID())
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
	}
	h1, _ := readHost()
	self1, _ := readProc(selfPID())
	res.HostBusy, res.HostCPUs = busyBetween(h0, h1), h1.CPUs
	res.LoadCPU = self1.CPU - self0.CPU
	res.Elapsed = r.o.Duration
	if pids := r.t.pids(); len(pids) > 0 {
		p, err := readProcs(pids)
		if err != nil {
			return err
		}
		res.RSSConnected = p.RSS
		res.RSSPerConn = float64(p.RSS-res.RSSBefore) / float64(res.Connected)
	}
	res.Buckets = []bucket{}
	res.Timeline = []int64{}
	return nil
}

// perSubscriber fills res.SubscriberMin, SubscriberMax and PerNode from the subscribed
// subscribers' counts.
func (r *run) perSubscriber(res *result) {
	urls := r.t.nodeURLs()
	res.PerNode = make([]nodeResult, len(urls))
	for i, u := range urls {
		res.PerNode[i].URL = redact.URL(u)
	}
	first := true
	for i, s := range r.subs {
		if s == nil || !s.ready.Load() {
			continue
		}
		got := s.got.Load()
		if first || got < res.SubscriberMin {
			res.SubscriberMin = got
		}
		if first || got > res.SubscriberMax {
			res.SubscriberMax = got
		}
		first = false
		n := &res.PerNode[i%len(urls)]
		n.Subscribers++
		n.Received += got
	}
}

// lastDelivery is the time from start to the end of the last timeline slot with a
// delivery, never past end.
func (r *run) lastDelivery(start, end time.Time) time.Duration {
	d := end.Sub(start)
	for i := len(r.timeline) - 1; i >= 0; i-- {
		if r.timeline[i].Load() > 0 {
			return min(d, time.Duration(i+1)*r.o.Interval)
		}
	}
	return d
}

// closeAll closes every subscriber and waits (bounded) for their read loops.
func (r *run) closeAll() {
	for _, s := range r.subs {
		if s != nil && s.c != nil {
			_ = s.c.NetConn().Close()
		}
	}
	done := make(chan struct{})
	go func() { r.loops.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
	}
}
