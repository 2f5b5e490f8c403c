package server

import (
	"sync"
	"sync/atomic"
	"time"
)

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
