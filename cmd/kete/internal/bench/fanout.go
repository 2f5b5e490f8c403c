package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/url"
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
	if o.Mode == "" {
		o.Mode = modeRate
	}
	if o.Subscribers <= 0 {
		o.Subscribers = 2000
	}
	if o.Rate <= 0 {
		o.Rate = 50000
	}
	if o.Size <= 0 {
		o.Size = 100
	}
	if o.Duration <= 0 {
		o.Duration = 10 * time.Second
	}
	if o.Topic == "" {
		o.Topic = "bench"
	}
	if o.Publish == "" {
		o.Publish = publishHTTP
	}
	if o.Publishers <= 0 {
		o.Publishers = 1
		if o.Publish == publishHTTP {
			o.Publishers = 4
		}
	}
	if o.Window <= 0 {
		o.Window = max(8, 100000/o.Subscribers)
	}
	if o.SourceIPs <= 0 {
		o.SourceIPs = 1 + (o.Subscribers-1)/sourceIPSubscribers
	}
	if o.DialConcurrency <= 0 {
		o.DialConcurrency = 32
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = 30*time.Second + time.Duration(o.Subscribers/1000)*10*time.Second
	}
	if o.Drain <= 0 {
		o.Drain = 10 * time.Second
	}
	if o.Interval <= 0 {
		o.Interval = 100 * time.Millisecond
	}
	return o
}

// maxSubscribers bounds one run (file descriptors: each subscriber is one here and one in
// the server).
const maxSubscribers = 200_000

// result is one fan-out run against one target.
type result struct {
	Target target     `json:"target"`
	Mode   fanoutMode `json:"mode"`
	Round  int        `json:"round"`
	// Requested and Connected count subscribers asked for and subscribed in time;
	// Disconnected counts those the target closed during the run.
	Requested    int         `json:"requested"`
	Connected    int         `json:"connected"`
	Disconnected int         `json:"disconnected"`
	Size         int         `json:"size"`
	Publish      publishMode `json:"publish"`
	// RateTarget is the asked-for deliveries/s (modeRate); Window the in-flight bound
	// (modeSaturate).
	RateTarget float64 `json:"rateTarget,omitempty"`
	Window     int     `json:"window,omitempty"`
	// Sent messages; Expected = Sent × Connected deliveries; Received deliveries; Loss =
	// Expected − Received.
	Sent     int64 `json:"sent"`
	Expected int64 `json:"expected"`
	Received int64 `json:"received"`
	Loss     int64 `json:"loss"`
	// PublishErrors counts failed publishes (the first error is in Errors).
	PublishErrors int64 `json:"publishErrors"`
	// Elapsed runs from the first publish to the last delivery (or the drain's end).
	Elapsed time.Duration `json:"elapsedNs"`
	// DeliveriesPerSec is Received / Elapsed.
	DeliveriesPerSec float64 `json:"deliveriesPerSec"`
	Latency          latency `json:"latency"`
	// ServerCPU is the target process's CPU time over the run (needs Target.PID), and
	// DeliveriesPerCPU is Received / ServerCPU seconds.
	ServerCPU time.Duration `json:"serverCpuNs,omitempty"`
	// ServerSystemCPU is the kernel's part of ServerCPU (on loopback, mostly TCP send
	// and the receivers' wake-ups).
	ServerSystemCPU  time.Duration `json:"serverSystemCpuNs,omitempty"`
	DeliveriesPerCPU float64       `json:"deliveriesPerCpuSecond,omitempty"`
	// BrokerCPU is the broker's CPU time over the run (needs Target.BrokerPID); it is not
	// in ServerCPU.
	BrokerCPU time.Duration `json:"brokerCpuNs,omitempty"`
	// SubscriberMin and SubscriberMax are the fewest and most messages one subscribed
	// subscriber received: both equal Sent when every subscriber got every message once.
	SubscriberMin int64 `json:"subscriberMin"`
	SubscriberMax int64 `json:"subscriberMax"`
	// PerNode splits subscribers and deliveries by node (one entry for a single node).
	PerNode []nodeResult `json:"perNode,omitempty"`
	// RSSBefore is the target's RSS before connecting, RSSConnected with everyone
	// subscribed (and settled in modeIdle), RSSPerConn their difference per subscriber.
	RSSBefore    int64   `json:"rssBefore,omitempty"`
	RSSConnected int64   `json:"rssConnected,omitempty"`
	RSSPerConn   float64 `json:"rssPerConn,omitempty"`
	// LoadCPU is this process's CPU time over the run; HostBusy the share of all the
	// host's CPUs that was busy (0..1), HostCPUs how many there are.
	LoadCPU  time.Duration `json:"loadCpuNs"`
	HostBusy float64       `json:"hostBusy"`
	HostCPUs int           `json:"hostCpus"`
	// Timeline is deliveries per Interval from the first publish.
	Interval time.Duration `json:"intervalNs"`
	Timeline []int64       `json:"timeline"`
	// Buckets is the latency histogram (non-empty buckets).
	Buckets []bucket `json:"buckets"`
	Errors  []string `json:"errors,omitempty"`

	hist *histogram
}

