package bench

import (
	"context"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// publish runs the publishers, drains, and fills res.
func (r *run) publish(ctx context.Context, res *result) error {
	var pubs []publisher
	defer func() {
		for _, p := range pubs {
			_ = p.Close()
		}
	}()
	pubs, err := r.newPublishers(ctx, pubs)
	if err != nil {
		return err
	}
	p := r.newPacing(int64(res.Connected))
	before := r.sample()
	p.start = time.Now()
	r.start.Store(p.start.UnixNano())
	r.publishing.Store(true)
	p.stop = p.start.Add(r.o.Duration)
	pctx, cancel := context.WithDeadline(ctx, p.stop.Add(r.o.Drain))
	defer cancel()
	p.publishAll(pctx, pubs)

	expected := p.sent.Load() * p.n
	r.drain(ctx, expected)
	end := time.Now()
	r.publishing.Store(false)
	r.measure(res, p, before, end)
	return ctx.Err()
}

// newPublishers connects o.Publishers publishers (publisher i to node i mod nodes),
// appending them to pubs, which the caller closes even on an error.
func (r *run) newPublishers(ctx context.Context, pubs []publisher) ([]publisher, error) {
	for i := range r.o.Publishers {
		var (
			p   publisher
			err error
		)
		if r.o.NewPublisher != nil {
			p, err = r.o.NewPublisher(ctx)
		} else {
			p, err = r.t.node(i).newPublisher(ctx, r.o.Publish, r.o.Topic)
		}
		if err != nil {
			return pubs, err
		}
		pubs = append(pubs, p)
	}
	return pubs, nil
}

// pacing is the publish phase of a run in progress: the schedule and the counts.
type pacing struct {
	r *run
	n int64 // subscribers connected
	// total is how many messages to send (modeRate; else unbounded), interval the time
	// between two.
	total       int64
	interval    time.Duration
	start, stop time.Time

	next, sent atomic.Int64
	failed     failures
}

func (r *run) newPacing(n int64) *pacing {
	p := &pacing{r: r, n: n, total: math.MaxInt64}
	if r.o.Mode == modeRate {
		msgRate := r.o.Rate / float64(n)
		p.total = max(1, int64(math.Round(msgRate*r.o.Duration.Seconds())))
		p.interval = time.Duration(float64(time.Second) / msgRate)
	}
	return p
}

// publishAll runs every publisher until the schedule ends, showing progress.
func (p *pacing) publishAll(ctx context.Context, pubs []publisher) {
	o := p.r.o
	var wg sync.WaitGroup
	for _, pub := range pubs {
		wg.Go(func() { p.loop(ctx, pub) })
	}
	bar := newProgress(o.Progress, o.ProgressTTY, "publish "+p.r.t.Name, int(o.Duration/time.Millisecond))
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	pubDone := make(chan struct{})
	go func() { wg.Wait(); close(pubDone) }()
	for {
		select {
		case <-pubDone:
			bar.done()
			return
		case <-tick.C:
			bar.set(int(time.Since(p.start) / time.Millisecond))
		}
	}
}

// loop is one publisher: it takes the next message number, waits for its turn, and
// publishes it.
func (p *pacing) loop(ctx context.Context, pub publisher) {
	o := p.r.o
	buf := make([]byte, 0, o.Size+64)
	for ctx.Err() == nil {
		i := p.next.Add(1) - 1
		if i >= p.total || !p.wait(ctx, i) {
			return
		}
		buf = appendPayload(buf[:0], time.Now().UnixNano(), uint64(i), o.Size)
		if err := pub.Publish(ctx, buf); err != nil {
			p.failed.add(err)
			continue
		}
		p.sent.Add(1)
	}
}

// wait holds message i until its turn: its scheduled time (modeRate), or until fewer
// than Window messages are undelivered (saturation). False: publishing is over.
func (p *pacing) wait(ctx context.Context, i int64) bool {
	if p.r.o.Mode == modeRate {
		at := p.start.Add(time.Duration(i) * p.interval)
		if !at.Before(p.stop) {
			return false
		}
		if d := time.Until(at); d > 0 {
			select {
			case <-time.After(d):
			case <-ctx.Done():
				return false
			}
		}
		return true
	}
	if !time.Now().Before(p.stop) {
		return false
	}
	for ctx.Err() == nil && p.sent.Load()-p.r.received.Load()/p.n >= int64(p.r.o.Window) {
		if !time.Now().Before(p.stop) {
			return false
		}
		time.Sleep(50 * time.Microsecond)
	}
	return true
}

// drain waits until everything arrived, or nothing arrived for a second, or Drain
// passed.
func (r *run) drain(ctx context.Context, expected int64) {
	last, lastChange := r.received.Load(), time.Now()
	drainEnd := time.Now().Add(r.o.Drain)
	for r.received.Load() < expected && time.Now().Before(drainEnd) && ctx.Err() == nil {
		if got := r.received.Load(); got != last {
			last, lastChange = got, time.Now()
		} else if time.Since(lastChange) > time.Second {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// samples are what /proc says before publishing: the host, this process, the target's
// processes and the broker.
type samples struct {
	host           hostSample
	self           procSample
	server, broker procSample
}

func (r *run) sample() samples {
	var s samples
	s.host, _ = readHost()
	s.self, _ = readProc(selfPID())
	if pids := r.t.pids(); len(pids) > 0 {
		s.server, _ = readProcs(pids)
	}
	if r.t.BrokerPID > 0 {
		s.broker, _ = readProc(r.t.BrokerPID)
	}
	return s
}

// measure fills res from the counts, the histogram, the timeline and /proc now against
// before.
func (r *run) measure(res *result, p *pacing, before samples, end time.Time) {
	h1, _ := readHost()
	self1, _ := readProc(selfPID())
	res.Sent = p.sent.Load()
	res.Expected = res.Sent * p.n
	res.Received = r.received.Load()
	res.Loss = res.Expected - res.Received
	res.PublishErrors = p.failed.n.Load()
	res.Disconnected = int(r.closedMid.Load())
	if err := p.failed.firstErr(); err != nil {
		res.Errors = append(res.Errors, fmt.Sprintf("%d publishes failed; first: %v", res.PublishErrors, err))
	}
	res.Elapsed = r.lastDelivery(p.start, end)
	if res.Elapsed > 0 {
		res.DeliveriesPerSec = float64(res.Received) / res.Elapsed.Seconds()
	}
	res.Latency = r.hist.summary()
	res.Buckets = r.hist.buckets()
	res.HostBusy, res.HostCPUs = busyBetween(before.host, h1), h1.CPUs
	res.LoadCPU = self1.CPU - before.self.CPU
	if r.t.BrokerPID > 0 {
		if brk1, err := readProc(r.t.BrokerPID); err != nil {
			res.Errors = append(res.Errors, "broker: "+err.Error())
		} else {
			res.BrokerCPU = brk1.CPU - before.broker.CPU
		}
	}
	r.perSubscriber(res)
	r.measureServer(res, before.server)
	res.Timeline = r.timelineUsed()
}

// measureServer fills the target's CPU seconds and RSS per connection from /proc.
func (r *run) measureServer(res *result, before procSample) {
	pids := r.t.pids()
	if len(pids) == 0 {
		return
	}
	srv1, err := readProcs(pids)
	if err != nil {
		res.Errors = append(res.Errors, err.Error())
		return
	}
	res.ServerCPU = srv1.CPU - before.CPU
	res.ServerSystemCPU = srv1.System - before.System
	if res.ServerCPU > 0 {
		res.DeliveriesPerCPU = float64(res.Received) / res.ServerCPU.Seconds()
	}
	if res.RSSBefore > 0 && res.RSSConnected > 0 {
		res.RSSPerConn = float64(res.RSSConnected-res.RSSBefore) / float64(res.Connected)
	}
}

// timelineUsed is the timeline up to its last slot with a delivery.
func (r *run) timelineUsed() []int64 {
	last := len(r.timeline)
	for last > 0 && r.timeline[last-1].Load() == 0 {
		last--
	}
	out := make([]int64, last)
	for i := range last {
		out[i] = r.timeline[i].Load()
	}
	return out
}
