package server

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Fan-out: each hub's dispatcher (enqueue, run, dispatch) takes what the broker hands
// the hub in batches and writes each batch to every subscriber, large subscriber sets
// split across the fanoutPool's workers; the sweeper keeps the coarse clock and closes
// idle connections and expired tokens.

// fanoutTask is one chunk of a large fan-out.
type fanoutTask struct {
	buf   []byte
	conns []*conn
	wg    *sync.WaitGroup
}

// fanoutPool writes to large subscriber sets in parallel: its workers run from Start
// until Close closes ch, after every dispatcher has stopped.
type fanoutPool struct {
	workers int // Options.FanoutWorkers
	ch      chan fanoutTask
}

func newFanoutPool(workers int) *fanoutPool {
	return &fanoutPool{workers: workers, ch: make(chan fanoutTask, 64)}
}

// fanout writes buf to every conn: small sets inline, large ones split across the
// fan-out workers, returning when all writes were made or queued.
func (p *fanoutPool) fanout(buf []byte, conns []*conn) {
	if len(conns) <= fanoutChunk || p.workers <= 1 {
		for _, c := range conns {
			c.send(buf)
		}
		return
	}
	var wg sync.WaitGroup
	rest := conns[fanoutChunk:]
	for len(rest) > 0 {
		n := min(fanoutChunk, len(rest))
		wg.Add(1)
		p.ch <- fanoutTask{buf: buf, conns: rest[:n], wg: &wg}
		rest = rest[n:]
	}
	for _, c := range conns[:fanoutChunk] {
		c.send(buf)
	}
	wg.Wait()
}

// work is one fan-out worker: it runs until ch is closed.
func (p *fanoutPool) work() {
	for t := range p.ch {
		for _, c := range t.conns {
			c.send(t.buf)
		}
		t.wg.Done()
	}
}

// coarseClock is the sweeper's clock, unix nanoseconds: cheap to read on every frame.
type coarseClock struct{ v atomic.Int64 }

func (c *coarseClock) now() int64    { return c.v.Load() }
func (c *coarseClock) set(now int64) { c.v.Store(now) }

// coarseNow is the sweeper's clock.
func (s *Server) coarseNow() int64 { return s.clock.now() }

// sweeper advances the coarse clock and, per connection, closes expired tokens and idle
// sockets and sends pings.
func (s *Server) sweeper() {
	defer s.bg.Done()
	t := time.NewTicker(s.opts.SweepInterval)
	defer t.Stop()
	var scratch []*conn
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
			scratch = s.sweep(scratch[:0])
			clear(scratch)
		}
	}
}

var pingFrame = encodeFrame(opPing, nil)

// sweep runs one pass at the current time; tests call it after moving the clock.
func (s *Server) sweep(scratch []*conn) []*conn {
	now := s.opts.Now().UnixNano()
	s.clock.set(now)
	hubs := s.hubList()
	conns := 0
	for _, h := range hubs {
		rt := h.cfg.Load()
		idle := int64(rt.limits.IdleTimeout)
		ping := int64(rt.limits.PingInterval)
		scratch = h.snapshot(scratch[:0])
		conns += len(scratch)
		h.sweepGroups() // groups.go
		for _, c := range scratch {
			if exp := c.session().expires; exp != 0 && now >= exp {
				s.metrics.closes.WithLabelValues("token_expired").Inc()
				c.closeWith(ClosePolicyViolation, ReasonTokenExpired, false)
				continue
			}
			seen := c.lastSeen.Load()
			if now-seen >= idle {
				s.metrics.closes.WithLabelValues("idle").Inc()
				c.closeWith(ClosePolicyViolation, ReasonIdle, false)
				continue
			}
			if now-seen >= ping && now-c.lastPing >= ping {
				c.lastPing = now
				c.send(pingFrame)
			}
		}
	}
	if s.memPacer.due(now, conns) {
		s.opts.freeOSMemory()
	}
	return scratch
}

// fanoutChunk is how many subscribers one fan-out task writes to.
const fanoutChunk = 256

// queued is one encoded message waiting for the dispatcher.
type queued struct {
	topic   string
	frame   []byte
	dataLen int
	msg     Message
	offset  uint64 // in the topic's history; 0 when not kept
}

// hubQueue bounds how many messages wait for a hub's dispatcher; a full queue makes
// Publish wait (back-pressure) until its context ends.
const hubQueue = 4096