// nodeResult is one node's share of a run: its subscribed subscribers and what they
// received.
type nodeResult struct {
	URL         string `json:"url"`
	Subscribers int    `json:"subscribers"`
	Received    int64  `json:"received"`
}

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

// connect dials every subscriber (subscriber i to node i mod nodes) with bounded
// concurrency and waits until all are subscribed or ConnectTimeout passes.
func (r *run) connect(ctx context.Context) error {
	o := r.o
	ctx, cancel := context.WithTimeout(ctx, o.ConnectTimeout)
	defer cancel()
	nodes := len(r.t.nodeURLs())
	addrs := make([]string, nodes)
	for i := range addrs {
		addrs[i] = r.t.node(i).subscribeURL()
	}
	sub := r.t.subscribeFrame(o.Topic)
	dialers, err := sourceDialers(addrs, o.SourceIPs)
	if err != nil {
		return err
	}
	r.subs = make([]*subscriber, o.Subscribers)
	var (
		next     atomic.Int64
		dialed   atomic.Int64
		firstErr error
		errMu    sync.Mutex
		errCount atomic.Int64
		wg       sync.WaitGroup
	)
	bar := newProgress(o.Progress, o.ProgressTTY, "connect "+r.t.Name, o.Subscribers)
	for range min(o.DialConcurrency, o.Subscribers) {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= o.Subscribers {
					return
				}
				s := &subscriber{r: r}
				addr := addrs[i%nodes]
				c, resp, err := gws.NewClient(s, &gws.ClientOption{
					Addr: addr, HandshakeTimeout: 10 * time.Second, ReadBufferSize: 2048,
					NewDialer: dialers[(i/nodes)%len(dialers)],
				})
				if err != nil {
					errCount.Add(1)
					errMu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("subscriber %d: %s: %w", i, redact.URL(addr), describeHandshake(err, resp))
					}
					errMu.Unlock()
					if errCount.Load() > 10 && dialed.Load() == 0 {
						cancel() // nothing gets through: stop early
					}
					continue
				}
				s.c = c
				r.subs[i] = s
				r.loops.Add(1)
				go func() { defer r.loops.Done(); c.ReadLoop() }()
				if sub != nil {
					if err := c.WriteMessage(gws.OpcodeText, sub); err != nil {
						errCount.Add(1)
						continue
					}
				}
				bar.set(int(dialed.Add(1)))
			}
		})
	}
	wg.Wait()
	bar.done()
	if dialed.Load() == 0 && firstErr != nil {
		return firstErr
	}
	// Wait for the subscribe confirmations.
	want := dialed.Load()
	for r.nReady.Load() < want {
		select {
		case <-r.readyCh:
		case <-ctx.Done():
			if err := context.Cause(ctx); errors.Is(err, context.Canceled) {
				return err
			}
			return nil // runFanout reports how many made it
		}
	}
	return nil
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

// publish runs the publishers, drains, and fills res.
func (r *run) publish(ctx context.Context, res *result) error {
	o := r.o
	n := int64(res.Connected)
	pubs := make([]publisher, 0, o.Publishers)
	defer func() {
		for _, p := range pubs {
			_ = p.Close()
		}
	}()
	for i := range o.Publishers {
		var (
			p   publisher
			err error
		)
		if o.NewPublisher != nil {
			p, err = o.NewPublisher(ctx)
		} else {
			p, err = r.t.node(i).newPublisher(ctx, o.Publish, o.Topic)
		}
		if err != nil {
			return err
		}
		pubs = append(pubs, p)
	}

	msgRate := o.Rate / float64(n)
	var total int64 = math.MaxInt64
	var interval time.Duration
	if o.Mode == modeRate {
		total = max(1, int64(math.Round(msgRate*o.Duration.Seconds())))
		interval = time.Duration(float64(time.Second) / msgRate)
	}

	var (
		next     atomic.Int64
		sent     atomic.Int64
		failed   atomic.Int64
		errMu    sync.Mutex
		firstErr error
		wg       sync.WaitGroup
	)
	h0, _ := readHost()
	self0, _ := readProc(selfPID())
	var srv0, brk0 procSample
	pids := r.t.pids()
	if len(pids) > 0 {
		srv0, _ = readProcs(pids)
	}
	if r.t.BrokerPID > 0 {
		brk0, _ = readProc(r.t.BrokerPID)
	}
	start := time.Now()
	r.start.Store(start.UnixNano())
	r.publishing.Store(true)
	stop := start.Add(o.Duration)
	pctx, cancel := context.WithDeadline(ctx, stop.Add(o.Drain))
	defer cancel()
	bar := newProgress(o.Progress, o.ProgressTTY, "publish "+r.t.Name, int(o.Duration/time.Millisecond))
	for _, p := range pubs {
		wg.Go(func() {
			buf := make([]byte, 0, o.Size+64)
			for pctx.Err() == nil {
				i := next.Add(1) - 1
				if i >= total {
					return
				}
				if o.Mode == modeRate {
					at := start.Add(time.Duration(i) * interval)
					if !at.Before(stop) {
						return
					}
					if d := time.Until(at); d > 0 {
						select {
						case <-time.After(d):
						case <-pctx.Done():
							return
						}
					}
				} else {
					if !time.Now().Before(stop) {
						return
					}
					// Saturation: keep at most Window messages undelivered.
					for pctx.Err() == nil && sent.Load()-r.received.Load()/n >= int64(o.Window) {
						if !time.Now().Before(stop) {
							return
						}
						time.Sleep(50 * time.Microsecond)
					}
				}
				buf = appendPayload(buf[:0], time.Now().UnixNano(), uint64(i), o.Size)
				if err := p.Publish(pctx, buf); err != nil {
					failed.Add(1)
					errMu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					errMu.Unlock()
					continue
				}
				sent.Add(1)
			}
		})
	}
	// Progress while publishing.
	tick := time.NewTicker(200 * time.Millisecond)
	pubDone := make(chan struct{})
	go func() { wg.Wait(); close(pubDone) }()
wait:
	for {
		select {
		case <-pubDone:
			break wait
		case <-tick.C:
			bar.set(int(time.Since(start) / time.Millisecond))
		}
	}
	tick.Stop()
	bar.done()

	// Drain: until everything arrived, or nothing arrived for a second, or Drain passed.
	expected := sent.Load() * n
	last, lastChange := r.received.Load(), time.Now()
	drainEnd := time.Now().Add(o.Drain)
	for r.received.Load() < expected && time.Now().Before(drainEnd) && ctx.Err() == nil {
		if got := r.received.Load(); got != last {
			last, lastChange = got, time.Now()
		} else if time.Since(lastChange) > time.Second {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	end := time.Now()
	r.publishing.Store(false)
	h1, _ := readHost()
	self1, _ := readProc(selfPID())

	res.Sent = sent.Load()
	res.Expected = expected
	res.Received = r.received.Load()
	res.Loss = res.Expected - res.Received
	res.PublishErrors = failed.Load()
	res.Disconnected = int(r.closedMid.Load())
	if firstErr != nil {
		res.Errors = append(res.Errors, fmt.Sprintf("%d publishes failed; first: %v", failed.Load(), firstErr))
	}
	res.Elapsed = r.lastDelivery(start, end)
	if res.Elapsed > 0 {
		res.DeliveriesPerSec = float64(res.Received) / res.Elapsed.Seconds()
	}
	res.Latency = r.hist.summary()
	res.Buckets = r.hist.buckets()
	res.HostBusy, res.HostCPUs = busyBetween(h0, h1), h1.CPUs
	res.LoadCPU = self1.CPU - self0.CPU
	if r.t.BrokerPID > 0 {
		if brk1, err := readProc(r.t.BrokerPID); err != nil {
			res.Errors = append(res.Errors, "broker: "+err.Error())
		} else {
			res.BrokerCPU = brk1.CPU - brk0.CPU
		}
	}
	r.perSubscriber(res)
	if len(pids) > 0 {
		srv1, err := readProcs(pids)
		if err != nil {
			res.Errors = append(res.Errors, err.Error())
		} else {
			res.ServerCPU = srv1.CPU - srv0.CPU
			res.ServerSystemCPU = srv1.System - srv0.System
			if res.ServerCPU > 0 {
				res.DeliveriesPerCPU = float64(res.Received) / res.ServerCPU.Seconds()
			}
			if res.RSSBefore > 0 && res.RSSConnected > 0 {
				res.RSSPerConn = float64(res.RSSConnected-res.RSSBefore) / float64(res.Connected)
			}
		}
	}
	last2 := len(r.timeline)
	for last2 > 0 && r.timeline[last2-1].Load() == 0 {
		last2--
	}
	res.Timeline = make([]int64, last2)
	for i := range last2 {
		res.Timeline[i] = r.timeline[i].Load()
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
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

// sourceIPSubscribers is how many subscribers one loopback source address serves when
// fanoutOptions.SourceIPs is left to its default: well inside the default ephemeral port
// range (32768–60999).
const sourceIPSubscribers = 20000

// sourceDialers returns n dialer factories for gws, each binding its connections to
// another loopback source address (127.0.0.1, 127.0.0.2, …), when every node is on
// 127.0.0.0/8 and n > 1; otherwise one factory that leaves the source to the kernel.
func sourceDialers(nodeURLs []string, n int) ([]func() (gws.Dialer, error), error) {
	plain := []func() (gws.Dialer, error){func() (gws.Dialer, error) { return &net.Dialer{Timeout: 10 * time.Second}, nil }}
	if n <= 1 {
		return plain, nil
	}
	for _, raw := range nodeURLs {
		u, err := url.Parse(raw)
		if err != nil {
			return nil, fmt.Errorf("subscribe url %q: %w", redact.URL(raw), redact.Error(err))
		}
		ip := net.ParseIP(u.Hostname())
		if ip == nil || ip.To4() == nil || !ip.IsLoopback() {
			return plain, nil // another host or IPv6: one source address, the kernel's choice
		}
	}
	if n > 254 {
		return nil, fmt.Errorf("source ips %d: at most 254 loopback source addresses (127.0.0.1–127.0.0.254)", n)
	}
	out := make([]func() (gws.Dialer, error), n)
	for i := range out {
		local := &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(1+i))}
		out[i] = func() (gws.Dialer, error) {
			return &net.Dialer{Timeout: 10 * time.Second, LocalAddr: local}, nil
		}
	}
	return out, nil
}