// errHubStopped is returned to a publisher whose app was removed or whose server closed.
var errHubStopped = errors.New("server: app hub stopped")

// enqueue encodes msg once and queues it for fan-out, waiting while the queue is full.
func (h *hub) enqueue(ctx context.Context, topic string, msg Message) error {
	mt := msg.MessageType
	if mt == "" {
		mt = "broadcast"
	}
	q := queued{topic: topic, frame: encodeServerFrame(topic, mt, msg.Data, msg.Binary), dataLen: len(msg.Data), msg: msg}
	select {
	case h.in <- q:
		return nil
	default:
	}
	select {
	case h.in <- q:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-h.done:
		return errHubStopped
	}
}

// run is the dispatcher: it takes whatever is queued (up to a batch), groups consecutive
// messages of one topic, concatenates their frames into one buffer and writes that buffer
// to every subscriber — one write per subscriber per batch, however many messages.
func (h *hub) run() {
	defer h.wg.Done()
	batch := make([]queued, 0, 256)
	var subs []*conn
	for {
		select {
		case <-h.done:
			return
		case q := <-h.in:
			batch = append(batch[:0], q)
		}
	drain:
		for len(batch) < cap(batch) {
			select {
			case q := <-h.in:
				batch = append(batch, q)
			default:
				break drain
			}
		}
		for i := 0; i < len(batch); {
			j := i + 1
			for j < len(batch) && batch[j].topic == batch[i].topic {
				j++
			}
			subs = h.dispatch(batch[i:j], subs[:0])
			i = j
		}
		clear(batch)
		clear(subs)
	}
}

// dispatch delivers a run of messages of one topic.
func (h *hub) dispatch(run []queued, subs []*conn) []*conn {
	topic := run[0].topic
	if rt := h.cfg.Load(); hasHistory(rt, topic) {
		run, subs = h.resolveRecording(rt, run, subs)
		if len(run) == 0 {
			return subs
		}
	} else {
		subs = h.resolve(topic, subs)
	}
	h.deliverToGroups(run)
	// Counted before the frames go out, so that telemetry read by whoever has seen a
	// message already counts it.
	now := h.deps.clock.now()
	for _, q := range run {
		h.telemetry.add(now, q.dataLen, len(subs))
	}
	h.topTopics.addRun(now, topic, run, len(subs))
	total := 0
	if compressedRun(run, subs) {
		total = h.deps.fan.fanoutDeflate(run, subs, h.cfg.Load().limits.MaxBacklog-queuedFrameCost) // compress:true to a deflating subscriber
	} else if len(run) == 1 {
		total = len(run[0].frame)
		if len(subs) > 0 {
			h.deps.fan.fanout(run[0].frame, subs)
		}
	} else {
		// One buffer per chunk of at most maxBacklog bytes: a subscriber's queue never
		// has to take more than its bound at once (a whole batch of 256 messages, taken
		// into an empty queue, let slow subscribers hold megabytes each).
		limit := h.cfg.Load().limits.MaxBacklog - queuedFrameCost
		for i := 0; i < len(run); {
			j, n := i+1, len(run[i].frame)
			for j < len(run) && n+len(run[j].frame) <= limit {
				n += len(run[j].frame)
				j++
			}
			total += n
			if len(subs) > 0 {
				buf := run[i].frame
				if j > i+1 {
					buf = make([]byte, 0, n)
					for _, q := range run[i:j] {
						buf = append(buf, q.frame...)
					}
				}
				h.deps.fan.fanout(buf, subs)
			}
			i = j
		}
	}
	m := h.deps.metrics
	m.framesOut.Add(float64(len(subs) * len(run)))
	m.bytesOut.Add(float64(len(subs) * total))
	if rt := h.cfg.Load(); rt.app.Audit.Enabled {
		attrs := []any{slog.String("app", h.appID), slog.String("topic", topic), slog.Int("messages", len(run)), slog.Int("subscribers", len(subs)), slog.Int("bytes", total)}
		if rt.app.Audit.LogPayloads {
			payloads := make([]string, len(run))
			for i, q := range run {
				payloads[i] = string(q.msg.Data)
			}
			attrs = append(attrs, slog.Any("payloads", payloads))
		}
		h.deps.log.Info("audit delivery", attrs...)
	}
	return subs
}
